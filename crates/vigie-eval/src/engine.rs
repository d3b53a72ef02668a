//! The run loop: samples × epochs through the solver chain and the scorers,
//! at most `max_in_flight` at a time, each finished record appended to the
//! log before anything else happens to it. A record is the unit of progress:
//! a resumed run redoes exactly the (sample, epoch) pairs that have no
//! successful record, and the last record for a pair is the one that counts.
//!
//! Re-scoring a finished log ([`rescore`]) goes through the same runner and
//! writer loop with a scoring-only job, and labelling prompt-response pairs
//! (`crate::pairs`) through the same bounded runner ([`in_flight`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use vigie_core::{GenerateConfig, ModelApi, Price};
use vigie_log::results::RunTally;
use vigie_log::{
    LogError, LogFooter, LogWriter, RunStatus, SampleError, SampleErrorKind, SampleRecord, Score,
    ScorerRef,
};

use crate::scorer::{ScoreInput, Scorer};
use crate::solver::{SolveContext, TaskState};
use crate::template::Templates;
use crate::{Sample, Task};

/// Hears about a run as it goes, to show progress.
pub trait Observer: Send + Sync {
    /// Before the first sample: planned records, and how many a previous session already finished.
    fn on_start(&self, planned: usize, already_done: usize);
    /// After each record is written.
    fn on_record(&self, record: &SampleRecord);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn on_start(&self, _: usize, _: usize) {}
    fn on_record(&self, _: &SampleRecord) {}
}

/// What stops a run as a whole (a sample's failure never does, by itself).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The log could not be written: results could no longer be kept.
    #[error("cannot write the log: {0}")]
    Log(#[from] LogError),
}

/// The scorers of a task as the log header records them.
pub fn scorer_refs(scorers: &[Scorer]) -> Vec<ScorerRef> {
    scorers
        .iter()
        .map(|s| ScorerRef {
            name: s.name.clone(),
            metrics: s.metrics.clone(),
            judge: s.judge_ref(),
        })
        .collect()
}

/// Everything a run needs.
pub struct Run {
    /// The task.
    pub task: Arc<Task>,
    /// The samples to run, in run order (after `--limit` and `--sample-id`).
    pub samples: Vec<Sample>,
    /// Samples worked on at once (this session's `--max-connections`; every
    /// other setting is the log header's).
    pub max_in_flight: usize,
    /// The evaluated model.
    pub model: Arc<dyn ModelApi>,
    /// The judge of model-graded scorers.
    pub judge: Option<Arc<dyn ModelApi>>,
    /// The attacker of the `pair` solver.
    pub attacker: Option<Arc<dyn ModelApi>>,
    /// The log, positioned to append; its header holds the run's settings.
    pub writer: LogWriter,
    /// Records a previous session of this run already wrote.
    pub existing: Vec<SampleRecord>,
    /// Spending past which no new sample is launched.
    pub limits: Limits,
    /// Where and how samples' sandboxes are made, for tasks that have one.
    pub sandbox: Option<Arc<crate::sandboxing::SandboxSetup>>,
}

/// Spending past which a run launches no new sample: every record ever
/// written counts, failed ones too (they were paid for).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// US dollars (`--max-cost`).
    pub max_cost: Option<f64>,
    /// Tokens of the evaluated model (`--max-tokens-total`).
    pub max_tokens_total: Option<u64>,
}

