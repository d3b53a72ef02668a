//! The stable machine-readable outputs of reading a log: the summary of
//! `vigie log show --json` ([`LogSummary`]) and the lines of
//! `vigie log export --format jsonl` ([`ExportedRecord`]). They are
//! contracts: fields may be added, never renamed or removed, and their JSON
//! Schemas (derived from these types) are published under `docs/schemas/`.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vigie_core::{ChatMessage, Usage};

use crate::results::LogResults;
use crate::{
    Contrast, ContrastSpec, GroupMetrics, Manifest, SampleCounts, SampleError, SampleRecord,
    Signature,
};

/// `vigie log show LOG --json`: a log's results, one JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogSummary {
    /// The log's path, as given.
    pub log: String,
    /// The log's format version (its header's).
    pub format_version: u32,
    /// The run's id.
    pub run_id: String,
    /// `success`, `cancelled`, `error`, or `started` for a log without footer
    /// (a run still going, or killed). A `success` may have failed samples:
    /// see `samples.errors`.
    pub status: crate::RunStatus,
    /// The task.
    pub task: SummaryTask,
    /// The evaluated model (`provider/model`).
    pub model: String,
    /// The model profile that decided how settings were sent, if one matched.
    pub model_profile: Option<String>,
    /// The generation settings the run asked for (before a profile dropped
    /// any the model does not accept), reasoning settings included.
    pub generate: vigie_core::GenerateConfig,
    /// The judge model, if the run had one.
    pub judge_model: Option<String>,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended; `null` without a footer.
    pub finished_at: Option<String>,
    /// Record counts.
    pub samples: SampleCounts,
    /// `<scorer>/<metric>` to value.
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics per value of the task's `group_by` field.
    pub groups: Vec<GroupMetrics>,
    /// Per scorer, the task's contrast between two conditions.
    pub contrasts: Vec<Contrast>,
    /// pass@1 and pass@k of each 0/1 scorer, for a run of several epochs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_at_k: Vec<crate::metrics::PassAtK>,
    /// Tokens of the evaluated model.
    pub usage: Usage,
    /// What they cost in US dollars, when the model's price is known.
    pub cost_usd: Option<f64>,
    /// Request retries.
    pub retries: u64,
    /// Per scorer, the records on which it could not decide (absent when none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unscored: BTreeMap<String, usize>,
    /// Why the run stopped, when it did not succeed.
    pub error: Option<String>,
    /// The manifest of a finished log; `null` for one without.
    pub manifest: Option<ManifestSummary>,
    /// The records that count, with `--samples` (only the failed ones with `--failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<ExportedRecord>>,
}

/// The task of a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryTask {
    /// Its name.
    pub name: String,
    /// Its file, or `suite:<suite>/<task>`.
    pub source: String,
    /// SHA-256 of the task definition.
    pub source_sha256: String,
    /// The dataset's path or built-in name.
    pub dataset: String,
    /// SHA-256 of the dataset.
    pub dataset_sha256: String,
    /// Risk areas it gives evidence for.
    pub risk_areas: Vec<String>,
    /// The metadata field that splits the metrics into groups.
    pub group_by: Option<String>,
    /// The score of guessing among the choices, for multiple choice.
    pub chance: Option<f64>,
    /// The two conditions compared, if any.
    pub contrast: Option<ContrastSpec>,
}

/// A log's manifest, in short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestSummary {
    /// The Merkle root over the records (hex).
    pub merkle_root: String,
    /// Records the manifest lists (retries included).
    pub records: usize,
    /// Key ids of the signatures after it (not checked here: `vigie verify` checks them).
    pub signed_by: Vec<String>,
}

