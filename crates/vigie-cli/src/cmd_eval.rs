//! `vigie eval`: run a task against a model, or resume a run from its log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vigie_core::ModelApi;
use vigie_eval::engine::{self, Run};
use vigie_eval::{Sample, Task};
use vigie_log::metrics::Reducer;
use vigie_log::{
    LogFooter, LogHeader, LogReader, LogWriter, ModelRef, RunSettings, RunStatus, TaskRef,
};
use vigie_providers::{ProviderOptions, ProviderStats, ResponseCache, RetryPolicy};
use vigie_suites::suites::Planned;

use crate::progress::Progress;
use crate::session::Session;
use crate::{Outcome, UsageError};

#[derive(clap::Args)]
pub(crate) struct EvalArgs {
    /// A task file (TOML; see docs/tasks.md), or a built-in suite: suite:NAME, or one of its
    /// tasks: suite:NAME/TASK (`vigie suite list`)
    #[arg(required_unless_present = "resume")]
    task: Option<String>,
    /// Folder holding public benchmark files (harmbench/, xstest/, wmdp/, ... as published),
    /// for the suite tasks that read them; without it those tasks are skipped (a resumed run
    /// reads the file its log names instead)
    #[arg(long, env = crate::env::VIGIE_DATASETS, value_name = "DIR")]
    datasets: Option<PathBuf>,
    /// The model, as provider/name: local/smollm2 (the default, embedded), local/PATH.gguf,
    /// openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, vllm/..., ollama/...
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// Base URL of the model's API (overrides the provider's env variable)
    #[arg(long)]
    base_url: Option<String>,
    /// API key (overrides the provider's env variable)
    #[arg(long)]
    api_key: Option<String>,
    /// The judge model for model-graded scorers
    #[arg(long)]
    judge_model: Option<String>,
    /// Base URL of the judge model's API
    #[arg(long)]
    judge_base_url: Option<String>,
    /// The attacker model of attack tasks (suite:jailbreak/pair)
    #[arg(long)]
    attacker_model: Option<String>,
    /// Base URL of the attacker model's API
    #[arg(long)]
    attacker_base_url: Option<String>,
    /// Generation setting KEY=VALUE (temperature, top_p, top_k, max_tokens, seed, stop); repeatable
    #[arg(short = 'M', value_name = "KEY=VALUE")]
    generate: Vec<String>,
    /// Run only the first N samples
    #[arg(long)]
    limit: Option<usize>,
    /// Run only these sample ids (repeatable, or comma-separated)
    #[arg(long, value_delimiter = ',')]
    sample_id: Vec<String>,
    /// Times to run each sample (default: the task's, else 1)
    #[arg(long)]
    epochs: Option<u32>,
    /// How to reduce epochs to one score: mean, mode, max, at_least_<k>
    #[arg(long)]
    epochs_reducer: Option<String>,
    /// Seed for choice shuffles and the bootstrap
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most requests in flight to the model
    #[arg(long, default_value_t = 10)]
    max_connections: usize,
    /// Request timeout in seconds
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Retries per request on 429, 5xx, timeouts and dropped connections
    #[arg(long, default_value_t = 6)]
    max_retries: u32,
    /// First backoff ceiling in seconds (doubles each retry, with jitter)
    #[arg(long, default_value_t = 1.0)]
    retry_base: f64,
    /// Stop the run when this many samples fail (a fraction of all when below 1)
    #[arg(long)]
    fail_on_error: Option<f64>,
    /// Reuse cached answers to identical requests, and cache new ones
    #[arg(long)]
    cache: bool,
    /// Folder for the log (default: ./logs, or VIGIE_LOG_DIR)
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Resume the run in this log: redo its unfinished and failed samples only
    #[arg(long, value_name = "LOG", conflicts_with_all = ["task", "model", "base_url", "generate", "limit", "sample_id", "epochs", "epochs_reducer", "seed", "log_dir", "judge_model", "judge_base_url", "attacker_model", "attacker_base_url", "fail_on_error", "cache"])]
    resume: Option<PathBuf>,
    /// Show no progress on stderr
    #[arg(long)]
    no_progress: bool,
}

/// Connection settings shared by the evaluated and the judge model.
pub(crate) struct Connection {
    pub(crate) max_connections: usize,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) cache: Option<ResponseCache>,
}

