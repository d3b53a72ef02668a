//! The run loop: samples × epochs through the solver chain and the scorers,
//! at most `max_in_flight` at a time, each finished record appended to the
//! log before anything else happens to it. A record is the unit of progress:
//! a resumed run redoes exactly the (sample, epoch) pairs that have no
//! successful record, and the last record for a pair is the one that counts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use vigie_core::{GenerateConfig, ModelApi};
use vigie_log::results::RunTally;
use vigie_log::{LogError, LogFooter, LogWriter, RunStatus, SampleError, SampleRecord, ScorerRef};

use crate::scorer::ScoreInput;
use crate::solver::{SolveContext, TaskState};
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
pub fn scorer_refs(task: &Task) -> Vec<ScorerRef> {
    task.scorers
        .iter()
        .map(|s| ScorerRef {
            name: s.name.clone(),
            metrics: s.metrics.clone(),
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
}

/// Runs the task to the end, to a stop, or to a cancel (`cancel` turning true),
/// and writes the footer. Already-written records are never rewritten.
pub async fn run(
    run: Run,
    observer: Arc<dyn Observer>,
    mut cancel: watch::Receiver<bool>,
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
    } = run;
    let started = Instant::now();
    let settings = writer.header().settings.clone();
    let planned = samples.len() * settings.epochs as usize;
    let mut tally = RunTally::of(writer.header(), &existing);
    let samples: Vec<Arc<Sample>> = samples.into_iter().map(Arc::new).collect();
    let pending = (1..=settings.epochs)
        .flat_map(|epoch| {
            samples
                .iter()
                .enumerate()
                .map(move |(index, sample)| (epoch, index, sample.clone()))
        })
        .filter(|(epoch, _, sample)| !tally.is_done(*epoch, &sample.id))
        .collect::<Vec<_>>()
        .into_iter();
    let already_done = planned - pending.len();
    observer.on_start(planned, already_done);

    let stop_at = settings.fail_on_error.map(|f| {
        if f < 1.0 {
            (f * planned as f64).floor() as usize + 1
        } else {
            f as usize
        }
    });
    let generate = Arc::new(settings.generate.clone());
    let jobs: Vec<SampleJob> = pending
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
        })
        .collect();
    // A sample frees its slot the moment it finishes, before its record is
    // written, so writing the log never delays the next request.
    let (records_tx, mut records) = mpsc::unbounded_channel::<Result<SampleRecord, String>>();
    let spawner = tokio::spawn(spawn_jobs(jobs, max_in_flight.max(1), records_tx));
    let mut status = RunStatus::Success;
    let mut stop_reason = None;
    loop {
        tokio::select! {
            biased;
            changed = cancel.changed() => {
                if changed.is_ok() && *cancel.borrow() {
                    status = RunStatus::Cancelled;
                    stop_reason = Some("cancelled by the user".to_string());
                    break;
                }
            }
            received = records.recv() => {
                let record = match received {
                    None => break,
                    Some(Ok(record)) => record,
                    // A panic in a solver or scorer is a bug; stop rather than guess.
                    Some(Err(panic)) => {
                        status = RunStatus::Error;
                        stop_reason = Some(format!("internal error in a sample task: {panic}"));
                        break;
                    }
                };
                writer.append_sample(&record)?;
                tally.add(&record);
                observer.on_record(&record);
                let errors = tally.counts().errors;
                if stop_at.is_some_and(|limit| errors >= limit) {
                    status = RunStatus::Error;
                    stop_reason = Some(format!("{errors} samples failed, reaching the --fail-on-error limit; the last error: {}",
                        record.error.as_ref().map_or("", |e| e.message.as_str())));
                    break;
                }
            }
        }
    }
    // Dropping the spawner's task set aborts the samples still in flight.
    spawner.abort();
    let footer = tally.footer(
        status,
        stop_reason,
        vigie_log::now_rfc3339(),
        started.elapsed().as_secs_f64(),
    );
    writer.finish(&footer)?;
    Ok(footer)
}

/// Starts the jobs, at most `max_in_flight` at a time, each sending its
/// record (or its panic) on `records` when done.
async fn spawn_jobs(
    jobs: Vec<SampleJob>,
    max_in_flight: usize,
    records: mpsc::UnboundedSender<Result<SampleRecord, String>>,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let mut running = JoinSet::new();
    for job in jobs {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let sender = records.clone();
        running.spawn(async move {
            let record = job.run().await;
            drop(slot);
            let _ = sender.send(Ok(record));
        });
        while let Some(done) = running.try_join_next() {
            report_panic(done, &records);
        }
    }
    while let Some(done) = running.join_next().await {
        report_panic(done, &records);
    }
}

fn report_panic(
    done: Result<(), tokio::task::JoinError>,
    records: &mpsc::UnboundedSender<Result<SampleRecord, String>>,
) {
    if let Err(e) = done {
        if e.is_panic() {
            let _ = records.send(Err(e.to_string()));
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
}

impl SampleJob {
    async fn run(self) -> SampleRecord {
        let started = Instant::now();
        let task = &self.task;
        let mut state = TaskState::new(&self.sample, self.epoch);
        let ctx = SolveContext {
            model: &*self.model,
            attacker: self.attacker.as_deref(),
            generate: &self.generate,
            seed: self.seed,
            templates: &task.templates,
        };
        let mut error = None;
        for solver in &task.solvers {
            if let Err(e) = solver.apply(&mut state, &ctx).await {
                error = Some(SampleError {
                    kind: e.kind,
                    message: e.message,
                });
                break;
            }
        }
        let mut scores = BTreeMap::new();
        if error.is_none() {
            let input = ScoreInput {
                input: &self.sample.input,
                output: &state.output,
                target: &state.target,
                choices: &state.choices,
                metadata: &self.sample.metadata,
            };
            for scorer in &task.scorers {
                match scorer
                    .score(input, self.judge.as_deref(), &task.templates)
                    .await
                {
                    Ok(score) => {
                        scores.insert(scorer.name.clone(), score);
                    }
                    Err(e) => {
                        error.get_or_insert(SampleError {
                            kind: "scorer".into(),
                            message: format!("scorer `{}`: {e}", scorer.name),
                        });
                    }
                }
            }
        }
        SampleRecord {
            id: self.sample.id.clone(),
            epoch: self.epoch,
            index: self.index,
            input: self.sample.input.clone(),
            target: state.target,
            choices: state.choices,
            metadata: self.sample.metadata.clone(),
            messages: state.messages,
            output: state.output,
            scores,
            usage: state.usage,
            retries: state.retries,
            cache_hits: state.cache_hits,
            time_s: started.elapsed().as_secs_f64(),
            error,
        }
    }
}
