//! Comparing two runs: every metric both report, and per scorer a paired
//! test over the samples both scored — the mean difference with a paired
//! bootstrap interval, and a two-sided p-value (McNemar's exact test when
//! every score is 0 or 1, a sign-flip permutation test otherwise) — with the
//! samples whose score changed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::evidence::{per_sample_scores, EvidenceLog};
use crate::AssessError;

/// Resamples of the permutation test.
const PERMUTATIONS: usize = 10_000;

/// Two runs side by side.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// Log A's file name, task and model.
    pub a: String,
    /// Log B's.
    pub b: String,
    /// Every metric both footers hold: A, B, and B − A.
    pub metrics: Vec<MetricDelta>,
    /// Per shared scorer, the paired comparison.
    pub scorers: Vec<ScorerComparison>,
}

/// A metric in both runs.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MetricDelta {
    /// `scorer/metric`.
    pub metric: String,
    /// Run A's value.
    pub a: f64,
    /// Run B's value.
    pub b: f64,
    /// `b - a`.
    pub difference: f64,
}

/// One scorer compared over the samples both runs scored.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ScorerComparison {
    /// The scorer.
    pub scorer: String,
    /// Samples scored in both runs.
    pub shared: usize,
    /// Samples scored only in A, only in B.
    pub only_a: usize,
    /// Samples scored only in B.
    pub only_b: usize,
    /// Mean over the shared samples in A.
    pub mean_a: f64,
    /// In B.
    pub mean_b: f64,
    /// `mean_b - mean_a`.
    pub difference: f64,
    /// 95% paired bootstrap interval of the difference.
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
    /// Two-sided p-value of "no difference".
    pub p_value: f64,
    /// The test: `mcnemar_exact` or `sign_flip_permutation`.
    pub test: String,
    /// Samples whose score changed, in id order.
    pub changed: Vec<ScoreChange>,
}

/// A sample whose score differs between the runs.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ScoreChange {
    /// The sample id.
    pub id: String,
    /// Its score in A.
    pub a: f64,
    /// In B.
    pub b: f64,
}

fn describe(log: &EvidenceLog) -> String {
    format!(
        "{} ({} on {})",
        log.file_name, log.header.task.name, log.header.model.name
    )
}

/// Compares run B with run A.
pub fn compare(a: &EvidenceLog, b: &EvidenceLog, seed: u64) -> Result<Comparison, AssessError> {
    let mut metrics = Vec::new();
    if let (Some(fa), Some(fb)) = (&a.footer, &b.footer) {
        for (name, va) in &fa.metrics {
            if let Some(vb) = fb.metrics.get(name) {
                metrics.push(MetricDelta {
                    metric: name.clone(),
                    a: *va,
                    b: *vb,
                    difference: vb - va,
                });
            }
        }
    }
    let (scores_a, scores_b) = (
        per_sample_scores(&a.path, &a.header)?,
        per_sample_scores(&b.path, &b.header)?,
    );
    let mut scorers = Vec::new();
    for (scorer, by_id_a) in &scores_a {
        let Some(by_id_b) = scores_b.get(scorer) else {
            continue;
        };
        scorers.push(compare_scorer(scorer, by_id_a, by_id_b, seed));
    }
    if scorers.is_empty() && metrics.is_empty() {
        return Err(AssessError::Input(format!(
            "{} and {} share no scorer and no metric: nothing to compare",
            describe(a),
            describe(b)
        )));
    }
    Ok(Comparison {
        a: describe(a),
        b: describe(b),
        metrics,
        scorers,
    })
}