/// Runs the task to the end, to a stop, or to a cancel (`cancel` turning true),
/// and writes the footer. Already-written records are never rewritten.
pub async fn run(
    run: Run,
    observer: Arc<dyn Observer>,
    cancel: watch::Receiver<bool>,
) -> Result<LogFooter, EngineError> {
    let Run {
        task,
        samples,
        max_in_flight,
        model,
        judge,
        attacker,
        mut writer,
        existing,
        limits,
        sandbox,
    } = run;
    let started = Instant::now();
    let settings = writer.header().settings.clone();
    // A shard runs its own part of the pairs; the task's name, as the
    // header records it, is what the split hashes.
    let task_name = writer.header().task.name.clone();
    let planned = crate::plan::planned_pairs(&task_name, &samples, settings.epochs, settings.shard);
    let mut tally = RunTally::of(writer.header(), &existing);
    let samples: Vec<Arc<Sample>> = samples.into_iter().map(Arc::new).collect();
    let generate = Arc::new(settings.generate.clone());
    let price = model.adaptation(&settings.generate).price;
    // Derived flags come from the run id: new for every run, kept by a resume.
    let secret: Arc<str> = writer.header().run_id.as_str().into();
    let jobs: Vec<_> = (1..=settings.epochs)
        .flat_map(|epoch| {
            samples
                .iter()
                .enumerate()
                .map(move |(index, sample)| (epoch, index, sample.clone()))
        })
        .filter(|(epoch, _, sample)| {
            settings
                .shard
                .is_none_or(|shard| shard.holds(&task_name, &sample.id, *epoch))
                && !tally.is_done(*epoch, &sample.id)
        })
        .map(|(epoch, index, sample)| SampleJob {
            task: task.clone(),
            sample,
            index,
            epoch,
            model: model.clone(),
            judge: judge.clone(),
            attacker: attacker.clone(),
            generate: generate.clone(),
            seed: settings.seed,
            price,
            sandbox: sandbox.clone(),
            secret: secret.clone(),
        })
        .collect();
    observer.on_start(planned, planned - jobs.len());
    let stop_at = settings.fail_on_error.map(|f| {
        if f < 1.0 {
            (f * planned as f64).floor() as usize + 1
        } else {
            f as usize
        }
    });
    // Budgets count every record ever written, failed ones too: they were paid for.
    let budget = Arc::new(Budget {
        max_cost: limits.max_cost,
        max_tokens_total: limits.max_tokens_total,
        spent: std::sync::Mutex::new(Spent::default()),
        reached: std::sync::OnceLock::new(),
    });
    existing.iter().for_each(|r| budget.add(r));
    let stops = Stops {
        fail_at: stop_at,
        budget: Some(budget.clone()),
        guard_unsupported: true,
    };
    let start = move |job: SampleJob| {
        let budget = budget.clone();
        async move {
            // Past a budget, jobs not yet begun are not begun. A job counts
            // its spending before it frees its slot, so the next one sees it.
            if budget.reached.get().is_some() {
                return None;
            }
            let record = job.run().await;
            budget.add(&record);
            Some(record)
        }
    };
    let (status, stop_reason) = write_records(
        in_flight(jobs, max_in_flight, start),
        &mut writer,
        &mut tally,
        &*observer,
        cancel,
        stops,
    )
    .await?;
    finish(writer, &tally, (status, stop_reason), started)
}

/// What a run has spent on the evaluated model.
#[derive(Debug, Default, Clone, Copy)]
struct Spent {
    tokens: u64,
    cost_usd: f64,
}

/// The run's spending limits (`--max-cost`, `--max-tokens-total`) and what
/// has been spent, shared by the sample jobs.
struct Budget {
    max_cost: Option<f64>,
    max_tokens_total: Option<u64>,
    spent: std::sync::Mutex<Spent>,
    /// Why no new sample is launched, once a limit is reached.
    reached: std::sync::OnceLock<String>,
}

impl Budget {
    fn add(&self, record: &SampleRecord) {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        spent.tokens += record.usage.total_tokens;
        spent.cost_usd += record.cost_usd.unwrap_or(0.0);
        let reason = if let Some(limit) = self.max_cost.filter(|l| spent.cost_usd >= *l) {
            format!(
                "the evaluated model's tokens cost ${:.4}, reaching --max-cost ${limit}; no new sample was launched",
                spent.cost_usd
            )
        } else if let Some(limit) = self.max_tokens_total.filter(|l| spent.tokens >= *l) {
            format!(
                "the evaluated model used {} tokens, reaching --max-tokens-total {limit}; no new sample was launched",
                spent.tokens
            )
        } else {
            return;
        };
        let _ = self.reached.set(reason);
    }
}

/// What ends a run early, besides a cancel.
struct Stops {
    /// Failed records that stop the run (`--fail-on-error`).
    fail_at: Option<usize>,
    /// Spending limits, which stop new samples.
    budget: Option<Arc<Budget>>,
    /// Stop at once when the API refuses a setting before any sample has
    /// succeeded: every request like it would fail the same way.
    guard_unsupported: bool,
}

impl Stops {
    fn none() -> Stops {
        Stops {
            fail_at: None,
            budget: None,
            guard_unsupported: false,
        }
    }
}

