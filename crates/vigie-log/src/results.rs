//! The results of a log: counts, token usage, retries, metrics per scorer
//! (epochs reduced first), per group and per contrast, all computed from the
//! records that count. The run that writes a log and every reader of it (`log
//! show`, `score`, assessments, reports, a viewer) use this one code, so no
//! number is computed twice.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;
use vigie_core::Usage;

use crate::metrics::{bootstrap_ci, mean, Metric, Reducer, ScoreTable};
use crate::{
    Contrast, ContrastSpec, GroupMetrics, LogError, LogFooter, LogHeader, LogReader, RunStatus,
    SampleCounts, SampleRecord,
};

/// Totals over the records of a run, the last record of each (sample, epoch)
/// counting. Its settings (scorers and their metrics, the epoch reducer, the
/// seed, groups and contrasts) are the log header's.
#[derive(Debug, Clone)]
pub struct RunTally {
    scorers: Vec<(String, Vec<Metric>)>,
    scorer_index: HashMap<String, usize>,
    reducer: Reducer,
    seed: u64,
    latest: HashMap<(u32, String), Latest>,
    /// The scorers (by index) that could not decide, for the (epoch, id)
    /// whose counted record has any: few records, so a map of its own.
    unscored: HashMap<(u32, String), Vec<usize>>,
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
    cost_usd: Option<f64>,
    retries: u32,
}

impl RunTally {
    /// An empty tally for the run a header describes.
    pub fn new(header: &LogHeader) -> RunTally {
        let scorers: Vec<(String, Vec<Metric>)> = header
            .scorers
            .iter()
            .map(|s| (s.name.clone(), s.metrics.clone()))
            .collect();
        let scorer_index = scorers
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        RunTally {
            scorers,
            scorer_index,
            reducer: header.settings.epochs_reducer,
            seed: header.settings.seed,
            latest: HashMap::new(),
            unscored: HashMap::new(),
            errors: 0,
            table: ScoreTable::new(),
            group_by: header.task.group_by.clone(),
            groups: BTreeMap::new(),
            contrast: header.task.contrast.clone(),
            conditions: HashMap::new(),
            planned: header.planned_records,
        }
    }

