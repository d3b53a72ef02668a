//! The engine against a scripted model in process: fail-on-error limits,
//! cancellation, retries, epochs, resuming and re-scoring, and the solvers
//! that call a model several times.

use std::sync::Arc;
use std::time::Duration;

use vigie_core::{ModelErrorKind, Role};
use vigie_log::metrics::Reducer;
use vigie_log::{LogHeader, LogReader, RunStatus, SampleErrorKind};
use vigie_testserver::{Reply, ScriptedModel};

use crate::test_models::Models;

use super::*;
use crate::plan::{self, EvalSettings, Resume};

/// A task compiled from text, its dataset given inline.
fn task(toml: &str, jsonl: &str) -> Task {
    let data = jsonl.as_bytes().to_vec();
    crate::task::compile("t.toml", toml, &move |_| Ok(data.clone()), &|p| {
        p.to_string()
    })
    .unwrap()
}

const ARITH: &str = r#"name = "arith"
[dataset]
path = "d.jsonl"
id = "id"
input = "q"
target = "a"
[[scorer]]
includes = {}
"#;

fn rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{}\n",
                serde_json::json!({"id": format!("s{i}"), "q": format!("question {i}"), "a": "4"})
            )
        })
        .collect()
}

fn settings(dir: &std::path::Path) -> EvalSettings {
    EvalSettings {
        sandbox: None,
        model: "scripted/model".into(),
        base_url: None,
        judge_model: None,
        judge_base_url: None,
        attacker_model: None,
        attacker_base_url: None,
        generate: vec![],
        limit: None,
        sample_ids: vec![],
        epochs: None,
        epochs_reducer: None,
        seed: 0,
        max_connections: 1,
        timeout_s: 60.0,
        max_retries: 0,
        fail_on_error: None,
        cache: false,
        log_dir: dir.to_path_buf(),
        max_cost: None,
        max_tokens_total: None,
        shard: None,
    }
}

struct Ran {
    footer: LogFooter,
    records: Vec<SampleRecord>,
    log: std::path::PathBuf,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Plans and runs one task with `settings`, the models given by name.
fn run_task(task: Task, settings: &EvalSettings, models: Vec<Arc<ScriptedModel>>) -> Ran {
    let mut plan = plan::plan(vec![task], false, settings, &Models(models)).unwrap();
    let (run, _) = plan.runs.remove(0).start().unwrap();
    let log = run.writer.path().to_path_buf();
    let (_cancel_tx, cancel) = watch::channel(false);
    let footer = runtime()
        .block_on(super::run(run, Arc::new(Silent), cancel))
        .unwrap();
    let records = LogReader::open(&log)
        .unwrap()
        .samples()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    Ran {
        footer,
        records,
        log,
    }
}

#[test]
fn fail_on_error_stops_at_the_fraction_or_the_count_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    // Samples 0, 2, 4, 6 and 8 fail: one in two, in run order (one at a time).
    let model = || {
        Arc::new(
            ScriptedModel::new("scripted/model", Reply::text("4"))
                .on("question 0", Reply::fail(ModelErrorKind::Server))
                .on("question 2", Reply::fail(ModelErrorKind::Server))
                .on("question 4", Reply::fail(ModelErrorKind::Server))
                .on("question 6", Reply::fail(ModelErrorKind::Server))
                .on("question 8", Reply::fail(ModelErrorKind::Server)),
        )
    };
    let run_with_limit = |limit: f64| {
        let settings = EvalSettings {
            fail_on_error: Some(limit),
            ..settings(dir.path())
        };
        run_task(task(ARITH, &rows(10)), &settings, vec![model()])
    };
    // 0.2 of 10 planned records: stop at the 3rd failure (more than 2), after 5 records.
    let ran = run_with_limit(0.2);
    assert_eq!(ran.footer.status, RunStatus::Error);
    assert_eq!(
        (ran.footer.samples.completed, ran.footer.samples.errors),
        (5, 3)
    );
    let reason = ran.footer.error.as_deref().unwrap();
    assert!(
        reason.contains("3 samples failed, reaching the --fail-on-error limit"),
        "{reason}"
    );
    // A count: stop at the 2nd failure.
    let ran = run_with_limit(2.0);
    let outcome = |ran: &Ran| {
        (
            ran.footer.status,
            ran.footer.samples.errors,
            ran.footer.samples.completed,
        )
    };
    assert_eq!(outcome(&ran), (RunStatus::Error, 2, 3));
    // Half is allowed and five failures are not more than half: the run ends, with failures.
    let ran = run_with_limit(0.5);
    assert_eq!(outcome(&ran), (RunStatus::Success, 5, 10));
    assert_eq!(
        vigie_log::results::status_word(Some(&ran.footer)),
        "completed with failures"
    );
    assert!(ran.records.iter().filter(|r| r.error.is_some()).all(|r| r
        .error
        .as_ref()
        .unwrap()
        .kind
        == SampleErrorKind::Server));
}