pub(crate) fn run(args: EvalArgs) -> Result<Outcome> {
    if args.max_connections == 0 {
        bail!(UsageError("--max-connections must be at least 1".into()));
    }
    if args.timeout.is_nan()
        || args.timeout <= 0.0
        || args.retry_base.is_nan()
        || args.retry_base < 0.0
    {
        bail!(UsageError(
            "--timeout must be positive and --retry-base not negative".into()
        ));
    }
    match &args.resume {
        Some(log) => resume(log, &args),
        None => start(&args),
    }
}

fn connection(args: &EvalArgs, cache: bool) -> Connection {
    Connection {
        max_connections: args.max_connections,
        timeout: Duration::from_secs_f64(args.timeout),
        retry: RetryPolicy {
            max_retries: args.max_retries,
            base: Duration::from_secs_f64(args.retry_base),
            max_delay: Duration::from_secs(60),
        },
        cache: cache.then(|| ResponseCache::new(crate::env::response_cache_dir())),
    }
}

/// The model used when `--model` is not given: the embedded one.
pub(crate) const DEFAULT_MODEL: &str = "local/smollm2";

/// A model by name: `local/...` loads the embedded runtime, anything else
/// goes through a provider. `vigie score` builds its judge the same way.
pub(crate) fn build_model(
    name: &str,
    base_url: Option<&str>,
    api_key: Option<&str>,
    connection: &Connection,
) -> Result<(Arc<dyn ModelApi>, Arc<ProviderStats>, ModelRef)> {
    if let Some(spec) = name.strip_prefix("local/") {
        let path = vigie_local::resolve(&crate::env::home(), spec)
            .map_err(|e| UsageError(e.to_string()))?;
        let model =
            vigie_local::LocalModel::load(name, &path).map_err(|e| UsageError(e.to_string()))?;
        return Ok((
            Arc::new(model),
            Arc::new(ProviderStats::default()),
            ModelRef {
                name: name.to_string(),
                base_url: None,
            },
        ));
    }
    let options = ProviderOptions {
        base_url: base_url.map(str::to_string),
        api_key: api_key.map(str::to_string),
        max_connections: connection.max_connections,
        timeout: connection.timeout,
        retry: connection.retry,
        cache: connection.cache.clone(),
    };
    let (model, stats) =
        vigie_providers::resolve(name, &options).map_err(|e| UsageError(e.to_string()))?;
    let reference = ModelRef {
        name: name.to_string(),
        base_url: vigie_providers::base_url_for(name, base_url),
    };
    Ok((model, stats, reference))
}

/// A judge or attacker model and how the log names it.
type HelperModel = (Option<Arc<dyn ModelApi>>, Option<ModelRef>);

/// A judge or attacker model, when the run has one: (name, base URL). Its
/// request counters join the progress bar's.
fn helper_model(
    spec: Option<(&str, Option<&str>)>,
    connection: &Connection,
    all_stats: &mut Vec<Arc<ProviderStats>>,
) -> Result<HelperModel> {
    let Some((name, base_url)) = spec else {
        return Ok((None, None));
    };
    let (model, stats, reference) = build_model(name, base_url, None, connection)?;
    all_stats.push(stats);
    Ok((Some(model), Some(reference)))
}

/// The samples a run covers: the task's order, then `--sample-id`, then `--limit`.
fn select_samples(
    task: &Task,
    seed: u64,
    sample_ids: &[String],
    limit: Option<usize>,
) -> Result<Vec<Sample>> {
    let mut samples = task.ordered_samples(seed);
    if !sample_ids.is_empty() {
        for id in sample_ids {
            if !samples.iter().any(|s| &s.id == id) {
                bail!(UsageError(format!(
                    "--sample-id {id}: the task `{}` has no sample with this id",
                    task.name
                )));
            }
        }
        samples.retain(|s| sample_ids.contains(&s.id));
    }
    if let Some(limit) = limit {
        samples.truncate(limit);
    }
    if samples.is_empty() {
        bail!(UsageError("no samples to run (--limit 0?)".into()));
    }
    Ok(samples)
}

fn log_path(dir: &Path, task: &str, started_at: &str, run_id: &str) -> PathBuf {
    let stamp = started_at.trim_end_matches('Z').replace(':', "-");
    let safe_task: String = task
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
        &run_id[..8],
        vigie_log::LOG_EXTENSION
    ))
}

