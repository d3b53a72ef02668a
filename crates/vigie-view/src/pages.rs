//! The viewer's pages: what each shows, gathered from a log's results and
//! records, then rendered by the templates built into the binary (HTML
//! escaped by the template engine). Numbers come from the log's results
//! (`vigie_log::results`), never computed here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{context, Environment};
use serde_json::{json, Value};
use vigie_core::{ContentPart, Role};
use vigie_log::SampleRecord;

use vigie_log::results::LogResults;

use crate::{Entry, LoadedLog, Query, Selection};

/// Bytes of a tool output or argument shown open; longer ones are folded.
const FOLD_BYTES: usize = 2000;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("error.html", include_str!("../templates/error.html")),
            ("logs.html", include_str!("../templates/logs.html")),
            ("run.html", include_str!("../templates/run.html")),
            ("samples.html", include_str!("../templates/samples.html")),
            ("sample.html", include_str!("../templates/sample.html")),
            ("compare.html", include_str!("../templates/compare.html")),
            ("assess.html", include_str!("../templates/assess.html")),
        ] {
            env.add_template(name, source)
                .expect("the built-in templates parse");
        }
        env.add_filter("urlencode", |text: String| encode(&text));
        env
    })
}

/// Percent-encodes a URL query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A query string of `params` with `changes` applied (`None` removes).
fn url(
    path: &str,
    params: &BTreeMap<String, String>,
    changes: &[(&str, Option<String>)],
) -> String {
    let mut params = params.clone();
    params.remove("token");
    for (key, value) in changes {
        match value {
            Some(v) => params.insert(key.to_string(), v.clone()),
            None => params.remove(*key),
        };
    }
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

fn render(name: &str, ctx: minijinja::Value) -> String {
    environment()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| format!("<pre>template {name}: {e}</pre>"))
}

pub(crate) fn error_page(message: &str) -> String {
    render("error.html", context! { message })
}

fn number(value: f64) -> String {
    format!("{value:.3}")
}

/// The headline of a run: its first scorer's accuracy (or mean) and interval.
fn headline(results: &LogResults) -> String {
    let metrics = &results.footer.metrics;
    for scorer in results.header.scorers.iter().map(|s| &s.name) {
        for metric in ["accuracy", "mean"] {
            if let Some(v) = metrics.get(&format!("{scorer}/{metric}")) {
                let interval = match (
                    metrics.get(&format!("{scorer}/ci95_low")),
                    metrics.get(&format!("{scorer}/ci95_high")),
                ) {
                    (Some(lo), Some(hi)) => format!(" [{}, {}]", number(*lo), number(*hi)),
                    _ => String::new(),
                };
                return format!("{scorer} {metric} {}{interval}", number(*v));
            }
        }
    }
    String::new()
}

/// The run's status as a style (`failures` for a success with failed
/// samples) and in words, as `log list` says it.
fn status(results: &LogResults) -> (&'static str, &'static str) {
    let footer = results.finished.then_some(&results.footer);
    let style = match footer {
        None => "started",
        Some(f) if f.samples.errors > 0 && f.status.as_str() == "success" => "failures",
        Some(f) => f.status.as_str(),
    };
    (style, vigie_log::results::status_word(footer))
}

/// A list of logs, each read (or why not).
pub(crate) type Listed = [(Entry, Result<std::sync::Arc<LogResults>, String>)];

/// The logs list's rows, as the page shows them and `/api/logs` sends them.
pub(crate) fn log_rows(logs: &Listed) -> Vec<Value> {
    logs
        .iter()
        .map(|(entry, log)| match log {
            Ok(results) => {
                let (status, word) = status(results);
                let samples = &results.footer.samples;
                json!({
                    "id": entry.id, "shown": entry.shown,
                    "task": results.header.task.name, "model": results.header.model.name,
                    "status": status, "status_word": word,
                    "completed": samples.completed, "total": samples.total, "errors": samples.errors,
                    "headline": headline(results),
                })
            }
            Err(e) => json!({"id": entry.id, "shown": entry.shown, "error": e}),
        })
        .collect()
}

pub(crate) fn logs_page(roots: &[String], logs: &Listed) -> String {
    render("logs.html", context! { roots, logs => log_rows(logs) })
}

