//! The content of a report, independent of its format: the assessment, one
//! section per evaluation (elicitation, results, five random samples), the
//! heat maps, the Hiroshima table, limitations, and the logs it came from.
//! The JSON report is this structure; HTML and Markdown render it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigie_assess::taxonomy::Taxonomy;
use vigie_assess::{Assessment, EvidenceLog};
use vigie_seal::ReportSource;

use crate::ReportError;

/// Areas whose model outputs may carry hazardous content, and so are
/// truncated in reports unless asked otherwise.
const HAZARDOUS_AREAS: &[&str] = &[
    "cbrn",
    "cyber",
    "harmful_content",
    "manipulation",
    "safeguards",
];
/// Characters of a hazardous output shown before it is cut.
const REDACTED_CHARS: usize = 160;
/// Characters of any input or output shown in a sample.
const SHOWN_CHARS: usize = 600;
/// Categories beyond which a task × category table is too wide to read.
const MAX_HEATMAP_COLUMNS: usize = 12;
/// Random samples shown per evaluation (as the Code of Practice's Model Report asks).
const EXAMPLES: usize = 5;
/// Agent transcripts shown per agentic evaluation, chosen by seed.
const TRANSCRIPTS: usize = 2;
/// Entries of a transcript shown before the rest is left out.
const TRANSCRIPT_ENTRIES: usize = 40;
/// Characters of a command or tool output shown in a transcript.
const STEP_CHARS: usize = 300;

/// A whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportData {
    /// Version of this structure.
    pub report_version: u32,
    /// The title.
    pub title: String,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
    /// `vigie <version>`.
    pub generated_by: String,
    /// Whether hazardous outputs are truncated.
    pub redacted: bool,
    /// The assessment.
    pub assessment: Assessment,
    /// Plain summary lines per model, for the top of the report.
    pub summary: Vec<ModelSummary>,
    /// One section per evaluation log.
    pub evaluations: Vec<Evaluation>,
    /// Task × category tables of suites with one scorer over many tasks (jailbreak transforms).
    pub heatmaps: Vec<Heatmap>,
    /// The eleven Hiroshima Code of Conduct actions and the evidence for each.
    pub hiroshima: Vec<HiroshimaRow>,
    /// What this report cannot show.
    pub limitations: Vec<String>,
    /// The logs it came from, with their Merkle roots.
    pub sources: Vec<ReportSource>,
}

/// The headline for one model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The model.
    pub model: String,
    /// The highest tier reached.
    pub highest_tier: Option<String>,
    /// Whether every assessed area is acceptable.
    pub acceptable: bool,
    /// Areas assessed, of those in the framework.
    pub assessed: usize,
    /// Areas in the framework.
    pub areas: usize,
    /// Refusal of harmful requests next to compliance with benign ones.
    pub refusal_vs_over_refusal: Option<(f64, f64)>,
    /// How the model was reached: endpoints (or in-process for `local/`).
    pub endpoints: Vec<String>,
    /// Judge models that graded its answers.
    pub judges: Vec<String>,
    /// Attacker models that attacked it.
    pub attackers: Vec<String>,
    /// Evaluations (logs) of this model.
    pub evaluations: usize,
    /// Sample records over all of them.
    pub records: usize,
    /// Tokens the model used over all of them.
    pub tokens: u64,
    /// When the first and the last of its runs started.
    pub period: (String, String),
}

