//! Metrics over scores: epoch reducers, accuracy and mean, the standard
//! error, and a seeded percentile-bootstrap 95% interval. Every number a log
//! reports is computed here, for the run that writes it and for every reader.

use std::collections::BTreeMap;

/// A name that is not a metric or a reducer (in a task file, on the
/// command line or in a log): never replaced by a default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (expected {expected})")]
pub struct UnknownName {
    /// `metric` or `reducer`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names that exist.
    pub expected: &'static str,
}

/// A metric a scorer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Mean of 0/1 scores (`<scorer>/accuracy`).
    Accuracy,
    /// Mean of the scores (`<scorer>/mean`).
    Mean,
    /// Standard error of the mean (`<scorer>/stderr`).
    Stderr,
    /// Percentile-bootstrap 95% interval of the mean (`<scorer>/ci95_low`, `<scorer>/ci95_high`).
    BootstrapCi,
}

impl Metric {
    /// Every metric, in the order task files list them.
    pub const ALL: [Metric; 4] = [
        Metric::Accuracy,
        Metric::Mean,
        Metric::Stderr,
        Metric::BootstrapCi,
    ];

    /// Parses a metric name as task files and logs spell it.
    pub fn parse(name: &str) -> Result<Metric, UnknownName> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| UnknownName {
                what: "metric",
                name: name.to_string(),
                expected: "accuracy, mean, stderr or bootstrap_ci",
            })
    }

    /// The name as task files and logs spell it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Mean => "mean",
            Metric::Stderr => "stderr",
            Metric::BootstrapCi => "bootstrap_ci",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the scores of one sample's epochs become one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reducer {
    /// Their mean.
    Mean,
    /// The most frequent value (the earliest epoch's, on a tie).
    Mode,
    /// The highest.
    Max,
    /// 1 when at least k epochs scored 1, else 0.
    AtLeast(u32),
}

impl Reducer {
    /// Parses `mean`, `mode`, `max` or `at_least_<k>`.
    pub fn parse(name: &str) -> Result<Reducer, UnknownName> {
        match name {
            "mean" => Ok(Reducer::Mean),
            "mode" => Ok(Reducer::Mode),
            "max" => Ok(Reducer::Max),
            _ => match name.strip_prefix("at_least_").map(str::parse::<u32>) {
                Some(Ok(k)) if k >= 1 => Ok(Reducer::AtLeast(k)),
                _ => Err(UnknownName {
                    what: "reducer",
                    name: name.to_string(),
                    expected: "mean, mode, max or at_least_<k> with k ≥ 1",
                }),
            },
        }
    }

    /// The name as task files and logs spell it.
    pub fn name(self) -> String {
        match self {
            Reducer::Mean => "mean".into(),
            Reducer::Mode => "mode".into(),
            Reducer::Max => "max".into(),
            Reducer::AtLeast(k) => format!("at_least_{k}"),
        }
    }

