//! `vigie campaign run|merge`: every task of a campaign against every model
//! in one folder, resumable, optionally one shard of it; and the merge of
//! the shards. Planning and running are `vigie_campaign`'s; this module turns
//! arguments into a campaign, shows progress and renders the results.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use vigie_campaign::definition::{Campaign, CampaignModel, Split};
use vigie_campaign::{CampaignError, Step};
use vigie_log::{RunStatus, Shard};
use vigie_providers::RetryPolicy;

use crate::models::{Connection, Registry, DEFAULT_MODEL};
use crate::progress::CampaignProgress;
use crate::session::Session;
use crate::{Outcome, UsageError};

#[derive(clap::Subcommand)]
pub(crate) enum CampaignCommand {
    /// Run a campaign (every task against every model) in a folder, or carry it on; with
    /// --shard, one part of it
    Run(Box<RunArgs>),
    /// Define a campaign in a folder (its campaign.toml) without running it, for a scheduler
    /// to run: the same options as `run`
    Init(Box<RunArgs>),
    /// Merge the shard logs of every run of a campaign folder into its logs/ folder
    Merge {
        /// The campaign folder
        dir: PathBuf,
    },
    /// Write the campaign's Slurm array script (one task per shard) and merge job, and submit
    /// them when sbatch is here
    Slurm(SlurmArgs),
    /// Write the campaign as a Kubernetes Indexed Job (one completion per shard) and a merge
    /// Job, checked against the Job API's field rules
    Kube(KubeArgs),
}