fn compare_scorer(
    scorer: &str,
    a: &BTreeMap<String, f64>,
    b: &BTreeMap<String, f64>,
    seed: u64,
) -> ScorerComparison {
    let pairs: Vec<(&String, f64, f64)> = a
        .iter()
        .filter_map(|(id, va)| b.get(id).map(|vb| (id, *va, *vb)))
        .collect();
    let differences: Vec<f64> = pairs.iter().map(|(_, va, vb)| vb - va).collect();
    let mean = vigie_log::metrics::mean;
    let mean_a = mean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let mean_b = mean(&pairs.iter().map(|p| p.2).collect::<Vec<_>>());
    let (ci95_low, ci95_high) =
        vigie_log::metrics::bootstrap_ci(&differences, seed, &format!("compare/{scorer}"));
    let binary = pairs
        .iter()
        .all(|(_, va, vb)| (*va == 0.0 || *va == 1.0) && (*vb == 0.0 || *vb == 1.0));
    let (p_value, test) = if binary {
        let up = pairs.iter().filter(|(_, va, vb)| va < vb).count();
        let down = pairs.iter().filter(|(_, va, vb)| va > vb).count();
        (mcnemar_exact(up, down), "mcnemar_exact")
    } else {
        (
            sign_flip_p_value(&differences, seed, scorer),
            "sign_flip_permutation",
        )
    };
    ScorerComparison {
        scorer: scorer.to_string(),
        shared: pairs.len(),
        only_a: a.len() - pairs.len(),
        only_b: b.len() - pairs.len(),
        mean_a,
        mean_b,
        difference: mean_b - mean_a,
        ci95_low,
        ci95_high,
        p_value,
        test: test.to_string(),
        changed: pairs
            .iter()
            .filter(|(_, va, vb)| va != vb)
            .map(|(id, va, vb)| ScoreChange {
                id: id.to_string(),
                a: *va,
                b: *vb,
            })
            .collect(),
    }
}

/// McNemar's exact test: under no difference each discordant pair goes
/// either way with probability ½; two-sided binomial p-value, capped at 1.
pub(crate) fn mcnemar_exact(up: usize, down: usize) -> f64 {
    let n = up + down;
    if n == 0 {
        return 1.0;
    }
    let k = up.min(down);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space for large n.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Sign-flip permutation test of a zero mean difference: the share of random
/// sign assignments whose mean is at least as far from zero as the observed.
fn sign_flip_p_value(differences: &[f64], seed: u64, label: &str) -> f64 {
    use rand::Rng;
    let n = differences.len();
    if n == 0 {
        return 1.0;
    }
    let observed = (differences.iter().sum::<f64>() / n as f64).abs();
    let mut rng = vigie_log::rng::seeded(seed, &format!("sign-flip/{label}"));
    let mut extreme = 0usize;
    for _ in 0..PERMUTATIONS {
        let sum: f64 = differences
            .iter()
            .map(|d| if rng.random::<bool>() { *d } else { -*d })
            .sum();
        if (sum / n as f64).abs() >= observed - 1e-12 {
            extreme += 1;
        }
    }
    // Counting the observed assignment keeps the p-value above zero.
    (extreme + 1) as f64 / (PERMUTATIONS + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_exact_matches_the_binomial_tail() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // 0 vs 5 discordant: 2 * (1/2)^5
        assert!((mcnemar_exact(0, 5) - 0.0625).abs() < 1e-12);
        // 1 vs 9: 2 * (1 + 10) / 1024
        assert!((mcnemar_exact(9, 1) - 22.0 / 1024.0).abs() < 1e-12);
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        assert!(mcnemar_exact(0, 400) < 1e-100 && mcnemar_exact(0, 400) >= 0.0);
    }

    #[test]
    fn paired_comparison_finds_changes_and_their_significance() {
        let a: BTreeMap<String, f64> = (0..40).map(|i| (format!("s{i:02}"), 0.0)).collect();
        let mut b = a.clone();
        for i in 0..12 {
            b.insert(format!("s{i:02}"), 1.0);
        }
        b.insert("extra".into(), 1.0);
        let c = compare_scorer("refused", &a, &b, 0);
        assert_eq!(
            (c.shared, c.only_a, c.only_b, c.changed.len()),
            (40, 0, 1, 12)
        );
        assert_eq!(c.test, "mcnemar_exact");
        assert!((c.difference - 0.3).abs() < 1e-12);
        assert!(c.p_value < 0.001 && c.ci95_low > 0.1, "{c:?}");
        // Continuous scores: a tiny, symmetric change is not significant.
        let x: BTreeMap<String, f64> = (0..20).map(|i| (format!("s{i}"), 0.5)).collect();
        let y: BTreeMap<String, f64> = (0..20)
            .map(|i| (format!("s{i}"), if i % 2 == 0 { 0.6 } else { 0.4 }))
            .collect();
        let c = compare_scorer("mass", &x, &y, 0);
        assert_eq!(c.test, "sign_flip_permutation");
        assert!(c.p_value > 0.5, "{c:?}");
    }
}