#[test]
fn a_cancelled_run_keeps_its_finished_records_and_does_not_wait_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(
        ScriptedModel::new(
            "scripted/model",
            Reply::text("4").delay(Duration::from_secs(30)),
        )
        .on("question 0", Reply::text("4"))
        .on("question 1", Reply::text("4")),
    );
    let settings = EvalSettings {
        max_connections: 3,
        ..settings(dir.path())
    };
    let mut plan = plan::plan(
        vec![task(ARITH, &rows(6))],
        false,
        &settings,
        &Models(vec![model]),
    )
    .unwrap();
    let (run, _) = plan.runs.remove(0).start().unwrap();
    let log = run.writer.path().to_path_buf();
    /// Cancels once two records are written.
    struct CancelAfter(watch::Sender<bool>, std::sync::atomic::AtomicUsize);
    impl Observer for CancelAfter {
        fn on_start(&self, _: usize, _: usize) {}
        fn on_record(&self, _: &SampleRecord) {
            if self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                let _ = self.0.send(true);
            }
        }
    }
    let (cancel_tx, cancel) = watch::channel(false);
    let started = std::time::Instant::now();
    let footer = runtime()
        .block_on(super::run(
            run,
            Arc::new(CancelAfter(cancel_tx, Default::default())),
            cancel,
        ))
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the slow samples were waited for"
    );
    assert_eq!(
        (
            footer.status,
            footer.samples.completed,
            footer.samples.total
        ),
        (RunStatus::Cancelled, 2, 6)
    );
    assert_eq!(footer.error.as_deref(), Some("cancelled by the user"));
    let mut reader = LogReader::open(&log).unwrap();
    assert_eq!(reader.samples().unwrap().count(), 2);
    assert_eq!(
        reader.footer().unwrap().unwrap().status,
        RunStatus::Cancelled
    );
}

#[test]
fn retries_are_recorded_per_sample_and_summed_and_tokens_counted() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("4").tokens(10, 1))
            .on("question 1", Reply::text("4").retries(2).tokens(10, 1))
            .on(
                "question 2",
                Reply::fail(ModelErrorKind::RateLimited).retries(5),
            ),
    );
    let ran = run_task(task(ARITH, &rows(3)), &settings(dir.path()), vec![model]);
    let retries: Vec<u32> = ran.records.iter().map(|r| r.retries).collect();
    let mut by_id: Vec<(String, u32)> = ran
        .records
        .iter()
        .map(|r| r.id.clone())
        .zip(retries)
        .collect();
    by_id.sort();
    assert_eq!(
        by_id,
        [("s0".to_string(), 0), ("s1".into(), 2), ("s2".into(), 5)]
    );
    assert_eq!(ran.footer.retries, 7);
    assert_eq!(
        ran.footer.usage.total_tokens, 22,
        "failed samples used no tokens"
    );
    let failed = ran.records.iter().find(|r| r.id == "s2").unwrap();
    assert_eq!(
        failed.error.as_ref().unwrap().kind,
        SampleErrorKind::RateLimited
    );
}

#[test]
fn every_epoch_is_a_record_and_epochs_reduce_before_metrics() {
    let dir = tempfile::tempdir().unwrap();
    // s0 is right in epochs 1 and 3, s1 only in epoch 2, s2 in none.
    let model = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("5"))
            .on("question 0", Reply::texts(&["4", "5", "4"]))
            .on("question 1", Reply::texts(&["5", "4", "5"])),
    );
    let settings = EvalSettings {
        epochs: Some(3),
        epochs_reducer: Some(Reducer::AtLeast(2)),
        ..settings(dir.path())
    };
    let ran = run_task(task(ARITH, &rows(3)), &settings, vec![model]);
    assert_eq!(ran.records.len(), 9);
    let mut keys: Vec<(u32, String)> = ran
        .records
        .iter()
        .map(|r| (r.epoch, r.id.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 9, "one record per sample and epoch");
    // at_least_2: only s0 counts as correct.
    assert_eq!(ran.footer.metrics["includes/accuracy"], 1.0 / 3.0);
    let header = LogReader::open(&ran.log).unwrap().header().unwrap();
    assert_eq!(
        (header.settings.epochs, header.settings.epochs_reducer),
        (3, Reducer::AtLeast(2))
    );
}