#[derive(clap::Args)]
pub(crate) struct KubeArgs {
    /// The campaign folder (started with `vigie campaign run` or `init`)
    dir: PathBuf,
    /// Shards: the Job's completions
    #[arg(long)]
    shards: u32,
    /// Pods at once [default: every shard]
    #[arg(long)]
    parallelism: Option<u32>,
    /// The container image that holds vigie
    #[arg(long)]
    image: String,
    /// The PersistentVolumeClaim (ReadWriteMany) that holds the campaign folder
    #[arg(long)]
    claim: String,
    /// Where the volume is mounted in the pods
    #[arg(long, default_value = "/campaigns")]
    mount_path: String,
    /// The campaign folder's path inside the volume [default: the folder's name]
    #[arg(long)]
    folder_in_volume: Option<String>,
    /// The Secret that holds the API keys, one key per variable (OPENAI_API_KEY, ...)
    #[arg(long, default_value = "vigie-keys")]
    secret: String,
    /// The namespace [default: kubectl's current one]
    #[arg(long)]
    namespace: Option<String>,
    /// Failed pods tolerated per shard before the shard fails
    #[arg(long, default_value_t = 3)]
    backoff_limit_per_index: u32,
    /// CPU request of each pod (2, 500m)
    #[arg(long)]
    cpu: Option<String>,
    /// Memory request and limit of each pod (8Gi)
    #[arg(long)]
    memory: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct SlurmArgs {
    /// The campaign folder (started with `vigie campaign run`), on a file system every node sees
    dir: PathBuf,
    /// Shards: the array's size
    #[arg(long)]
    shards: u32,
    /// Shards running at once (the array's % throttle)
    #[arg(long)]
    throttle: Option<u32>,
    /// The partition
    #[arg(long)]
    partition: Option<String>,
    /// The account charged
    #[arg(long)]
    account: Option<String>,
    /// Each shard's time limit (HH:MM:SS or D-HH:MM:SS)
    #[arg(long)]
    time: Option<String>,
    /// CPUs per shard
    #[arg(long)]
    cpus_per_task: Option<u32>,
    /// Memory per shard (8G)
    #[arg(long)]
    mem: Option<String>,
    /// Another #SBATCH option, as --name=value (repeatable)
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    sbatch: Vec<String>,
    /// The vigie binary the nodes run (default: this one)
    #[arg(long)]
    vigie: Option<PathBuf>,
    /// Write the scripts only, even where sbatch is on PATH
    #[arg(long)]
    no_submit: bool,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The campaign folder: its campaign.toml, logs/ and shards/ (created by the first run)
    dir: PathBuf,
    /// A task: a task file, suite:NAME, suite:NAME/TASK, framework (every built-in task the
    /// built-in framework reads) or framework:FILE; repeatable
    #[arg(long = "task", short = 't', value_name = "TASK")]
    tasks: Vec<String>,
    /// An evaluated model (provider/name, as for `vigie eval`); repeatable. Default: local/smollm2
    #[arg(long = "model", short = 'm', value_name = "MODEL")]
    models: Vec<String>,
    /// Base URL of the evaluated models' API (every model given here but local/ ones)
    #[arg(long)]
    base_url: Option<String>,
    /// The judge model for model-graded scorers
    #[arg(long)]
    judge_model: Option<String>,
    /// Base URL of the judge model's API
    #[arg(long)]
    judge_base_url: Option<String>,
    /// The attacker model of attack tasks
    #[arg(long)]
    attacker_model: Option<String>,
    /// Base URL of the attacker model's API
    #[arg(long)]
    attacker_base_url: Option<String>,
    /// Folder holding public benchmark files, for the tasks that read them
    #[arg(long, env = crate::env::VIGIE_DATASETS, value_name = "DIR")]
    datasets: Option<PathBuf>,
    /// Generation setting KEY=VALUE over every task's own; repeatable
    #[arg(short = 'M', value_name = "KEY=VALUE")]
    generate: Vec<String>,
    /// Run only the first N samples of each task
    #[arg(long)]
    limit: Option<usize>,
    /// Times to run each sample (default: each task's, else 1)
    #[arg(long)]
    epochs: Option<u32>,
    /// How to reduce epochs to one score: mean, mode, max, at_least_<k>
    #[arg(long)]
    epochs_reducer: Option<String>,
    /// Seed for choice shuffles, generation and the bootstrap
    #[arg(long)]
    seed: Option<u64>,
    /// Requests in flight to each model for the whole campaign (every task on a model shares
    /// them; shards divide them) [default: 10]
    #[arg(long)]
    max_connections: Option<usize>,
    /// Request timeout in seconds [default: 120]
    #[arg(long)]
    timeout: Option<f64>,
    /// Retries per request [default: 6]
    #[arg(long)]
    max_retries: Option<u32>,
    /// Stop a run when this many of its samples fail (a fraction when below 1)
    #[arg(long)]
    fail_on_error: Option<f64>,
    /// How shards divide the campaign: sample (every run split by a stable hash of task, sample
    /// id and epoch; merge afterwards) or task (runs dealt out whole) [default: sample]
    #[arg(long, value_parser = ["sample", "task"])]
    split: Option<String>,
    /// Run only shard INDEX/COUNT of the campaign (from 0)
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "shards")]
    shard: Option<String>,
    /// Run one shard of COUNT, its index from the scheduler: SLURM_ARRAY_TASK_ID (Slurm) or
    /// JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
    #[arg(long, value_name = "COUNT")]
    shards: Option<u32>,
    /// How agents' tools are isolated: namespaces (the default) or local (no isolation)
    #[arg(long, value_name = "ISOLATION", default_value = "namespaces", value_parser = ["namespaces", "local"])]
    sandbox: String,
    /// First backoff ceiling in seconds between retries
    #[arg(long, default_value_t = 1.0)]
    retry_base: f64,
    /// Show no progress on stderr
    #[arg(long)]
    no_progress: bool,
}

pub(crate) fn run(command: CampaignCommand) -> Result<Outcome> {
    match command {
        CampaignCommand::Run(args) => run_campaign(*args),
        CampaignCommand::Init(args) => init(*args),
        CampaignCommand::Merge { dir } => merge(&dir),
        CampaignCommand::Slurm(args) => slurm(args),
        CampaignCommand::Kube(args) => kube(args),
    }
}

