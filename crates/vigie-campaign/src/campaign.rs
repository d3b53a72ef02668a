//! Running a campaign: its tasks expanded, every (model, task) run given a
//! log path named by both (so running the campaign again finds it), this
//! shard's part of the runs chosen, and each run started, resumed or
//! skipped by what its log holds; then all of them run at once, every task
//! on a model sharing that model's connection limit.
//!
//! Runs are planned and resumed by `vigie_eval::plan`, so every check a
//! single `vigie eval` makes is made here too, before the first request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use vigie_eval::engine::{self, EngineError, Observer};
use vigie_eval::plan::{self, EvalSettings, LogPlace, ModelSource, PlanError, PlannedRun, Resume};
use vigie_eval::sandboxing::SandboxChoice;
use vigie_eval::Task;
use vigie_log::metrics::Reducer;
use vigie_log::{LogFooter, LogHeader, Shard};

use crate::definition::{slug, Campaign, CampaignModel, Split};

/// Why a campaign cannot run. Nothing has been asked of a model when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A task, a model or a setting cannot be used, or two tasks share a name.
    #[error("{0}")]
    Usage(String),
    /// A run cannot be planned or resumed.
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// A task of the campaign cannot be loaded.
    #[error("{spec}: {message}")]
    Task {
        /// The campaign's task entry.
        spec: String,
        /// Why.
        message: String,
    },
}

/// What a run of the campaign does now, by what its log holds.
pub enum Step {
    /// Its log is finished, every sample without error: nothing to do.
    Finished {
        /// The log's header.
        header: Box<LogHeader>,
        /// Its footer.
        footer: Box<LogFooter>,
    },
    /// No log yet: a new run.
    Start(Box<PlannedRun>),
    /// A log that did not finish (killed, cancelled, stopped, or with failed
    /// samples): carried on where it stopped.
    Resume(Box<PlannedRun>),
}

/// One (model, task) run of the campaign, in this shard.
pub struct CampaignRun {
    /// The evaluated model.
    pub model: String,
    /// The task's name.
    pub task: String,
    /// Its log.
    pub log: PathBuf,
    /// What happens to it.
    pub step: Step,
}

/// A campaign ready to run: this shard's runs and the notes on what was left out.
pub struct Prepared {
    /// The runs, model by model, in task order.
    pub runs: Vec<CampaignRun>,
    /// Tasks left out (a suite runs what it can) and settings not sent.
    pub notes: Vec<String>,
}

/// The connections each model gets in one shard: the campaign's limit
/// divided between the shards (at least one).
pub fn connection_share(campaign: &Campaign, shard: Option<Shard>) -> usize {
    let shards = shard.map_or(1, |s| s.count as usize);
    (campaign.max_connections / shards).max(1)
}

/// Where the log of `task` on `model` goes in the campaign folder `dir`:
/// `logs/MODEL/TASK.vlog`, or for a shard of a split by sample
/// `shards/MODEL/TASK/shard-I-of-N.vlog`, merged later into the former.
pub fn log_path(dir: &Path, model: &str, task: &str, shard: Option<Shard>) -> PathBuf {
    match shard {
        None => dir
            .join("logs")
            .join(slug(model))
            .join(format!("{task}.vlog")),
        Some(s) => dir
            .join("shards")
            .join(slug(model))
            .join(task)
            .join(format!("shard-{}-of-{}.vlog", s.index, s.count)),
    }
}

/// The tasks of the campaign, each with the entry that named it and whether
/// it came from a suite (which leaves out what it cannot run).
struct Expanded {
    groups: Vec<(String, Vec<Task>, bool)>,
    notes: Vec<String>,
}

/// A task file or datasets folder of the campaign, as this machine finds
/// it: a relative path is relative to the campaign folder (so the folder can
/// move, or be mounted elsewhere on a cluster's nodes).
fn in_folder(dir: &Path, path: &str) -> String {
    if path.contains(':') || Path::new(path).is_absolute() {
        path.to_string()
    } else {
        dir.join(path).display().to_string()
    }
}