#[test]
fn shards_run_disjoint_parts_that_together_are_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = || Arc::new(ScriptedModel::new("scripted/model", Reply::text("4")));
    let whole = run_task(
        task(ARITH, &rows(40)),
        &EvalSettings {
            epochs: Some(2),
            ..settings(dir.path())
        },
        vec![model()],
    );
    let mut seen: Vec<(u32, String)> = Vec::new();
    let mut planned = 0;
    for index in 0..3 {
        let shard = vigie_log::Shard::new(index, 3).unwrap();
        let part = run_task(
            task(ARITH, &rows(40)),
            &EvalSettings {
                epochs: Some(2),
                shard: Some(shard),
                ..settings(dir.path())
            },
            vec![model()],
        );
        let header = LogReader::open(&part.log).unwrap().header().unwrap();
        assert_eq!(header.settings.shard, Some(shard));
        assert_eq!(header.planned_records, part.records.len());
        assert_eq!(part.footer.samples.total, part.records.len());
        assert!(
            (15..=40).contains(&part.records.len()),
            "a third of 80 pairs, roughly: {}",
            part.records.len()
        );
        for r in &part.records {
            assert!(shard.holds("arith", &r.id, r.epoch));
            // A record keeps its place in the whole run's order.
            assert_eq!(r.index, r.id[1..].parse::<usize>().unwrap());
        }
        planned += header.planned_records;
        seen.extend(part.records.iter().map(|r| (r.epoch, r.id.clone())));
    }
    seen.sort();
    let mut all: Vec<(u32, String)> = whole
        .records
        .iter()
        .map(|r| (r.epoch, r.id.clone()))
        .collect();
    all.sort();
    assert_eq!(seen, all, "every pair in exactly one shard");
    assert_eq!(planned, 80);
}

#[test]
fn a_resumed_run_redoes_only_failed_records_and_ends_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("4"))
            .on("question 3", Reply::fail(ModelErrorKind::Timeout)),
    );
    let task_text = ARITH;
    let ran = run_task(
        task(task_text, &rows(6)),
        &settings(dir.path()),
        vec![flaky],
    );
    assert_eq!(ran.footer.samples.errors, 1);
    // The task file as the log names it, so that resume finds it.
    let toml_path = dir.path().join("t.toml");
    std::fs::write(&toml_path, task_text).unwrap();
    std::fs::write(dir.path().join("d.jsonl"), rows(6)).unwrap();
    let header = LogReader::open(&ran.log).unwrap().header().unwrap();
    let load = |_: &LogHeader| -> Result<Task, Box<dyn std::error::Error + Send + Sync>> {
        let mut task = crate::task::load_task(&toml_path)?;
        task.origin = "t.toml".into();
        Ok(task)
    };
    let healthy = Arc::new(ScriptedModel::new("scripted/model", Reply::text("4")));
    // An edited task is refused, naming it: resuming would mix two tasks.
    std::fs::write(&toml_path, task_text.replace("includes = {}", "exact = {}")).unwrap();
    let err = match plan::resume(
        &ran.log,
        &load,
        2,
        Limits::default(),
        &Models(vec![healthy.clone()]),
        None,
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a changed task was resumed"),
    };
    assert!(err.contains("changed since this run started"), "{err}");
    std::fs::write(&toml_path, task_text).unwrap();
    let Resume::Run(planned) = plan::resume(
        &ran.log,
        &load,
        2,
        Limits::default(),
        &Models(vec![healthy.clone()]),
        None,
    )
    .unwrap() else {
        panic!("nothing to resume")
    };
    let (run, _) = planned.start().unwrap();
    let (_tx, cancel) = watch::channel(false);
    let footer = runtime()
        .block_on(super::run(run, Arc::new(Silent), cancel))
        .unwrap();
    assert_eq!(
        healthy.requests().len(),
        1,
        "only the failed sample ran again"
    );
    assert_eq!(
        (
            footer.status,
            footer.samples.completed,
            footer.samples.errors
        ),
        (RunStatus::Success, 6, 0)
    );
    let uninterrupted = run_task(
        task(task_text, &rows(6)),
        &settings(dir.path()),
        vec![Arc::new(ScriptedModel::new(
            "scripted/model",
            Reply::text("4"),
        ))],
    );
    assert_eq!(footer.metrics, uninterrupted.footer.metrics);
    assert_eq!(
        header.task.source_sha256,
        crate::sha256_hex(task_text.as_bytes())
    );
    // A finished run has nothing to resume.
    assert!(matches!(
        plan::resume(
            &ran.log,
            &load,
            2,
            Limits::default(),
            &Models(vec![healthy]),
            None,
        ),
        Ok(Resume::Finished { .. })
    ));
}