    /// Reduces one sample's epoch scores (in epoch order; never empty).
    pub fn reduce(self, values: &[f64]) -> f64 {
        match self {
            Reducer::Mean => mean(values),
            Reducer::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Reducer::Mode => {
                let mut best = (0usize, values[0]);
                for &v in values {
                    let count = values.iter().filter(|&&w| w == v).count();
                    if count > best.0 {
                        best = (count, v);
                    }
                }
                best.1
            }
            Reducer::AtLeast(k) => {
                let correct = values.iter().filter(|&&v| v >= 1.0 - 1e-9).count();
                if correct >= k as usize {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The mean (0 for no values).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Standard error of the mean, from the sample standard deviation (n − 1).
pub fn stderr(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(values);
    let variance = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (variance / n as f64).sqrt()
}

/// Resamples in the bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// Distinct values up to which the bootstrap draws counts per value
/// (a multinomial) instead of n single values: the same distribution of
/// resampled means, at a cost independent of n for the usual 0/1 scores.
const FEW_DISTINCT: usize = 16;

/// Percentile-bootstrap 95% interval of the mean, seeded. Percentiles
/// interpolate linearly between order statistics (numpy's default).
pub fn bootstrap_ci(values: &[f64], seed: u64, label: &str) -> (f64, f64) {
    use rand::Rng;
    use rand_distr::{Binomial, Distribution};
    let n = values.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut rng = crate::rng::seeded(seed, label);
    let mut distinct: Vec<(f64, u64)> = Vec::new();
    for &v in values {
        if let Some((_, count)) = distinct.iter_mut().find(|(d, _)| *d == v) {
            *count += 1;
            continue;
        }
        distinct.push((v, 1));
        if distinct.len() > FEW_DISTINCT {
            break;
        }
    }
    let resample_mean = |rng: &mut rand_chacha::ChaCha8Rng| -> f64 {
        if distinct.len() > FEW_DISTINCT {
            return (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64;
        }
        // Multinomial counts as a chain of binomials.
        let (mut left, mut mass, mut sum) = (n as u64, 1.0f64, 0.0);
        for (i, &(value, count)) in distinct.iter().enumerate() {
            let drawn = if i + 1 == distinct.len() || left == 0 {
                left
            } else {
                let p = (count as f64 / n as f64 / mass).clamp(0.0, 1.0);
                Binomial::new(left, p).map_or(0, |b| b.sample(rng))
            };
            sum += value * drawn as f64;
            left -= drawn;
            mass -= count as f64 / n as f64;
        }
        sum / n as f64
    };
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| resample_mean(&mut rng))
        .collect();
    means.sort_by(f64::total_cmp);
    (percentile(&means, 2.5), percentile(&means, 97.5))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Scores gathered over a run: per sample (by run position), per scorer, the
/// value of each epoch that scored.
///
/// Each sample keeps one small list of (scorer, epoch, value): a run of a
/// million samples holds a million of them (in a run, and in a merge of its
/// shards), so per-sample maps would cost several times the memory.
#[derive(Debug, Clone, Default)]
pub struct ScoreTable {
    by_sample: BTreeMap<usize, Vec<(u32, u32, f64)>>,
}

impl ScoreTable {
    /// An empty table.
    pub fn new() -> ScoreTable {
        ScoreTable::default()
    }

    /// Records scorer `scorer`'s value for a sample's epoch.
    pub fn add(&mut self, sample_index: usize, epoch: u32, scorer: usize, value: f64) {
        self.by_sample
            .entry(sample_index)
            .or_insert_with(|| Vec::with_capacity(1))
            .push((scorer as u32, epoch, value));
    }

    /// Takes back every score recorded for a sample's epoch (a later record
    /// of it replaces them).
    pub fn forget(&mut self, sample_index: usize, epoch: u32) {
        if let Some(values) = self.by_sample.get_mut(&sample_index) {
            values.retain(|(_, e, _)| *e != epoch);
            if values.is_empty() {
                self.by_sample.remove(&sample_index);
            }
        }
    }

    /// Samples with at least one score.
    pub fn samples(&self) -> usize {
        self.by_sample.len()
    }

    /// One scorer's (epoch, value) pairs of a sample's scores, in the order recorded.
    fn of_scorer(
        values: &[(u32, u32, f64)],
        scorer: usize,
    ) -> impl Iterator<Item = (u32, f64)> + '_ {
        values
            .iter()
            .filter(move |(s, _, _)| *s as usize == scorer)
            .map(|(_, e, v)| (*e, *v))
    }

    /// The reduced value of one scorer for each sample that has one, by sample position.
    pub fn reduced_by_sample(&self, scorer: usize, reducer: Reducer) -> BTreeMap<usize, f64> {
        self.by_sample
            .iter()
            .filter_map(|(index, values)| {
                let mut epochs: Vec<(u32, f64)> = Self::of_scorer(values, scorer).collect();
                if epochs.is_empty() {
                    return None;
                }
                epochs.sort_by_key(|(e, _)| *e);
                let values: Vec<f64> = epochs.into_iter().map(|(_, v)| v).collect();
                Some((*index, reducer.reduce(&values)))
            })
            .collect()
    }

    /// The reduced per-sample values of one scorer, in sample order.
    pub fn reduced(&self, scorer: usize, reducer: Reducer) -> Vec<f64> {
        self.reduced_by_sample(scorer, reducer)
            .into_values()
            .collect()
    }

    /// `"<scorer>/<metric>"` to value for every scorer and its metrics.
    pub fn metrics(
        &self,
        scorers: &[(String, Vec<Metric>)],
        reducer: Reducer,
        seed: u64,
    ) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (i, (name, metrics)) in scorers.iter().enumerate() {
            let values = self.reduced(i, reducer);
            if values.is_empty() {
                continue;
            }
            for metric in metrics {
                match metric {
                    Metric::Accuracy => {
                        out.insert(format!("{name}/accuracy"), mean(&values));
                    }
                    Metric::Mean => {
                        out.insert(format!("{name}/mean"), mean(&values));
                    }
                    Metric::Stderr => {
                        out.insert(format!("{name}/stderr"), stderr(&values));
                    }
                    Metric::BootstrapCi => {
                        let (low, high) = bootstrap_ci(&values, seed, &format!("bootstrap/{name}"));
                        out.insert(format!("{name}/ci95_low"), low);
                        out.insert(format!("{name}/ci95_high"), high);
                    }
                }
            }
        }
        out
    }

    /// pass@1 and pass@k of every scorer with an `accuracy` metric (a 0/1
    /// score) in a run of several epochs; see [`ScoreTable::pass_at_k_of`].
    pub fn pass_at_k(&self, scorers: &[(String, Vec<Metric>)], seed: u64) -> Vec<PassAtK> {
        scorers
            .iter()
            .enumerate()
            .filter(|(_, (_, metrics))| metrics.contains(&Metric::Accuracy))
            .flat_map(|(i, (name, _))| self.pass_at_k_of(i, name, seed))
            .collect()
    }

    /// pass@1 and pass@k for k the most epochs any sample scored (at least
    /// 2), each with its bootstrap interval over samples: the unbiased
    /// estimator of Chen et al. (2021), `1 - C(n-c, k) / C(n, k)` for a
    /// sample with c of n epochs correct, averaged over the samples with at
    /// least k epochs. Nothing for a run of one epoch.
    fn pass_at_k_of(&self, scorer: usize, name: &str, seed: u64) -> Vec<PassAtK> {
        let counts: Vec<(usize, usize)> = self
            .by_sample
            .values()
            .filter_map(|values| {
                let (mut n, mut correct) = (0, 0);
                for (_, v) in Self::of_scorer(values, scorer) {
                    n += 1;
                    correct += usize::from(v >= 1.0 - 1e-9);
                }
                (n > 0).then_some((n, correct))
            })
            .collect();
        let k_max = counts.iter().map(|(n, _)| *n).max().unwrap_or(0);
        if k_max < 2 {
            return Vec::new();
        }
        [1, k_max]
            .into_iter()
            .map(|k| {
                let values: Vec<f64> = counts
                    .iter()
                    .filter(|(n, _)| *n >= k)
                    .map(|&(n, c)| pass_at(n, c, k))
                    .collect();
                let (ci95_low, ci95_high) =
                    bootstrap_ci(&values, seed, &format!("bootstrap/{name}/pass@{k}"));
                PassAtK {
                    scorer: name.to_string(),
                    k: k as u32,
                    value: mean(&values),
                    ci95_low,
                    ci95_high,
                    samples: values.len(),
                }
            })
            .collect()
    }
}

/// The share of samples an agent solves in at least one of k tries, for one
/// scorer: the figure a run of several epochs gives beside pass@1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PassAtK {
    /// The scorer (a 0/1 score).
    pub scorer: String,
    /// Tries.
    pub k: u32,
    /// The unbiased estimate, averaged over samples.
    pub value: f64,
    /// 95% bootstrap interval (samples resampled).
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
    /// Samples with at least k scored epochs, behind the value.
    pub samples: usize,
}

/// The chance that at least one of k epochs drawn without replacement from
/// n, c of them correct, is correct: `1 - C(n-c, k) / C(n, k)`, computed as
/// a product so that it stays exact in floating point.
pub fn pass_at(n: usize, c: usize, k: usize) -> f64 {
    if n - c < k {
        return 1.0;
    }
    1.0 - ((n - c + 1)..=n)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product::<f64>()
}

impl std::fmt::Display for Reducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

// Logs and task files spell metrics and reducers by name; a name this build
// does not know fails to parse, naming it, rather than falling back.
macro_rules! by_name {
    ($type:ty) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <String as serde::Deserialize>::deserialize(deserializer)?;
                <$type>::parse(&name).map_err(serde::de::Error::custom)
            }
        }
    };
}