    /// A tally of `records` (in file order: a later record for the same
    /// sample and epoch replaces an earlier one).
    pub fn of<'a>(
        header: &LogHeader,
        records: impl IntoIterator<Item = &'a SampleRecord>,
    ) -> RunTally {
        let mut tally = RunTally::new(header);
        for record in records {
            tally.add(record);
        }
        tally
    }

    /// Counts a record.
    pub fn add(&mut self, record: &SampleRecord) {
        let errored = record.error.is_some();
        let previous = self.latest.insert(
            (record.epoch, record.id.clone()),
            Latest {
                errored,
                usage: record.usage,
                cost_usd: record.cost_usd,
                retries: record.retries,
            },
        );
        if previous.is_some_and(|p| p.errored) {
            self.errors -= 1;
        }
        if errored {
            self.errors += 1;
        }
        let failed_scorers: Vec<usize> = record
            .score_errors
            .keys()
            .filter_map(|name| self.scorer_index.get(name).copied())
            .collect();
        if failed_scorers.is_empty() {
            if previous.is_some() {
                self.unscored.remove(&(record.epoch, record.id.clone()));
            }
        } else {
            self.unscored
                .insert((record.epoch, record.id.clone()), failed_scorers);
        }
        if let Some(c) = &self.contrast {
            let condition = group_value(record.metadata.get(&c.field));
            let pair = group_value(record.metadata.get(&c.pair));
            self.conditions.insert(record.index, (condition, pair));
        }
        // The last record of a (sample, epoch) is the one that counts: what
        // an earlier one added is taken back first.
        if previous.is_some() {
            self.table.forget(record.index, record.epoch);
            self.groups
                .values_mut()
                .for_each(|t| t.forget(record.index, record.epoch));
        }
        // A record that failed in a scorer keeps the other scorers'
        // verdicts, and they count (a judge that could not be read must not
        // erase what a deterministic check found); any other failure has
        // nothing to count.
        if !errored
            || record
                .error
                .as_ref()
                .is_some_and(|e| e.kind == crate::SampleErrorKind::Scorer)
        {
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

    /// Per scorer, the counted records on which it could not decide.
    pub fn unscored(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for scorers in self.unscored.values() {
            for &i in scorers {
                *out.entry(self.scorers[i].0.clone()).or_default() += 1;
            }
        }
        out
    }

    /// Token usage over the counted records.
    pub fn usage(&self) -> Usage {
        let mut total = Usage::default();
        for l in self.latest.values() {
            total.add(&l.usage);
        }
        total
    }

    /// What the counted records cost, when any has a cost.
    pub fn cost_usd(&self) -> Option<f64> {
        self.latest
            .values()
            .filter_map(|l| l.cost_usd)
            .fold(None, |sum, c| Some(sum.unwrap_or(0.0) + c))
    }

    /// Retries over the counted records.
    pub fn retries(&self) -> u64 {
        self.latest.values().map(|l| u64::from(l.retries)).sum()
    }

    /// The metrics of the successful records.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        self.table.metrics(&self.scorers, self.reducer, self.seed)
    }

    /// The metrics of each group, in the order of the group values; empty
    /// without `group_by`.
    pub fn groups(&self) -> Vec<GroupMetrics> {
        self.groups
            .iter()
            .map(|(group, table)| GroupMetrics {
                group: group.clone(),
                samples: table.samples(),
                metrics: table.metrics(&self.scorers, self.reducer, self.seed),
            })
            .collect()
    }

    /// Per scorer, the mean difference between the contrast's baseline and
    /// variant over the pairs where both scored, with a paired bootstrap
    /// interval; empty without a contrast.
    pub fn contrasts(&self) -> Vec<Contrast> {
        let Some(c) = &self.contrast else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, (name, _)) in self.scorers.iter().enumerate() {
            let mut sides: BTreeMap<&str, (Option<f64>, Option<f64>)> = BTreeMap::new();
            for (index, value) in self.table.reduced_by_sample(i, self.reducer) {
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
            let (low, high) = bootstrap_ci(&differences, self.seed, &format!("contrast/{name}"));
            out.push(Contrast {
                scorer: name.clone(),
                pairs: pairs.len(),
                baseline_mean: mean(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
                variant_mean: mean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
                difference: mean(&differences),
                ci95_low: low,
                ci95_high: high,
            });
        }
        out
    }

    /// pass@1 and pass@k per 0/1 scorer, for a run of several epochs.
    pub fn pass_at_k(&self) -> Vec<crate::metrics::PassAtK> {
        self.table.pass_at_k(&self.scorers, self.seed)
    }

    /// The footer these results make, for a run that ended with `status`.
    pub fn footer(
        &self,
        status: RunStatus,
        error: Option<String>,
        finished_at: String,
        duration_s: f64,
    ) -> LogFooter {
        LogFooter {
            status,
            finished_at,
            duration_s,
            samples: self.counts(),
            metrics: self.metrics(),
            groups: self.groups(),
            contrasts: self.contrasts(),
            pass_at_k: self.pass_at_k(),
            usage: self.usage(),
            cost_usd: self.cost_usd(),
            retries: self.retries(),
            unscored: self.unscored(),
            error,
        }
    }
}

/// A metadata value as a group name: strings as they are, other values as
/// JSON, `(none)` for a missing or null value.
pub fn group_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(value) => value_text(value),
    }
}

/// A metadata value as text: a string as it is, anything else as JSON.
pub fn value_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

/// A log's header and results: its footer, or, for a run without one (still
/// going, or killed), the results of the records written so far.
#[derive(Debug, Clone)]
pub struct LogResults {
    /// What ran.
    pub header: LogHeader,
    /// The footer, or the results so far (status `started`, no finish time).
    pub footer: LogFooter,
    /// Whether the log has a footer.
    pub finished: bool,
}

impl LogResults {
    /// Reads a log's results. `records` are its records when the caller has
    /// already read them (they are only read for a log without a footer).
    pub fn read(path: &Path, records: Option<&[SampleRecord]>) -> Result<LogResults, LogError> {
        let mut reader = LogReader::open(path)?;
        let header = reader.header()?;
        if let Some(footer) = reader.footer()? {
            return Ok(LogResults {
                header,
                footer,
                finished: true,
            });
        }
        let owned;
        let records = match records {
            Some(records) => records,
            None => {
                owned = reader.samples()?.collect::<Result<Vec<_>, _>>()?;
                &owned
            }
        };
        let footer =
            RunTally::of(&header, records).footer(RunStatus::Started, None, String::new(), 0.0);
        Ok(LogResults {
            header,
            footer,
            finished: false,
        })
    }

    /// How the run stands, in words ([`status_word`]).
    pub fn status_word(&self) -> &'static str {
        status_word(self.finished.then_some(&self.footer))
    }
}

/// How a run stands, in words, from its footer (`None`: no footer yet, the
/// run is going or was killed): the footer's status, except that a run that
/// wrote every record but has failed samples is not called a success.
pub fn status_word(footer: Option<&LogFooter>) -> &'static str {
    match footer {
        None => "incomplete",
        Some(f) if f.status == RunStatus::Started => "incomplete",
        Some(f) if f.status == RunStatus::Success && f.samples.errors > 0 => {
            "completed with failures"
        }
        Some(f) => f.status.as_str(),
    }
}