/// The campaign the command line defines, when it defines one.
fn from_args(args: &RunArgs) -> Option<Campaign> {
    let defines = !args.tasks.is_empty()
        || !args.models.is_empty()
        || args.base_url.is_some()
        || args.judge_model.is_some()
        || args.attacker_model.is_some()
        || !args.generate.is_empty()
        || args.limit.is_some()
        || args.epochs.is_some()
        || args.epochs_reducer.is_some()
        || args.seed.is_some()
        || args.max_connections.is_some()
        || args.timeout.is_some()
        || args.max_retries.is_some()
        || args.fail_on_error.is_some()
        || args.split.is_some()
        || args.datasets.is_some();
    if !defines {
        return None;
    }
    let model = |name: &str, base_url: &Option<String>| CampaignModel {
        name: name.to_string(),
        base_url: base_url.clone().filter(|_| !name.starts_with("local/")),
    };
    let models = if args.models.is_empty() {
        vec![DEFAULT_MODEL.to_string()]
    } else {
        args.models.clone()
    };
    Some(Campaign {
        // A task file is kept relative to the campaign folder when it is in
        // it (the folder may be mounted elsewhere on a cluster), else by its
        // absolute path, so that a shard started from a scheduler's own
        // folder finds it.
        tasks: args
            .tasks
            .iter()
            .map(|t| {
                let path = Path::new(t);
                if t.contains(':') || !path.is_file() {
                    return t.clone();
                }
                let Ok(absolute) = std::fs::canonicalize(path) else {
                    return t.clone();
                };
                let folder = std::fs::create_dir_all(&args.dir)
                    .and_then(|()| std::fs::canonicalize(&args.dir));
                match folder.map(|f| absolute.strip_prefix(f).map(Path::to_path_buf)) {
                    Ok(Ok(inside)) => inside.display().to_string(),
                    _ => absolute.display().to_string(),
                }
            })
            .collect(),
        models: models.iter().map(|m| model(m, &args.base_url)).collect(),
        datasets: args
            .datasets
            .as_ref()
            .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
        judge_model: args
            .judge_model
            .as_deref()
            .map(|m| model(m, &args.judge_base_url)),
        attacker_model: args
            .attacker_model
            .as_deref()
            .map(|m| model(m, &args.attacker_base_url)),
        generate: args.generate.clone(),
        limit: args.limit,
        epochs: args.epochs,
        epochs_reducer: args.epochs_reducer.clone(),
        seed: args.seed.unwrap_or(0),
        max_connections: args.max_connections.unwrap_or(10),
        timeout_s: args.timeout.unwrap_or(120.0),
        max_retries: args.max_retries.unwrap_or(6),
        fail_on_error: args.fail_on_error,
        split: match args.split.as_deref() {
            Some("task") => Split::Task,
            _ => Split::Sample,
        },
    })
}

/// The folder's campaign: the one its campaign.toml defines (the command
/// line may repeat it, not change it), or, for a new folder, the command
/// line's, written there.
fn campaign_of(args: &RunArgs) -> Result<Campaign> {
    let given = from_args(args);
    let usage = |e: vigie_campaign::DefinitionError| UsageError(e.to_string());
    match (Campaign::load(&args.dir).map_err(usage)?, given) {
        (Some(existing), Some(given)) => {
            if let Some(conflict) = existing.conflict_with(&given, &args.dir) {
                return Err(usage(conflict).into());
            }
            Ok(existing)
        }
        (Some(existing), None) => Ok(existing),
        (None, Some(given)) => {
            given.check("the command line").map_err(usage)?;
            given.save(&args.dir).map_err(usage)?;
            Ok(given)
        }
        (None, None) => Err(UsageError(format!(
            "{} holds no campaign yet: give its tasks and models (--task, --model) to start one",
            args.dir.display()
        ))
        .into()),
    }
}

/// This process's shard: `--shard I/N`, or `--shards N` with the index the
/// scheduler set.
fn shard_of(args: &RunArgs) -> Result<Option<Shard>> {
    if let Some(text) = &args.shard {
        return Ok(Some(
            Shard::parse(text).map_err(|e| UsageError(format!("--shard: {e}")))?,
        ));
    }
    let Some(count) = args.shards else {
        return Ok(None);
    };
    let (variable, index) = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
        .iter()
        .find_map(|v| std::env::var(v).ok().map(|i| (*v, i)))
        .ok_or_else(|| {
            UsageError(format!(
                "--shards {count}: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set, so this process has no shard index; give --shard INDEX/{count}"
            ))
        })?;
    let index: u32 = index
        .trim()
        .parse()
        .map_err(|_| UsageError(format!("{variable}={index:?} is not a shard index")))?;
    Ok(Some(Shard::new(index, count).map_err(|e| {
        UsageError(format!("{variable}={index} with --shards {count}: {e}"))
    })?))
}