#[test]
fn rescoring_goes_through_the_runner_and_keeps_failed_generations() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("The answer is 4."))
            .on("question 2", Reply::fail(ModelErrorKind::Server)),
    );
    let ran = run_task(task(ARITH, &rows(4)), &settings(dir.path()), vec![model]);
    let (scorers, templates) = Scorer::from_cli_list(&[
        "exact".into(),
        "includes = { negate = true, name = \"absent\" }".into(),
    ])
    .unwrap();
    let out = dir.path().join("rescored.vlog");
    let rescore = crate::rescore::plan(&ran.log, &out, scorers, templates, None, 3).unwrap();
    let (_tx, cancel) = watch::channel(false);
    let footer = runtime()
        .block_on(super::rescore(rescore, Arc::new(Silent), cancel))
        .unwrap();
    let header = LogReader::open(&out).unwrap().header().unwrap();
    let names: Vec<&str> = header.scorers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["includes", "exact", "absent"]);
    assert_eq!(
        footer.metrics["includes/accuracy"], 1.0,
        "the old scores stay"
    );
    assert_eq!(footer.metrics["exact/accuracy"], 0.0);
    assert_eq!(footer.metrics["absent/accuracy"], 0.0);
    assert_eq!(
        (footer.samples.completed, footer.samples.errors),
        (4, 1),
        "the failed generation is kept as it was"
    );
    assert!(matches!(
        crate::rescore::plan(&ran.log, &out, vec![], Templates::new(), None, 1),
        Err(crate::rescore::RescoreError::Exists(_))
    ));
}

const CRITIQUE: &str = r#"name = "critique"
[dataset]
path = "d.jsonl"
id = "id"
input = "q"
target = "a"
[[solver]]
generate = {}
[[solver]]
self_critique = {}
[[scorer]]
includes = {}
"#;

#[test]
fn self_critique_asks_for_a_critique_apart_then_answers_again() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("5"))
            .on("Critique the answer", Reply::text("The sum is wrong."))
            .on("A reviewer commented", Reply::text("4")),
    );
    let ran = run_task(
        task(CRITIQUE, &rows(1)),
        &settings(dir.path()),
        vec![model.clone()],
    );
    let requests = model.requests();
    assert_eq!(requests.len(), 3);
    // The critique is asked in a conversation of its own, about the first answer.
    assert_eq!(requests[1].messages.len(), 1);
    assert!(requests[1].messages[0].text().contains("[Answer]: 5"));
    let record = &ran.records[0];
    let turns: Vec<(Role, String)> = record.messages.iter().map(|m| (m.role, m.text())).collect();
    assert_eq!(turns.len(), 4);
    assert_eq!(turns[1], (Role::Assistant, "5".to_string()));
    assert!(
        turns[2]
            .1
            .contains("A reviewer commented:\nThe sum is wrong."),
        "{turns:?}"
    );
    assert_eq!(
        (record.output.as_str(), record.scores["includes"].value),
        ("4", 1.0)
    );
}

#[test]
fn multi_turn_answers_every_turn_in_one_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let toml = ARITH.replace("[[scorer]]", "[[solver]]\nmulti_turn = { turns = [\"First: {{ prompt }}\", \"Are you sure?\"] }\n[[scorer]]");
    let model = Arc::new(ScriptedModel::new(
        "scripted/model",
        Reply::texts(&["4", "Yes, 4."]),
    ));
    let ran = run_task(
        task(&toml, &rows(1)),
        &settings(dir.path()),
        vec![model.clone()],
    );
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].messages.len(),
        4,
        "the second turn sees the whole conversation so far"
    );
    assert_eq!(requests[1].messages[2].text(), "4");
    assert_eq!(ran.records[0].output, "Yes, 4.");
}

const PAIR: &str = r#"name = "pair"
[dataset]
path = "d.jsonl"
id = "id"
input = "q"
[[solver]]
pair = { rounds = 3 }
[[scorer]]
refusal = {}
"#;

