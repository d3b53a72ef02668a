//! Run planning: from tasks and the settings of one `vigie eval` to runs the
//! engine can start — which tasks run and which are left out (and why),
//! each run's samples, generation settings, log header and log path — and,
//! for `--resume`, the checks that a log may be carried on (its task and
//! dataset unchanged). Everything is decided and checked before the first
//! request; models are asked for through [`ModelSource`], so this crate
//! names no provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigie_core::{GenerateConfig, ModelApi};
use vigie_log::metrics::Reducer;
use vigie_log::{
    LogError, LogFooter, LogHeader, LogReader, LogWriter, ModelRef, RunSettings, RunStatus, TaskRef,
};

use crate::engine::{scorer_refs, Limits, Run};
use crate::{Sample, Task};

/// The settings of one `vigie eval` that apply to every task it runs.
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// The evaluated model (`provider/name`).
    pub model: String,
    /// The base URL of the evaluated model's API, overriding the provider's.
    pub base_url: Option<String>,
    /// The judge model, overriding any task's.
    pub judge_model: Option<String>,
    /// The judge's base URL.
    pub judge_base_url: Option<String>,
    /// The attacker model of attack tasks.
    pub attacker_model: Option<String>,
    /// The attacker's base URL.
    pub attacker_base_url: Option<String>,
    /// `KEY=VALUE` generation settings, applied over each task's own.
    pub generate: Vec<String>,
    /// Samples kept from the start of each task's run order.
    pub limit: Option<usize>,
    /// Only these samples.
    pub sample_ids: Vec<String>,
    /// Epochs, overriding the task's.
    pub epochs: Option<u32>,
    /// How epochs reduce, overriding the task's.
    pub epochs_reducer: Option<Reducer>,
    /// Seed for shuffles, generation and the bootstrap.
    pub seed: u64,
    /// Most requests in flight to the model.
    pub max_connections: usize,
    /// Request timeout in seconds.
    pub timeout_s: f64,
    /// Retries per request.
    pub max_retries: u32,
    /// Failed records that stop a run: a fraction when below 1, else a count.
    pub fail_on_error: Option<f64>,
    /// Whether responses are cached and reused.
    pub cache: bool,
    /// Spending (US dollars) past which no new sample is launched.
    pub max_cost: Option<f64>,
    /// Tokens past which no new sample is launched.
    pub max_tokens_total: Option<u64>,
    /// Where the logs go.
    pub log_dir: PathBuf,
    /// Where and how tasks' sandboxes are made; a task with a sandbox
    /// cannot run without it.
    pub sandbox: Option<crate::sandboxing::SandboxChoice>,
    /// The part of each task's (sample, epoch) pairs to run, for a shard of
    /// a campaign; every pair without one.
    pub shard: Option<vigie_log::Shard>,
}

/// What a model is for in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRole {
    /// The model being evaluated.
    Evaluated,
    /// The judge of model-graded scorers.
    Judge,
    /// The attacker of attack solvers.
    Attacker,
}

/// A model ready to be asked, and how the log names it.
#[derive(Clone)]
pub struct ResolvedModel {
    /// The model.
    pub api: Arc<dyn ModelApi>,
    /// Its name and base URL, as the log records them.
    pub reference: ModelRef,
}

/// Builds models from their names: the binary's registry of providers and
/// the embedded model plugs in here.
pub trait ModelSource {
    /// The model `name` (`provider/model`), at `base_url` when given.
    fn resolve(
        &self,
        role: ModelRole,
        name: &str,
        base_url: Option<&str>,
    ) -> Result<ResolvedModel, String>;
}