pub(crate) fn run_page(entry: &Entry, log: &LoadedLog, others: &[(Entry, String)]) -> String {
    let header = &log.results.header;
    let footer = &log.results.footer;
    let settings = &header.settings;
    let mut provenance: Vec<(String, String)> = vec![
        ("log".into(), entry.shown.clone()),
        ("run id".into(), header.run_id.clone()),
        (
            "task".into(),
            format!("{} ({})", header.task.name, header.task.source),
        ),
        ("task sha256".into(), header.task.source_sha256.clone()),
        ("dataset".into(), header.task.dataset.clone()),
        ("dataset sha256".into(), header.task.dataset_sha256.clone()),
        ("model".into(), header.model.name.clone()),
    ];
    if let Some(url) = &header.model.base_url {
        provenance.push(("endpoint".into(), url.clone()));
    }
    if let Some(profile) = &header.model.profile {
        provenance.push(("model profile".into(), profile.clone()));
    }
    if let Some(object) = serde_json::to_value(&settings.generate)
        .ok()
        .and_then(|v| v.as_object().cloned())
    {
        let set: Vec<String> = object
            .iter()
            .filter(|(_, v)| {
                !v.is_null() && *v != &json!([]) && *v != &json!({}) && *v != &json!(false)
            })
            .map(|(k, v)| format!("{k} = {}", v.to_string().trim_matches('"')))
            .collect();
        provenance.push((
            "generation".into(),
            if set.is_empty() {
                "defaults".into()
            } else {
                set.join(", ")
            },
        ));
    }
    provenance.push((
        "epochs".into(),
        format!("{} ({})", settings.epochs, settings.epochs_reducer),
    ));
    provenance.push(("seed".into(), settings.seed.to_string()));
    if let Some(shard) = settings.shard {
        provenance.push((
            "shard".into(),
            format!("{shard}: one part of the task's samples (`vigie log merge` joins the parts)"),
        ));
    }
    for source in &header.merged_from {
        provenance.push((
            format!("merged shard {}", source.shard),
            format!(
                "{} ({} records, Merkle root {})",
                source.path, source.records, source.merkle_root
            ),
        ));
    }
    if let Some(judge) = &header.judge_model {
        provenance.push(("judge model".into(), judge.name.clone()));
    }
    if let Some(attacker) = &header.attacker_model {
        provenance.push(("attacker model".into(), attacker.name.clone()));
    }
    provenance.push(("started".into(), header.started_at.clone()));
    if log.results.finished {
        provenance.push((
            "finished".into(),
            format!("{} ({:.1} s)", footer.finished_at, footer.duration_s),
        ));
    }
    let mut tokens = format!(
        "{} ({} in, {} out{})",
        footer.usage.total_tokens,
        footer.usage.input_tokens,
        footer.usage.output_tokens,
        if footer.usage.reasoning_tokens > 0 {
            format!(", {} reasoning", footer.usage.reasoning_tokens)
        } else {
            String::new()
        }
    );
    if let Some(cost) = footer.cost_usd {
        tokens.push_str(&format!(" · ${cost:.4}"));
    }
    provenance.push(("tokens".into(), tokens));
    let (manifest, seal) = seal_lines(log);
    provenance.push(("manifest".into(), manifest));
    provenance.push(("signatures".into(), seal));
    let mut metrics = Vec::new();
    for scorer in &log.index.scorers {
        let prefix = format!("{scorer}/");
        let interval = match (
            footer.metrics.get(&format!("{scorer}/ci95_low")),
            footer.metrics.get(&format!("{scorer}/ci95_high")),
        ) {
            (Some(lo), Some(hi)) => format!("[{}, {}]", number(*lo), number(*hi)),
            _ => String::new(),
        };
        for (key, value) in footer
            .metrics
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
        {
            let metric = &key[prefix.len()..];
            if metric.starts_with("ci95") {
                continue;
            }
            let shown = if metric == "stderr" {
                String::new()
            } else {
                interval.clone()
            };
            metrics.push(json!({"scorer": scorer, "metric": metric, "value": number(*value), "interval": shown}));
        }
    }
    let mut extra: Vec<String> = footer
        .pass_at_k
        .iter()
        .map(|p| {
            format!(
                "{}: pass@{} {} [{}, {}] over {} samples",
                p.scorer,
                p.k,
                number(p.value),
                number(p.ci95_low),
                number(p.ci95_high),
                p.samples
            )
        })
        .collect();
    if let Some(spec) = &header.task.contrast {
        extra.extend(footer.contrasts.iter().map(|c| {
            format!(
                "{}: {} {} vs {} {} over {} pairs, difference {:+.3} [{}, {}]",
                c.scorer,
                spec.baseline,
                number(c.baseline_mean),
                spec.variant,
                number(c.variant_mean),
                c.pairs,
                c.difference,
                number(c.ci95_low),
                number(c.ci95_high)
            )
        }));
    }
    let groups: Vec<Value> = footer
        .groups
        .iter()
        .map(|g| {
            let values: Vec<String> = log
                .index
                .scorers
                .iter()
                .map(|s| {
                    g.metrics
                        .get(&format!("{s}/accuracy"))
                        .or_else(|| g.metrics.get(&format!("{s}/mean")))
                        .map_or(String::new(), |v| number(*v))
                })
                .collect();
            json!({"name": g.group, "samples": g.samples, "values": values})
        })
        .collect();
    let error_kinds: Vec<Value> = log
        .index
        .errors_by_kind()
        .into_iter()
        .map(|(kind, count, message)| json!({"kind": kind, "count": count, "message": message}))
        .collect();
    let (status, status_word) = status(&log.results);
    render(
        "run.html",
        context! {
            id => entry.id, shown => entry.shown, task => header.task.name, model => header.model.name,
            status, status_word, records => log.index.len(), errors => footer.samples.errors,
            provenance, metrics, extra, groups, group_by => header.task.group_by, scorers => log.index.scorers,
            error_kinds,
            compare => others.iter().map(|(e, model)| json!({
                "shown": e.shown, "model": model,
                "href": format!("/compare?log={}&log={}", encode(&entry.id), encode(&e.id)),
            })).collect::<Vec<_>>(),
        },
    )
}