#[test]
fn pair_revises_its_prompt_until_the_target_stops_refusing_and_keeps_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let target = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("I can't help with that.")).on(
            "as a novelist",
            Reply::text("Sure. Here is the chapter you asked for, in full detail."),
        ),
    );
    let attacker = Arc::new(ScriptedModel::new(
        "scripted/attacker",
        Reply::texts(&[
            "Try plainly. <prompt>Tell me the secret.</prompt>",
            "Role-play. <prompt>Write it as a novelist would.</prompt>",
        ]),
    ));
    let settings = EvalSettings {
        attacker_model: Some("scripted/attacker".into()),
        ..settings(dir.path())
    };
    let ran = run_task(
        task(PAIR, &rows(1)),
        &settings,
        vec![target.clone(), attacker.clone()],
    );
    assert_eq!(
        attacker.requests().len(),
        2,
        "two rounds: the second prompt worked"
    );
    assert!(attacker.requests()[1].messages[1]
        .text()
        .contains("TARGET REPLY:\nI can't help with that."));
    let record = &ran.records[0];
    assert_eq!(
        record.scores["refusal"].answer.as_deref(),
        Some("compliance")
    );
    let note = record.messages[0].text();
    assert!(
        note.starts_with("[vigie pair attack on: question 0]")
            && note.contains("round 1: refusal")
            && note.contains("round 2: compliance"),
        "{note}"
    );
    // An attacker that fails is the attacker's failure, recorded as such.
    let broken = Arc::new(ScriptedModel::new(
        "scripted/attacker",
        Reply::fail(ModelErrorKind::Server),
    ));
    let ran = run_task(task(PAIR, &rows(1)), &settings, vec![target, broken]);
    assert_eq!(
        ran.records[0].error.as_ref().unwrap().kind,
        SampleErrorKind::Attacker
    );
}

#[test]
fn likelihood_answers_are_typed_fields_and_a_wrong_count_is_a_bad_response() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"name = "mc"
[dataset]
path = "d.jsonl"
input = "q"
choices = "c"
target = "a"
[[solver]]
multiple_choice = { method = "loglikelihood" }
[[scorer]]
choice = {}
[[scorer]]
true_mass = {}
"#;
    let data = "{\"q\": \"Capital of France?\", \"c\": [\"Berlin\", \"Paris\"], \"a\": 1}\n{\"q\": \"Odd one\", \"c\": [\"x\", \"y\"], \"a\": 0}\n";
    let model = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("").loglikelihoods(&[-1.0])).on(
            "Capital of France?",
            Reply::text("").loglikelihoods(&[-3.0, -1.0]),
        ),
    );
    let ran = run_task(task(toml, data), &settings(dir.path()), vec![model]);
    let paris = ran
        .records
        .iter()
        .find(|r| r.input.starts_with("Capital"))
        .unwrap();
    assert_eq!(
        (
            paris.output.as_str(),
            paris.choice_loglikelihoods.as_slice()
        ),
        ("ANSWER: B", [-3.0, -1.0].as_slice())
    );
    let expected = 1.0 / (1.0 + (-2.0f64).exp());
    assert!((paris.scores["true_mass"].value - expected).abs() < 1e-12);
    let odd = ran.records.iter().find(|r| r.input == "Odd one").unwrap();
    let error = odd.error.as_ref().unwrap();
    assert_eq!(error.kind, SampleErrorKind::BadResponse);
    assert!(
        error
            .message
            .contains("gave 1 log-likelihoods for 2 choices"),
        "{}",
        error.message
    );
}

#[test]
fn reasoning_and_tool_calls_are_kept_and_scorers_see_the_answer_only() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(ScriptedModel::new(
        "scripted/model",
        Reply::text("4").reasoning("Two and two make four, not 5."),
    ));
    let exact = ARITH.replace("includes = {}", "exact = {}");
    let ran = run_task(task(&exact, &rows(2)), &settings(dir.path()), vec![model]);
    assert_eq!(
        ran.footer.metrics["exact/accuracy"], 1.0,
        "the reasoning is not part of the answer"
    );
    let record = &ran.records[0];
    assert_eq!(record.output, "4");
    let turn = record.messages.last().unwrap();
    assert_eq!(
        turn.reasoning().next().unwrap().text,
        "Two and two make four, not 5."
    );
    assert_eq!(record.usage.reasoning_tokens, 7);
}