/// Why nothing can run as asked: a usage mistake, found before any request.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The settings, the tasks or the models do not allow the run.
    #[error("{0}")]
    Usage(String),
    /// A log to resume cannot be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The task of a log to resume cannot be loaded.
    #[error("cannot load the task of {log}: {source}")]
    Task {
        /// The log.
        log: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn usage(message: impl Into<String>) -> PlanError {
    PlanError::Usage(message.into())
}

/// One run, planned: its log is not written until [`PlannedRun::start`].
pub struct PlannedRun {
    /// The log's header; a new run's start time is set when it starts.
    pub header: LogHeader,
    /// Where the log goes: a new one in a folder, or one to carry on.
    pub log: LogPlace,
    /// The task.
    pub task: Arc<Task>,
    /// The samples in run order.
    pub samples: Vec<Sample>,
    /// Samples worked on at once.
    pub max_in_flight: usize,
    /// The models.
    pub models: RunModels,
    /// Spending limits: the header's, or, for a resumed run, this session's.
    pub limits: Limits,
    /// The samples' sandboxes, for a task that has them.
    pub sandbox: Option<Arc<crate::sandboxing::SandboxSetup>>,
}

/// Where a planned run's log is.
#[derive(Debug, Clone)]
pub enum LogPlace {
    /// A new log in this folder, named by its start time, task and run id.
    New(PathBuf),
    /// The existing log to carry on.
    Resume(PathBuf),
    /// A new log at exactly this path (a campaign names its logs by model
    /// and task, so that running it again finds them); never replaces a file.
    At(PathBuf),
}

/// The models of a run.
#[derive(Clone)]
pub struct RunModels {
    /// The evaluated model.
    pub model: Arc<dyn ModelApi>,
    /// The judge, when a scorer needs one.
    pub judge: Option<Arc<dyn ModelApi>>,
    /// The attacker, when a solver needs one.
    pub attacker: Option<Arc<dyn ModelApi>>,
}

impl PlannedRun {
    /// Creates the log (or reopens it to carry on) and hands the run to the
    /// engine. Reopening cuts a torn last frame, and the old footer with its
    /// manifest and signatures; the bytes cut are returned.
    /// A new run's header gets its start time now (a suite's tasks start
    /// one after another), and its log is named by it.
    pub fn start(self) -> Result<(Run, u64), LogError> {
        let (writer, existing, torn) = match &self.log {
            LogPlace::Resume(path) => {
                let reopened = LogWriter::reopen(path)?;
                (reopened.writer, reopened.samples, reopened.torn_bytes)
            }
            LogPlace::At(path) => {
                let header = LogHeader {
                    started_at: vigie_log::now_rfc3339(),
                    ..self.header
                };
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| LogError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                (LogWriter::create(path, &header)?, Vec::new(), 0)
            }
            LogPlace::New(dir) => {
                let header = LogHeader {
                    started_at: vigie_log::now_rfc3339(),
                    ..self.header
                };
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|source| LogError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                (
                    LogWriter::create(&log_path(dir, &header), &header)?,
                    Vec::new(),
                    0,
                )
            }
        };
        let run = Run {
            task: self.task,
            samples: self.samples,
            max_in_flight: self.max_in_flight,
            model: self.models.model,
            judge: self.models.judge,
            attacker: self.models.attacker,
            writer,
            existing,
            limits: self.limits,
            sandbox: self.sandbox,
        };
        Ok((run, torn))
    }
}

/// The runs of one `vigie eval`, and the notes on what was left out.
pub struct Plan {
    /// The runs, in task order.
    pub runs: Vec<PlannedRun>,
    /// Why tasks were left out (a suite runs what it can).
    pub notes: Vec<String>,
}

/// Plans the runs of `tasks` under `settings`. With `from_suite`, tasks that
/// cannot run as asked (no judge, no attacker, a model without
/// log-likelihoods, none of the `--sample-id`s) are left out with a note;
/// a single task file is an error instead.
pub fn plan(
    tasks: Vec<Task>,
    from_suite: bool,
    settings: &EvalSettings,
    models: &dyn ModelSource,
) -> Result<Plan, PlanError> {
    if settings.max_connections == 0 {
        return Err(usage("--max-connections must be at least 1"));
    }
    if settings.timeout_s.is_nan() || settings.timeout_s <= 0.0 {
        return Err(usage("--timeout must be positive"));
    }
    if settings.epochs == Some(0) {
        return Err(usage("--epochs must be at least 1"));
    }
    let mut notes = Vec::new();
    let mut tasks = tasks;
    let judge_name = settings
        .judge_model
        .clone()
        .or_else(|| tasks.iter().find_map(|t| t.judge_model.clone()));
    let leave_out =
        |tasks: &mut Vec<Task>, notes: &mut Vec<String>, out: &dyn Fn(&Task) -> bool, why: &str| {
            if from_suite && tasks.iter().any(|t| !out(t)) {
                tasks.retain(|t| {
                    if out(t) {
                        notes.push(format!("skipping {} ({}): {why}", t.origin, t.name));
                    }
                    !out(t)
                });
            }
        };
    if judge_name.is_none() {
        leave_out(
            &mut tasks,
            &mut notes,
            &Task::needs_judge,
            "it is scored by a judge model; give one with --judge-model",
        );
    }
    if settings.attacker_model.is_none() {
        leave_out(
            &mut tasks,
            &mut notes,
            &Task::needs_attacker,
            "it needs an attacker model; give one with --attacker-model",
        );
    }
    if let (Some(task), None) = (
        tasks.iter().find(|t| t.needs_attacker()),
        &settings.attacker_model,
    ) {
        return Err(usage(format!(
            "the task `{}` attacks the model with another model: give it with --attacker-model",
            task.name
        )));
    }
    if let (Some(task), None) = (tasks.iter().find(|t| t.needs_judge()), &judge_name) {
        return Err(usage(format!(
            "the task `{}` has a model-graded scorer: give its judge with --judge-model",
            task.name
        )));
    }
    if judge_name.is_none() {
        tasks.iter_mut().for_each(Task::drop_optional_scorers);
    }
    // Every task's settings and samples are checked before the first request.
    let mut chosen = Vec::new();
    for task in tasks {
        notes.extend(task.notes.iter().cloned());
        let generate = generation(&task.generate, &settings.generate)?;
        let samples =
            match select_samples(&task, settings.seed, &settings.sample_ids, settings.limit) {
                Ok(samples) => samples,
                // In a suite, --sample-id picks samples of whichever task has them.
                Err(_) if from_suite && !settings.sample_ids.is_empty() => continue,
                Err(e) => return Err(e),
            };
        chosen.push((task, generate, samples));
    }
    if chosen.is_empty() {
        return Err(usage("--sample-id: no task has any of these sample ids"));
    }

    let model = models
        .resolve(
            ModelRole::Evaluated,
            &settings.model,
            settings.base_url.as_deref(),
        )
        .map_err(PlanError::Usage)?;
    let judge = judge_name
        .map(|name| models.resolve(ModelRole::Judge, &name, settings.judge_base_url.as_deref()))
        .transpose()
        .map_err(PlanError::Usage)?;
    if from_suite && !model.api.gives_loglikelihoods() {
        chosen.retain(|(task, _, _)| {
            if task.needs_loglikelihood() {
                notes.push(format!(
                    "skipping {} ({}): it scores choices by likelihood, which {} does not give",
                    task.origin, task.name, settings.model
                ));
            }
            !task.needs_loglikelihood()
        });
        if chosen.is_empty() {
            return Err(usage(format!(
                "every task of the suite scores choices by likelihood, which {} does not give (local/ models do)",
                settings.model
            )));
        }
    }
    // A lone task file that needs log-likelihoods still runs on such a
    // model: each sample records why it cannot be answered.
    let attacker = settings
        .attacker_model
        .as_deref()
        .map(|name| {
            models.resolve(
                ModelRole::Attacker,
                name,
                settings.attacker_base_url.as_deref(),
            )
        })
        .transpose()
        .map_err(PlanError::Usage)?;
    let run_models = RunModels {
        model: model.api.clone(),
        judge: judge.as_ref().map(|j| j.api.clone()),
        attacker: attacker.as_ref().map(|a| a.api.clone()),
    };

    // A setting the model does not take is dropped: one note per setting
    // for the whole plan, rather than a failed request per sample.
    let mut dropped: Vec<(String, String)> = Vec::new();
    for (_, generate, _) in &chosen {
        for (setting, why) in model.api.adaptation(generate).dropped {
            if !dropped.iter().any(|(s, _)| *s == setting) {
                dropped.push((setting, why));
            }
        }
    }
    for (setting, why) in dropped {
        notes.push(format!(
            "{} is not sent `{setting}` ({why}); the tasks that set it run without it",
            settings.model
        ));
    }
    if settings.max_cost.is_some()
        && model
            .api
            .adaptation(&GenerateConfig::default())
            .price
            .is_none()
    {
        return Err(usage(format!(
            "--max-cost: the price of {} is not known; give it in a profile (--profiles; docs/models.md) or use --max-tokens-total",
            settings.model
        )));
    }
    let mut sandboxes = Vec::new();
    for (task, _, _) in &chosen {
        sandboxes.push(sandbox_setup(task, settings.sandbox.as_ref())?);
    }
    let runs = chosen
        .into_iter()
        .zip(sandboxes)
        .map(|((task, generate, samples), sandbox)| {
            let epochs = settings.epochs.or(task.epochs).unwrap_or(1);
            let header = LogHeader {
                format_version: vigie_log::FORMAT_VERSION,
                vigie_version: env!("CARGO_PKG_VERSION").to_string(),
                run_id: new_run_id(),
                started_at: vigie_log::now_rfc3339(),
                task: task_ref(&task, &samples),
                model: ModelRef {
                    profile: model.api.adaptation(&generate).profile,
                    ..model.reference.clone()
                },
                judge_model: judge.as_ref().map(|j| j.reference.clone()),
                attacker_model: attacker.as_ref().map(|a| a.reference.clone()),
                settings: RunSettings {
                    sandbox: sandbox.as_ref().map(|s| s.isolation.as_str().to_string()),
                    generate,
                    epochs,
                    epochs_reducer: settings
                        .epochs_reducer
                        .or(task.epochs_reducer)
                        .unwrap_or(Reducer::Mean),
                    limit: settings.limit,
                    sample_ids: settings.sample_ids.clone(),
                    seed: settings.seed,
                    max_connections: settings.max_connections,
                    timeout_s: settings.timeout_s,
                    max_retries: settings.max_retries,
                    fail_on_error: settings.fail_on_error,
                    cache: settings.cache,
                    max_cost: settings.max_cost,
                    max_tokens_total: settings.max_tokens_total,
                    shard: settings.shard,
                },
                scorers: scorer_refs(&task.scorers),
                planned_records: planned_pairs(&task.name, &samples, epochs, settings.shard),
                merged_from: Vec::new(),
            };
            PlannedRun {
                limits: Limits {
                    max_cost: settings.max_cost,
                    max_tokens_total: settings.max_tokens_total,
                },
                header,
                log: LogPlace::New(settings.log_dir.clone()),
                task: Arc::new(task),
                samples,
                max_in_flight: settings.max_connections,
                models: run_models.clone(),
                sandbox,
            }
        })
        .collect();
    Ok(Plan { runs, notes })
}

/// How many of the (sample, epoch) pairs of `samples` a run holds: all of
/// them, or a shard's part.
pub fn planned_pairs(
    task: &str,
    samples: &[Sample],
    epochs: u32,
    shard: Option<vigie_log::Shard>,
) -> usize {
    match shard {
        None => samples.len() * epochs as usize,
        Some(shard) => (1..=epochs)
            .map(|epoch| {
                samples
                    .iter()
                    .filter(|s| shard.holds(task, &s.id, epoch))
                    .count()
            })
            .sum(),
    }
}

/// The sandbox setup of `task`, when it has a sandbox.
fn sandbox_setup(
    task: &Task,
    choice: Option<&crate::sandboxing::SandboxChoice>,
) -> Result<Option<Arc<crate::sandboxing::SandboxSetup>>, PlanError> {
    if task.sandbox.is_none() {
        return Ok(None);
    }
    let choice = choice.ok_or_else(|| {
        usage(format!(
            "the task `{}` works in a sandbox, and this run has none",
            task.name
        ))
    })?;
    Ok(choice
        .setup_for(task)
        .map_err(PlanError::Usage)?
        .map(Arc::new))
}

/// Loads the task a log ran (from a suite or a file; the binary knows both).
pub type TaskLoader<'a> =
    dyn Fn(&LogHeader) -> Result<Task, Box<dyn std::error::Error + Send + Sync>> + 'a;

/// What `--resume` finds.
pub enum Resume {
    /// Every sample of the run finished: nothing to do.
    Finished {
        /// The log's header.
        header: Box<LogHeader>,
        /// Its footer.
        footer: Box<LogFooter>,
    },
    /// The run to carry on.
    Run(Box<PlannedRun>),
}

/// Plans carrying on the run in `log`: its task is loaded again with
/// `load_task` and must have the hashes the log recorded (so a resumed run
/// never mixes two tasks or two datasets), its settings are the header's,
/// and its models are built again from their names. Nothing is written.
pub fn resume(
    log: &Path,
    load_task: &TaskLoader<'_>,
    max_connections: usize,
    limits: Limits,
    models: &dyn ModelSource,
    sandbox: Option<&crate::sandboxing::SandboxChoice>,
) -> Result<Resume, PlanError> {
    if max_connections == 0 {
        return Err(usage("--max-connections must be at least 1"));
    }
    let mut reader = LogReader::open(log)?;
    let header = reader.header()?;
    if let Some(footer) = reader.footer()? {
        if footer.status == RunStatus::Success && footer.samples.errors == 0 {
            return Ok(Resume::Finished {
                header: Box::new(header),
                footer: Box::new(footer),
            });
        }
    }
    drop(reader);
    let mut task = load_task(&header).map_err(|source| PlanError::Task {
        log: log.display().to_string(),
        source,
    })?;
    if header.judge_model.is_none() {
        task.drop_optional_scorers();
    }
    check_unchanged(&task, &header)?;
    let sandbox = sandbox_setup(&task, sandbox)?;
    // An unfinished agent sample is redone from the start in a fresh
    // sandbox, isolated as the run began: never half local, half not.
    let isolation = sandbox.as_ref().map(|s| s.isolation.as_str());
    if task.sandbox.is_some() && header.settings.sandbox.as_deref() != isolation {
        return Err(usage(format!(
            "this run's sandbox isolation was `{}`; resume it with --sandbox {0}",
            header.settings.sandbox.as_deref().unwrap_or("namespaces")
        )));
    }
    let settings = &header.settings;
    let samples = select_samples(&task, settings.seed, &settings.sample_ids, settings.limit)?;
    let resolve = |role, reference: &ModelRef| {
        models
            .resolve(role, &reference.name, reference.base_url.as_deref())
            .map(|m| m.api)
            .map_err(PlanError::Usage)
    };
    let run_models = RunModels {
        model: resolve(ModelRole::Evaluated, &header.model)?,
        judge: header
            .judge_model
            .as_ref()
            .map(|m| resolve(ModelRole::Judge, m))
            .transpose()?,
        attacker: header
            .attacker_model
            .as_ref()
            .map(|m| resolve(ModelRole::Attacker, m))
            .transpose()?,
    };
    // A run stopped at a budget carries on under a higher one.
    let limits = Limits {
        max_cost: limits.max_cost.or(header.settings.max_cost),
        max_tokens_total: limits.max_tokens_total.or(header.settings.max_tokens_total),
    };
    Ok(Resume::Run(Box::new(PlannedRun {
        limits,
        header,
        log: LogPlace::Resume(log.to_path_buf()),
        task: Arc::new(task),
        samples,
        max_in_flight: max_connections,
        models: run_models,
        sandbox,
    })))
}

/// A resumed run's task must be the one it started with.
fn check_unchanged(task: &Task, header: &LogHeader) -> Result<(), PlanError> {
    if task.source_sha256 != header.task.source_sha256 {
        return Err(usage(format!(
            "the task {} changed since this run started (another vigie version, or an edited file); resuming would mix two tasks (start a new run instead)",
            header.task.source
        )));
    }
    if task.dataset_sha256 != header.task.dataset_sha256 {
        return Err(usage(format!(
            "the dataset {} changed since this run started; resuming would mix two datasets",
            task.dataset_name
        )));
    }
    Ok(())
}

/// The task's generation settings with the command line's `KEY=VALUE` pairs over them.
fn generation(task: &GenerateConfig, pairs: &[String]) -> Result<GenerateConfig, PlanError> {
    let mut generate = task.clone();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("-M {pair}: expected KEY=VALUE")))?;
        generate
            .set(key.trim(), value.trim())
            .map_err(|e| usage(format!("-M {pair}: {e}")))?;
    }
    Ok(generate)
}