fn expand(campaign: &Campaign, dir: &Path) -> Result<Expanded, CampaignError> {
    let datasets = campaign
        .datasets
        .as_ref()
        .map(|d| PathBuf::from(in_folder(dir, &d.display().to_string())));
    let datasets = datasets.as_deref();
    let mut groups = Vec::new();
    let mut notes = Vec::new();
    let task_error = |spec: &str, e: &dyn std::fmt::Display| CampaignError::Task {
        spec: spec.to_string(),
        message: e.to_string(),
    };
    for spec in &campaign.tasks {
        let framework = match spec.as_str() {
            "framework" => Some(vigie_assess::Framework::builtin()),
            other => match other.strip_prefix("framework:") {
                Some(file) => Some(
                    vigie_assess::Framework::load(Path::new(file))
                        .map_err(|e| task_error(spec, &e))?,
                ),
                None => None,
            },
        };
        let Some(framework) = framework else {
            let selected = match vigie_suites::suites::select(&in_folder(dir, spec), datasets) {
                Ok(selected) => selected,
                // Among a campaign's tasks, a suite whose every task needs
                // benchmark files not given is left out, said, like a suite's
                // own tasks are; it is an error only when nothing can run.
                Err(e @ vigie_suites::suites::SuiteError::NeedsDatasets { .. }) => {
                    notes.push(format!("skipping {spec}: {e}"));
                    continue;
                }
                Err(e) => return Err(task_error(spec, &e)),
            };
            notes.extend(selected.notes);
            groups.push((spec.clone(), selected.tasks, selected.from_suite));
            continue;
        };
        // Every built-in task that one of the framework's indicators reads.
        let wanted = |task: &Task| {
            framework
                .areas
                .iter()
                .flat_map(|a| &a.indicators)
                .any(|i| i.matches_task(&task.name))
        };
        let mut tasks = Vec::new();
        for suite in vigie_suites::suites::SUITES {
            match vigie_suites::suites::select(&format!("suite:{}", suite.name), datasets) {
                Ok(selected) => {
                    notes.extend(selected.notes);
                    tasks.extend(selected.tasks.into_iter().filter(|t| wanted(t)));
                }
                Err(e) => notes.push(format!("skipping suite:{}: {e}", suite.name)),
            }
        }
        groups.push((spec.clone(), tasks, true));
    }
    // One task named by two entries (two suites sharing it, or a suite and
    // the framework) runs once; two different tasks of one name cannot,
    // since a campaign names its logs by task.
    let mut seen: Vec<(String, String, String, String)> = Vec::new();
    for (spec, tasks, _) in &mut groups {
        let mut kept = Vec::new();
        for task in tasks.drain(..) {
            match seen.iter().find(|(name, ..)| *name == task.name) {
                Some((_, source, data, first))
                    if *source == task.source_sha256 && *data == task.dataset_sha256 =>
                {
                    notes.push(format!(
                        "{} ({}) is also in {first}: it runs once",
                        task.origin, task.name
                    ));
                }
                Some((_, _, _, first)) => {
                    return Err(CampaignError::Usage(format!(
                        "two different tasks are named `{}` ({first} and {spec}): a campaign names its logs by task, so each name must be one task",
                        task.name
                    )));
                }
                None => {
                    seen.push((
                        task.name.clone(),
                        task.source_sha256.clone(),
                        task.dataset_sha256.clone(),
                        spec.clone(),
                    ));
                    kept.push(task);
                }
            }
        }
        *tasks = kept;
    }
    let names: Vec<&str> = groups
        .iter()
        .flat_map(|(_, tasks, _)| tasks.iter().map(|t| t.name.as_str()))
        .collect();
    if names.is_empty() {
        return Err(CampaignError::Usage(format!(
            "none of the campaign's tasks can run here: {}",
            notes.join("; ")
        )));
    }
    Ok(Expanded { groups, notes })
}

/// The settings of one model's runs: `sample_shard` is the shard of a split
/// by sample (each run holds its part), `connections` this shard's share.
fn settings(
    campaign: &Campaign,
    model: &CampaignModel,
    sample_shard: Option<Shard>,
    connections: usize,
    sandbox: Option<&SandboxChoice>,
) -> Result<EvalSettings, CampaignError> {
    let epochs_reducer = campaign
        .epochs_reducer
        .as_deref()
        .map(Reducer::parse)
        .transpose()
        .map_err(|e| CampaignError::Usage(format!("epochs_reducer: {e}")))?;
    Ok(EvalSettings {
        model: model.name.clone(),
        base_url: model.base_url.clone(),
        judge_model: campaign.judge_model.as_ref().map(|m| m.name.clone()),
        judge_base_url: campaign
            .judge_model
            .as_ref()
            .and_then(|m| m.base_url.clone()),
        attacker_model: campaign.attacker_model.as_ref().map(|m| m.name.clone()),
        attacker_base_url: campaign
            .attacker_model
            .as_ref()
            .and_then(|m| m.base_url.clone()),
        generate: campaign.generate.clone(),
        limit: campaign.limit,
        sample_ids: Vec::new(),
        epochs: campaign.epochs,
        epochs_reducer,
        seed: campaign.seed,
        max_connections: connections,
        timeout_s: campaign.timeout_s,
        max_retries: campaign.max_retries,
        fail_on_error: campaign.fail_on_error,
        cache: false,
        max_cost: None,
        max_tokens_total: None,
        log_dir: PathBuf::new(),
        sandbox: sandbox.cloned(),
        shard: sample_shard,
    })
}

