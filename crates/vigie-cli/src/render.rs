//! Human-readable output: the results table of a run, shared by `vigie eval`,
//! `vigie log show` and `vigie score`.

use std::collections::BTreeMap;
use std::fmt::Write;

use vigie_log::{GroupMetrics, LogFooter, LogHeader};

/// The results of a run as a block of text.
/// A conversation for people: each turn under its role, reasoning set off
/// (or said to be redacted), tool calls and results with their ids, and a
/// call whose arguments could not be read shown with why.
pub(crate) fn transcript(
    messages: &[vigie_core::ChatMessage],
    steps: &[vigie_log::ToolStep],
) -> String {
    use vigie_core::ContentPart;
    let mut out = String::new();
    for message in messages {
        let _ = write!(out, "\n[{}]\n", message.role.as_str());
        for part in &message.content {
            match part {
                ContentPart::Text { text } => {
                    let _ = writeln!(out, "{text}");
                }
                ContentPart::Reasoning(r) if r.redacted && r.text.is_empty() => {
                    let kept = r.encrypted.as_ref().map_or(0, String::len)
                        + r.signature.as_ref().map_or(0, String::len);
                    let _ = writeln!(
                        out,
                        "(reasoning withheld by the API; {kept} bytes kept to send back)"
                    );
                }
                ContentPart::Reasoning(r) => {
                    let kind = if r.summary {
                        "reasoning summary"
                    } else {
                        "reasoning"
                    };
                    let signed = if r.signature.is_some() || r.encrypted.is_some() {
                        ", signed"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "({kind}{signed})");
                    for line in r.text.lines() {
                        let _ = writeln!(out, "  | {line}");
                    }
                }
                ContentPart::ToolCall(call) => match &call.parse_error {
                    None => {
                        let _ = writeln!(out, "-> {}({}) [{}]", call.name, call.arguments, call.id);
                    }
                    Some(why) => {
                        let _ = writeln!(
                            out,
                            "-> {}(?) [{}] unreadable: {why}; as written: {}",
                            if call.name.is_empty() {
                                "?"
                            } else {
                                &call.name
                            },
                            call.id,
                            call.arguments_text()
                        );
                    }
                },
                ContentPart::ToolResult(result) => {
                    let what = if result.is_error { "error" } else { "result" };
                    let how = steps
                        .iter()
                        .find(|s| s.call_id == result.call_id)
                        .map_or_else(String::new, |s| format!(" ({})", step_words(s)));
                    let _ = writeln!(
                        out,
                        "<- {what} of [{}]{how}:\n{}",
                        result.call_id, result.content
                    );
                }
            }
        }
    }
    out
}

/// How a tool call ran, in words: `exit 0, 0.012s, 45 bytes`.
pub(crate) fn step_words(step: &vigie_log::ToolStep) -> String {
    let mut words = Vec::new();
    if let Some(code) = step.exit_code {
        words.push(format!("exit {code}"));
    }
    words.push(format!("{:.3}s", step.duration_s));
    if step.cut {
        words.push(format!(
            "shown {} of {} bytes",
            step.shown_bytes, step.output_bytes
        ));
    } else {
        words.push(format!("{} bytes", step.output_bytes));
    }
    if step.timed_out {
        words.push("killed at its timeout".into());
    }
    if let Some(cpu) = step.cpu_s {
        words.push(format!("cpu {cpu:.3}s"));
    }
    if let Some(peak) = step.memory_peak_bytes {
        words.push(format!("peak {:.1} MiB", peak as f64 / (1 << 20) as f64));
    }
    words.join(", ")
}

