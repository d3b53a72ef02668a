//! Logs of every format version re-score to the numbers they were written
//! with: versions 3 and 4 read the log-likelihood of each choice from its field,
//! versions 1 and 2 from the text they kept it in (read into the field by
//! vigie-log), and `true_mass` gives the score each log recorded.

use std::path::PathBuf;

use vigie_eval::scorer::{ScoreInput, Scorer};
use vigie_log::LogReader;

#[test]
fn true_mass_rescores_every_version_to_its_recorded_value() {
    let (scorer, _) = Scorer::from_cli("true_mass").unwrap();
    for version in 1..=4 {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../vigie-log/tests/data/v{version}-mc.vlog"));
        let records: Vec<_> = LogReader::open(&path)
            .unwrap()
            .samples()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 2);
        for record in records {
            let input = ScoreInput::of_record(&record);
            let score = scorer.score_offline(input).unwrap();
            assert_eq!(
                score.value, record.scores["true_mass"].value,
                "v{version} {}",
                record.id
            );
        }
    }
}
