//! The records a log holds. Field order and names are part of the format:
//! a change that an earlier reader cannot read bumps [`crate::FORMAT_VERSION`],
//! and records of earlier versions are read into these types ([`crate::upgrade`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vigie_core::{ChatMessage, GenerateConfig, ModelErrorKind, Usage};

use crate::metrics::{Metric, Reducer};

/// The first record of a log: what was run, on what, with which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHeader {
    /// Format version of the file.
    pub format_version: u32,
    /// The vigie version that started the run.
    pub vigie_version: String,
    /// A unique id for the run.
    pub run_id: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// The task.
    pub task: TaskRef,
    /// The evaluated model.
    pub model: ModelRef,
    /// The judge model of model-graded scorers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_model: Option<ModelRef>,
    /// The attacker model of attack solvers (PAIR), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker_model: Option<ModelRef>,
    /// Run settings.
    pub settings: RunSettings,
    /// The scorers, in task order.
    pub scorers: Vec<ScorerRef>,
    /// How many sample records a complete run has (samples × epochs; a
    /// shard's own part of them, for a shard).
    pub planned_records: usize,
    /// For a log merged from shards: the shard logs, in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<crate::shard::ShardSource>,
}

/// A scorer as a log records it: enough to recompute metrics from the records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorerRef {
    /// The scorer's name, the key of its scores in each record.
    pub name: String,
    /// Its metrics.
    pub metrics: Vec<Metric>,
    /// What decides its verdicts, for a scorer that judges a reply (a
    /// refusal detector, a harm judge); absent for checks against a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeRef>,
}

/// The judge behind a scorer's verdicts, as a log records it: enough to
/// find that judge's measured agreement with people, and to say when a
/// figure stands in for a judgement it could not make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeRef {
    /// The judge: `refusal-rules`, `refusal-keywords`, `strongreject`,
    /// `harmbench`, `harmbench-classifier`, `llama-guard`, `policy:<name>`,
    /// `model-graded`.
    pub id: String,
    /// The version of its prompt or rules: the first 12 hex digits of the
    /// SHA-256 of the data it is made of.
    pub version: String,
    /// What its verdict says of a reply: `harm` (did it carry out the harmful
    /// request) or `refusal` (did it decline), or `grade` (against a target).
    pub decides: String,
    /// Whether the run's judge model gives the verdict (`judge_model` in the header).
    #[serde(default)]
    pub model: bool,
    /// Whether the scorer stands in for a harm judge the run did not have:
    /// attack success read from refusals alone, which counts every reply
    /// that does not refuse as a success, so an upper bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub upper_bound: bool,
}

/// The task a run evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    /// The task's name.
    pub name: String,
    /// Where the task was defined: a file path, or `suite:<name>/<task>` for built-ins.
    pub source: String,
    /// SHA-256 (hex) of the task definition's bytes.
    pub source_sha256: String,
    /// The dataset's path or built-in name.
    pub dataset: String,
    /// SHA-256 (hex) of the dataset's bytes.
    pub dataset_sha256: String,
    /// Samples in the dataset before `--limit` and `--sample-id`.
    pub dataset_samples: usize,
    /// Ids of the risk areas (vigie's taxonomy) the task gives evidence for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_areas: Vec<String>,
    /// The metadata field whose values split the metrics into groups
    /// (a category), when the task asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// The accuracy of guessing uniformly among the choices, for
    /// multiple-choice tasks: the level a score must clear to mean anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<f64>,
    /// Two conditions of the same items to compare (e.g. a neutral and a
    /// pressured framing of the same questions), when the task asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contrast: Option<ContrastSpec>,
}

/// Which samples a contrast compares: those whose `field` is `baseline`
/// against those with the field's other value, paired by the `pair` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContrastSpec {
    /// The metadata field that names the condition.
    pub field: String,
    /// The baseline condition's value.
    pub baseline: String,
    /// The other condition's value.
    pub variant: String,
    /// The metadata field that pairs a baseline sample with its variant.
    pub pair: String,
}