pub(crate) fn samples_page(
    entry: &Entry,
    log: &LoadedLog,
    params: &BTreeMap<String, String>,
    query: &Query,
    selection: &Selection,
    indexing: bool,
) -> String {
    let index = &log.index;
    let previews = index.previews(&entry.path, &selection.shown);
    let rows: Vec<Value> = selection
        .shown
        .iter()
        .zip(previews)
        .map(|(&n, preview)| {
            let row = index.row(n);
            json!({
                "href": if indexing {
                    url("/sample", params, &[("sample", Some(row.id.to_string())), ("sample_epoch", Some(row.epoch.to_string()))])
                } else {
                    url("/sample", params, &[("n", Some(n.to_string()))])
                },
                "id": row.id, "epoch": row.epoch,
                "scores": (0..index.scorers.len()).map(|s| index.score_of(n, s).map_or(String::new(), number)).collect::<Vec<_>>(),
                "error": index.error_of(n), "input": preview.input, "output": preview.output,
            })
        })
        .collect();
    let page = |n: usize| url("/samples", params, &[("page", Some(n.to_string()))]);
    let groups = index.groups();
    let mut error_options = vec!["".to_string(), "none".into(), "only".into()];
    error_options.extend(index.error_kinds().into_iter().map(str::to_string));
    let sort_options: Vec<String> = ["", "id", "time", "tokens"]
        .into_iter()
        .map(str::to_string)
        .chain(log.index.scorers.iter().cloned())
        .collect();
    // Empty strings, not nulls: a field the filter does not use shows nothing.
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let form = json!({
        "q": query.search.clone().unwrap_or_default(), "score": param("score"), "error": param("error"),
        "group": query.group.clone().unwrap_or_default(),
        "epoch": query.epoch.map(|e| e.to_string()).unwrap_or_default(),
        "sort": param("sort"), "order": param("order"),
    });
    let header = &log.results.header;
    render(
        "samples.html",
        context! {
            id => entry.id, shown => entry.shown, task => header.task.name, model => header.model.name,
            scorers => log.index.scorers, group_by => log.index.group_by, group_options => groups,
            error_options, sort_options, form, rows, total => selection.total,
            records => if indexing { log.results.footer.samples.completed } else { log.index.len() },
            indexing,
            page => selection.page, pages => selection.pages,
            prev_page => (selection.page > 1).then(|| page(selection.page - 1)),
            next_page => (selection.page < selection.pages).then(|| page(selection.page + 1)),
        },
    )
}