/// `vigie campaign init`: the definition only.
fn init(args: RunArgs) -> Result<Outcome> {
    if args.shard.is_some() || args.shards.is_some() {
        return Err(UsageError(
            "`vigie campaign init` defines the whole campaign: shards are chosen when it runs (`vigie campaign run --shard`, or `vigie campaign slurm --shards`)".into(),
        )
        .into());
    }
    let campaign = campaign_of(&args)?;
    println!(
        "{}: {} tasks × {} models (split by {}); run it with `vigie campaign run {}`, or on a cluster with `vigie campaign slurm {} --shards N`",
        args.dir.join(vigie_campaign::CAMPAIGN_FILE).display(),
        campaign.tasks.len(),
        campaign.models.len(),
        campaign.split.as_str(),
        args.dir.display(),
        args.dir.display()
    );
    Ok(Outcome::Success)
}

fn run_campaign(args: RunArgs) -> Result<Outcome> {
    if args.retry_base.is_nan() || args.retry_base < 0.0 {
        return Err(UsageError("--retry-base must not be negative".into()).into());
    }
    let campaign = campaign_of(&args)?;
    let shard = shard_of(&args)?;
    let share = vigie_campaign::campaign::connection_share(&campaign, shard);
    let registry = Registry::new(
        Connection {
            profiles: crate::env::profiles(None)?,
            max_connections: share,
            timeout: Duration::from_secs_f64(campaign.timeout_s),
            retry: RetryPolicy {
                max_retries: campaign.max_retries,
                base: Duration::from_secs_f64(args.retry_base),
                max_delay: Duration::from_secs(60),
            },
            cache: None,
        },
        None,
    );
    let sandbox = crate::cmd_eval::sandbox_choice(&args.sandbox)?;
    let prepared = vigie_campaign::prepare(&campaign, &args.dir, shard, &registry, Some(&sandbox))
        .map_err(|e| match e {
            CampaignError::Plan(vigie_eval::plan::PlanError::Log(e)) => anyhow::Error::from(e),
            other => UsageError(other.to_string()).into(),
        })?;
    for note in &prepared.notes {
        eprintln!("note: {note}");
    }
    let session = Session::new()?;
    for run in &prepared.runs {
        if let Step::Start(planned) | Step::Resume(planned) = &run.step {
            crate::cmd_eval::probe_sandbox(&session, planned)?;
        }
    }
    let (new, resumed, finished) = prepared
        .runs
        .iter()
        .fold((0, 0, 0), |(n, r, f), run| match run.step {
            Step::Start(_) => (n + 1, r, f),
            Step::Resume(_) => (n, r + 1, f),
            Step::Finished { .. } => (n, r, f + 1),
        });
    let part = shard.map_or(String::new(), |s| {
        format!(
            ", shard {s} (split by {}, {share} connections per model)",
            campaign.split.as_str()
        )
    });
    eprintln!(
        "campaign {}: {} runs here{part}: {new} to start, {resumed} to resume, {finished} finished",
        args.dir.display(),
        prepared.runs.len()
    );
    let progress = Arc::new(CampaignProgress::new(registry.stats(), !args.no_progress));
    let observer_for =
        |run: &vigie_campaign::CampaignRun| -> Arc<dyn vigie_eval::engine::Observer> {
            progress.run_line(&format!("{} {}", run.model, run.task))
        };
    let ends = session.runtime.block_on(vigie_campaign::run(
        prepared,
        &observer_for,
        session.cancel.clone(),
    ));
    progress.finish();
    let cancelled = session.cancelled();
    session.close();
    let mut outcome = Outcome::Success;
    let mut by_model: Vec<(String, Vec<_>)> = Vec::new();
    for end in ends {
        match end.result {
            Ok((header, footer)) => {
                let failed = footer.status != RunStatus::Success
                    || footer.samples.errors > 0
                    || !footer.unscored.is_empty();
                if failed {
                    outcome = Outcome::Failed;
                }
                match by_model.iter_mut().find(|(m, _)| *m == end.model) {
                    Some((_, runs)) => runs.push((header, footer, end.log)),
                    None => by_model.push((end.model, vec![(header, footer, end.log)])),
                }
            }
            Err(e) => {
                outcome = Outcome::Failed;
                eprintln!("error: {} on {}: {e}", end.task, end.model);
            }
        }
    }
    for (model, runs) in &by_model {
        println!("{}", crate::render::suite_summary(model, runs));
    }
    let dir = args.dir.display();
    if cancelled || matches!(outcome, Outcome::Failed) {
        eprintln!(
            "the campaign has not finished; `vigie campaign run {dir}{}` carries it on",
            shard_flag(&args)
        );
    }
    match (shard, campaign.split) {
        (Some(_), Split::Sample) => eprintln!(
            "when every shard has finished: `vigie campaign merge {dir}`, then `vigie assess {dir}/logs`"
        ),
        _ => eprintln!("next: `vigie assess {dir}/logs` and `vigie report {dir}/logs`"),
    }
    Ok(outcome)
}

