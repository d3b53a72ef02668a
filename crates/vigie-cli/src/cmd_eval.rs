//! `vigie eval`: run a task (or a suite's tasks) against a model, or resume
//! a run from its log. The planning and its checks are `vigie_eval::plan`'s,
//! the running `vigie_eval::engine`'s; this module turns arguments into
//! settings, shows progress and renders the results.

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use vigie_eval::engine;
use vigie_eval::plan::{self, EvalSettings, PlanError, PlannedRun, Resume};
use vigie_log::metrics::Reducer;
use vigie_log::{LogFooter, LogHeader, RunStatus};
use vigie_providers::{ResponseCache, RetryPolicy};

use crate::models::{Connection, Registry, DEFAULT_MODEL};
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
    /// openai/gpt-5, azure/DEPLOYMENT, anthropic/claude-sonnet-4-5, google/gemini-2.5-pro,
    /// bedrock/MODEL_ID, vllm/..., ollama/... (README: the model table)
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
    /// Generation setting KEY=VALUE (temperature, top_p, top_k, max_tokens, seed, stop,
    /// reasoning_effort, reasoning_tokens, reasoning_summary, reasoning_history); KEY=none
    /// leaves out a setting the task gives; repeatable
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
    /// Model profiles of your own (TOML, as crates/vigie-providers/data/profiles.toml),
    /// consulted before the built-in ones
    #[arg(long, env = crate::env::VIGIE_PROFILES, value_name = "FILE")]
    profiles: Option<PathBuf>,
    /// Launch no new sample once the evaluated model's tokens have cost this many US dollars
    /// (priced by its profile)
    #[arg(long, value_name = "USD")]
    max_cost: Option<f64>,
    /// Launch no new sample once the evaluated model has used this many tokens
    #[arg(long, value_name = "TOKENS")]
    max_tokens_total: Option<u64>,
    /// How agents' tools are isolated: namespaces (the default; no daemon, no root needed), or
    /// local: no isolation at all, the commands run on this machine as you (the log says so)
    #[arg(long, value_name = "ISOLATION", default_value = "namespaces", value_parser = ["namespaces", "local"])]
    sandbox: String,
    /// Folder for the log (default: ./logs, or VIGIE_LOG_DIR)
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Run only shard INDEX/COUNT of each task's (sample, epoch) pairs (from 0: 0/4 .. 3/4),
    /// split by a stable hash of task, sample id and epoch; `vigie log merge` joins the shards
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<String>,
    /// Resume the run in this log: redo its unfinished and failed samples only
    #[arg(long, value_name = "LOG", conflicts_with_all = ["task", "shard", "model", "base_url", "generate", "limit", "sample_id", "epochs", "epochs_reducer", "seed", "log_dir", "judge_model", "judge_base_url", "attacker_model", "attacker_base_url", "fail_on_error", "cache"])]
    resume: Option<PathBuf>,
    /// Show no progress on stderr
    #[arg(long)]
    no_progress: bool,
}

fn connection(args: &EvalArgs, cache: bool) -> Result<Connection> {
    Ok(Connection {
        profiles: crate::env::profiles(args.profiles.as_deref())?,
        max_connections: args.max_connections,
        timeout: Duration::from_secs_f64(args.timeout),
        retry: RetryPolicy {
            max_retries: args.max_retries,
            base: Duration::from_secs_f64(args.retry_base),
            max_delay: Duration::from_secs(60),
        },
        cache: cache.then(|| ResponseCache::new(crate::env::response_cache_dir())),
    })
}

/// Where this vigie makes sandboxes (the binary is their helper), and how.
pub(crate) fn sandbox_choice(isolation: &str) -> Result<vigie_eval::sandboxing::SandboxChoice> {
    Ok(vigie_eval::sandboxing::SandboxChoice {
        host: vigie_sandbox::SandboxHost {
            helper: std::env::current_exe()?,
            base: crate::env::home().join("sandboxes"),
        },
        isolation: if isolation == "local" {
            vigie_sandbox::Isolation::Local
        } else {
            vigie_sandbox::Isolation::Namespaces
        },
    })
}

fn plan_error(e: PlanError) -> anyhow::Error {
    match e {
        PlanError::Log(e) => e.into(),
        usage => UsageError(usage.to_string()).into(),
    }
}

