//! Agreement between a judge's labels and reference (human) labels:
//! accuracy, Cohen's kappa, and precision and recall per class. This is how
//! vigie measures its judges instead of assuming them.

use std::collections::BTreeMap;

/// One class's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAgreement {
    /// Items the reference puts in the class.
    pub support: usize,
    /// Of the items the judge put in the class, the share the reference agrees on (NaN if none).
    pub precision: f64,
    /// Of the reference's items of the class, the share the judge found (NaN if none).
    pub recall: f64,
}

/// Agreement over a set of items.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Items compared.
    pub n: usize,
    /// Share of items with the same label.
    pub accuracy: f64,
    /// Cohen's kappa: agreement beyond what the two label frequencies give by chance.
    pub kappa: f64,
    /// Per class, in class order.
    pub classes: BTreeMap<String, ClassAgreement>,
    /// (reference, judge) to count.
    pub confusion: BTreeMap<(String, String), usize>,
}

impl Agreement {
    /// A seeded 95% bootstrap interval of the accuracy, over items.
    pub fn accuracy_ci(&self, seed: u64) -> (f64, f64) {
        let agree = (self.accuracy * self.n as f64).round() as usize;
        let mut hits = vec![1.0; agree];
        hits.resize(self.n, 0.0);
        vigie_log::metrics::bootstrap_ci(&hits, seed, "agreement/accuracy")
    }

    /// Compares `(reference, judge)` label pairs.
    pub fn compute<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Agreement {
        let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut n = 0usize;
        for (reference, judge) in pairs {
            *confusion
                .entry((reference.to_string(), judge.to_string()))
                .or_default() += 1;
            n += 1;
        }
        let mut labels: Vec<String> = confusion
            .keys()
            .flat_map(|(r, j)| [r.clone(), j.clone()])
            .collect();
        labels.sort();
        labels.dedup();
        let count = |r: &str, j: &str| {
            confusion
                .get(&(r.to_string(), j.to_string()))
                .copied()
                .unwrap_or(0)
        };
        let reference_total = |c: &str| labels.iter().map(|j| count(c, j)).sum::<usize>();
        let judge_total = |c: &str| labels.iter().map(|r| count(r, c)).sum::<usize>();
        let agree: usize = labels.iter().map(|c| count(c, c)).sum();
        let total = n as f64;
        let accuracy = agree as f64 / total;
        let expected: f64 = labels
            .iter()
            .map(|c| reference_total(c) as f64 * judge_total(c) as f64)
            .sum::<f64>()
            / (total * total);
        // Both raters using one and the same label: perfect agreement, no chance to correct for.
        let kappa = if (1.0 - expected).abs() < 1e-12 {
            1.0
        } else {
            (accuracy - expected) / (1.0 - expected)
        };
        let classes = labels
            .iter()
            .map(|c| {
                let hits = count(c, c) as f64;
                let class = ClassAgreement {
                    support: reference_total(c),
                    precision: hits / judge_total(c) as f64,
                    recall: hits / reference_total(c) as f64,
                };
                (c.clone(), class)
            })
            .collect();
        Agreement {
            n,
            accuracy,
            kappa,
            classes,
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappa_matches_a_worked_example() {
        // The textbook example: 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15.
        let mut pairs = Vec::new();
        pairs.extend(std::iter::repeat_n(("yes", "yes"), 20));
        pairs.extend(std::iter::repeat_n(("yes", "no"), 5));
        pairs.extend(std::iter::repeat_n(("no", "yes"), 10));
        pairs.extend(std::iter::repeat_n(("no", "no"), 15));
        let a = Agreement::compute(pairs);
        assert_eq!(a.n, 50);
        assert!((a.accuracy - 0.7).abs() < 1e-12);
        // p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4.
        assert!((a.kappa - 0.4).abs() < 1e-12);
        assert_eq!(a.classes["yes"].support, 25);
        assert!((a.classes["yes"].precision - 20.0 / 30.0).abs() < 1e-12);
        assert!((a.classes["yes"].recall - 0.8).abs() < 1e-12);
        assert_eq!(a.confusion[&("no".to_string(), "yes".to_string())], 10);
        let (low, high) = a.accuracy_ci(0);
        assert!(
            low < 0.7 && 0.7 < high && low > 0.5 && high < 0.9,
            "{low} {high}"
        );
        assert_eq!(a.accuracy_ci(0), a.accuracy_ci(0), "seeded");
    }

    #[test]
    fn a_judge_that_never_uses_a_class_has_no_precision_for_it() {
        let a = Agreement::compute([
            ("partial", "refusal"),
            ("refusal", "refusal"),
            ("compliance", "compliance"),
        ]);
        assert!(a.classes["partial"].precision.is_nan());
        assert_eq!(a.classes["partial"].recall, 0.0);
        let same = Agreement::compute([("x", "x"), ("x", "x")]);
        assert_eq!((same.accuracy, same.kappa), (1.0, 1.0));
    }
}