/// What an agent's record says beside its messages, a line each.
pub(crate) fn agent_summary(agent: &vigie_log::AgentRecord) -> String {
    let mut out = String::new();
    let sandbox = &agent.sandbox;
    let isolation = if sandbox.isolation == "local" {
        "local (NO isolation: --sandbox local)".to_string()
    } else {
        sandbox.isolation.clone()
    };
    let _ = writeln!(
        out,
        "agent    ended: {}; {} turns, {} tool calls, {:.3}s working",
        agent.ended,
        agent.turns,
        agent.steps.len(),
        agent.working_s
    );
    let _ = writeln!(
        out,
        "sandbox  {isolation}{}{}",
        sandbox
            .rootfs
            .as_ref()
            .map_or_else(String::new, |r| format!(", root filesystem {r}")),
        if sandbox.network {
            ", network"
        } else {
            ", no network"
        }
    );
    if !sandbox.limits_in_force.is_empty() {
        let _ = writeln!(out, "enforced {}", sandbox.limits_in_force.join("; "));
    }
    let l = &agent.limits;
    let mut limits = vec![format!("attempts {}", l.attempts)];
    if let Some(n) = l.messages {
        limits.push(format!("messages {n}"));
    }
    if let Some(n) = l.tokens {
        limits.push(format!("tokens {n}"));
    }
    if let Some(n) = l.tool_calls {
        limits.push(format!("tool calls {n}"));
    }
    if let Some(t) = l.time_s {
        limits.push(format!("time {t}s"));
    }
    if let Some(t) = l.working_s {
        limits.push(format!("working {t}s"));
    }
    limits.push(format!("tool timeout {}s", l.tool_timeout_s));
    let _ = writeln!(out, "limits   {}", limits.join(", "));
    for s in &agent.submissions {
        let _ = writeln!(
            out,
            "submit   turn {}: {} (score {})",
            s.turn,
            s.answer,
            trim_number(s.value)
        );
    }
    if agent.outputs_dropped > 0 {
        let _ = writeln!(
            out,
            "context  {} old tool outputs dropped to fit the model's window",
            agent.outputs_dropped
        );
    }
    out
}