/// A finished run's records scored again with other scorers.
pub struct Rescore {
    /// The records that count, in run order.
    pub records: Vec<SampleRecord>,
    /// The scorers to apply, in order; a record's earlier score of the same
    /// name is replaced.
    pub scorers: Vec<Scorer>,
    /// The templates the scorers render.
    pub templates: Arc<Templates>,
    /// The judge of model-graded scorers.
    pub judge: Option<Arc<dyn ModelApi>>,
    /// Judge requests in flight at once.
    pub max_in_flight: usize,
    /// The new log, whose header lists every scorer, old and new.
    pub writer: LogWriter,
    /// How the run being re-scored ended, and why, which the new log keeps.
    pub original: (RunStatus, Option<String>),
}

/// Writes the footer of a run that ended as `ended`, and its manifest.
fn finish(
    writer: LogWriter,
    tally: &RunTally,
    ended: (RunStatus, Option<String>),
    started: Instant,
) -> Result<LogFooter, EngineError> {
    let footer = tally.footer(
        ended.0,
        ended.1,
        vigie_log::now_rfc3339(),
        started.elapsed().as_secs_f64(),
    );
    writer.finish(&footer)?;
    Ok(footer)
}

/// Scores records again through the runner and writer loop of [`run`]: the
/// evaluated model is not called. A record whose generation failed is kept as
/// it is (it has nothing to score); one that failed only in a scorer is
/// scored afresh.
pub async fn rescore(
    rescore: Rescore,
    observer: Arc<dyn Observer>,
    cancel: watch::Receiver<bool>,
) -> Result<LogFooter, EngineError> {
    let Rescore {
        records,
        scorers,
        templates,
        judge,
        max_in_flight,
        mut writer,
        original,
    } = rescore;
    let started = Instant::now();
    let mut tally = RunTally::new(writer.header());
    let scorers = Arc::new(scorers);
    let jobs = records;
    let start = move |record: SampleRecord| {
        let (scorers, templates, judge) = (scorers.clone(), templates.clone(), judge.clone());
        async move { rescore_record(record, &scorers, &templates, judge.as_deref()).await }
    };
    observer.on_start(jobs.len(), 0);
    let (status, stop_reason) = write_records(
        in_flight(jobs, max_in_flight, move |record| {
            let start = start(record);
            async move { Some(start.await) }
        }),
        &mut writer,
        &mut tally,
        &*observer,
        cancel,
        Stops::none(),
    )
    .await?;
    let (status, stop_reason) = if status == RunStatus::Success {
        original
    } else {
        (status, stop_reason)
    };
    finish(writer, &tally, (status, stop_reason), started)
}

async fn rescore_record(
    mut record: SampleRecord,
    scorers: &[Scorer],
    templates: &Templates,
    judge: Option<&dyn ModelApi>,
) -> SampleRecord {
    if record
        .error
        .as_ref()
        .is_some_and(|e| e.kind != SampleErrorKind::Scorer)
    {
        return record;
    }
    let (scores, errors) =
        score_all(scorers, templates, ScoreInput::of_record(&record), judge).await;
    for scorer in scorers {
        record.scores.remove(&scorer.name);
        record.score_errors.remove(&scorer.name);
    }
    record.scores.extend(scores);
    record.score_errors.extend(errors);
    // A record of a log written before scorer failures were kept per scorer
    // failed as a whole in a scorer; scored again, it stands on its verdicts.
    if record
        .error
        .as_ref()
        .is_some_and(|e| e.kind == SampleErrorKind::Scorer)
    {
        record.error = None;
    }
    record
}

/// Every scorer's verdict on one finished conversation, and, for each that
/// could not decide, why. A scorer's failure is that scorer's alone: the
/// others' verdicts stand (a judge that cannot be read must not erase what
/// a deterministic check found), and the sample has not failed.
pub async fn score_all(
    scorers: &[Scorer],
    templates: &Templates,
    input: ScoreInput<'_>,
    judge: Option<&dyn ModelApi>,
) -> (BTreeMap<String, Score>, BTreeMap<String, String>) {
    let mut scores = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for scorer in scorers {
        // A scorer sees the verdicts before it (an account reads its state
        // check's), over those a logged record already had.
        let mut given = input.scores.clone();
        given.extend(
            scores
                .iter()
                .map(|(k, v): (&String, &Score)| (k.clone(), v.clone())),
        );
        let input = ScoreInput {
            scores: &given,
            ..input
        };
        match scorer.score(input, judge, templates).await {
            Ok(score) => {
                scores.insert(scorer.name.clone(), score);
            }
            Err(e) => {
                errors.insert(scorer.name.clone(), e.to_string());
            }
        }
    }
    (scores, errors)
}