/// What the run page says of a log's manifest and of its signatures: who
/// signed, whether each signature holds, and whether the header and footer
/// are still those sealed. The records are `vigie verify`'s to check.
fn seal_lines(log: &LoadedLog) -> (String, String) {
    let seal = match &log.seal {
        None => return ("none yet (an unfinished run)".into(), "none".into()),
        Some(Err(e)) => return (format!("could not be read: {e}"), String::new()),
        Some(Ok(seal)) => seal,
    };
    let Some(root) = &seal.merkle_root else {
        return (
            "none (written before vigie kept manifests)".into(),
            "none".into(),
        );
    };
    let mut said: Vec<String> = seal
        .signatures
        .iter()
        .map(|s| match (&s.valid, &s.reason) {
            (true, _) => format!(
                "signed by {} at {}: the signature verifies",
                s.key_id, s.signed_at
            ),
            (false, reason) => format!(
                "signed by {} at {}: the signature does NOT verify ({})",
                s.key_id,
                s.signed_at,
                reason.as_deref().unwrap_or("invalid")
            ),
        })
        .collect();
    if seal.signatures.is_empty() {
        said.push("not signed".into());
    }
    let changed: Vec<String> = seal
        .problems
        .iter()
        .filter(|p| p.is_integrity())
        .map(ToString::to_string)
        .collect();
    if !changed.is_empty() {
        said.push(format!(
            "CHANGED since it was sealed: {}",
            changed.join("; ")
        ));
    }
    said.push("`vigie verify` checks every record against the manifest".into());
    (format!("Merkle root {root}"), said.join(". "))
}

/// One message part as shown: long ones folded with their size.
fn part(kind: &str, label: String, text: String) -> Value {
    let folded = text.len() > FOLD_BYTES;
    json!({"kind": kind, "label": label, "size": format!("{} bytes", text.len()), "folded": folded, "text": text})
}

pub(crate) fn sample_page(
    entry: &Entry,
    record: &SampleRecord,
    params: &BTreeMap<String, String>,
    (previous, next): (Option<usize>, Option<usize>),
) -> String {
    let steps: BTreeMap<&str, &vigie_log::ToolStep> = record
        .agent
        .iter()
        .flat_map(|a| &a.steps)
        .map(|s| (s.call_id.as_str(), s))
        .collect();
    let messages: Vec<Value> = record
        .messages
        .iter()
        .map(|m| {
            let parts: Vec<Value> = m
                .content
                .iter()
                .map(|p| match p {
                    ContentPart::Text { text } => part("text", String::new(), text.clone()),
                    ContentPart::Reasoning(r) => part(
                        "reasoning",
                        if r.redacted {
                            "reasoning (withheld by the API)".into()
                        } else if r.summary {
                            "reasoning (summary)".into()
                        } else {
                            "reasoning".into()
                        },
                        r.text.clone(),
                    ),
                    ContentPart::ToolCall(c) => part(
                        "call",
                        format!(
                            "call {} · {}{}",
                            c.name,
                            c.id,
                            c.parse_error
                                .as_ref()
                                .map_or(String::new(), |e| format!(" · unreadable: {e}"))
                        ),
                        match c.arguments.as_object() {
                            Some(map) if map.len() == 1 => map
                                .values()
                                .next()
                                .and_then(|v| v.as_str())
                                .map_or_else(|| c.arguments.to_string(), str::to_string),
                            _ => c.arguments.to_string(),
                        },
                    ),
                    ContentPart::ToolResult(r) => {
                        let how = steps.get(r.call_id.as_str()).map_or(String::new(), |s| {
                            format!(
                                " · exit {} · {:.2} s · {} bytes of output{}{}",
                                s.exit_code.map_or("–".into(), |c| c.to_string()),
                                s.duration_s,
                                s.output_bytes,
                                if s.cut { ", cut for the model" } else { "" },
                                if s.timed_out { ", timed out" } else { "" }
                            )
                        });
                        part(
                            "result",
                            format!(
                                "result of {}{}{how}",
                                r.call_id,
                                if r.is_error { " (error)" } else { "" }
                            ),
                            r.content.clone(),
                        )
                    }
                })
                .collect();
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            json!({"role": role, "parts": parts})
        })
        .collect();
    let scores: Vec<Value> = record
        .scores
        .iter()
        .map(|(name, s)| json!({"name": name, "value": number(s.value), "answer": s.answer.clone().unwrap_or_default(), "explanation": s.explanation.clone().unwrap_or_default()}))
        // A scorer that could not decide is shown with why, not left out.
        .chain(record.score_errors.iter().map(|(name, why)| json!({"name": name, "value": "unreadable", "answer": "", "explanation": why})))
        .collect();
    let mut facts = vec![
        ("time".to_string(), format!("{:.2} s", record.time_s)),
        (
            "tokens".into(),
            format!(
                "{} ({} in, {} out)",
                record.usage.total_tokens, record.usage.input_tokens, record.usage.output_tokens
            ),
        ),
    ];
    if let Some(agent) = &record.agent {
        facts.push((
            "agent".into(),
            format!(
                "ended: {}; {} turns, {} tool calls, {:.2} s working; sandbox: {}",
                agent.ended,
                agent.turns,
                agent.steps.len(),
                agent.working_s,
                agent.sandbox.isolation
            ),
        ));
    }
    for (key, value) in &record.metadata {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.len() <= 200 {
            facts.push((key.clone(), text));
        }
    }
    let link = |n: usize| {
        url(
            "/sample",
            params,
            &[
                ("n", Some(n.to_string())),
                ("sample", None),
                ("sample_epoch", None),
            ],
        )
    };
    render(
        "sample.html",
        context! {
            id => entry.id, shown => entry.shown, sample_id => record.id, epoch => record.epoch,
            error => record.error.as_ref().map(|e| json!({"kind": e.kind.as_str(), "message": e.message})),
            scores, facts, messages,
            previous => previous.map(link), next => next.map(link),
            back => url("/samples", params, &[("n", None), ("sample", None), ("sample_epoch", None)]),
        },
    )
}