/// The tasks `vigie eval TASK` names: one task file, or a suite's tasks.
fn tasks_of(spec: &str, datasets: Option<&Path>) -> Result<Vec<Task>> {
    let Some(suite) = spec.strip_prefix("suite:") else {
        return Ok(vec![vigie_eval::task::load_task(Path::new(spec))?]);
    };
    let planned = vigie_suites::suites::plan(suite, datasets).map_err(|e| match e {
        vigie_suites::suites::SuiteError::Task(e) => anyhow::Error::from(e),
        other => UsageError(other.to_string()).into(),
    })?;
    let mut tasks = Vec::new();
    for plan in planned {
        match plan {
            Planned::Ready(task) => tasks.push(*task),
            Planned::Skipped {
                origin,
                title,
                reason,
            } => eprintln!("note: skipping {origin} ({title}): {reason}"),
        }
    }
    if tasks.is_empty() {
        bail!(UsageError(format!(
            "no task of {spec} can run (see the notes above)"
        )));
    }
    Ok(tasks)
}

fn start(args: &EvalArgs) -> Result<Outcome> {
    let spec = args
        .task
        .as_ref()
        .expect("clap requires a task without --resume");
    let tasks = tasks_of(spec, args.datasets.as_deref())?;
    let model_name = args.model.as_deref().unwrap_or(DEFAULT_MODEL);
    let reducer_arg = match &args.epochs_reducer {
        Some(name) => {
            Some(Reducer::parse(name).map_err(|e| UsageError(format!("--epochs-reducer: {e}")))?)
        }
        None => None,
    };
    if args.epochs == Some(0) {
        bail!(UsageError("--epochs must be at least 1".into()));
    }
    let judge_name = args
        .judge_model
        .clone()
        .or_else(|| tasks.iter().find_map(|t| t.judge_model.clone()));
    let mut tasks = tasks;
    if judge_name.is_none() && spec.starts_with("suite:") && tasks.iter().any(|t| !t.needs_judge())
    {
        // A suite runs what it can without a judge, and says what it left out.
        tasks.retain(|t| {
            if t.needs_judge() {
                eprintln!("note: skipping {} ({}): it is scored by a judge model; give one with --judge-model", t.origin, t.name);
            }
            !t.needs_judge()
        });
    }
    if args.attacker_model.is_none()
        && spec.starts_with("suite:")
        && tasks.iter().any(|t| !t.needs_attacker())
    {
        tasks.retain(|t| {
            if t.needs_attacker() {
                eprintln!("note: skipping {} ({}): it needs an attacker model; give one with --attacker-model", t.origin, t.name);
            }
            !t.needs_attacker()
        });
    }
    if let (Some(task), None) = (
        tasks.iter().find(|t| t.needs_attacker()),
        &args.attacker_model,
    ) {
        bail!(UsageError(format!(
            "the task `{}` attacks the model with another model: give it with --attacker-model",
            task.name
        )));
    }
    if let (Some(task), None) = (tasks.iter().find(|t| t.needs_judge()), &judge_name) {
        bail!(UsageError(format!(
            "the task `{}` has a model-graded scorer: give its judge with --judge-model",
            task.name
        )));
    }
    if judge_name.is_none() {
        tasks.iter_mut().for_each(Task::drop_optional_scorers);
    }
    // Check every task's settings and samples before the first request.
    let mut plans = Vec::new();
    for task in tasks {
        let mut generate = task.generate.clone();
        for pair in &args.generate {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| UsageError(format!("-M {pair}: expected KEY=VALUE")))?;
            generate
                .set(key.trim(), value.trim())
                .map_err(|e| UsageError(format!("-M {pair}: {e}")))?;
        }
        let samples = match select_samples(&task, args.seed, &args.sample_id, args.limit) {
            Ok(samples) => samples,
            // In a suite, --sample-id picks samples of whichever task has them.
            Err(_) if spec.starts_with("suite:") && !args.sample_id.is_empty() => continue,
            Err(e) => return Err(e),
        };
        plans.push((task, generate, samples));
    }
    if plans.is_empty() {
        bail!(UsageError(format!(
            "--sample-id: no task of {spec} has any of these sample ids"
        )));
    }

    let connection = connection(args, args.cache);
    let (model, stats, model_ref) = build_model(
        model_name,
        args.base_url.as_deref(),
        args.api_key.as_deref(),
        &connection,
    )?;
    let mut all_stats = vec![stats];
    let (judge, judge_ref) = helper_model(
        judge_name
            .as_deref()
            .map(|n| (n, args.judge_base_url.as_deref())),
        &connection,
        &mut all_stats,
    )?;
    if spec.starts_with("suite:") && !model.gives_loglikelihoods() {
        plans.retain(|(task, _, _)| {
            let keep = !task.needs_loglikelihood();
            if !keep {
                eprintln!("note: skipping {} ({}): it scores choices by likelihood, which {model_name} does not give", task.origin, task.name);
            }
            keep
        });
        if plans.is_empty() {
            bail!(UsageError(format!("every task of {spec} scores choices by likelihood, which {model_name} does not give")));
        }
    }
    let (attacker, attacker_ref) = helper_model(
        args.attacker_model
            .as_deref()
            .map(|n| (n, args.attacker_base_url.as_deref())),
        &connection,
        &mut all_stats,
    )?;
    let dir = args.log_dir.clone().unwrap_or_else(crate::env::log_dir);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the log folder {}", dir.display()))?;

    let session = Session::new()?;
    let n_tasks = plans.len();
    let mut finished = Vec::new();
    let mut outcome = Outcome::Success;
    for (i, (task, generate, samples)) in plans.into_iter().enumerate() {
        if session.cancelled() {
            break;
        }
        let epochs = args.epochs.or(task.epochs).unwrap_or(1);
        let reducer = reducer_arg.or(task.epochs_reducer).unwrap_or(Reducer::Mean);
        if n_tasks > 1 {
            eprintln!(
                "[{}/{n_tasks}] {} ({}): {} samples",
                i + 1,
                task.origin,
                task.name,
                samples.len() * epochs as usize
            );
        }
        let started_at = vigie_log::now_rfc3339();
        let run_id = new_run_id();
        let settings = RunSettings {
            generate: generate.clone(),
            epochs,
            epochs_reducer: reducer,
            limit: args.limit,
            sample_ids: args.sample_id.clone(),
            seed: args.seed,
            max_connections: args.max_connections,
            timeout_s: args.timeout,
            max_retries: args.max_retries,
            fail_on_error: args.fail_on_error,
            cache: args.cache,
        };
        let (source, dataset) = if task.origin.starts_with("suite:") {
            (
                task.origin.clone(),
                std::fs::canonicalize(&task.dataset_name)
                    .map_or_else(|_| task.dataset_name.clone(), |p| p.display().to_string()),
            )
        } else {
            let source = std::fs::canonicalize(&task.origin)
                .map_or_else(|_| task.origin.clone(), |p| p.display().to_string());
            (
                source,
                std::fs::canonicalize(&task.dataset_name)
                    .map_or_else(|_| task.dataset_name.clone(), |p| p.display().to_string()),
            )
        };
        let header = LogHeader {
            format_version: vigie_log::FORMAT_VERSION,
            vigie_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: run_id.clone(),
            started_at: started_at.clone(),
            task: TaskRef {
                name: task.name.clone(),
                source,
                source_sha256: task.source_sha256.clone(),
                dataset,
                dataset_sha256: task.dataset_sha256.clone(),
                dataset_samples: task.samples.len(),
                risk_areas: task.risk_areas.clone(),
                group_by: task.group_by.clone(),
                chance: task.chance(&samples),
                contrast: task.contrast.clone(),
            },
            model: model_ref.clone(),
            judge_model: judge_ref.clone(),
            attacker_model: attacker_ref.clone(),
            settings,
            scorers: engine::scorer_refs(&task.scorers),
            planned_records: samples.len() * epochs as usize,
        };
        let path = log_path(&dir, &task.name, &started_at, &run_id);
        let writer = LogWriter::create(&path, &header)?;
        let run = Run {
            task: Arc::new(task),
            samples,
            max_in_flight: args.max_connections,
            model: model.clone(),
            judge: judge.clone(),
            attacker: attacker.clone(),
            writer,
            existing: vec![],
        };
        let (footer, task_outcome) = execute(
            &session,
            header.clone(),
            &path,
            run,
            all_stats.clone(),
            !args.no_progress,
        )?;
        if matches!(task_outcome, Outcome::Failed) {
            outcome = Outcome::Failed;
        }
        finished.push((header, footer, path));
    }
    if finished.len() > 1 {
        println!("{}", crate::render::suite_summary(spec, &finished));
    }
    session.close();
    Ok(outcome)
}