/// Per scorer, each sample's score over its scored epochs, reduced as the
/// run reduced them; records in file order (the last per sample and epoch
/// counts). A record that failed in a scorer keeps the other scorers' values;
/// other failed records have none.
pub fn per_sample_scores(
    header: &LogHeader,
    records: &[SampleRecord],
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut values: BTreeMap<String, BTreeMap<String, Vec<(u32, f64)>>> = BTreeMap::new();
    for record in crate::records_that_count(records.iter().cloned()) {
        for (scorer, score) in &record.scores {
            values
                .entry(scorer.clone())
                .or_default()
                .entry(record.id.clone())
                .or_default()
                .push((record.epoch, score.value));
        }
    }
    let reducer = header.settings.epochs_reducer;
    values
        .into_iter()
        .map(|(scorer, samples)| {
            let reduced = samples
                .into_iter()
                .map(|(id, mut epochs)| {
                    epochs.sort_by_key(|(epoch, _)| *epoch);
                    let values: Vec<f64> = epochs.into_iter().map(|(_, v)| v).collect();
                    (id, reducer.reduce(&values))
                })
                .collect();
            (scorer, reduced)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures, SampleError, SampleErrorKind, Score};

    #[test]
    fn a_scorer_failure_keeps_the_other_verdicts_and_a_later_record_replaces_them() {
        let mut header = fixtures::header("t", "m", "check", 2);
        header.scorers.push(crate::ScorerRef {
            name: "account".into(),
            metrics: vec![crate::metrics::Metric::Mean],
            judge: None,
        });
        let mut failed = fixtures::record("a", 0, "check", 1.0, "in", "out");
        failed.error = Some(SampleError {
            kind: SampleErrorKind::Scorer,
            message: "scorer `account`: no grade".into(),
        });
        let other = fixtures::record("b", 1, "check", 0.0, "in", "out");
        let tally = RunTally::of(&header, [&failed, &other]);
        assert_eq!(tally.counts().errors, 1);
        assert_eq!(tally.metrics()["check/mean"], 0.5, "a's check counts");
        assert!(!tally.metrics().contains_key("account/mean"));

        // A server failure has nothing to count.
        let mut down = failed.clone();
        down.error.as_mut().unwrap().kind = SampleErrorKind::Server;
        assert_eq!(
            RunTally::of(&header, [&down, &other]).metrics()["check/mean"],
            0.0
        );

        // The resumed record of a replaces the failed one's verdicts.
        let mut again = fixtures::record("a", 0, "check", 0.0, "in", "out");
        again.scores.insert("account".into(), Score::of(1.0));
        let tally = RunTally::of(&header, [&failed, &other, &again]);
        assert_eq!(tally.counts().errors, 0);
        assert_eq!(tally.metrics()["check/mean"], 0.0, "not 1 and 0 for a");
        assert_eq!(tally.metrics()["account/mean"], 1.0);
    }

    #[test]
    fn a_scorer_that_could_not_decide_fails_only_itself() {
        let mut header = fixtures::header("t", "m", "refused", 2);
        header.scorers.push(crate::ScorerRef {
            name: "judge".into(),
            metrics: vec![crate::metrics::Metric::Mean],
            judge: None,
        });
        let mut unread = fixtures::record("a", 0, "refused", 1.0, "in", "out");
        unread
            .score_errors
            .insert("judge".into(), "no `#refused:` line: fine".into());
        let mut judged = fixtures::record("b", 1, "refused", 0.0, "in", "out");
        judged.scores.insert("judge".into(), Score::of(0.25));
        let tally = RunTally::of(&header, [&unread, &judged]);
        assert_eq!(tally.counts().errors, 0, "no sample failed");
        assert_eq!(tally.metrics()["refused/mean"], 0.5, "both refusals count");
        assert_eq!(tally.metrics()["judge/mean"], 0.25, "over the one it read");
        assert_eq!(tally.unscored(), [("judge".to_string(), 1)].into());
        assert!(
            tally.is_done(1, "a"),
            "resuming does not ask the model again"
        );
        // Decided later, it no longer counts as unscored.
        let mut decided = unread.clone();
        decided.score_errors.clear();
        decided.scores.insert("judge".into(), Score::of(0.75));
        let tally = RunTally::of(&header, [&unread, &judged, &decided]);
        assert!(tally.unscored().is_empty());
        assert_eq!(tally.metrics()["judge/mean"], 0.5);
    }
}