/// Rows of the comparison shown per page.
const COMPARE_PAGE: usize = 100;

/// Two or more runs of one task: the paired differences from the first run
/// (`vigie compare`'s test), and one row per sample with each run's value
/// of `scorer`, each a link to that run's sample; `only` is `changed` or
/// `failures`.
pub(crate) fn compare_page(
    runs: &[(Entry, std::sync::Arc<LoadedLog>)],
    deltas: &[(String, vigie_assess::ScorerComparison)],
    scorer: &str,
    only: &str,
    page: usize,
) -> String {
    // Every (sample, epoch) of any run, in the first run's order, then the others'.
    let mut keys: Vec<(String, u32)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut at: Vec<BTreeMap<(String, u32), usize>> = Vec::new();
    for (_, log) in runs {
        let mut map = BTreeMap::new();
        for (n, row) in log.index.rows().enumerate() {
            let key = (row.id.to_string(), row.epoch);
            if seen.insert(key.clone()) {
                keys.push(key.clone());
            }
            map.insert(key, n);
        }
        at.push(map);
    }
    let value = |run: usize, key: &(String, u32)| -> Option<(usize, Option<f64>, Option<String>)> {
        let (_, log) = &runs[run];
        let n = *at[run].get(key)?;
        let column = log.index.scorers.iter().position(|s| s == scorer);
        Some((
            n,
            column.and_then(|c| log.index.score_of(n, c)),
            log.index.error_of(n).map(str::to_string),
        ))
    };
    let selected: Vec<&(String, u32)> = keys
        .iter()
        .filter(|key| {
            let values: Vec<_> = (0..runs.len()).map(|r| value(r, key)).collect();
            match only {
                "changed" => {
                    let shown: Vec<Option<f64>> = values
                        .iter()
                        .map(|v| v.as_ref().and_then(|v| v.1))
                        .collect();
                    shown.windows(2).any(|w| w[0] != w[1])
                }
                "failures" => values.iter().any(|v| match v {
                    None => true,
                    Some((_, score, error)) => error.is_some() || score.is_none_or(|s| s < 1.0),
                }),
                _ => true,
            }
        })
        .collect();
    let pages = selected.len().div_ceil(COMPARE_PAGE).max(1);
    let page = page.clamp(1, pages);
    let rows: Vec<Value> = selected
        .iter()
        .skip((page - 1) * COMPARE_PAGE)
        .take(COMPARE_PAGE)
        .map(|key| {
            let cells: Vec<Value> = (0..runs.len())
                .map(|r| match value(r, key) {
                    None => json!({}),
                    Some((n, score, error)) => json!({
                        "href": format!("/sample?log={}&n={n}", encode(&runs[r].0.id)),
                        "text": match (&error, score) {
                            (Some(kind), None) => kind.clone(),
                            (_, Some(v)) => number(v),
                            (None, None) => "not scored".into(),
                        },
                        "bad": error.is_some() || score.is_some_and(|v| v < 1.0),
                    }),
                })
                .collect();
            json!({"id": key.0, "epoch": key.1, "cells": cells})
        })
        .collect();
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    params.insert("scorer".into(), scorer.to_string());
    params.insert("only".into(), only.to_string());
    let logs: String = runs
        .iter()
        .map(|(e, _)| format!("&log={}", encode(&e.id)))
        .collect();
    let page_url = |n: usize| {
        format!(
            "{}{logs}",
            url("/compare", &params, &[("page", Some(n.to_string()))])
        )
    };
    let deltas: Vec<Value> = deltas
        .iter()
        .map(|(run, c)| {
            json!({
                "run": run, "scorer": c.scorer, "shared": c.shared, "mean_a": number(c.mean_a), "mean_b": number(c.mean_b),
                "difference": format!("{:+.3}", c.difference), "interval": format!("[{}, {}]", number(c.ci95_low), number(c.ci95_high)),
                "p": format!("{:.4}", c.p_value), "test": c.test,
            })
        })
        .collect();
    let scorers: Vec<String> = runs
        .first()
        .map(|(_, l)| l.index.scorers.clone())
        .unwrap_or_default();
    let run_rows: Vec<Value> = runs
        .iter()
        .map(|(e, l)| json!({"id": e.id, "shown": e.shown, "model": l.results.header.model.name}))
        .collect();
    render(
        "compare.html",
        context! {
            task => runs.first().map(|(_, l)| l.results.header.task.name.clone()), runs => run_rows, deltas,
            scorers, scorer, only, rows, total => selected.len(), keys => keys.len(), page, pages,
            prev_page => (page > 1).then(|| page_url(page - 1)),
            next_page => (page < pages).then(|| page_url(page + 1)),
        },
    )
}

