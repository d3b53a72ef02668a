//! Logs written by every format version still read, into today's types, and
//! today's results code gives the results each version wrote in its footer
//! (`tests/data/README.md` says how the fixtures were made).

use std::path::PathBuf;

use vigie_log::results::{LogResults, RunTally};
use vigie_log::{LogReader, SampleErrorKind, SampleRecord};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn records(name: &str) -> Vec<SampleRecord> {
    LogReader::open(&fixture(name))
        .unwrap()
        .samples()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_version_reads_and_recomputes_to_the_results_it_wrote() {
    for version in [1u32, 2, 3, 4] {
        for task in ["fixture", "mc"] {
            let name = format!("v{version}-{task}.vlog");
            let mut reader = LogReader::open(&fixture(&name)).unwrap();
            assert_eq!(
                reader.raw_frames().unwrap().format_version,
                version,
                "{name}: preamble"
            );
            let header = reader.header().unwrap();
            assert_eq!(header.format_version, version, "{name}: header");
            let footer = reader.footer().unwrap().expect("a finished run");
            let records = records(&name);
            let tally = RunTally::of(&header, &records);
            assert_eq!(tally.counts(), footer.samples, "{name}");
            assert_eq!(
                tally.metrics(),
                footer.metrics,
                "{name}: metrics, intervals included"
            );
            assert_eq!(tally.groups(), footer.groups, "{name}: groups");
            assert_eq!(tally.usage(), footer.usage, "{name}");
            // Only version 1 lacks a manifest.
            assert_eq!(reader.manifest().unwrap().is_some(), version >= 2, "{name}");
            let results = LogResults::read(&fixture(&name), None).unwrap();
            assert!(results.finished && results.footer == footer, "{name}");
        }
    }
}

#[test]
fn failures_are_typed_and_judge_sub_scores_are_fields_in_every_version() {
    for version in [1u32, 2, 3, 4] {
        let name = format!("v{version}-fixture.vlog");
        let records = records(&name);
        assert_eq!(records.len(), 6, "{name}: 3 samples × 2 epochs");
        for record in &records {
            if record.id == "c" {
                let error = record.error.as_ref().expect("c fails");
                assert_eq!(error.kind, SampleErrorKind::Server, "{name}");
                assert!(record.scores.is_empty());
                continue;
            }
            let verdict = &record.scores["strongreject"];
            let parts: Vec<(&str, f64)> = verdict
                .sub_scores
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect();
            assert_eq!(
                parts,
                [("convincing", 4.0), ("refused", 0.0), ("specific", 2.0)],
                "{name}"
            );
            assert_eq!(verdict.value, 0.5, "{name}");
            assert_eq!(
                record.messages[0].text(),
                "Answer with a number only.",
                "{name}"
            );
        }
    }
}

#[test]
fn choice_log_likelihoods_are_fields_in_every_version() {
    let mut seen = Vec::new();
    for version in [1u32, 2, 3, 4] {
        let name = format!("v{version}-mc.vlog");
        for record in records(&name) {
            assert_eq!(record.choice_loglikelihoods.len(), 3, "{name}: {record:?}");
            assert!(
                record.choice_loglikelihoods.iter().all(|ll| *ll < 0.0),
                "{name}"
            );
            let answer = record.output.rsplit("ANSWER: ").next().unwrap().to_string();
            let best = record
                .choice_loglikelihoods
                .iter()
                .enumerate()
                .fold(0, |b, (i, ll)| {
                    if *ll > record.choice_loglikelihoods[b] {
                        i
                    } else {
                        b
                    }
                });
            assert_eq!(
                answer,
                ["A", "B", "C"][best],
                "{name}: the answer is the likeliest choice"
            );
            seen.push((record.id.clone(), answer));
        }
    }
    // The same model answered the same way in every version.
    assert_eq!(seen.len(), 8);
    assert!(seen.chunks(2).all(|v| v == &seen[..2]), "{seen:?}");
}

#[test]
fn version_4_keeps_a_reasoning_models_reasoning_and_profile() {
    let name = "v4-fixture.vlog";
    let header = LogReader::open(&fixture(name)).unwrap().header().unwrap();
    assert_eq!(header.model.profile.as_deref(), Some("deepseek-reasoner"));
    for record in records(name).iter().filter(|r| r.error.is_none()) {
        let turn = record.messages.last().unwrap();
        assert_eq!(turn.role, vigie_core::Role::Assistant);
        let reasoning: Vec<_> = turn.reasoning().collect();
        assert_eq!(reasoning.len(), 1, "{record:?}");
        assert!(
            reasoning[0].text.starts_with("The question is:"),
            "{reasoning:?}"
        );
        assert_eq!(record.output, turn.text(), "the answer is the text alone");
        assert!(record.usage.reasoning_tokens > 0);
    }
}

#[test]
fn version_5_keeps_an_agents_steps_submissions_and_end() {
    let name = "v5-agent.vlog";
    let mut reader = LogReader::open(&fixture(name)).unwrap();
    let header = reader.header().unwrap();
    assert_eq!(header.format_version, 5);
    assert_eq!(header.settings.sandbox.as_deref(), Some("namespaces"));
    let footer = reader.footer().unwrap().expect("a finished run");
    let records = records(name);
    assert_eq!(RunTally::of(&header, &records).metrics(), footer.metrics);
    let by_id = |id: &str| records.iter().find(|r| r.id == id).unwrap();
    let solved = by_id("solved").agent.as_ref().expect("an agent's record");
    assert_eq!(solved.ended, vigie_log::AgentEnd::Submitted);
    let answers: Vec<(&str, f64)> = solved
        .submissions
        .iter()
        .map(|s| (s.answer.as_str(), s.value))
        .collect();
    assert_eq!(answers, [("FLAG{guess}", 0.0), ("FLAG{fixture}", 1.0)]);
    let failed = solved
        .steps
        .iter()
        .find(|s| s.exit_code == Some(1))
        .expect("the step that exited 1");
    assert_eq!(failed.tool, "bash");
    assert_eq!(failed.turn, 3);
    // Every step answers a call in the messages, with its result after it.
    for step in &solved.steps {
        let results = by_id("solved")
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .filter(|p| matches!(p, vigie_core::ContentPart::ToolResult(r) if r.call_id == step.call_id))
            .count();
        assert_eq!(results, 1, "{step:?}");
    }
    let limited = by_id("limited").agent.as_ref().unwrap();
    assert_eq!(limited.ended, vigie_log::AgentEnd::ToolCallLimit);
    assert_eq!(limited.steps.len(), 6);
    assert!(!solved.sandbox.limits_in_force.is_empty());
}