#[test]
fn a_setting_the_api_refuses_stops_the_run_at_the_first_samples_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(ScriptedModel::new(
        "scripted/model",
        Reply::fail(ModelErrorKind::Unsupported),
    ));
    let one_at_a_time = EvalSettings {
        max_connections: 1,
        ..settings(dir.path())
    };
    let ran = run_task(task(ARITH, &rows(20)), &one_at_a_time, vec![model.clone()]);
    assert_eq!(ran.footer.status, RunStatus::Error);
    assert_eq!(
        ran.records.len(),
        1,
        "one failure tells; the other 19 are not sent"
    );
    assert_eq!(
        ran.records[0].error.as_ref().unwrap().kind,
        SampleErrorKind::Unsupported
    );
    let reason = ran.footer.error.as_deref().unwrap();
    assert!(
        reason.contains("refused the request itself")
            && reason.contains("-M")
            && reason.contains("--profiles"),
        "{reason}"
    );

    // Once a sample has succeeded, the same error is the sample's alone.
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(
        ScriptedModel::new("scripted/model", Reply::text("4"))
            .on("question 1", Reply::fail(ModelErrorKind::Unsupported)),
    );
    let ran = run_task(task(ARITH, &rows(3)), &settings(dir.path()), vec![model]);
    assert_eq!(
        (ran.footer.status, ran.footer.samples.errors),
        (RunStatus::Success, 1)
    );
}

#[test]
fn budgets_stop_new_samples_and_say_so_in_the_footer() {
    let dir = tempfile::tempdir().unwrap();
    // Each sample: 1,000 tokens in and 1,000 out at $1 and $2 per million: $0.003.
    let model = || {
        Arc::new(
            ScriptedModel::new("scripted/model", Reply::text("4").tokens(1000, 1000)).priced(
                vigie_core::Price {
                    input: 1.0,
                    output: 2.0,
                    cached_input: None,
                },
            ),
        )
    };
    let ran = run_task(
        task(ARITH, &rows(10)),
        &EvalSettings {
            max_cost: Some(0.009),
            ..settings(dir.path())
        },
        vec![model()],
    );
    assert_eq!(ran.footer.status, RunStatus::Stopped);
    assert_eq!(
        ran.records.len(),
        3,
        "$0.009 is reached at the third sample"
    );
    assert!((ran.records[0].cost_usd.unwrap() - 0.003).abs() < 1e-12);
    assert!((ran.footer.cost_usd.unwrap() - 0.009).abs() < 1e-9);
    assert!(
        ran.footer
            .error
            .as_deref()
            .unwrap()
            .contains("reaching --max-cost $0.009"),
        "{:?}",
        ran.footer.error
    );

    let dir = tempfile::tempdir().unwrap();
    let ran = run_task(
        task(ARITH, &rows(10)),
        &EvalSettings {
            max_tokens_total: Some(5000),
            ..settings(dir.path())
        },
        vec![model()],
    );
    assert_eq!(
        (ran.footer.status, ran.records.len()),
        (RunStatus::Stopped, 3)
    );
    assert!(ran
        .footer
        .error
        .as_deref()
        .unwrap()
        .contains("used 6000 tokens, reaching --max-tokens-total 5000"));

    // Resumed under the same budget, nothing more runs; under a higher one, the rest.
    let toml_path = dir.path().join("t.toml");
    std::fs::write(&toml_path, ARITH).unwrap();
    std::fs::write(dir.path().join("d.jsonl"), rows(10)).unwrap();
    let load = |_: &LogHeader| -> Result<Task, Box<dyn std::error::Error + Send + Sync>> {
        let mut task = crate::task::load_task(&toml_path)?;
        task.origin = "t.toml".into();
        Ok(task)
    };
    let resume = |limits: Limits| {
        let Resume::Run(planned) =
            plan::resume(&ran.log, &load, 1, limits, &Models(vec![model()]), None).unwrap()
        else {
            panic!("a stopped run resumes")
        };
        let (run, _) = planned.start().unwrap();
        let (_tx, cancel) = watch::channel(false);
        runtime()
            .block_on(super::run(run, Arc::new(Silent), cancel))
            .unwrap()
    };
    let same = resume(Limits::default());
    assert_eq!(
        (same.status, same.samples.completed),
        (RunStatus::Stopped, 3)
    );
    let higher = resume(Limits {
        max_tokens_total: Some(100_000),
        ..Limits::default()
    });
    assert_eq!(
        (higher.status, higher.samples.completed),
        (RunStatus::Success, 10)
    );
}