/// A score as `1`, or `0.667` when it is not whole.
pub(crate) fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The reasoning settings a run asked for, in words; `None` when it set none.
pub(crate) fn reasoning_settings(config: &vigie_core::GenerateConfig) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(effort) = config.reasoning_effort {
        parts.push(format!("effort {}", effort.as_str()));
    }
    if let Some(tokens) = config.reasoning_tokens {
        parts.push(format!("budget {tokens} tokens"));
    }
    if let Some(summary) = config.reasoning_summary {
        parts.push(format!("summary {}", summary.as_str()));
    }
    if let Some(history) = config.reasoning_history {
        parts.push(format!("history {}", history.as_str()));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

pub(crate) fn results(header: &LogHeader, footer: &LogFooter, log: &str) -> String {
    let mut out = String::new();
    let counts = footer.samples;
    let _ = writeln!(out, "task     {}", header.task.name);
    let _ = writeln!(out, "model    {}", header.model.name);
    if let Some(profile) = &header.model.profile {
        let _ = writeln!(out, "profile  {profile}");
    }
    match header.settings.sandbox.as_deref() {
        Some("local") => {
            let _ = writeln!(
                out,
                "sandbox  local: the agent's commands ran on this machine with NO isolation (--sandbox local)"
            );
        }
        Some(isolation) => {
            let _ = writeln!(out, "sandbox  {isolation}");
        }
        None => {}
    }
    if let Some(reasoning) = reasoning_settings(&header.settings.generate) {
        let _ = writeln!(out, "reasoning {reasoning}");
    }
    if let Some(judge) = &header.judge_model {
        let _ = writeln!(out, "judge    {}", judge.name);
    }
    if let Some(attacker) = &header.attacker_model {
        let _ = writeln!(out, "attacker {}", attacker.name);
    }
    if let Some(shard) = header.settings.shard {
        let _ = writeln!(
            out,
            "shard    {shard}: this log holds one part of the task's samples; `vigie log merge` joins the parts"
        );
    }
    if !header.merged_from.is_empty() {
        let _ = writeln!(
            out,
            "merged   from {} shard logs (their Merkle roots are in the manifest)",
            header.merged_from.len()
        );
    }
    let _ = writeln!(
        out,
        "status   {}",
        vigie_log::results::status_word(Some(footer))
    );
    let _ = writeln!(
        out,
        "samples  {}/{} completed, {} failed",
        counts.completed, counts.total, counts.errors
    );
    for (scorer, n) in &footer.unscored {
        let _ = writeln!(
            out,
            "unscored {scorer}: {n} verdicts could not be read (kept in `score_errors`; its metrics are over the rest)"
        );
    }
    let u = footer.usage;
    let mut parts = format!("in {}, out {}", u.input_tokens, u.output_tokens);
    if u.reasoning_tokens > 0 {
        let _ = write!(parts, " of which reasoning {}", u.reasoning_tokens);
    }
    if u.cached_input_tokens > 0 {
        let _ = write!(parts, ", cached in {}", u.cached_input_tokens);
    }
    let _ = writeln!(out, "tokens   {} ({parts})", u.total_tokens);
    if let Some(cost) = footer.cost_usd {
        let _ = writeln!(out, "cost     ${cost:.4} (priced by the model's profile)");
    }
    let _ = writeln!(out, "retries  {}", footer.retries);
    if let Some(chance) = header.task.chance {
        let _ = writeln!(out, "chance   {chance:.3} (guessing among the choices)");
    }
    let _ = writeln!(out, "log      {log}");
    if let Some(error) = &footer.error {
        let _ = writeln!(out, "stopped  {error}");
    }
    for line in judge_lines(header) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    let scorers: Vec<String> = header.scorers.iter().map(|s| s.name.clone()).collect();
    out.push_str(&metrics_table(&scorers, &footer.metrics));
    if let Some(spec) = &header.task.contrast {
        for c in &footer.contrasts {
            let _ = write!(
                out,
                "\n{}: {} {:.3} vs {} {:.3} over {} pairs: difference {:+.3} [{:.3}, {:.3}]\n",
                c.scorer,
                spec.baseline,
                c.baseline_mean,
                spec.variant,
                c.variant_mean,
                c.pairs,
                c.difference,
                c.ci95_low,
                c.ci95_high
            );
        }
    }
    if !footer.pass_at_k.is_empty() {
        out.push('\n');
        out.push_str(&pass_at_k_lines(&footer.pass_at_k));
    }
    if let (Some(field), false) = (&header.task.group_by, footer.groups.is_empty()) {
        out.push('\n');
        out.push_str(&groups_table(field, &scorers, &footer.groups));
    }
    out
}

/// One line per scorer: pass@1 beside pass@k, each with its interval.
pub(crate) fn pass_at_k_lines(pass: &[vigie_log::metrics::PassAtK]) -> String {
    let mut out = String::new();
    let mut scorers: Vec<&str> = pass.iter().map(|p| p.scorer.as_str()).collect();
    scorers.dedup();
    for scorer in scorers {
        let parts: Vec<String> = pass
            .iter()
            .filter(|p| p.scorer == scorer)
            .map(|p| {
                format!(
                    "pass@{} {:.3} [{:.3}, {:.3}] over {} samples",
                    p.k, p.value, p.ci95_low, p.ci95_high, p.samples
                )
            })
            .collect();
        let _ = writeln!(out, "{scorer}: {}", parts.join(" · "));
    }
    out
}

/// One row per group: its sample count and, per scorer, the headline value
/// (accuracy, else mean) with its 95% interval.
pub(crate) fn groups_table(field: &str, scorers: &[String], groups: &[GroupMetrics]) -> String {
    let mut header = vec![format!("by {field}"), "n".to_string()];
    for scorer in scorers {
        header.push(scorer.clone());
        header.push("95% CI".to_string());
    }
    let mut rows = vec![header];
    for group in groups {
        let mut row = vec![group.group.clone(), group.samples.to_string()];
        for scorer in scorers {
            let get = |metric: &str| group.metrics.get(&format!("{scorer}/{metric}")).copied();
            row.push(
                get("accuracy")
                    .or_else(|| get("mean"))
                    .map_or("-".into(), |v| format!("{v:.3}")),
            );
            row.push(match (get("ci95_low"), get("ci95_high")) {
                (Some(low), Some(high)) => format!("[{low:.3}, {high:.3}]"),
                _ => "-".into(),
            });
        }
        rows.push(row);
    }
    aligned(&rows)
}

/// Rows as left-aligned columns two spaces apart.
pub(crate) fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// Metrics grouped by scorer; the interval is shown as one row.
pub(crate) fn metrics_table(scorers: &[String], metrics: &BTreeMap<String, f64>) -> String {
    if metrics.is_empty() {
        return "no scores yet\n".into();
    }
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for scorer in scorers {
        let prefix = format!("{scorer}/");
        let mut first = true;
        let mut pending_ci = (None, None);
        for (key, value) in metrics.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            let metric = &key[prefix.len()..];
            match metric {
                "ci95_low" => pending_ci.0 = Some(*value),
                "ci95_high" => pending_ci.1 = Some(*value),
                _ => {
                    rows.push((
                        if first { scorer.clone() } else { String::new() },
                        metric.to_string(),
                        format!("{value:.3}"),
                    ));
                    first = false;
                }
            }
        }
        if let (Some(low), Some(high)) = pending_ci {
            rows.push((
                if first { scorer.clone() } else { String::new() },
                "95% CI".into(),
                format!("[{low:.3}, {high:.3}]"),
            ));
        }
    }
    let w0 = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max("scorer".len());
    let w1 = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .max("metric".len());
    let mut out = format!("{:<w0$}  {:<w1$}  value\n", "scorer", "metric");
    for (a, b, c) in rows {
        let _ = writeln!(out, "{a:<w0$}  {b:<w1$}  {c}");
    }
    out
}