/// One evaluation: what ran, how, what came out, and five samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// The log's file name.
    pub log: String,
    /// The task.
    pub task: String,
    /// The model.
    pub model: String,
    /// Risk areas it gives evidence for.
    pub risk_areas: Vec<String>,
    /// How the run ended.
    pub status: String,
    /// Records written / planned.
    pub records: String,
    /// Elicitation: the settings that shaped the model's answers.
    pub elicitation: Vec<(String, String)>,
    /// Each scorer's headline metric: (scorer, value, low, high).
    pub results: Vec<(String, f64, Option<f64>, Option<f64>)>,
    /// The chance level, for multiple choice.
    pub chance: Option<f64>,
    /// Per category: (category, samples, scorer → value).
    pub groups: Vec<(String, usize, BTreeMap<String, f64>)>,
    /// Random samples.
    pub examples: Vec<Example>,
    /// pass@1 and pass@k per scorer, for a run of several epochs:
    /// (scorer, k, value, low, high).
    #[serde(default)]
    pub pass_at_k: Vec<(String, u32, f64, f64, f64)>,
    /// The task's contrast per scorer, in words, when it has one.
    #[serde(default)]
    pub contrasts: Vec<String>,
    /// Agent transcripts, for an agentic evaluation.
    #[serde(default)]
    pub transcripts: Vec<Transcript>,
}

/// An agent's sample as shown: what it ran and what came back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transcript {
    /// The sample id.
    pub id: String,
    /// The epoch.
    pub epoch: u32,
    /// Scores: scorer → value.
    pub scores: BTreeMap<String, f64>,
    /// Why the agent stopped, and how many turns and calls it took.
    pub summary: String,
    /// The conversation after the system prompt, in order.
    pub entries: Vec<TranscriptEntry>,
    /// Entries left out of the middle (a `gap` entry marks where).
    pub omitted: usize,
}

/// One entry of a transcript.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// `user`, `model`, `call` (a tool call: the tool and its arguments),
    /// `result` (what the model was shown) or `gap` (entries left out).
    pub kind: String,
    /// The text, cut, and redacted when hazardous.
    pub text: String,
    /// Whether the text was redacted.
    pub redacted: bool,
}

/// One sample as shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Example {
    /// The sample id.
    pub id: String,
    /// The epoch.
    pub epoch: u32,
    /// The input, cut to a readable length.
    pub input: String,
    /// The output, cut, and redacted when hazardous.
    pub output: String,
    /// Whether the output was redacted.
    pub redacted: bool,
    /// Scores: scorer → value.
    pub scores: BTreeMap<String, f64>,
}

/// A task × category table of one scorer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heatmap {
    /// The model.
    pub model: String,
    /// The scorer.
    pub scorer: String,
    /// The shared task-name prefix (`jailbreak`).
    pub family: String,
    /// Row labels (the task names without the prefix).
    pub rows: Vec<String>,
    /// Column labels (categories).
    pub columns: Vec<String>,
    /// `cells[row][column]`, `None` where a task has no such category.
    pub cells: Vec<Vec<Option<f64>>>,
}

/// One Hiroshima action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HiroshimaRow {
    /// 1 to 11.
    pub number: u8,
    /// The action, in brief.
    pub title: String,
    /// What this run shows for it.
    pub evidence: Vec<String>,
    /// What it cannot show.
    pub cannot_show: String,
}

#[derive(Deserialize)]
struct HiroshimaFile {
    action: Vec<HiroshimaAction>,
}

#[derive(Deserialize)]
struct HiroshimaAction {
    number: u8,
    title: String,
    provides: String,
    cannot_show: String,
}

/// What a report is made from.
pub struct ReportInput<'a> {
    /// The report's title.
    pub title: String,
    /// The assessment of the logs.
    pub assessment: &'a Assessment,
    /// The logs.
    pub logs: &'a [EvidenceLog],
    /// Their sources (roots and manifests), in the same order.
    pub sources: Vec<ReportSource>,
    /// Key ids of valid signatures per log, in the same order.
    pub signers: Vec<Vec<String>>,
    /// Truncate hazardous outputs.
    pub redact: bool,
}