/// Appends records as they come, until they run out, the user cancels, too
/// many have failed, or the API refuses a setting before any sample
/// succeeded; a budget stops new samples and lets those in flight finish.
/// Returns how the run ended and why.
async fn write_records(
    mut records: mpsc::UnboundedReceiver<Result<Option<SampleRecord>, String>>,
    writer: &mut LogWriter,
    tally: &mut RunTally,
    observer: &dyn Observer,
    mut cancel: watch::Receiver<bool>,
    stops: Stops,
) -> Result<(RunStatus, Option<String>), EngineError> {
    loop {
        tokio::select! {
            biased;
            changed = cancel.changed() => {
                if changed.is_ok() && *cancel.borrow() {
                    return Ok((RunStatus::Cancelled, Some("cancelled by the user".to_string())));
                }
            }
            received = records.recv() => {
                let record = match received {
                    None => return Ok(match stops.budget.as_ref().and_then(|b| b.reached.get()) {
                        Some(reason) => (RunStatus::Stopped, Some(reason.clone())),
                        None => (RunStatus::Success, None),
                    }),
                    Some(Ok(Some(record))) => record,
                    // Not begun: a budget was reached.
                    Some(Ok(None)) => continue,
                    // A panic in a solver or scorer is a bug; stop rather than guess.
                    Some(Err(panic)) => {
                        return Ok((RunStatus::Error, Some(format!("internal error in a sample task: {panic}"))));
                    }
                };
                writer.append_sample(&record)?;
                tally.add(&record);
                observer.on_record(&record);
                let counts = tally.counts();
                if let Some(error) = record.error.as_ref().filter(|e| {
                    stops.guard_unsupported
                        && e.kind == SampleErrorKind::Unsupported
                        && counts.completed == counts.errors
                }) {
                    return Ok((RunStatus::Error, Some(format!(
                        "the model's API refused the request itself ({}); every sample would fail the same way, so the run stopped. Change the setting it names with -M KEY=VALUE (KEY=none leaves it out), or describe the model in a profile of your own (--profiles; docs/models.md)",
                        error.message
                    ))));
                }
                if stops.fail_at.is_some_and(|limit| counts.errors >= limit) {
                    let last = record.error.as_ref().map_or("", |e| e.message.as_str());
                    return Ok((RunStatus::Error, Some(format!(
                        "{} samples failed, reaching the --fail-on-error limit; the last error: {last}",
                        counts.errors
                    ))));
                }
            }
        }
    }
}

/// Runs `start(job)` for each of `jobs` on the runtime, at most `max_in_flight` at a time, and sends
/// each one's output (or its panic) as it finishes. A job frees its slot
/// before its output is handled, so writing a log never delays the next
/// request. Dropping the receiver abandons the jobs still running.
pub fn in_flight<J, F, T>(
    jobs: Vec<J>,
    max_in_flight: usize,
    start: impl Fn(J) -> F + Send + Sync + 'static,
) -> mpsc::UnboundedReceiver<Result<T, String>>
where
    J: Send + 'static,
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (outputs, receiver) = mpsc::unbounded_channel();
    let start = Arc::new(start);
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
        let mut running = JoinSet::new();
        for job in jobs {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                () = outputs.closed() => return,
            };
            let (sender, start) = (outputs.clone(), start.clone());
            // The job's future is made inside its task: a run of many
            // samples holds small job descriptions, and no future is moved.
            running.spawn(async move {
                let output = start(job).await;
                // Sent (to an unbounded channel: at once) before the slot is
                // freed, so that one job at a time arrives in job order.
                let _ = sender.send(Ok(output));
                drop(slot);
            });
            while let Some(done) = running.try_join_next() {
                report_panic(done, &outputs);
            }
        }
        loop {
            tokio::select! {
                done = running.join_next() => match done {
                    Some(done) => report_panic(done, &outputs),
                    None => return,
                },
                // Nobody is listening any more (a cancelled run): dropping
                // `running` aborts the jobs still in flight.
                () = outputs.closed() => return,
            }
        }
    });
    receiver
}