fn resume(log: &Path, args: &EvalArgs) -> Result<Outcome> {
    // Decide before touching the file: reopening removes the footer.
    let mut reader = LogReader::open(log)?;
    let header = reader.header()?;
    if let Some(footer) = reader.footer()? {
        if footer.status == RunStatus::Success && footer.samples.errors == 0 {
            println!(
                "{}",
                crate::render::results(&header, &footer, &log.display().to_string())
            );
            eprintln!("nothing to resume: every sample of this run finished");
            return Ok(Outcome::Success);
        }
    }
    drop(reader);

    let task = if header.task.source.starts_with("suite:") {
        vigie_suites::suites::load_for_resume(&header.task.source, Path::new(&header.task.dataset))
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot load the task of {}", log.display()))?
    } else {
        vigie_eval::task::load_task(Path::new(&header.task.source))
            .with_context(|| format!("cannot load the task of {}", log.display()))?
    };
    let mut task = task;
    if header.judge_model.is_none() {
        task.drop_optional_scorers();
    }
    if task.source_sha256 != header.task.source_sha256 {
        bail!(UsageError(format!(
            "the task {} changed since this run started (another vigie version, or an edited file); resuming would mix two tasks (start a new run instead)",
            header.task.source
        )));
    }
    if task.dataset_sha256 != header.task.dataset_sha256 {
        bail!(UsageError(format!(
            "the dataset {} changed since this run started; resuming would mix two datasets",
            task.dataset_name
        )));
    }
    let settings = header.settings.clone();
    let samples = select_samples(&task, settings.seed, &settings.sample_ids, settings.limit)?;
    let connection = Connection {
        cache: settings
            .cache
            .then(|| ResponseCache::new(crate::env::response_cache_dir())),
        ..connection(args, false)
    };
    let (model, stats, _) = build_model(
        &header.model.name,
        header.model.base_url.as_deref(),
        args.api_key.as_deref(),
        &connection,
    )?;
    let mut all_stats = vec![stats];
    let (judge, _) = helper_model(
        header
            .judge_model
            .as_ref()
            .map(|m| (m.name.as_str(), m.base_url.as_deref())),
        &connection,
        &mut all_stats,
    )?;
    let (attacker, _) = helper_model(
        header
            .attacker_model
            .as_ref()
            .map(|m| (m.name.as_str(), m.base_url.as_deref())),
        &connection,
        &mut all_stats,
    )?;
    let reopened = LogWriter::reopen(log)?;
    if reopened.torn_bytes > 0 {
        eprintln!(
            "note: cut {} bytes of a record the previous session was writing when it stopped",
            reopened.torn_bytes
        );
    }
    let run = Run {
        task: Arc::new(task),
        samples,
        max_in_flight: args.max_connections,
        model,
        judge,
        attacker,
        writer: reopened.writer,
        existing: reopened.samples,
    };
    let session = Session::new()?;
    let (_, outcome) = execute(&session, header, log, run, all_stats, !args.no_progress)?;
    session.close();
    Ok(outcome)
}