fn shard_flag(args: &RunArgs) -> String {
    match (&args.shard, args.shards) {
        (Some(s), _) => format!(" --shard {s}"),
        (None, Some(n)) => format!(" --shards {n}"),
        _ => String::new(),
    }
}

/// `vigie campaign merge DIR`: every `shards/MODEL/TASK/` folder merged into
/// `logs/MODEL/TASK.vlog`; runs already merged are left as they are.
fn merge(dir: &Path) -> Result<Outcome> {
    let shards = dir.join("shards");
    if !shards.is_dir() {
        return Err(UsageError(format!(
            "{} has no shards to merge (no shards/ folder)",
            dir.display()
        ))
        .into());
    }
    let mut merged = 0;
    let mut kept = 0;
    let read = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| anyhow::anyhow!("{}: {e}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        Ok(entries)
    };
    for model_dir in read(&shards)? {
        for task_dir in read(&model_dir)? {
            let (Some(model), Some(task)) = (model_dir.file_name(), task_dir.file_name()) else {
                continue;
            };
            let output = dir
                .join("logs")
                .join(model)
                .join(format!("{}.vlog", task.to_string_lossy()));
            if output.exists() {
                eprintln!("{}: merged already", output.display());
                kept += 1;
                continue;
            }
            let logs = vigie_log::find_logs(&task_dir)?;
            let result =
                vigie_campaign::merge(&logs, &output, &mut |_, _| {}).map_err(|e| match e {
                    vigie_campaign::MergeError::Log(e) => anyhow::Error::from(e),
                    refused => UsageError(format!("{}: {refused}", task_dir.display())).into(),
                })?;
            println!(
                "{}",
                crate::render::results(
                    &result.header,
                    &result.footer,
                    &result.path.display().to_string()
                )
            );
            merged += 1;
        }
    }
    eprintln!(
        "merged {merged} runs ({kept} merged already); next: `vigie assess {}/logs`",
        dir.display()
    );
    Ok(Outcome::Success)
}