/// The samples a run covers: the task's order, then `--sample-id`, then `--limit`.
pub fn select_samples(
    task: &Task,
    seed: u64,
    sample_ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Sample>, PlanError> {
    let mut samples = task.ordered_samples(seed);
    if !sample_ids.is_empty() {
        if let Some(id) = sample_ids
            .iter()
            .find(|id| !samples.iter().any(|s| &s.id == *id))
        {
            return Err(usage(format!(
                "--sample-id {id}: the task `{}` has no sample with this id",
                task.name
            )));
        }
        samples.retain(|s| sample_ids.contains(&s.id));
    }
    if let Some(limit) = limit {
        samples.truncate(limit);
    }
    if samples.is_empty() {
        // Say why: every sample may have been left out when the task was read.
        return Err(usage(match task.notes.as_slice() {
            [] => "no samples to run (--limit 0?)".to_string(),
            notes => format!("no samples to run: {}", notes.join("; ")),
        }));
    }
    Ok(samples)
}

/// The task as a log header names it: file paths made absolute, so that a
/// resume from another folder finds them.
fn task_ref(task: &Task, samples: &[Sample]) -> TaskRef {
    let absolute = |path: &str| {
        std::fs::canonicalize(path).map_or_else(|_| path.to_string(), |p| p.display().to_string())
    };
    let source = if task.origin.starts_with("suite:") {
        task.origin.clone()
    } else {
        absolute(&task.origin)
    };
    TaskRef {
        name: task.name.clone(),
        source,
        source_sha256: task.source_sha256.clone(),
        dataset: absolute(&task.dataset_name),
        dataset_sha256: task.dataset_sha256.clone(),
        dataset_samples: task.samples.len(),
        risk_areas: task.risk_areas.clone(),
        group_by: task.group_by.clone(),
        chance: task.chance(samples),
        contrast: task.contrast.clone(),
    }
}

/// `<log dir>/<start time>_<task>_<run id>.vlog`, the task name made safe for a file name.
fn log_path(dir: &Path, header: &LogHeader) -> PathBuf {
    let stamp = header.started_at.trim_end_matches('Z').replace(':', "-");
    let safe_task: String = header
        .task
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!(
        "{stamp}_{safe_task}_{}.{}",
        &header.run_id[..8],
        vigie_log::LOG_EXTENSION
    ))
}