impl LogSummary {
    /// The summary of a log's results and manifest; `records` when asked for.
    pub fn new(
        path: &Path,
        results: &LogResults,
        manifest: Option<&(Manifest, Vec<Signature>)>,
        records: Option<&[SampleRecord]>,
    ) -> LogSummary {
        let (h, f) = (&results.header, &results.footer);
        LogSummary {
            log: path.display().to_string(),
            format_version: h.format_version,
            run_id: h.run_id.clone(),
            status: if results.finished {
                f.status
            } else {
                crate::RunStatus::Started
            },
            task: SummaryTask {
                name: h.task.name.clone(),
                source: h.task.source.clone(),
                source_sha256: h.task.source_sha256.clone(),
                dataset: h.task.dataset.clone(),
                dataset_sha256: h.task.dataset_sha256.clone(),
                risk_areas: h.task.risk_areas.clone(),
                group_by: h.task.group_by.clone(),
                chance: h.task.chance,
                contrast: h.task.contrast.clone(),
            },
            model: h.model.name.clone(),
            model_profile: h.model.profile.clone(),
            generate: h.settings.generate.clone(),
            judge_model: h.judge_model.as_ref().map(|j| j.name.clone()),
            started_at: h.started_at.clone(),
            finished_at: results.finished.then(|| f.finished_at.clone()),
            samples: f.samples,
            metrics: f.metrics.clone(),
            groups: f.groups.clone(),
            contrasts: f.contrasts.clone(),
            pass_at_k: f.pass_at_k.clone(),
            usage: f.usage,
            cost_usd: f.cost_usd,
            retries: f.retries,
            unscored: f.unscored.clone(),
            error: f.error.clone(),
            manifest: manifest.map(|(m, signatures)| ManifestSummary {
                merkle_root: m.merkle_root.clone(),
                records: m.records.len(),
                signed_by: signatures.iter().map(|s| s.key_id.clone()).collect(),
            }),
            records: records.map(|records| records.iter().map(ExportedRecord::from).collect()),
        }
    }
}

/// One record as `vigie log export --format jsonl` writes it, a line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExportedRecord {
    /// The sample's id.
    pub id: String,
    /// The epoch, from 1.
    pub epoch: u32,
    /// The sample's input.
    pub input: String,
    /// The target(s), as presented.
    pub target: Vec<String>,
    /// The choices, as presented.
    pub choices: Vec<String>,
    /// The log-likelihood of each choice, when answered by likelihood.
    pub choice_loglikelihoods: Vec<f64>,
    /// The final completion.
    pub output: String,
    /// Scorer name to value.
    pub scores: BTreeMap<String, f64>,
    /// Scorer name to the answer it read (`null` when none).
    pub answers: BTreeMap<String, Option<String>>,
    /// Scorer name to the parts of its verdict, for scorers that have them.
    pub sub_scores: BTreeMap<String, BTreeMap<String, f64>>,
    /// Scorer name to why it decided so, for scorers that say (a judge's
    /// reasoning, what a state check found).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub explanations: BTreeMap<String, String>,
    /// Why the sample failed; `null` when it did not.
    pub error: Option<SampleError>,
    /// Scorer name to why it could not decide (a judge's unreadable verdict);
    /// the other scorers' verdicts stand.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub score_errors: BTreeMap<String, String>,
    /// Tokens of the evaluated model.
    pub usage: Usage,
    /// What they cost in US dollars, when the model's price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Request retries.
    pub retries: u32,
    /// Answers served from the cache.
    pub cache_hits: u32,
    /// Wall time in seconds.
    pub time_s: f64,
    /// The dataset's metadata columns.
    pub metadata: Map<String, Value>,
    /// The whole conversation.
    pub messages: Vec<ChatMessage>,
    /// What an agent did (sandbox, limits, tool steps, submissions, why it
    /// ended), for samples of the `agent` solver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::AgentRecord>,
}

impl From<&SampleRecord> for ExportedRecord {
    fn from(record: &SampleRecord) -> ExportedRecord {
        ExportedRecord {
            id: record.id.clone(),
            epoch: record.epoch,
            input: record.input.clone(),
            target: record.target.clone(),
            choices: record.choices.clone(),
            choice_loglikelihoods: record.choice_loglikelihoods.clone(),
            output: record.output.clone(),
            scores: record
                .scores
                .iter()
                .map(|(k, s)| (k.clone(), s.value))
                .collect(),
            answers: record
                .scores
                .iter()
                .map(|(k, s)| (k.clone(), s.answer.clone()))
                .collect(),
            sub_scores: record
                .scores
                .iter()
                .filter(|(_, s)| !s.sub_scores.is_empty())
                .map(|(k, s)| (k.clone(), s.sub_scores.clone()))
                .collect(),
            explanations: record
                .scores
                .iter()
                .filter_map(|(k, s)| Some((k.clone(), s.explanation.clone()?)))
                .collect(),
            error: record.error.clone(),
            score_errors: record.score_errors.clone(),
            usage: record.usage,
            cost_usd: record.cost_usd,
            retries: record.retries,
            cache_hits: record.cache_hits,
            time_s: record.time_s,
            metadata: record.metadata.clone(),
            messages: record.messages.clone(),
            agent: record.agent.clone(),
        }
    }
}
