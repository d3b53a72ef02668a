//! The run loop: samples × epochs through the solver chain and the scorers,
//! at most `max_in_flight` at a time, each finished record appended to the
//! log before anything else happens to it. A record is the unit of progress:
//! a resumed run redoes exactly the (sample, epoch) pairs that have no
//! successful record, and the last record for a pair is the one that counts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use vigie_core::{GenerateConfig, ModelApi, Usage};
use vigie_log::{
    Contrast, ContrastSpec, GroupMetrics, LogError, LogFooter, LogWriter, RunStatus, SampleCounts,
    SampleError, SampleRecord, ScorerRef,
};

use crate::metrics::{Metric, Reducer, ScoreTable};
use crate::scorer::ScoreInput;
use crate::solver::{SolveContext, TaskState};
use crate::{Sample, Task};

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Times each sample runs.
    pub epochs: u32,
    /// How epochs reduce to one score per sample.
    pub reducer: Reducer,
    /// Seed for shuffles and the bootstrap.
    pub seed: u64,
    /// Generation settings (task merged with the command line).
    pub generate: GenerateConfig,
    /// Samples worked on at once.
    pub max_in_flight: usize,
    /// Errored records that stop the run: a fraction of the planned records
    /// when below 1, a count otherwise.
    pub fail_on_error: Option<f64>,
}

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

/// Totals over the records of a run, the last record of each (sample, epoch) counting.
#[derive(Debug, Clone)]
pub struct RunTally {
    scorers: Vec<(String, Vec<Metric>)>,
    scorer_index: HashMap<String, usize>,
    latest: HashMap<(u32, String), Latest>,
    /// Kept as records come, so checking `--fail-on-error` after each record stays O(1).
    errors: usize,
    table: ScoreTable,
    /// The metadata field that splits the scores into groups, and each group's table.
    group_by: Option<String>,
    groups: BTreeMap<String, ScoreTable>,
    /// The contrast to compute, and each sample's (condition, pair) by position.
    contrast: Option<ContrastSpec>,
    conditions: HashMap<usize, (String, String)>,
    planned: usize,
}

#[derive(Debug, Clone, Copy)]
struct Latest {
    errored: bool,
    usage: Usage,
    retries: u32,
}

impl RunTally {
    /// An empty tally for these scorers (as the log header lists them),
    /// splitting the scores by the metadata field `group_by` and comparing
    /// the two conditions of `contrast` when given.
    pub fn new(
        scorers: &[ScorerRef],
        planned: usize,
        group_by: Option<&str>,
        contrast: Option<&ContrastSpec>,
    ) -> RunTally {
        let scorers: Vec<(String, Vec<Metric>)> = scorers
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.metrics
                        .iter()
                        .filter_map(|m| Metric::parse(m).ok())
                        .collect(),
                )
            })
            .collect();
        let scorer_index = scorers
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        RunTally {
            scorers,
            scorer_index,
            latest: HashMap::new(),
            errors: 0,
            table: ScoreTable::new(),
            group_by: group_by.map(str::to_string),
            groups: BTreeMap::new(),
            contrast: contrast.cloned(),
            conditions: HashMap::new(),
            planned,
        }
    }

    /// Counts a record.
    pub fn add(&mut self, record: &SampleRecord) {
        let errored = record.error.is_some();
        let previous = self.latest.insert(
            (record.epoch, record.id.clone()),
            Latest {
                errored,
                usage: record.usage,
                retries: record.retries,
            },
        );
        if previous.is_some_and(|p| p.errored) {
            self.errors -= 1;
        }
        if errored {
            self.errors += 1;
        }
        if let Some(c) = &self.contrast {
            let condition = group_value(record.metadata.get(&c.field));
            let pair = group_value(record.metadata.get(&c.pair));
            self.conditions.insert(record.index, (condition, pair));
        }
        if !errored {
            let mut group = self.group_by.as_deref().map(|field| {
                let key = group_value(record.metadata.get(field));
                self.groups.entry(key).or_default()
            });
            for (name, score) in &record.scores {
                if let Some(&i) = self.scorer_index.get(name) {
                    self.table.add(record.index, record.epoch, i, score.value);
                    if let Some(table) = group.as_deref_mut() {
                        table.add(record.index, record.epoch, i, score.value);
                    }
                }
            }
        }
    }

    /// Whether (epoch, id) already has a successful record.
    pub fn is_done(&self, epoch: u32, id: &str) -> bool {
        self.latest
            .get(&(epoch, id.to_string()))
            .is_some_and(|l| !l.errored)
    }

    /// Record counts.
    pub fn counts(&self) -> SampleCounts {
        SampleCounts {
            total: self.planned,
            completed: self.latest.len(),
            errors: self.errors,
        }
    }

    /// Token usage over the counted records.
    pub fn usage(&self) -> Usage {
        let mut total = Usage::default();
        for l in self.latest.values() {
            total.add(&l.usage);
        }
        total
    }

    /// Retries over the counted records.
    pub fn retries(&self) -> u64 {
        self.latest.values().map(|l| u64::from(l.retries)).sum()
    }

    /// The metrics of the successful records.
    pub fn metrics(&self, reducer: Reducer, seed: u64) -> BTreeMap<String, f64> {
        self.table.metrics(&self.scorers, reducer, seed)
    }

    /// The metrics of each group, in the order of the group values; empty
    /// without `group_by`.
    pub fn groups(&self, reducer: Reducer, seed: u64) -> Vec<GroupMetrics> {
        self.groups
            .iter()
            .map(|(group, table)| GroupMetrics {
                group: group.clone(),
                samples: table.samples(),
                metrics: table.metrics(&self.scorers, reducer, seed),
            })
            .collect()
    }

    /// Per scorer, the mean difference between the contrast's baseline and
    /// variant over the pairs where both scored, with a paired bootstrap
    /// interval; empty without a contrast.
    pub fn contrasts(&self, reducer: Reducer, seed: u64) -> Vec<Contrast> {
        let Some(c) = &self.contrast else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, (name, _)) in self.scorers.iter().enumerate() {
            let mut sides: BTreeMap<&str, (Option<f64>, Option<f64>)> = BTreeMap::new();
            for (index, value) in self.table.reduced_by_sample(i, reducer) {
                let Some((condition, pair)) = self.conditions.get(&index) else {
                    continue;
                };
                let entry = sides.entry(pair.as_str()).or_default();
                if *condition == c.baseline {
                    entry.0 = Some(value);
                } else if *condition == c.variant {
                    entry.1 = Some(value);
                }
            }
            let pairs: Vec<(f64, f64)> = sides
                .values()
                .filter_map(|(b, v)| Some(((*b)?, (*v)?)))
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let differences: Vec<f64> = pairs.iter().map(|(b, v)| b - v).collect();
            let (low, high) =
                crate::metrics::bootstrap_ci(&differences, seed, &format!("contrast/{name}"));
            out.push(Contrast {
                scorer: name.clone(),
                pairs: pairs.len(),
                baseline_mean: crate::metrics::mean(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
                variant_mean: crate::metrics::mean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
                difference: crate::metrics::mean(&differences),
                ci95_low: low,
                ci95_high: high,
            });
        }
        out
    }
}