fn new_run_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vigie_testserver::{Reply, ScriptedModel};

    use crate::test_models::Models;

    use super::*;

    fn models() -> Models {
        Models(vec![
            Arc::new(ScriptedModel::new("scripted/chat", Reply::text("4"))),
            Arc::new(ScriptedModel::new(
                "scripted/likely",
                Reply::text("4").loglikelihoods(&[-1.0, -2.0]),
            )),
            Arc::new(ScriptedModel::new(
                "scripted/judge",
                Reply::text("GRADE: C"),
            )),
        ])
    }

    fn task(name: &str, extra: &str) -> Task {
        let toml = format!(
            "name = \"{name}\"\n[dataset]\npath = \"d.jsonl\"\nid = \"id\"\ninput = \"q\"\ntarget = \"a\"\nchoices = \"c\"\n{extra}[[scorer]]\nincludes = {{}}\n"
        );
        let data = (0..5).map(|i| format!("{{\"id\": \"{name}-{i}\", \"q\": \"q{i}\", \"a\": 0, \"c\": [\"x\", \"y\"]}}\n")).collect::<String>();
        crate::task::compile(
            &format!("suite:test/{name}"),
            &toml,
            &move |_| Ok(data.clone().into_bytes()),
            &|p| p.to_string(),
        )
        .unwrap()
    }

    /// A task graded by a judge model.
    fn judged(name: &str) -> Task {
        let toml = format!("name = \"{name}\"\n[dataset]\npath = \"d.jsonl\"\nid = \"id\"\ninput = \"q\"\ntarget = \"a\"\n[[scorer]]\nmodel_graded = {{}}\n");
        let data = "{\"id\": \"j-0\", \"q\": \"q\", \"a\": \"4\"}\n";
        crate::task::compile(
            &format!("suite:test/{name}"),
            &toml,
            &|_| Ok(data.as_bytes().to_vec()),
            &|p| p.to_string(),
        )
        .unwrap()
    }

    fn settings(model: &str) -> EvalSettings {
        EvalSettings {
            sandbox: None,
            model: model.into(),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            judge_model: None,
            judge_base_url: None,
            attacker_model: None,
            attacker_base_url: None,
            generate: vec!["temperature=0.5".into()],
            limit: Some(3),
            sample_ids: vec![],
            epochs: Some(2),
            epochs_reducer: Some(Reducer::Max),
            seed: 9,
            max_connections: 4,
            timeout_s: 30.0,
            max_retries: 2,
            fail_on_error: Some(0.1),
            cache: true,
            log_dir: PathBuf::from("logs/x"),
            max_cost: None,
            max_tokens_total: None,
            shard: None,
        }
    }

    fn err(result: Result<Plan, PlanError>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("planned"),
        }
    }

    #[test]
    fn headers_record_every_setting_and_logs_are_named_by_time_task_and_run() {
        let plan = plan(
            vec![task("alpha", "")],
            false,
            &settings("scripted/chat"),
            &models(),
        )
        .unwrap();
        let run = &plan.runs[0];
        let h = run.header.clone();
        assert_eq!(
            (
                h.format_version,
                h.task.name.as_str(),
                h.task.source.as_str()
            ),
            (vigie_log::FORMAT_VERSION, "alpha", "suite:test/alpha")
        );
        assert_eq!(
            (h.model.name.as_str(), h.model.base_url.as_deref()),
            ("scripted/chat", Some("http://127.0.0.1:9/v1"))
        );
        let s = &h.settings;
        assert_eq!(
            (
                s.epochs,
                s.epochs_reducer,
                s.limit,
                s.seed,
                s.max_connections
            ),
            (2, Reducer::Max, Some(3), 9, 4)
        );
        assert_eq!(
            (
                s.generate.temperature,
                s.fail_on_error,
                s.cache,
                s.max_retries
            ),
            (Some(0.5), Some(0.1), true, 2)
        );
        assert_eq!(
            (h.planned_records, run.samples.len(), h.task.dataset_samples),
            (6, 3, 5)
        );
        assert_eq!(h.task.chance, None, "no choice scorer");
        let dir = tempfile::tempdir().unwrap();
        let mut plan = plan;
        plan.runs[0].log = LogPlace::New(dir.path().join("logs/x"));
        assert!(
            !dir.path().join("logs").exists(),
            "nothing is written before start"
        );
        let (run, _) = plan.runs.remove(0).start().unwrap();
        let (path, started) = (
            run.writer.path().to_path_buf(),
            run.writer.header().started_at.clone(),
        );
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stamp = started.trim_end_matches('Z').replace(':', "-");
        assert!(path.starts_with(dir.path().join("logs/x")), "{path:?}");
        assert_eq!(name, format!("{stamp}_alpha_{}.vlog", &h.run_id[..8]));
    }

    #[test]
    fn a_suite_leaves_out_what_cannot_run_and_a_task_file_is_an_error_instead() {
        // No judge: the suite runs the rest and says why.
        let plan = plan(
            vec![task("alpha", ""), judged("beta")],
            true,
            &settings("scripted/chat"),
            &models(),
        )
        .unwrap();
        assert_eq!(plan.runs.len(), 1);
        assert_eq!(plan.notes, ["skipping suite:test/beta (beta): it is scored by a judge model; give one with --judge-model"]);
        let e = err(super::plan(
            vec![judged("beta")],
            false,
            &settings("scripted/chat"),
            &models(),
        ));
        assert!(
            e.contains(
                "the task `beta` has a model-graded scorer: give its judge with --judge-model"
            ),
            "{e}"
        );
        let with_judge = EvalSettings {
            judge_model: Some("scripted/judge".into()),
            ..settings("scripted/chat")
        };
        let plan = super::plan(vec![judged("beta")], false, &with_judge, &models()).unwrap();
        assert_eq!(
            plan.runs[0].header.judge_model.as_ref().unwrap().name,
            "scripted/judge"
        );
        // Likelihood tasks need a model that gives log-likelihoods.
        let likely = task(
            "gamma",
            "[[solver]]\nmultiple_choice = { method = \"loglikelihood\" }\n",
        );
        let plan = super::plan(
            vec![task("alpha", ""), likely.clone()],
            true,
            &settings("scripted/chat"),
            &models(),
        )
        .unwrap();
        assert_eq!(plan.runs.len(), 1);
        assert!(
            plan.notes[0]
                .contains("it scores choices by likelihood, which scripted/chat does not give"),
            "{:?}",
            plan.notes
        );
        assert_eq!(
            super::plan(
                vec![likely.clone()],
                true,
                &settings("scripted/likely"),
                &models()
            )
            .unwrap()
            .runs
            .len(),
            1
        );
        // A lone task file still runs; its samples will say why they fail.
        assert_eq!(
            super::plan(vec![likely], false, &settings("scripted/chat"), &models())
                .unwrap()
                .runs
                .len(),
            1
        );
    }

    #[test]
    fn usage_mistakes_are_named_before_anything_runs() {
        let bad_pair = EvalSettings {
            generate: vec!["temperature".into()],
            ..settings("scripted/chat")
        };
        assert!(
            err(plan(vec![task("alpha", "")], false, &bad_pair, &models()))
                .contains("-M temperature: expected KEY=VALUE")
        );
        let bad_key = EvalSettings {
            generate: vec!["temprature=1".into()],
            ..settings("scripted/chat")
        };
        assert!(
            err(plan(vec![task("alpha", "")], false, &bad_key, &models()))
                .contains("unknown generation setting `temprature`")
        );
        let unknown_id = EvalSettings {
            sample_ids: vec!["nope".into()],
            ..settings("scripted/chat")
        };
        assert!(
            err(plan(vec![task("alpha", "")], false, &unknown_id, &models()))
                .contains("--sample-id nope: the task `alpha` has no sample with this id")
        );
        // In a suite, --sample-id picks the tasks that have the samples.
        let one = EvalSettings {
            sample_ids: vec!["beta-2".into()],
            ..settings("scripted/chat")
        };
        let plan = plan(
            vec![task("alpha", ""), task("beta", "")],
            true,
            &one,
            &models(),
        )
        .unwrap();
        assert_eq!(
            (plan.runs.len(), plan.runs[0].samples[0].id.as_str()),
            (1, "beta-2")
        );
        let zero = EvalSettings {
            epochs: Some(0),
            ..settings("scripted/chat")
        };
        assert!(err(super::plan(
            vec![task("alpha", "")],
            false,
            &zero,
            &models()
        ))
        .contains("--epochs must be at least 1"));
        let unknown = err(super::plan(
            vec![task("alpha", "")],
            false,
            &settings("nope/x"),
            &models(),
        ));
        assert!(
            unknown.contains("unknown model provider in `nope/x`"),
            "{unknown}"
        );
        let attack = task("delta", "[[solver]]\npair = {}\n");
        assert!(err(super::plan(
            vec![attack],
            false,
            &settings("scripted/chat"),
            &models()
        ))
        .contains("give it with --attacker-model"));
    }
}