fn report_panic<T>(
    done: Result<(), tokio::task::JoinError>,
    outputs: &mpsc::UnboundedSender<Result<T, String>>,
) {
    if let Err(e) = done {
        if e.is_panic() {
            let _ = outputs.send(Err(e.to_string()));
        }
    }
}

struct SampleJob {
    task: Arc<Task>,
    sample: Arc<Sample>,
    index: usize,
    epoch: u32,
    model: Arc<dyn ModelApi>,
    judge: Option<Arc<dyn ModelApi>>,
    attacker: Option<Arc<dyn ModelApi>>,
    generate: Arc<GenerateConfig>,
    seed: u64,
    /// The evaluated model's price, for each record's cost.
    price: Option<Price>,
    sandbox: Option<Arc<crate::sandboxing::SandboxSetup>>,
    secret: Arc<str>,
}

impl SampleJob {
    async fn run(self) -> SampleRecord {
        let started = Instant::now();
        let task = &self.task;
        let mut state = TaskState::new(&self.sample, self.epoch);
        let flag = task
            .sandbox
            .as_ref()
            .filter(|p| p.derived_flag)
            .map(|_| crate::sandboxing::derived_flag(&self.secret, &self.sample.id));
        if let Some(flag) = &flag {
            state.target = vec![flag.clone()];
        }
        // The sandbox lives until the scorers are done, and is removed
        // however the sample ends (dropped, if the run is cancelled).
        let sandbox = match (&task.sandbox, &self.sandbox) {
            (None, _) => Ok(None),
            (Some(plan), Some(setup)) => crate::sandboxing::prepare(
                plan,
                setup,
                (task.base_dir.as_deref(), task.sample_files_dir.as_deref()),
                &self.sample,
                flag.as_deref(),
            )
            .await
            .map(Some),
            (Some(_), None) => Err(crate::solver::SolveError {
                kind: SampleErrorKind::Sandbox,
                message: "the task works in a sandbox, and this run has none".into(),
            }),
        };
        let mut error = None;
        match &sandbox {
            Err(e) => {
                error = Some(SampleError {
                    kind: e.kind,
                    message: e.message.clone(),
                })
            }
            Ok(sandbox) => {
                let ctx = SolveContext {
                    model: &*self.model,
                    attacker: self.attacker.as_deref(),
                    generate: &self.generate,
                    seed: self.seed,
                    templates: &task.templates,
                    sandbox: sandbox.as_ref(),
                    scorers: &task.scorers,
                    judge: self.judge.as_deref(),
                    rootfs_label: task.sandbox.as_ref().and_then(|p| p.rootfs.as_deref()),
                };
                for solver in &task.solvers {
                    if let Err(e) = solver.apply(&mut state, &ctx).await {
                        error = Some(SampleError {
                            kind: e.kind,
                            message: e.message,
                        });
                        break;
                    }
                }
            }
        }
        let mut scores = BTreeMap::new();
        let mut score_errors = BTreeMap::new();
        if error.is_none() {
            let input = ScoreInput {
                input: &self.sample.input,
                output: &state.output,
                target: &state.target,
                choices: &state.choices,
                choice_loglikelihoods: &state.choice_loglikelihoods,
                metadata: &self.sample.metadata,
                messages: &state.messages,
                scores: &crate::scorer::NO_SCORES,
                sandbox: sandbox.as_ref().ok().and_then(Option::as_ref),
            };
            (scores, score_errors) =
                score_all(&task.scorers, &task.templates, input, self.judge.as_deref()).await;
        }
        if let Ok(Some(sandbox)) = sandbox {
            let _ = sandbox.sandbox.destroy();
        }
        SampleRecord {
            agent: state.agent,
            id: self.sample.id.clone(),
            epoch: self.epoch,
            index: self.index,
            input: self.sample.input.clone(),
            target: state.target,
            choices: state.choices,
            metadata: self.sample.metadata.clone(),
            messages: state.messages,
            output: state.output,
            choice_loglikelihoods: state.choice_loglikelihoods,
            scores,
            usage: state.usage,
            retries: state.retries,
            cache_hits: state.cache_hits,
            time_s: started.elapsed().as_secs_f64(),
            error,
            score_errors,
            cost_usd: self.price.map(|p| p.cost(&state.usage)),
        }
    }
}

#[cfg(test)]
mod tests;