/// Which judge decided each scorer that a judge model decides, and every
/// figure that stands in for a harm judge (an upper bound).
pub(crate) fn judge_lines(header: &LogHeader) -> Vec<String> {
    let mut lines = Vec::new();
    for scorer in &header.scorers {
        let Some(judge) = &scorer.judge else { continue };
        if judge.upper_bound {
            lines.push(format!(
                "judged   {}: UPPER BOUND, by the refusal detector ({} {}) alone: every reply that does not refuse counts, harmful or not; --judge-model gives it to a harm judge",
                scorer.name, judge.id, judge.version
            ));
        } else if judge.model {
            let by = header.judge_model.as_ref().map_or("?", |m| m.name.as_str());
            lines.push(format!(
                "judged   {}: by {} {} on {by}",
                scorer.name, judge.id, judge.version
            ));
        }
    }
    lines
}

/// What a run's scorers could not decide, in a sentence: which scorer, on
/// how many samples, and how to decide them again.
pub(crate) fn unscored(footer: &LogFooter, log: &str) -> String {
    let each: Vec<String> = footer
        .unscored
        .iter()
        .map(|(scorer, n)| format!("`{scorer}` on {n}"))
        .collect();
    format!(
        "scorers could not decide some samples ({}; the reasons are in each record's `score_errors`); every other verdict counts. `vigie score {log} --scorer ...` decides them again",
        each.join(", ")
    )
}

/// The headline of every task of a suite, one row per task and scorer.
pub(crate) fn suite_summary(
    spec: &str,
    runs: &[(LogHeader, LogFooter, std::path::PathBuf)],
) -> String {
    let mut rows = vec![[
        "task", "samples", "scorer", "value", "95% CI", "chance", "log",
    ]
    .map(String::from)
    .to_vec()];
    for (header, footer, path) in runs {
        for (i, scorer) in header.scorers.iter().enumerate() {
            let get = |metric: &str| {
                footer
                    .metrics
                    .get(&format!("{}/{metric}", scorer.name))
                    .copied()
            };
            rows.push(vec![
                if i == 0 {
                    header.task.name.clone()
                } else {
                    String::new()
                },
                {
                    // A scorer that could not decide some samples says over
                    // how many its value is.
                    let counted = footer.samples.completed - footer.samples.errors;
                    let unscored = footer.unscored.get(&scorer.name).copied().unwrap_or(0);
                    if i == 0 || unscored > 0 {
                        format!("{}/{}", counted - unscored, footer.samples.total)
                    } else {
                        String::new()
                    }
                },
                if scorer.judge.as_ref().is_some_and(|j| j.upper_bound) {
                    format!("{} (upper bound)", scorer.name)
                } else {
                    scorer.name.clone()
                },
                get("accuracy")
                    .or_else(|| get("mean"))
                    .map_or("-".into(), |v| format!("{v:.3}")),
                match (get("ci95_low"), get("ci95_high")) {
                    (Some(low), Some(high)) => format!("[{low:.3}, {high:.3}]"),
                    _ => "-".into(),
                },
                header
                    .task
                    .chance
                    .filter(|_| i == 0)
                    .map_or("-".into(), |c| format!("{c:.3}")),
                if i == 0 {
                    path.display().to_string()
                } else {
                    String::new()
                },
            ]);
        }
    }
    // The chance column only where some task is multiple choice.
    if runs.iter().all(|(h, _, _)| h.task.chance.is_none()) {
        for row in &mut rows {
            row.remove(5);
        }
    }
    let mut out = format!("{spec}: {} tasks\n{}", runs.len(), aligned(&rows));
    out.push_str(&matrix(runs));
    out
}