/// A contrast's result for one scorer: the mean difference between the
/// conditions over the pairs where both scored, with a paired bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Contrast {
    /// The scorer.
    pub scorer: String,
    /// Pairs with both conditions scored.
    pub pairs: usize,
    /// Mean score under the baseline, over those pairs.
    pub baseline_mean: f64,
    /// Mean score under the variant, over those pairs.
    pub variant_mean: f64,
    /// `baseline_mean - variant_mean`: positive when the variant scores lower.
    pub difference: f64,
    /// 95% bootstrap interval of the difference (pairs resampled).
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
}

/// A model as the run addressed it. Never holds a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    /// `provider/model`.
    pub name: String,
    /// The API base URL, for HTTP providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The model profile that decided how settings were sent (see `vigie-providers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Settings that decide which samples run and how; enough to resume the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Generation settings merged from the task and the command line.
    pub generate: GenerateConfig,
    /// Times each sample runs.
    pub epochs: u32,
    /// How a sample's epochs are reduced to one score.
    pub epochs_reducer: Reducer,
    /// Samples kept from the start of the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only these sample ids, when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_ids: Vec<String>,
    /// Seed for shuffles, generation and the bootstrap.
    pub seed: u64,
    /// Most requests in flight to the model.
    pub max_connections: usize,
    /// Request timeout in seconds.
    pub timeout_s: f64,
    /// Retries per request.
    pub max_retries: u32,
    /// Fraction of errored samples that stops the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_error: Option<f64>,
    /// Whether responses were cached and reused.
    pub cache: bool,
    /// The evaluated model's spending (US dollars) past which no new sample is launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost: Option<f64>,
    /// The evaluated model's tokens past which no new sample is launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_total: Option<u64>,
    /// How agents' tools were isolated (`local`: not at all, by an explicit
    /// flag), for tasks with a sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// The part of the task's (sample, epoch) pairs this run holds, when a
    /// campaign split the task into shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
}

/// One sample of one epoch, as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// The sample's id.
    pub id: String,
    /// The epoch, from 1.
    pub epoch: u32,
    /// The sample's position in the run's sample order.
    pub index: usize,
    /// The sample's input as the dataset gave it.
    pub input: String,
    /// The target(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// Choices as presented to the model (after any shuffle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The dataset's metadata columns.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// The whole conversation, model turns included.
    pub messages: Vec<ChatMessage>,
    /// The final completion.
    pub output: String,
    /// The log-likelihood the model gave each choice as its reply, in the
    /// order of `choices`, when the sample was answered by likelihood.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choice_loglikelihoods: Vec<f64>,
    /// Scores by scorer name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scores: BTreeMap<String, Score>,
    /// Tokens used by the evaluated model for this sample.
    pub usage: Usage,
    /// What those tokens cost in US dollars, when the model's price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Request retries this sample needed.
    #[serde(default)]
    pub retries: u32,
    /// Generations served from the response cache.
    #[serde(default)]
    pub cache_hits: u32,
    /// Wall time of the sample in seconds.
    pub time_s: f64,
    /// Why the sample failed, if it did; a failed sample has no scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SampleError>,
    /// The scorers that could not decide on this sample, by name, and why
    /// (a judge's verdict that cannot be read, quoted in full). Only their
    /// verdicts are missing: the sample did not fail, and every other
    /// scorer's verdict stands and counts. `vigie score` decides them again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub score_errors: BTreeMap<String, String>,
    /// What an agent did, for samples of the `agent` solver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::agent::AgentRecord>,
}

impl SampleRecord {
    /// The frame key: `(epoch, id)` identifies a record within a log.
    pub fn key(&self) -> (u32, &str) {
        (self.epoch, &self.id)
    }