/// Gathers everything a report shows.
pub fn build(input: ReportInput<'_>) -> Result<ReportData, ReportError> {
    let taxonomy = Taxonomy::builtin();
    let mut evaluations = Vec::new();
    for log in input.logs {
        evaluations.push(evaluation(log, input.redact)?);
    }
    let summary = input
        .assessment
        .models
        .iter()
        .map(|m| summarise(m, input.logs))
        .collect();
    let heatmaps = heatmaps(input.logs);
    let hiroshima = hiroshima(input.assessment, &input.signers, taxonomy);
    let mut limitations = vec![
        "Results hold for the model, settings and prompts recorded here; other prompts, tools, fine-tuning or scaffolding can raise a model's capabilities (elicitation gap).".to_string(),
        "Multiple-choice knowledge proxies (WMDP) measure knowledge related to hazards, not the ability to carry out an attack; no human-uplift study stands behind them.".to_string(),
        "Refusal is judged by rules on the reply's wording unless a judge model is named; rules miss refusals without refusal words and count gibberish as compliance (docs/judges.md).".to_string(),
        "No human baseline was measured in these runs.".to_string(),
    ];
    for model in &input.assessment.models {
        let missing: Vec<&str> = model
            .areas
            .iter()
            .filter(|a| a.tier.is_none())
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            limitations.push(format!(
                "{}: not assessed for lack of evidence: {}.",
                model.model,
                missing.join(", ")
            ));
        }
    }
    limitations.extend(input.assessment.notes.iter().cloned());
    Ok(ReportData {
        report_version: 1,
        title: input.title,
        generated_at: vigie_log::now_rfc3339(),
        generated_by: format!("vigie {}", env!("CARGO_PKG_VERSION")),
        redacted: input.redact,
        assessment: input.assessment.clone(),
        summary,
        evaluations,
        heatmaps,
        hiroshima,
        limitations,
        sources: input.sources,
    })
}

fn summarise(model: &vigie_assess::ModelAssessment, logs: &[EvidenceLog]) -> ModelSummary {
    let mean_of = |task: &str, scorer: &str| {
        logs.iter()
            .filter(|l| l.header.model.name == model.model && l.header.task.name == task)
            .filter_map(|l| {
                l.footer
                    .as_ref()?
                    .metrics
                    .get(&format!("{scorer}/mean"))
                    .copied()
            })
            .next_back()
    };
    let refusal_vs_over_refusal =
        mean_of("refusal-harmful", "refused").zip(mean_of("over-refusal-benign", "complied"));
    let mine: Vec<&EvidenceLog> = logs
        .iter()
        .filter(|l| l.header.model.name == model.model && l.footer.is_some())
        .collect();
    let distinct = |values: Vec<String>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in values {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    };
    let endpoints = distinct(
        mine.iter()
            .map(|l| {
                l.header
                    .model
                    .base_url
                    .clone()
                    .unwrap_or_else(|| "in-process".into())
            })
            .collect(),
    );
    let judges = distinct(
        mine.iter()
            .filter_map(|l| l.header.judge_model.as_ref().map(|m| m.name.clone()))
            .collect(),
    );
    let attackers = distinct(
        mine.iter()
            .filter_map(|l| l.header.attacker_model.as_ref().map(|m| m.name.clone()))
            .collect(),
    );
    let mut starts: Vec<&str> = mine.iter().map(|l| l.header.started_at.as_str()).collect();
    starts.sort_unstable();
    ModelSummary {
        endpoints,
        judges,
        attackers,
        evaluations: mine.len(),
        records: mine
            .iter()
            .filter_map(|l| l.footer.as_ref())
            .map(|f| f.samples.completed)
            .sum(),
        tokens: mine
            .iter()
            .filter_map(|l| l.footer.as_ref())
            .map(|f| f.usage.total_tokens)
            .sum(),
        period: (
            starts.first().unwrap_or(&"").to_string(),
            starts.last().unwrap_or(&"").to_string(),
        ),
        model: model.model.clone(),
        highest_tier: model.highest_tier.clone(),
        acceptable: model.acceptable,
        assessed: model.areas.iter().filter(|a| a.tier.is_some()).count(),
        areas: model.areas.len(),
        refusal_vs_over_refusal,
    }
}

fn cut(text: &str, max: usize) -> (String, usize) {
    let total = text.chars().count();
    if total <= max {
        return (text.to_string(), 0);
    }
    (text.chars().take(max).collect(), total - max)
}