/// When several tasks share one scorer and one grouping field (the jailbreak
/// transforms on the same requests), their per-group headline values side by
/// side: one row per task, one column per group.
fn matrix(runs: &[(LogHeader, LogFooter, std::path::PathBuf)]) -> String {
    let key = |h: &LogHeader| {
        (
            h.task.group_by.clone(),
            h.scorers.first().map(|s| s.name.clone()),
        )
    };
    let Some((first, _, _)) = runs.first() else {
        return String::new();
    };
    let (Some(field), Some(scorer)) = key(first) else {
        return String::new();
    };
    let shared: Vec<&(LogHeader, LogFooter, std::path::PathBuf)> = runs
        .iter()
        .filter(|(h, _, _)| key(h) == (Some(field.clone()), Some(scorer.clone())))
        .collect();
    if shared.len() < 3 || shared.len() != runs.len() {
        return String::new();
    }
    let mut groups: Vec<String> = shared
        .iter()
        .flat_map(|(_, f, _)| f.groups.iter().map(|g| g.group.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    let mut header = vec![format!("{scorer} by {field}")];
    header.extend(groups.iter().cloned());
    let mut rows = vec![header];
    for (h, f, _) in shared {
        let mut row = vec![h.task.name.clone()];
        for group in &groups {
            let value = f.groups.iter().find(|g| &g.group == group).and_then(|g| {
                g.metrics
                    .get(&format!("{scorer}/accuracy"))
                    .or_else(|| g.metrics.get(&format!("{scorer}/mean")))
                    .copied()
            });
            row.push(value.map_or("-".into(), |v| format!("{v:.2}")));
        }
        rows.push(row);
    }
    format!("\n{}", aligned(&rows))
}

#[cfg(test)]
mod tests {
    use vigie_core::{ChatMessage, ContentPart, Reasoning, Role, ToolCall};

    #[test]
    fn a_transcript_shows_reasoning_calls_and_results_readably() {
        let messages = vec![
            ChatMessage::user("Weather?"),
            ChatMessage {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Reasoning(Reasoning {
                        text: "Need the tool.\nCall it.".into(),
                        signature: Some("s".into()),
                        ..Default::default()
                    }),
                    ContentPart::Reasoning(Reasoning {
                        redacted: true,
                        encrypted: Some("abcd".into()),
                        ..Default::default()
                    }),
                    ContentPart::ToolCall(ToolCall::from_text(
                        "c1",
                        "get_weather",
                        r#"{"city":"Paris"}"#,
                    )),
                    ContentPart::ToolCall(ToolCall::from_text("c2", "get_weather", "{city")),
                ],
            },
            ChatMessage::tool_result("c1", "18C", false),
            ChatMessage::tool_result("c2", "bad arguments", true),
        ];
        assert_eq!(
            super::transcript(&messages, &[]),
            "\n[user]\nWeather?\n\n[assistant]\n(reasoning, signed)\n  | Need the tool.\n  | Call it.\n(reasoning withheld by the API; 4 bytes kept to send back)\n-> get_weather({\"city\":\"Paris\"}) [c1]\n-> get_weather(?) [c2] unreadable: the arguments are not JSON: key must be a string at line 1 column 2; as written: {city\n\n[tool]\n<- result of [c1]:\n18C\n\n[tool]\n<- error of [c2]:\nbad arguments\n"
        );
    }
}