pub(crate) fn run(args: EvalArgs) -> Result<Outcome> {
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

fn start(args: &EvalArgs) -> Result<Outcome> {
    let spec = args
        .task
        .as_ref()
        .expect("clap requires a task without --resume");
    let selected =
        vigie_suites::suites::select(spec, args.datasets.as_deref()).map_err(|e| match e {
            vigie_suites::suites::SuiteError::Task(e) => anyhow::Error::from(e),
            other => UsageError(other.to_string()).into(),
        })?;
    let epochs_reducer = match &args.epochs_reducer {
        Some(name) => {
            Some(Reducer::parse(name).map_err(|e| UsageError(format!("--epochs-reducer: {e}")))?)
        }
        None => None,
    };
    let settings = EvalSettings {
        sandbox: Some(sandbox_choice(&args.sandbox)?),
        model: args
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
        base_url: args.base_url.clone(),
        judge_model: args.judge_model.clone(),
        judge_base_url: args.judge_base_url.clone(),
        attacker_model: args.attacker_model.clone(),
        attacker_base_url: args.attacker_base_url.clone(),
        generate: args.generate.clone(),
        limit: args.limit,
        sample_ids: args.sample_id.clone(),
        epochs: args.epochs,
        epochs_reducer,
        seed: args.seed,
        max_connections: args.max_connections,
        timeout_s: args.timeout,
        max_retries: args.max_retries,
        fail_on_error: args.fail_on_error,
        cache: args.cache,
        max_cost: args.max_cost,
        max_tokens_total: args.max_tokens_total,
        log_dir: args.log_dir.clone().unwrap_or_else(crate::env::log_dir),
        shard: args
            .shard
            .as_deref()
            .map(vigie_log::Shard::parse)
            .transpose()
            .map_err(|e| UsageError(format!("--shard: {e}")))?,
    };
    for note in &selected.notes {
        eprintln!("note: {note}");
    }
    let registry = Registry::new(connection(args, args.cache)?, args.api_key.clone());
    let plan = plan::plan(selected.tasks, selected.from_suite, &settings, &registry)
        .map_err(plan_error)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let session = Session::new()?;
    let n_runs = plan.runs.len();
    let mut finished = Vec::new();
    let mut outcome = Outcome::Success;
    for (i, planned) in plan.runs.into_iter().enumerate() {
        if session.cancelled() {
            break;
        }
        if n_runs > 1 {
            eprintln!(
                "[{}/{n_runs}] {} ({}): {} samples",
                i + 1,
                planned.task.origin,
                planned.task.name,
                planned.header.planned_records
            );
        }
        let (header, footer, path, run_outcome) =
            execute(&session, planned, &registry, !args.no_progress)?;
        if matches!(run_outcome, Outcome::Failed) {
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
    // The log's own cache setting decides, with this session's connection settings.
    let cache = vigie_log::LogReader::open(log)?.header()?.settings.cache;
    let registry = Registry::new(connection(args, cache)?, args.api_key.clone());
    let load_task =
        |header: &LogHeader| -> Result<vigie_eval::Task, Box<dyn std::error::Error + Send + Sync>> {
            Ok(vigie_suites::suites::task_of(header)?)
        };
    let limits = vigie_eval::engine::Limits {
        max_cost: args.max_cost,
        max_tokens_total: args.max_tokens_total,
    };
    let sandbox = sandbox_choice(&args.sandbox)?;
    match plan::resume(
        log,
        &load_task,
        args.max_connections,
        limits,
        &registry,
        Some(&sandbox),
    )
    .map_err(plan_error)?
    {
        Resume::Finished { header, footer } => {
            println!(
                "{}",
                crate::render::results(&header, &footer, &log.display().to_string())
            );
            eprintln!("nothing to resume: every sample of this run finished");
            Ok(Outcome::Success)
        }
        Resume::Run(planned) => {
            let session = Session::new()?;
            let (_, _, _, outcome) = execute(&session, *planned, &registry, !args.no_progress)?;
            session.close();
            Ok(outcome)
        }
    }
}

/// Makes one sandbox for a task that works in one, before its first sample:
/// a machine that cannot make them runs nothing, and says what to do.
pub(crate) fn probe_sandbox(session: &Session, planned: &PlannedRun) -> Result<()> {
    if let (Some(setup), Some(plan)) = (&planned.sandbox, &planned.task.sandbox) {
        session
            .runtime
            .block_on(setup.probe(plan.network))
            .map_err(|why| {
                anyhow::anyhow!(
                    "the task `{}` works in a sandbox, and none could be made: {why}\n(nothing ran; where this machine allows no namespaces, `--sandbox local` runs the tools here without any isolation, and the log says so)",
                    planned.task.name
                )
            })?;
    }
    Ok(())
}

/// Starts a planned run, shows its progress and its results; the header,
/// footer and log path, and whether it succeeded.
fn execute(
    session: &Session,
    planned: PlannedRun,
    registry: &Registry,
    show_progress: bool,
) -> Result<(LogHeader, LogFooter, PathBuf, Outcome)> {
    probe_sandbox(session, &planned)?;
    let (run, torn) = planned.start()?;
    let (header, path) = (run.writer.header().clone(), run.writer.path().to_path_buf());
    if torn > 0 {
        eprintln!(
            "note: cut {torn} bytes of a record the previous session was writing when it stopped"
        );
    }
    let progress = Arc::new(Progress::new(registry.stats(), show_progress));
    let footer =
        session
            .runtime
            .block_on(engine::run(run, progress.clone(), session.cancel.clone()))?;
    progress.finish();
    let shown = path.display().to_string();
    println!("{}", crate::render::results(&header, &footer, &shown));
    let resume_hint = format!("vigie eval --resume {shown}");
    let outcome = match footer.status {
        RunStatus::Success if footer.samples.errors == 0 && footer.unscored.is_empty() => {
            Outcome::Success
        }
        RunStatus::Success if footer.samples.errors == 0 => {
            eprintln!("error: {}", crate::render::unscored(&footer, &shown));
            Outcome::Failed
        }
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
        RunStatus::Stopped => {
            eprintln!(
                "stopped: {}; `{resume_hint}` carries on (raise the limit with --max-cost or --max-tokens-total)",
                footer.error.as_deref().unwrap_or("a limit was reached")
            );
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
    Ok((header, footer, path, outcome))
}