fn evaluation(log: &EvidenceLog, redact: bool) -> Result<Evaluation, ReportError> {
    let header = &log.header;
    let records = vigie_assess::records_that_count(&log.path)
        .map_err(|e| ReportError::Input(e.to_string()))?;
    let hazardous = redact
        && header
            .task
            .risk_areas
            .iter()
            .any(|a| HAZARDOUS_AREAS.contains(&a.as_str()));
    let scored: Vec<&vigie_log::SampleRecord> =
        records.iter().filter(|r| r.error.is_none()).collect();
    let examples = pick(scored.len(), EXAMPLES, &header.run_id)
        .into_iter()
        .map(|i| {
            let record = scored[i];
            let (input, _) = cut(&record.input, SHOWN_CHARS);
            let (mut output, hidden) = cut(&record.output, if hazardous { REDACTED_CHARS } else { SHOWN_CHARS });
            if hidden > 0 {
                output.push_str(&if hazardous {
                    format!(" [… {hidden} more characters withheld: possibly hazardous; `vigie report --redact off` shows them]")
                } else {
                    format!(" [… {hidden} more characters]")
                });
            }
            Example {
                id: record.id.clone(),
                epoch: record.epoch,
                input,
                output,
                redacted: hazardous && hidden > 0,
                scores: record.scores.iter().map(|(k, v)| (k.clone(), v.value)).collect(),
            }
        })
        .collect();
    let transcripts: Vec<Transcript> = {
        let agents: Vec<&vigie_log::SampleRecord> = scored
            .iter()
            .copied()
            .filter(|r| r.agent.is_some())
            .collect();
        pick(
            agents.len(),
            TRANSCRIPTS,
            &format!("{}/transcripts", header.run_id),
        )
        .into_iter()
        .map(|i| transcript(agents[i], hazardous))
        .collect()
    };
    let settings = &header.settings;
    let generate = serde_json::to_value(&settings.generate).unwrap_or_default();
    let mut elicitation = vec![("model".to_string(), header.model.name.clone())];
    if let Some(url) = &header.model.base_url {
        elicitation.push(("endpoint".into(), url.clone()));
    }
    if let Some(profile) = &header.model.profile {
        // The profile decided which settings were sent and the reasoning budget.
        elicitation.push(("model profile".into(), profile.clone()));
    }
    let (reasoning, output): (u64, u64) = records.iter().fold((0, 0), |(r, o), record| {
        (
            r + record.usage.reasoning_tokens,
            o + record.usage.output_tokens,
        )
    });
    if reasoning > 0 {
        elicitation.push((
            "reasoning".into(),
            format!("{reasoning} of {output} output tokens were reasoning"),
        ));
    }
    if let Some(object) = generate.as_object() {
        for (key, value) in object {
            if !value.is_null() {
                elicitation.push((
                    key.replace('_', " "),
                    value.to_string().trim_matches('"').to_string(),
                ));
            }
        }
    }
    elicitation.push((
        "epochs".into(),
        format!("{} ({})", settings.epochs, settings.epochs_reducer),
    ));
    elicitation.push(("seed".into(), settings.seed.to_string()));
    if let Some(limit) = settings.limit {
        elicitation.push(("limit".into(), format!("first {limit} samples")));
    }
    if let Some(system) = records.first().and_then(|r| {
        r.messages
            .iter()
            .find(|m| m.role == vigie_core::Role::System)
    }) {
        elicitation.push(("system prompt".into(), cut(&system.text(), 300).0));
    }
    if let Some(agent) = records.iter().find_map(|r| r.agent.as_ref()) {
        elicitation.extend(agent_elicitation(agent));
    }
    if let Some(judge) = &header.judge_model {
        elicitation.push(("judge model".into(), judge.name.clone()));
    }
    if let Some(attacker) = &header.attacker_model {
        elicitation.push(("attacker model".into(), attacker.name.clone()));
    }
    elicitation.push((
        "task source".into(),
        format!(
            "{} (sha256 {}…)",
            header.task.source,
            header.task.source_sha256.get(..12).unwrap_or("")
        ),
    ));
    let footer = log.footer.as_ref();
    let results = header
        .scorers
        .iter()
        .filter_map(|s| {
            let metrics = &footer?.metrics;
            let value = metrics
                .get(&format!("{}/accuracy", s.name))
                .or_else(|| metrics.get(&format!("{}/mean", s.name)))?;
            Some((
                s.name.clone(),
                *value,
                metrics.get(&format!("{}/ci95_low", s.name)).copied(),
                metrics.get(&format!("{}/ci95_high", s.name)).copied(),
            ))
        })
        .collect();
    let groups = footer
        .map(|f| {
            f.groups
                .iter()
                .map(|g| {
                    let values = header
                        .scorers
                        .iter()
                        .filter_map(|s| {
                            g.metrics
                                .get(&format!("{}/accuracy", s.name))
                                .or_else(|| g.metrics.get(&format!("{}/mean", s.name)))
                                .map(|v| (s.name.clone(), *v))
                        })
                        .collect();
                    (g.group.clone(), g.samples, values)
                })
                .collect()
        })
        .unwrap_or_default();
    let pass_at_k = footer
        .map(|f| {
            f.pass_at_k
                .iter()
                .map(|p| (p.scorer.clone(), p.k, p.value, p.ci95_low, p.ci95_high))
                .collect()
        })
        .unwrap_or_default();
    let contrasts = match (footer, &header.task.contrast) {
        (Some(f), Some(spec)) => f
            .contrasts
            .iter()
            .map(|c| {
                format!(
                    "{}: {} {:.3} vs {} {:.3} over {} pairs, difference {:+.3} [{:.3}, {:.3}]",
                    c.scorer,
                    spec.baseline,
                    c.baseline_mean,
                    spec.variant,
                    c.variant_mean,
                    c.pairs,
                    c.difference,
                    c.ci95_low,
                    c.ci95_high
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Evaluation {
        pass_at_k,
        contrasts,
        transcripts,
        log: log.file_name.clone(),
        task: header.task.name.clone(),
        model: header.model.name.clone(),
        risk_areas: header.task.risk_areas.clone(),
        status: footer.map_or("started", |f| f.status.as_str()).to_string(),
        records: footer.map_or_else(
            || "—".to_string(),
            |f| {
                format!(
                    "{} of {} ({} errors)",
                    f.samples.completed, f.samples.total, f.samples.errors
                )
            },
        ),
        elicitation,
        results,
        chance: header.task.chance,
        groups,
        examples,
    })
}

/// How hard an agent was pushed: its tools, attempts, limits and sandbox.
fn agent_elicitation(agent: &vigie_log::AgentRecord) -> Vec<(String, String)> {
    let limits = &agent.limits;
    let mut bounds = Vec::new();
    if let Some(n) = limits.messages {
        bounds.push(format!("{n} messages"));
    }
    if let Some(n) = limits.tokens {
        bounds.push(format!("{n} tokens"));
    }
    if let Some(n) = limits.tool_calls {
        bounds.push(format!("{n} tool calls"));
    }
    if let Some(t) = limits.time_s {
        bounds.push(format!("{t} s wall time"));
    }
    if let Some(t) = limits.working_s {
        bounds.push(format!("{t} s working time"));
    }
    bounds.push(format!("{} s per tool call", limits.tool_timeout_s));
    let sandbox = &agent.sandbox;
    let mut box_words = vec![format!("{} isolation", sandbox.isolation)];
    box_words.push(match &sandbox.rootfs {
        Some(rootfs) => format!("root filesystem {rootfs}"),
        None => "the host's system folders, read-only".into(),
    });
    box_words.push(
        if sandbox.network {
            "network"
        } else {
            "no network"
        }
        .into(),
    );
    if !sandbox.limits_in_force.is_empty() {
        box_words.push(sandbox.limits_in_force.join(", "));
    }
    let mut out = Vec::new();
    if !agent.tools.is_empty() {
        out.push(("agent tools".to_string(), agent.tools.join(", ")));
    }
    out.push(("attempts".to_string(), limits.attempts.to_string()));
    out.push(("agent limits".to_string(), bounds.join(", ")));
    out.push(("sandbox".to_string(), box_words.join("; ")));
    out
}

/// An agent's record as a transcript: the task, then each model turn's
/// text and calls and what each call returned, commands and outputs cut
/// (and redacted in hazardous areas, as sample outputs are).
fn transcript(record: &vigie_log::SampleRecord, hazardous: bool) -> Transcript {
    use vigie_core::{ContentPart, Role};
    let shown = |text: &str, model_side: bool| -> (String, bool) {
        let max = if hazardous && model_side {
            REDACTED_CHARS
        } else {
            STEP_CHARS
        };
        let (mut text, hidden) = cut(text.trim(), max);
        let redacted = hazardous && model_side && hidden > 0;
        if hidden > 0 {
            text.push_str(&if redacted {
                format!(" [… {hidden} more characters withheld: possibly hazardous]")
            } else {
                format!(" [… {hidden} more characters]")
            });
        }
        (text, redacted)
    };
    let mut entries = Vec::new();
    for message in record.messages.iter().filter(|m| m.role != Role::System) {
        for part in &message.content {
            let (kind, text, model_side) = match (message.role, part) {
                (Role::User, ContentPart::Text { text }) => ("user", text.clone(), false),
                (Role::Assistant, ContentPart::Text { text }) if !text.trim().is_empty() => {
                    ("model", text.clone(), true)
                }
                (_, ContentPart::ToolCall(call)) => {
                    let arguments = match call.arguments.as_object() {
                        // One argument (a command, code): shown as it is.
                        Some(map) if map.len() == 1 => map
                            .values()
                            .next()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| call.arguments.to_string()),
                        _ => call.arguments.to_string(),
                    };
                    ("call", format!("{}: {arguments}", call.name), true)
                }
                (_, ContentPart::ToolResult(result)) => ("result", result.content.clone(), true),
                _ => continue,
            };
            let (text, redacted) = shown(&text, model_side);
            entries.push(TranscriptEntry {
                kind: kind.to_string(),
                text,
                redacted,
            });
        }
    }
    // A long transcript keeps its start and its end (the submission, the
    // follow-up), with the middle left out and said so.
    let omitted = entries.len().saturating_sub(TRANSCRIPT_ENTRIES);
    if omitted > 0 {
        let tail = entries.split_off(entries.len() - TRANSCRIPT_ENTRIES / 4);
        entries.truncate(TRANSCRIPT_ENTRIES - TRANSCRIPT_ENTRIES / 4);
        entries.push(TranscriptEntry {
            kind: "gap".into(),
            text: format!("[… {omitted} entries left out …]"),
            redacted: false,
        });
        entries.extend(tail);
    }
    let agent = record.agent.as_ref();
    Transcript {
        id: record.id.clone(),
        epoch: record.epoch,
        scores: record
            .scores
            .iter()
            .map(|(k, v)| (k.clone(), v.value))
            .collect(),
        summary: agent.map_or_else(String::new, |a| {
            format!(
                "ended: {}; {} turns, {} tool calls, {} submissions",
                a.ended,
                a.turns,
                a.steps.len(),
                a.submissions.len()
            )
        }),
        entries,
        omitted,
    }
}

/// `count` distinct indices below `n`, chosen by a generator seeded from
/// `seed_text` (the run id): the same report shows the same samples.
fn pick(n: usize, count: usize, seed_text: &str) -> Vec<usize> {
    let mut state = seed_text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut indices: Vec<usize> = (0..n).collect();
    let take = count.min(n);
    for i in 0..take {
        let j = i + (next() % (n - i) as u64) as usize;
        indices.swap(i, j);
    }
    let mut chosen = indices[..take].to_vec();
    chosen.sort_unstable();
    chosen
}

/// Task × category tables for families of tasks (`jailbreak-*`) that share
/// a scorer and report per category.
fn heatmaps(logs: &[EvidenceLog]) -> Vec<Heatmap> {
    let mut maps: Vec<Heatmap> = Vec::new();
    for log in logs {
        let Some(footer) = &log.footer else { continue };
        let Some((family, row)) = log.header.task.name.split_once('-') else {
            continue;
        };
        if footer.groups.is_empty() || log.header.scorers.is_empty() {
            continue;
        }
        let scorer = log.header.scorers[0].name.clone();
        let index = match maps.iter().position(|m| {
            m.model == log.header.model.name && m.family == family && m.scorer == scorer
        }) {
            Some(i) => i,
            None => {
                maps.push(Heatmap {
                    model: log.header.model.name.clone(),
                    scorer: scorer.clone(),
                    family: family.to_string(),
                    rows: vec![],
                    columns: vec![],
                    cells: vec![],
                });
                maps.len() - 1
            }
        };
        let map = &mut maps[index];
        if map.rows.iter().any(|r| r == row) {
            continue;
        }
        map.rows.push(row.to_string());
        let mut cells = vec![None; map.columns.len()];
        for group in &footer.groups {
            let value = group
                .metrics
                .get(&format!("{scorer}/mean"))
                .or_else(|| group.metrics.get(&format!("{scorer}/accuracy")))
                .copied();
            let column = match map.columns.iter().position(|c| *c == group.group) {
                Some(c) => c,
                None => {
                    map.columns.push(group.group.clone());
                    for row in &mut map.cells {
                        row.push(None);
                    }
                    cells.push(None);
                    map.columns.len() - 1
                }
            };
            cells[column] = value;
        }
        map.cells.push(cells);
    }
    // A heat map needs several tasks, each split over several categories,
    // and few enough categories to read.
    maps.retain(|m| {
        m.rows.len() >= 2
            && m.columns.len() <= MAX_HEATMAP_COLUMNS
            && m.cells.iter().all(|row| row.iter().flatten().count() >= 2)
    });
    maps
}

fn hiroshima(
    assessment: &Assessment,
    signers: &[Vec<String>],
    taxonomy: &Taxonomy,
) -> Vec<HiroshimaRow> {
    let file: HiroshimaFile = toml::from_str(include_str!("../data/hiroshima.toml"))
        .expect("the built-in Hiroshima table parses (tested)");
    let signed = signers.iter().any(|s| !s.is_empty());
    file.action
        .into_iter()
        .map(|action| {
            let mut evidence = vec![action.provides];
            for model in &assessment.models {
                let areas: Vec<String> = model
                    .areas
                    .iter()
                    .filter(|a| {
                        a.tier.is_some()
                            && taxonomy
                                .area(&a.risk)
                                .is_some_and(|r| r.hiroshima.contains(&action.number))
                    })
                    .map(|a| format!("{} ({})", a.name, a.tier.as_deref().unwrap_or("")))
                    .collect();
                if !areas.is_empty() {
                    evidence.push(format!("{}: {}", model.model, areas.join(", ")));
                }
            }
            if action.number == 7 {
                evidence.push(if signed {
                    "The logs behind this report are signed.".into()
                } else {
                    "The logs behind this report are hashed but not signed (`vigie sign`).".into()
                });
            }
            HiroshimaRow {
                number: action.number,
                title: action.title,
                evidence,
                cannot_show: action.cannot_show,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_picked_the_same_way_for_the_same_run() {
        let a = pick(100, 5, "run-1");
        assert_eq!(a, pick(100, 5, "run-1"));
        assert_ne!(a, pick(100, 5, "run-2"));
        assert_eq!(a.len(), 5);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[4] < 100);
        assert_eq!(pick(3, 5, "x"), vec![0, 1, 2]);
    }

    #[test]
    fn the_hiroshima_table_has_all_eleven_actions() {
        let file: HiroshimaFile = toml::from_str(include_str!("../data/hiroshima.toml")).unwrap();
        assert_eq!(
            file.action.iter().map(|a| a.number).collect::<Vec<_>>(),
            (1..=11).collect::<Vec<u8>>()
        );
    }

    #[test]
    fn dates_are_rfc_3339() {
        let now = vigie_log::now_rfc3339();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