/// A metadata value as a group name: strings as they are, other values as JSON.
fn group_value(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => "(none)".to_string(),
        Some(value) => crate::dataset::value_text(value),
    }
}

/// The scorers of a task as the log header records them.
pub fn scorer_refs(task: &Task) -> Vec<ScorerRef> {
    task.scorers
        .iter()
        .map(|s| ScorerRef {
            name: s.name.clone(),
            metrics: s.metrics.iter().map(|m| m.name().to_string()).collect(),
        })
        .collect()
}

/// Everything a run needs.
pub struct Run {
    /// The task.
    pub task: Arc<Task>,
    /// The samples to run, in run order (after `--limit` and `--sample-id`).
    pub samples: Vec<Sample>,
    /// Settings.
    pub config: RunConfig,
    /// The evaluated model.
    pub model: Arc<dyn ModelApi>,
    /// The judge of model-graded scorers.
    pub judge: Option<Arc<dyn ModelApi>>,
    /// The attacker of the `pair` solver.
    pub attacker: Option<Arc<dyn ModelApi>>,
    /// The log, positioned to append.
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
        config,
        model,
        judge,
        attacker,
        mut writer,
        existing,
    } = run;
    let started = Instant::now();
    let planned = samples.len() * config.epochs as usize;
    let mut tally = RunTally::new(
        &scorer_refs(&task),
        planned,
        task.group_by.as_deref(),
        task.contrast.as_ref(),
    );
    for record in &existing {
        tally.add(record);
    }
    let samples: Vec<Arc<Sample>> = samples.into_iter().map(Arc::new).collect();
    let pending = (1..=config.epochs)
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

    let stop_at = config.fail_on_error.map(|f| {
        if f < 1.0 {
            (f * planned as f64).floor() as usize + 1
        } else {
            f as usize
        }
    });
    let generate = Arc::new(config.generate.clone());
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
            seed: config.seed,
        })
        .collect();
    // A sample frees its slot the moment it finishes, before its record is
    // written, so writing the log never delays the next request.
    let (records_tx, mut records) = mpsc::unbounded_channel::<Result<SampleRecord, String>>();
    let spawner = tokio::spawn(spawn_jobs(jobs, config.max_in_flight.max(1), records_tx));
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
    let footer = LogFooter {
        status,
        finished_at: now_rfc3339(),
        duration_s: started.elapsed().as_secs_f64(),
        samples: tally.counts(),
        metrics: tally.metrics(config.reducer, config.seed),
        groups: tally.groups(config.reducer, config.seed),
        contrasts: tally.contrasts(config.reducer, config.seed),
        usage: tally.usage(),
        retries: tally.retries(),
        error: stop_reason,
    };
    writer.finish(&footer)?;
    Ok(footer)
}

/// The current time, RFC 3339 in UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
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