/// A campaign folder as an absolute path, with its campaign.
fn existing_campaign(dir: &Path) -> Result<(PathBuf, Campaign)> {
    let campaign = Campaign::load(dir)
        .map_err(|e| UsageError(e.to_string()))?
        .ok_or_else(|| {
            UsageError(format!(
                "{} holds no campaign: start it with `vigie campaign run {} --task ... --model ...` (or write its campaign.toml)",
                dir.display(),
                dir.display()
            ))
        })?;
    let dir = std::fs::canonicalize(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    Ok((dir, campaign))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Runs `sbatch --parsable ARGS` and returns the job id it prints.
fn sbatch(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run sbatch: {e}"))?;
    let printed = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "sbatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    vigie_campaign::slurm::parsable_job_id(&printed)
        .ok_or_else(|| anyhow::anyhow!("sbatch printed no job id: {printed:?}"))
}

/// `vigie campaign slurm`.
fn slurm(args: SlurmArgs) -> Result<Outcome> {
    let (dir, campaign) = existing_campaign(&args.dir)?;
    let vigie = match &args.vigie {
        Some(path) => std::fs::canonicalize(path)
            .map_err(|e| UsageError(format!("--vigie {}: {e}", path.display())))?,
        None => std::env::current_exe()?,
    };
    let options = vigie_campaign::slurm::SlurmOptions {
        shards: args.shards,
        throttle: args.throttle,
        partition: args.partition.clone(),
        account: args.account.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        extra: args.sbatch.clone(),
        vigie,
    };
    let scripts = vigie_campaign::slurm::slurm_scripts(&dir, &campaign, &options)
        .map_err(|e| UsageError(e.to_string()))?;
    let array_path = dir.join("slurm").join("campaign.sbatch");
    let merge_path = dir.join("slurm").join("merge.sbatch");
    write_file(&array_path, &scripts.array)?;
    std::fs::create_dir_all(dir.join("slurm").join("out"))?;
    if let Some(merge) = &scripts.merge {
        write_file(&merge_path, merge)?;
    }
    println!("wrote {}", array_path.display());
    if scripts.merge.is_some() {
        println!("wrote {}", merge_path.display());
    }
    let have_sbatch = std::process::Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if args.no_submit || !have_sbatch {
        let array = array_path.display();
        match scripts.merge {
            Some(_) => println!(
                "submit with: id=$(sbatch --parsable {array}) && sbatch --dependency=afterok:$id {}",
                merge_path.display()
            ),
            None => println!("submit with: sbatch {array}"),
        }
        return Ok(Outcome::Success);
    }
    let array_id = sbatch(&[&array_path.display().to_string()])?;
    println!(
        "submitted the array: job {array_id} ({} shards)",
        args.shards
    );
    if scripts.merge.is_some() {
        let merge_id = sbatch(&[
            &format!("--dependency=afterok:{array_id}"),
            &merge_path.display().to_string(),
        ])?;
        println!("submitted the merge: job {merge_id}, after every shard succeeds");
    }
    println!(
        "watch with: squeue -j {array_id}; each shard's output is in {}",
        dir.join("slurm").join("out").display()
    );
    Ok(Outcome::Success)
}

/// `vigie campaign kube`.
fn kube(args: KubeArgs) -> Result<Outcome> {
    let (dir, campaign) = existing_campaign(&args.dir)?;
    let mut credentials: Vec<String> = Vec::new();
    let names = campaign
        .models
        .iter()
        .chain(&campaign.judge_model)
        .chain(&campaign.attacker_model)
        .map(|m| m.name.as_str());
    for name in names {
        for var in vigie_providers::credential_env(name) {
            if !credentials.iter().any(|c| c == var) {
                credentials.push(var.to_string());
            }
        }
    }
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let options = vigie_campaign::kube::KubeOptions {
        shards: args.shards,
        parallelism: args.parallelism,
        image: args.image.clone(),
        claim: args.claim.clone(),
        mount_path: args.mount_path.clone(),
        folder_in_volume: args.folder_in_volume.clone().unwrap_or(folder),
        secret: args.secret.clone(),
        namespace: args.namespace.clone(),
        backoff_limit_per_index: args.backoff_limit_per_index,
        cpu: args.cpu.clone(),
        memory: args.memory.clone(),
        credentials: credentials.clone(),
    };
    let manifests = vigie_campaign::kube::kube_manifests(&dir, &campaign, &options)
        .map_err(|e| UsageError(e.to_string()))?;
    let name = manifests.shards["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let shards_path = dir.join("kube").join("shards-job.yaml");
    write_file(
        &shards_path,
        &vigie_campaign::kube::to_yaml(
            &manifests.shards,
            &format!(
                "The shards of the vigie campaign {}, written by `vigie campaign kube`.\n\
                 Each pod runs the shard of its JOB_COMPLETION_INDEX into the campaign folder on the\n\
                 shared volume; a shard retried after a failure resumes its own logs.",
                dir.display()
            ),
        ),
    )?;
    println!("wrote {}", shards_path.display());
    let ns = args
        .namespace
        .as_deref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default();
    println!(
        "on your cluster, with the campaign folder copied into the volume {}:",
        args.claim
    );
    if !credentials.is_empty() {
        let literals: Vec<String> = credentials
            .iter()
            .map(|c| format!("--from-literal={c}=\"${c}\""))
            .collect();
        println!(
            "  kubectl{ns} create secret generic {} {}",
            args.secret,
            literals.join(" ")
        );
    }
    println!("  kubectl{ns} apply -f {}", shards_path.display());
    if let Some(merge) = &manifests.merge {
        let merge_path = dir.join("kube").join("merge-job.yaml");
        write_file(
            &merge_path,
            &vigie_campaign::kube::to_yaml(
                merge,
                "Merges the shards of the campaign: apply it once the shards' Job has completed\n\
                 (Kubernetes runs Jobs in no order of its own).",
            ),
        )?;
        println!("wrote {}", merge_path.display());
        println!("  kubectl{ns} wait --for=condition=complete --timeout=48h job/{name}");
        println!("  kubectl{ns} apply -f {}", merge_path.display());
    }
    for task in &campaign.tasks {
        if Path::new(task).is_absolute() {
            eprintln!(
                "note: the task file {task} is outside the campaign folder: the pods must see it at that same path (a task file inside the folder travels with it)"
            );
        }
    }
    Ok(Outcome::Success)
}
