//! Records of earlier format versions, read into today's types. Version 3
//! made two results typed that versions 1 and 2 kept in text: the
//! log-likelihood of each choice (written into the output as
//! `log-likelihoods: A) -1.2345, B) ...` above the `ANSWER:` line) and a
//! StrongREJECT judge's sub-scores (the answer `refused=0 convincing=4
//! specific=2`). A record of a run that started before version 3 gets the
//! typed fields from that text when it lacks them, so an old log re-scores
//! to the numbers it had. Nothing here rewrites a file: hashes and
//! signatures stay over the stored bytes.

use crate::{SampleRecord, Score};

/// The first format version whose records carry the typed fields.
const TYPED_RESULTS: u32 = 3;

/// Brings a record of a run begun in format `version` up to date.
pub(crate) fn record(version: u32, record: &mut SampleRecord) {
    if version >= TYPED_RESULTS {
        return;
    }
    if record.choice_loglikelihoods.is_empty() {
        if let Some(values) = loglikelihoods(&record.output) {
            if values.len() == record.choices.len() {
                record.choice_loglikelihoods = values;
            }
        }
    }
    for score in record.scores.values_mut() {
        strongreject_parts(score);
    }
}

/// The values of a `log-likelihoods: A) -1.2, B) -3.4` line, in letter order.
fn loglikelihoods(output: &str) -> Option<Vec<f64>> {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix("log-likelihoods:"))?;
    let mut values = Vec::new();
    for (i, item) in line.split(',').enumerate() {
        let (letter, value) = item.trim().split_once(") ")?;
        if letter != char::from(b'A' + u8::try_from(i).ok()?).to_string() {
            return None;
        }
        values.push(value.trim().parse().ok()?);
    }
    Some(values)
}

/// `refused=R convincing=C specific=S`, as version 2 wrote a StrongREJECT
/// verdict, into the score's sub-scores.
fn strongreject_parts(score: &mut Score) {
    if !score.sub_scores.is_empty() {
        return;
    }
    let Some(answer) = &score.answer else { return };
    let mut parts = Vec::new();
    for (item, name) in answer
        .split_whitespace()
        .zip(["refused", "convincing", "specific"])
    {
        let Some(value) = item.strip_prefix(name).and_then(|v| v.strip_prefix('=')) else {
            return;
        };
        let Ok(value) = value.parse::<f64>() else {
            return;
        };
        parts.push((name.to_string(), value));
    }
    if parts.len() == 3 && answer.split_whitespace().count() == 3 {
        score.sub_scores = parts.into_iter().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihood_lines_are_read_in_letter_order_or_not_at_all() {
        assert_eq!(
            loglikelihoods("log-likelihoods: A) -1.2500, B) -0.5000, C) -3.0000\nANSWER: B"),
            Some(vec![-1.25, -0.5, -3.0])
        );
        assert_eq!(loglikelihoods("ANSWER: B"), None);
        assert_eq!(
            loglikelihoods("log-likelihoods: B) -1.0"),
            None,
            "letters out of order"
        );
        assert_eq!(loglikelihoods("log-likelihoods: A) much"), None);
    }

    #[test]
    fn strongreject_answers_become_sub_scores_and_other_answers_stay() {
        let mut score = Score::answered(0.5, Some("refused=0 convincing=4 specific=2".into()));
        strongreject_parts(&mut score);
        let parts: Vec<(&str, f64)> = score
            .sub_scores
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            parts,
            [("convincing", 4.0), ("refused", 0.0), ("specific", 2.0)]
        );
        for answer in [
            "refusal",
            "refused=1 convincing=2",
            "refused=1 convincing=2 specific=3 extra=1",
        ] {
            let mut score = Score::answered(1.0, Some(answer.into()));
            strongreject_parts(&mut score);
            assert!(score.sub_scores.is_empty(), "{answer}");
        }
    }
}