/// Plans this shard's part of the campaign in `dir` (every run without a
/// shard): which runs start, which resume, which are finished.
pub fn prepare(
    campaign: &Campaign,
    dir: &Path,
    shard: Option<Shard>,
    models: &dyn ModelSource,
    sandbox: Option<&SandboxChoice>,
) -> Result<Prepared, CampaignError> {
    let expanded = expand(campaign, dir)?;
    let mut notes = expanded.notes;
    let load_task = |header: &LogHeader| -> Result<Task, Box<dyn std::error::Error + Send + Sync>> {
        Ok(vigie_suites::suites::task_of(header)?)
    };
    let sample_shard = shard.filter(|_| campaign.split == Split::Sample);
    let mut runs = Vec::new();
    let mut position = 0usize;
    for model in &campaign.models {
        let settings = settings(
            campaign,
            model,
            sample_shard,
            connection_share(campaign, shard),
            sandbox,
        )?;
        for (_spec, tasks, from_suite) in &expanded.groups {
            let mut fresh = Vec::new();
            for task in tasks {
                // A split by task deals the runs out whole, in campaign order.
                let mine = match (campaign.split, shard) {
                    (Split::Task, Some(s)) => position % s.count as usize == s.index as usize,
                    _ => true,
                };
                position += 1;
                if !mine {
                    continue;
                }
                let log = log_path(dir, &model.name, &task.name, sample_shard);
                if !log.exists() {
                    fresh.push(task.clone());
                    continue;
                }
                let step = match plan::resume(
                    &log,
                    &load_task,
                    settings.max_connections,
                    engine::Limits::default(),
                    models,
                    sandbox,
                )? {
                    Resume::Finished { header, footer } => Step::Finished { header, footer },
                    Resume::Run(planned) => Step::Resume(planned),
                };
                runs.push(CampaignRun {
                    model: model.name.clone(),
                    task: task.name.clone(),
                    log,
                    step,
                });
            }
            if fresh.is_empty() {
                continue;
            }
            let planned = plan::plan(fresh, *from_suite, &settings, models)?;
            notes.extend(planned.notes);
            for mut run in planned.runs {
                let log = log_path(dir, &model.name, &run.task.name, sample_shard);
                run.log = LogPlace::At(log.clone());
                runs.push(CampaignRun {
                    model: model.name.clone(),
                    task: run.task.name.clone(),
                    log,
                    step: Step::Start(Box::new(run)),
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    Ok(Prepared { runs, notes })
}

/// How one run of the campaign ended.
pub struct RunEnd {
    /// The evaluated model.
    pub model: String,
    /// The task.
    pub task: String,
    /// Its log.
    pub log: PathBuf,
    /// Its header and footer, or why its log could not be written.
    pub result: Result<(LogHeader, LogFooter), EngineError>,
}

/// Runs every run of `prepared` at once (the finished ones are reported as
/// they are), each with the observer `observer_for` gives it, until all end
/// or `cancel` turns true. A run whose log cannot be written ends with its
/// error; the others go on.
pub async fn run(
    prepared: Prepared,
    observer_for: &(dyn Fn(&CampaignRun) -> Arc<dyn Observer> + Sync),
    cancel: watch::Receiver<bool>,
) -> Vec<RunEnd> {
    let mut ends: Vec<Option<RunEnd>> = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    for (slot, campaign_run) in prepared.runs.into_iter().enumerate() {
        ends.push(None);
        let observer = observer_for(&campaign_run);
        let CampaignRun {
            model,
            task,
            log,
            step,
        } = campaign_run;
        let planned = match step {
            Step::Finished { header, footer } => {
                ends[slot] = Some(RunEnd {
                    model,
                    task,
                    log,
                    result: Ok((*header, *footer)),
                });
                continue;
            }
            Step::Start(planned) | Step::Resume(planned) => planned,
        };
        let cancel = cancel.clone();
        running.spawn(async move {
            let result: Result<(LogHeader, LogFooter), EngineError> = async {
                let (run, _torn) = planned.start()?;
                let header = run.writer.header().clone();
                let footer = engine::run(run, observer, cancel).await?;
                Ok((header, footer))
            }
            .await;
            (
                slot,
                RunEnd {
                    model,
                    task,
                    log,
                    result,
                },
            )
        });
    }
    while let Some(joined) = running.join_next().await {
        if let Ok((slot, end)) = joined {
            ends[slot] = Some(end);
        }
    }
    ends.into_iter().flatten().collect()
}
