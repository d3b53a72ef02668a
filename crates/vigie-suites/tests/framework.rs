//! The built-in safety framework (vigie-assess) and the built-in suites
//! (this crate) agree: every indicator names a task a suite runs, with the
//! scorer and contrast the indicator reads.

use vigie_assess::Framework;
use vigie_suites::suites::{plan, Planned, SUITES};

#[test]
fn every_builtin_indicator_names_a_builtin_task_and_scorer() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/benchmarks");
    let mut tasks = Vec::new();
    for suite in SUITES {
        for planned in plan(suite.name, Some(&fixtures)).unwrap() {
            let Planned::Ready(task) = planned else {
                panic!("{}: skipped", suite.name)
            };
            tasks.push((
                task.name.clone(),
                task.scorers
                    .iter()
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>(),
                task.contrast.is_some(),
            ));
        }
    }
    for area in &Framework::builtin().areas {
        for indicator in &area.indicators {
            let matching: Vec<_> = tasks
                .iter()
                .filter(|(name, _, _)| indicator.matches_task(name))
                .collect();
            assert!(
                !matching.is_empty(),
                "{} matches no built-in task",
                indicator.task
            );
            for (name, scorers, has_contrast) in matching {
                assert!(
                    scorers.contains(&indicator.scorer),
                    "{name} has no scorer {} (it has {scorers:?})",
                    indicator.scorer
                );
                assert!(
                    !indicator.contrast || *has_contrast,
                    "{name} has no contrast"
                );
            }
        }
    }
}