    /// The key of this record's frame in the file: `u32le(epoch) ‖ id`.
    pub fn frame_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(4 + self.id.len());
        key.extend_from_slice(&self.epoch.to_le_bytes());
        key.extend_from_slice(self.id.as_bytes());
        key
    }
}

/// The record that counts for each (sample, epoch) — the last one in the
/// file, as a retry follows the failure it replaces — in run order.
pub fn records_that_count(records: impl IntoIterator<Item = SampleRecord>) -> Vec<SampleRecord> {
    let mut latest: std::collections::HashMap<(u32, String), SampleRecord> =
        std::collections::HashMap::new();
    for record in records {
        latest.insert((record.epoch, record.id.clone()), record);
    }
    let mut records: Vec<SampleRecord> = latest.into_values().collect();
    records.sort_by_key(|r| (r.index, r.epoch));
    records
}

/// One scorer's verdict on a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The value, usually in 0..=1 (1 is correct).
    pub value: f64,
    /// What the scorer read as the model's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Why, when the scorer says (a judge's reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The parts a verdict is made of, by name, when the scorer has them (a
    /// StrongREJECT judge's `refused`, `convincing` and `specific`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sub_scores: BTreeMap<String, f64>,
}

impl Score {
    /// A score with a value alone.
    pub fn of(value: f64) -> Score {
        Score {
            value,
            answer: None,
            explanation: None,
            sub_scores: BTreeMap::new(),
        }
    }

    /// A score with the answer the scorer read.
    pub fn answered(value: f64, answer: Option<String>) -> Score {
        Score {
            answer,
            ..Score::of(value)
        }
    }
}

/// Why a sample failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleError {
    /// What kind of failure.
    pub kind: SampleErrorKind,
    /// What happened.
    pub message: String,
}

/// What kind of failure ended a sample: a closed set, so that counting and
/// filtering failures never depends on their wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SampleErrorKind {
    /// The model's API said to slow down (HTTP 429), after every retry.
    RateLimited,
    /// The model's server failed (5xx), after every retry.
    Server,
    /// The model did not answer in time, after every retry.
    Timeout,
    /// The connection failed or dropped, after every retry.
    Connection,
    /// The model's answer was not what its API promises, after every retry.
    BadResponse,
    /// The model's API refused the request (4xx).
    Rejected,
    /// The prompt does not fit the model's context.
    ContextLength,
    /// The model's API refused a parameter or setting of the request (HTTP
    /// 400 naming it); a profile or `-M` fixes it, a retry cannot.
    Unsupported,
    /// A failure no retry can help (a missing key, a model that cannot do what the task asks).
    Fatal,
    /// A template could not be rendered for this sample, or the sample lacks what a solver needs.
    Template,
    /// A scorer could not decide (a judge's verdict that cannot be read); never guessed.
    Scorer,
    /// The attacker model of an attack solver failed.
    Attacker,
    /// The sample's sandbox could not be made, or its setup script failed.
    Sandbox,
}

impl SampleErrorKind {
    /// The kind as logs and outputs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleErrorKind::RateLimited => "rate_limited",
            SampleErrorKind::Server => "server",
            SampleErrorKind::Timeout => "timeout",
            SampleErrorKind::Connection => "connection",
            SampleErrorKind::BadResponse => "bad_response",
            SampleErrorKind::Rejected => "rejected",
            SampleErrorKind::ContextLength => "context_length",
            SampleErrorKind::Unsupported => "unsupported",
            SampleErrorKind::Fatal => "fatal",
            SampleErrorKind::Template => "template",
            SampleErrorKind::Scorer => "scorer",
            SampleErrorKind::Attacker => "attacker",
            SampleErrorKind::Sandbox => "sandbox",
        }
    }

    /// Whether the failure was the evaluated model's (or its API's), as
    /// opposed to the task's, a scorer's or an attacker's.
    pub fn is_model_failure(self) -> bool {
        !matches!(
            self,
            SampleErrorKind::Template
                | SampleErrorKind::Scorer
                | SampleErrorKind::Attacker
                | SampleErrorKind::Sandbox
        )
    }
}