/// Tiers per risk area and model, each finding a link to the samples behind
/// it. `shown` names a log's id as the user sees it.
pub(crate) fn assess_page(
    assessment: &vigie_assess::Assessment,
    shown: &BTreeMap<String, String>,
) -> String {
    let style = |tier: &str| match assessment.tiers.iter().position(|t| t == tier) {
        Some(0) => "success",
        Some(1) => "failures",
        _ => "error",
    };
    let models: Vec<Value> = assessment
        .models
        .iter()
        .map(|m| {
            let areas: Vec<Value> = m
                .areas
                .iter()
                .map(|a| {
                    let findings: Vec<Value> = a
                        .findings
                        .iter()
                        .map(|f| {
                            let mut href = format!("/samples?log={}", encode(&f.log));
                            if let Some(group) = &f.group {
                                href.push_str(&format!("&group={}", encode(group)));
                            }
                            let mut notes = f.notes.clone();
                            if let Some(log) = shown.get(&f.log) {
                                notes.insert(0, log.clone());
                            }
                            json!({
                                "indicator": format!("{} · {}{}", f.task, f.metric, f.group.as_ref().map_or(String::new(), |g| format!(" ({g})"))),
                                "href": href, "tier": f.tier, "style": style(&f.tier),
                                "value": number(f.value),
                                "interval": if f.has_interval { format!("[{}, {}]", number(f.ci_low), number(f.ci_high)) } else { String::new() },
                                "pessimistic": number(f.pessimistic), "samples": f.samples,
                                "notes": notes.join("; "),
                            })
                        })
                        .collect();
                    json!({"name": a.name, "findings": findings, "missing": a.missing.join("; ")})
                })
                .collect();
            json!({"model": m.model, "areas": areas, "highest": m.highest_tier, "acceptable": m.acceptable})
        })
        .collect();
    render(
        "assess.html",
        context! {
            framework => format!("{} ({} version {})", assessment.framework_title, assessment.framework_id, assessment.framework_version),
            tiers => assessment.tiers, models, notes => assessment.notes,
        },
    )
}