fn execute(
    session: &Session,
    header: LogHeader,
    path: &Path,
    run: Run,
    stats: Vec<Arc<ProviderStats>>,
    show_progress: bool,
) -> Result<(LogFooter, Outcome)> {
    let progress = Arc::new(Progress::new(stats, show_progress));
    let footer: LogFooter =
        session
            .runtime
            .block_on(engine::run(run, progress.clone(), session.cancel.clone()))?;
    progress.finish();
    let shown = path.display().to_string();
    println!("{}", crate::render::results(&header, &footer, &shown));
    let resume_hint = format!("vigie eval --resume {shown}");
    let outcome = match footer.status {
        RunStatus::Success if footer.samples.errors == 0 => Outcome::Success,
        RunStatus::Success => {
            eprintln!(
                "error: {} of {} samples failed; `{resume_hint}` retries them",
                footer.samples.errors, footer.samples.total
            );
            Outcome::Failed
        }
        RunStatus::Cancelled => {
            eprintln!("cancelled; `{resume_hint}` carries on where it stopped");
            Outcome::Failed
        }
        RunStatus::Error | RunStatus::Started => {
            eprintln!(
                "error: the run stopped: {}; `{resume_hint}` carries on",
                footer.error.as_deref().unwrap_or("unknown reason")
            );
            Outcome::Failed
        }
    };
    Ok((footer, outcome))
}

fn new_run_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}
