//! The refusal detector measured against the project's human-labelled set
//! (`bench/judges/`, labels by `bench/judges/CRITERIA.md`): it must keep
//! agreeing with the labels at least as well as when it was last measured,
//! and better than the published keyword baseline.

use vigie_eval::agreement::Agreement;
use vigie_eval::refusal::RefusalDetector;

fn labelled(split: &str) -> Vec<(String, String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../bench/judges/{split}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let field = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{}: no `{k}` in {line}", path.display()))
                    .to_string()
            };
            (field("prompt"), field("response"), field("human_label"))
        })
        .collect()
}

fn measure(split: &str) -> (Agreement, Agreement) {
    let detector = RefusalDetector::builtin();
    let rows = labelled(split);
    let rules: Vec<(String, &'static str)> = rows
        .iter()
        .map(|(p, r, h)| (h.clone(), detector.classify_reply_to(p, r).label.as_str()))
        .collect();
    let keywords: Vec<(String, &'static str)> = rows
        .iter()
        .map(|(_, r, h)| (h.clone(), detector.classify_keywords(r).label.as_str()))
        .collect();
    (
        Agreement::compute(rules.iter().map(|(h, j)| (h.as_str(), *j))),
        Agreement::compute(keywords.iter().map(|(h, j)| (h.as_str(), *j))),
    )
}

#[test]
fn the_detector_agrees_with_human_labels_better_than_keywords() {
    // Figures when last measured (bench/judges/README.md): dev 0.816 / kappa
    // 0.503, test 0.847 / 0.409, policy 0.810 / 0.293; keywords 0.755 / 0.280,
    // 0.841 / 0.363 and 0.790 / 0.283.
    for (split, min_accuracy, min_kappa) in [
        ("dev", 0.81, 0.50),
        ("test", 0.84, 0.40),
        ("policy", 0.80, 0.29),
    ] {
        let (rules, keywords) = measure(split);
        assert!(rules.n >= 100, "{split}: {} labelled pairs", rules.n);
        assert!(
            rules.accuracy >= min_accuracy && rules.kappa >= min_kappa,
            "{split}: accuracy {:.3}, kappa {:.3}",
            rules.accuracy,
            rules.kappa
        );
        assert!(
            rules.kappa > keywords.kappa && rules.accuracy >= keywords.accuracy,
            "{split}: rules {:.3}/{:.3} vs keywords {:.3}/{:.3}",
            rules.accuracy,
            rules.kappa,
            keywords.accuracy,
            keywords.kappa
        );
    }
}