by_name!(Metric);
by_name!(Reducer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_known_values() {
        // Sample sd of [1, 2, 3, 4] is sqrt(5/3); divided by sqrt(4).
        assert!((stderr(&[1.0, 2.0, 3.0, 4.0]) - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
        // 7 correct of 10: sd = sqrt(0.21 * 10/9); stderr = that / sqrt(10).
        let values: Vec<f64> = (0..10).map(|i| if i < 7 { 1.0 } else { 0.0 }).collect();
        assert!((stderr(&values) - (0.21f64 * 10.0 / 9.0 / 10.0).sqrt()).abs() < 1e-12);
        assert_eq!(stderr(&[1.0]), 0.0);
    }

    #[test]
    fn bootstrap_interval_is_seeded_and_matches_the_normal_approximation() {
        let values: Vec<f64> = (0..400)
            .map(|i| if i % 4 == 0 { 0.0 } else { 1.0 })
            .collect();
        let (low, high) = bootstrap_ci(&values, 42, "t");
        assert_eq!(
            (low, high),
            bootstrap_ci(&values, 42, "t"),
            "same seed, same interval"
        );
        // Continuous values make the interval depend on the exact resamples.
        let spread: Vec<f64> = (0..400)
            .map(|i| f64::from((i * 37) % 101) / 100.0)
            .collect();
        assert_ne!(
            bootstrap_ci(&spread, 42, "t"),
            bootstrap_ci(&spread, 43, "t")
        );
        // Mean 0.75, stderr ≈ 0.0217: the 95% interval is about 0.75 ± 0.0425.
        let se = stderr(&values);
        assert!((low - (0.75 - 1.96 * se)).abs() < 0.01, "low {low}");
        assert!((high - (0.75 + 1.96 * se)).abs() < 0.01, "high {high}");
        // The counting shortcut (few distinct values) and plain resampling
        // (many) agree on the interval of the same data.
        let few: Vec<f64> = (0..300).map(|i| f64::from(i % 3) / 2.0).collect();
        let many: Vec<f64> = few
            .iter()
            .enumerate()
            .map(|(i, v)| v + i as f64 * 1e-9)
            .collect();
        let (a, b) = (bootstrap_ci(&few, 5, "t"), bootstrap_ci(&many, 5, "t"));
        assert!(
            (a.0 - b.0).abs() < 0.015 && (a.1 - b.1).abs() < 0.015,
            "{a:?} {b:?}"
        );
        // All-equal data has a zero-width interval.
        assert_eq!(bootstrap_ci(&[1.0; 20], 1, "t"), (1.0, 1.0));
    }

    #[test]
    fn pass_at_k_is_the_unbiased_estimator() {
        // 1 - C(n-c, k) / C(n, k), by hand.
        assert_eq!(pass_at(5, 0, 3), 0.0);
        assert_eq!(pass_at(5, 5, 1), 1.0);
        assert!((pass_at(5, 2, 1) - 0.4).abs() < 1e-12);
        // C(3, 3) / C(5, 3) = 1 / 10.
        assert!((pass_at(5, 2, 3) - 0.9).abs() < 1e-12);
        // n - c < k: every draw of k holds a correct one.
        assert_eq!(pass_at(5, 3, 3), 1.0);
        // C(8, 2) / C(10, 2) = 28 / 45.
        assert!((pass_at(10, 2, 2) - 17.0 / 45.0).abs() < 1e-12);

        let mut table = ScoreTable::new();
        // Sample 0 solves 1 epoch of 3, sample 1 none, sample 2 all.
        for (s, values) in [(0, [1.0, 0.0, 0.0]), (1, [0.0; 3]), (2, [1.0; 3])] {
            for (e, v) in values.into_iter().enumerate() {
                table.add(s, e as u32 + 1, 0, v);
            }
        }
        let scorers = vec![("flag".to_string(), vec![Metric::Accuracy])];
        let p = table.pass_at_k(&scorers, 7);
        assert_eq!(
            p.iter().map(|p| p.k).collect::<Vec<_>>(),
            [1, 3],
            "pass@1 and pass@k only"
        );
        assert!((p[0].value - (1.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        assert!((p[1].value - 2.0 / 3.0).abs() < 1e-12);
        assert!(p[1].ci95_low <= p[1].value && p[1].value <= p[1].ci95_high);
        assert!(p[1].ci95_low < p[1].ci95_high);
        assert_eq!(p[1].samples, 3);
        // One epoch: no pass@k; a mean scorer: none either.
        let mut one = ScoreTable::new();
        one.add(0, 1, 0, 1.0);
        assert!(one.pass_at_k(&scorers, 7).is_empty());
        let means = vec![("f1".to_string(), vec![Metric::Mean])];
        assert!(table.pass_at_k(&means, 7).is_empty());
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&sorted, 50.0), 3.0);
        assert!((percentile(&sorted, 2.5) - 1.1).abs() < 1e-12);
        assert!((percentile(&sorted, 97.5) - 4.9).abs() < 1e-12);
    }

    #[test]
    fn reducers() {
        assert_eq!(Reducer::Mean.reduce(&[1.0, 0.0, 1.0, 1.0]), 0.75);
        assert_eq!(Reducer::Mode.reduce(&[0.0, 1.0, 1.0]), 1.0);
        assert_eq!(
            Reducer::Mode.reduce(&[0.5, 1.0]),
            0.5,
            "a tie keeps the earliest epoch's value"
        );
        assert_eq!(Reducer::Max.reduce(&[0.0, 0.5, 0.25]), 0.5);
        assert_eq!(Reducer::AtLeast(2).reduce(&[1.0, 0.0, 1.0]), 1.0);
        assert_eq!(Reducer::AtLeast(3).reduce(&[1.0, 0.0, 1.0]), 0.0);
        assert_eq!(Reducer::parse("at_least_2"), Ok(Reducer::AtLeast(2)));
        assert!(Reducer::parse("at_least_0").is_err());
        assert!(Reducer::parse("median").is_err());
    }

    #[test]
    fn table_reduces_epochs_before_metrics_whatever_the_arrival_order() {
        let mut a = ScoreTable::new();
        let mut b = ScoreTable::new();
        let entries = [
            (0, 1, 1.0),
            (0, 2, 0.0),
            (1, 1, 1.0),
            (1, 2, 1.0),
            (2, 1, 0.0),
            (2, 2, 0.0),
        ];
        for (s, e, v) in entries {
            a.add(s, e, 0, v);
        }
        for (s, e, v) in entries.iter().rev() {
            b.add(*s, *e, 0, *v);
        }
        let scorers = vec![(
            "includes".to_string(),
            vec![Metric::Accuracy, Metric::Stderr, Metric::BootstrapCi],
        )];
        let ma = a.metrics(&scorers, Reducer::Mean, 1);
        assert_eq!(ma, b.metrics(&scorers, Reducer::Mean, 1));
        assert_eq!(ma["includes/accuracy"], 0.5);
        assert_eq!(a.reduced(0, Reducer::Mode), vec![1.0, 1.0, 0.0]);
        assert_eq!(
            a.metrics(&scorers, Reducer::AtLeast(2), 1)["includes/accuracy"],
            1.0 / 3.0
        );
    }
}