impl std::fmt::Display for SampleErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ModelErrorKind> for SampleErrorKind {
    fn from(kind: ModelErrorKind) -> SampleErrorKind {
        match kind {
            ModelErrorKind::RateLimited => SampleErrorKind::RateLimited,
            ModelErrorKind::Server => SampleErrorKind::Server,
            ModelErrorKind::Timeout => SampleErrorKind::Timeout,
            ModelErrorKind::Connection => SampleErrorKind::Connection,
            ModelErrorKind::BadResponse => SampleErrorKind::BadResponse,
            ModelErrorKind::Rejected => SampleErrorKind::Rejected,
            ModelErrorKind::ContextLength => SampleErrorKind::ContextLength,
            ModelErrorKind::Unsupported => SampleErrorKind::Unsupported,
            ModelErrorKind::Fatal => SampleErrorKind::Fatal,
        }
    }
}

/// The last record of a finished (or stopped) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogFooter {
    /// How the run ended.
    pub status: RunStatus,
    /// When (RFC 3339, UTC).
    pub finished_at: String,
    /// Wall time of the last session of the run, in seconds.
    pub duration_s: f64,
    /// Sample counts over all sessions.
    pub samples: SampleCounts,
    /// `"<scorer>/<metric>"` to value.
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics per value of the task's `group_by` field, in the
    /// order of the values; empty when the task has no `group_by`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupMetrics>,
    /// Per scorer, the task's contrast between two conditions; empty without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contrasts: Vec<Contrast>,
    /// pass@1 and pass@k of each 0/1 scorer, for a run of several epochs
    /// (absent from logs written before vigie computed it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_at_k: Vec<crate::metrics::PassAtK>,
    /// Tokens used by the evaluated model over the whole run.
    pub usage: Usage,
    /// What they cost in US dollars, when the model's price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Request retries over the whole run.
    pub retries: u64,
    /// Per scorer, the counted records on which it could not decide (their
    /// `score_errors`); its metrics are over the others. Empty when every
    /// scorer decided every record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unscored: BTreeMap<String, usize>,
    /// Why the run stopped, when it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The metrics of the samples that share one value of the `group_by` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupMetrics {
    /// The field's value (`(none)` for samples without it).
    pub group: String,
    /// Samples scored in the group.
    pub samples: usize,
    /// `"<scorer>/<metric>"` to value, as in the footer's `metrics`.
    pub metrics: BTreeMap<String, f64>,
}

/// Counts of sample records.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SampleCounts {
    /// Records a complete run has (samples × epochs).
    pub total: usize,
    /// Records written, errored ones included.
    pub completed: usize,
    /// Records that ended in an error.
    pub errors: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still running, or killed before it could write a footer.
    Started,
    /// Every planned record was written.
    Success,
    /// Stopped by the user; resumable.
    Cancelled,
    /// Stopped because too many samples failed, or by an internal error; resumable.
    Error,
    /// Stopped launching samples at a limit the user set (`--max-cost`,
    /// `--max-tokens-total`); resumable with a higher one.
    Stopped,
}

impl RunStatus {
    /// The status as logs and JSON spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Started => "started",
            RunStatus::Success => "success",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Error => "error",
            RunStatus::Stopped => "stopped",
        }
    }
}

/// A signature over a log's manifest (or a report's content), by one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// The signature scheme (`ed25519`).
    pub algorithm: String,
    /// The signer's public key (hex).
    pub public_key: String,
    /// A short id of the key: the first 16 hex digits of its SHA-256.
    pub key_id: String,
    /// When it was signed (RFC 3339, UTC); part of the signed message.
    pub signed_at: String,
    /// SHA-256 (hex) of what was signed (the manifest's JSON, a report's content).
    pub signed_sha256: String,
    /// The signature (hex).
    pub signature: String,
}
