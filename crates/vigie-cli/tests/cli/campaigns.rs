//! Shards and their merge, through the real binary against the scripted
//! server: the merged log has the metrics of an unsharded run, verifies, and
//! is assessed; bad sets of shards are refused naming what is wrong.

use super::*;

const SHARDED_TASK: &str = r#"name = "sharded"
risk_areas = ["safeguards"]

[dataset]
path = "sharded.jsonl"
id = "id"
input = "question"
target = "answer"

[[solver]]
generate = {}

[[scorer]]
includes = {}
"#;

/// 40 questions, half of them answered with their target's word.
fn sharded_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("sharded.toml", SHARDED_TASK);
    let rows: Vec<(String, String)> = (0..40)
        .map(|i| {
            let target = if i % 3 == 0 { "nope" } else { "Sure" };
            (format!("question number {i}"), target.to_string())
        })
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(q, a)| (q.as_str(), a.as_str())).collect();
    ws.dataset("sharded.jsonl", &rows);
    ws
}

#[test]
fn shards_merged_have_the_metrics_of_the_unsharded_run_verify_and_are_assessed() {
    let ws = sharded_workspace();
    let server = scripted(&["number 7", "number 8"]);
    let url = server.base_url();
    let common = ["--epochs", "2", "--seed", "5"];
    let out = ws.vigie(&eval_args(
        &url,
        "sharded.toml",
        &[&common[..], &["--log-dir", "whole"]].concat(),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let whole = ws.summary(&ws.only_log_in("whole"));

    let mut planned = 0;
    for index in 0..3 {
        let shard = format!("{index}/3");
        let out = ws.vigie(&eval_args(
            &url,
            "sharded.toml",
            &[&common[..], &["--shard", &shard, "--log-dir", "shards"]].concat(),
        ));
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&format!("shard    {shard}: this log holds one part")),
            "{}",
            text(&out.stdout)
        );
    }
    for log in ws.logs_in("shards") {
        planned += ws.summary(&log)["samples"]["total"].as_u64().unwrap();
    }
    assert_eq!(planned, 80, "the shards' parts add up to the whole");

    let out = ws.vigie(&["log", "merge", "shards", "--output", "merged/sharded.vlog"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("merged   from 3 shard logs"),
        "{}",
        text(&out.stdout)
    );
    let merged_log = ws.path().join("merged/sharded.vlog");
    let merged = ws.summary(&merged_log);
    assert_eq!(
        merged["metrics"], whole["metrics"],
        "bootstrap intervals included"
    );
    assert!(
        merged["metrics"]["includes/ci95_low"].is_number(),
        "{merged}"
    );
    assert_eq!(merged["samples"], whole["samples"]);
    assert_eq!(merged["status"], "success");

    // The viewer's run page names the shards the log was made of.
    let v = super::view::view(&ws, &["merged"]);
    let (status, _, run) = super::view::get(&v.base, "/run?log=0/sharded.vlog", &[]);
    assert_eq!(status, 200, "{run}");
    assert!(run.contains("merged shard 2&#x2f;3"), "{run}");
    drop(v);

    // Every record checked against the fresh manifest, signed by the merger.
    assert!(ws.vigie(&["keygen", "--out", "aisi"]).status.success());
    let out = ws.vigie(&["sign", "merged/sharded.vlog", "--key", "aisi.key"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ws.vigie(&["verify", "merged/sharded.vlog"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("80 records"),
        "{}",
        text(&out.stdout)
    );
    let out = ws.vigie(&["assess", "merged", "--json"]);
    let assessed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    assert!(assessed.to_string().contains("openai/mock"), "{assessed}");

    // Refusals, each naming what is wrong, exit 2, and nothing written.
    let shards = ws.logs_in("shards");
    let shown: Vec<&str> = shards.iter().map(|p| p.to_str().unwrap()).collect();
    let refused = |args: &[&str]| {
        let out = ws.vigie(&[&["log", "merge"][..], args, &["-o", "refused.vlog"]].concat());
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let err = refused(&shown[..2]);
    assert!(err.contains("of 3 is missing"), "{err}");
    let err = refused(&[shown[0], shown[1], shown[2], shown[1]]);
    assert!(err.contains("is given twice"), "{err}");
    let whole_log = ws.only_log_in("whole");
    let err = refused(&[whole_log.to_str().unwrap()]);
    assert!(err.contains("is not a shard"), "{err}");
    let out = ws.vigie(&eval_args(
        &url,
        "sharded.toml",
        &[
            "--epochs",
            "2",
            "--seed",
            "6",
            "--shard",
            "2/3",
            "--log-dir",
            "seed6",
        ],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let other_seed = ws.only_log_in("seed6");
    let err = refused(&[shown[0], shown[1], other_seed.to_str().unwrap()]);
    assert!(err.contains("`settings.seed`"), "{err}");
    assert!(!ws.path().join("refused.vlog").exists());
}

/// Runs vigie with `args` and kills it, with no chance to clean up, once
/// the server has answered `answered` requests.
fn kill_after(ws: &Workspace, args: &[&str], server: &TestServer, answered: u64) {
    let mut child = ws
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats().answered < answered {
        assert!(Instant::now() < deadline, "vigie {args:?} did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_killed_shard_resumes_its_own_part_only() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    slow_dataset(&ws, 120);
    let server = server();
    let url = server.base_url();
    let shard_args = ["--shard", "1/2", "--max-connections", "2"];
    kill_after(
        &ws,
        &eval_args(&url, "arith.toml", &shard_args),
        &server,
        10,
    );
    let log = ws.only_log();
    let before = ws.summary(&log);
    assert_eq!(before["status"], "started");
    let part = before["samples"]["total"].as_u64().unwrap();
    let done = before["samples"]["completed"].as_u64().unwrap();
    assert!((40..=80).contains(&part) && done < part, "{before}");
    let requests = server.stats().requests;

    let out = ws.vigie(&["eval", "--resume", log.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("shard    1/2"),
        "{}",
        text(&out.stdout)
    );
    let after = ws.summary(&log);
    assert_eq!(after["status"], "success");
    assert_eq!(after["samples"]["completed"].as_u64(), Some(part));
    assert_eq!(
        server.stats().requests - requests,
        part - done,
        "only the shard's unfinished pairs"
    );

    // The same shard run without a kill holds the same samples and results.
    let out = ws.vigie(&eval_args(
        &url,
        "arith.toml",
        &[&shard_args[..], &["--log-dir", "again"]].concat(),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = ws.only_log_in("again");
    let ids = |log: &Path| {
        let mut ids: Vec<String> = ws
            .records(log)
            .iter()
            .map(|r| r["id"].to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&log), ids(&again));
    assert_eq!(ws.summary(&again)["metrics"], after["metrics"]);

    let out = ws.vigie(&eval_args(&url, "arith.toml", &["--shard", "2/2"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("numbered from 0 to 1"),
        "{}",
        text(&out.stderr)
    );
}

/// Two slow task files: 40 questions each, each answered after `delay_ms`.
fn campaign_workspace_with(delay_ms: u32) -> Workspace {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    let rows = |say: &str, every: usize| -> Vec<String> {
        (0..40)
            .map(|i| {
                format!(
                    "{say} {i}. [[delay:{delay_ms}]]{}",
                    if i % every == 0 { " [[reply:0]]" } else { "" }
                )
            })
            .collect()
    };
    let dataset = |name: &str, rows: Vec<String>| {
        let rows: Vec<(&str, &str)> = rows.iter().map(|q| (q.as_str(), "4")).collect();
        ws.dataset(name, &rows);
    };
    dataset("arith.jsonl", rows("What is", 3));
    ws.write(
        "echo.toml",
        &ARITH_TASK
            .replace("name = \"arith\"", "name = \"echo\"")
            .replace("arith.jsonl", "echo.jsonl"),
    );
    dataset("echo.jsonl", rows("Say", 4));
    ws
}

fn campaign_workspace() -> Workspace {
    campaign_workspace_with(40)
}

fn campaign_args<'a>(dir: &'a str, url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "campaign",
        "run",
        dir,
        "--task",
        "arith.toml",
        "--task",
        "echo.toml",
        "-m",
        "openai/a",
        "-m",
        "openai/b",
        "--base-url",
        url,
        "--max-connections",
        "2",
        "--seed",
        "3",
        "--retry-base",
        "0.01",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    args
}

/// Each log of a campaign folder's logs/, by its path under logs/, with its metrics.
fn campaign_metrics(ws: &Workspace, dir: &str) -> Vec<(String, Value)> {
    let logs = vigie_log::find_logs(&ws.path().join(dir).join("logs")).unwrap();
    logs.iter()
        .map(|log| {
            let summary = ws.summary(log);
            assert_eq!(summary["status"], "success", "{}", log.display());
            let name = log
                .strip_prefix(ws.path().join(dir))
                .unwrap()
                .display()
                .to_string();
            (name, summary["metrics"].clone())
        })
        .collect()
}

#[test]
fn a_campaign_runs_every_task_on_every_model_at_once_sharing_each_models_limit_and_resumes() {
    let ws = campaign_workspace();
    let server = server();
    let url = server.base_url();
    kill_after(&ws, &campaign_args("camp", &url, &[]), &server, 30);
    // Four runs at once, each model's two tasks within its limit of two.
    let in_flight = server.stats().max_in_flight;
    assert!(
        (3..=4).contains(&in_flight),
        "{in_flight} requests in flight at most"
    );
    let definition = std::fs::read_to_string(ws.path().join("camp/campaign.toml")).unwrap();
    assert!(
        definition.contains("seed = 3") && definition.contains("openai/b"),
        "{definition}"
    );
    let requests = server.stats().requests;

    // Carried on from the folder alone: finished records are not asked again.
    let out = ws.vigie(&[
        "campaign",
        "run",
        "camp",
        "--retry-base",
        "0.01",
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("4 runs here") && stderr.contains("to resume"),
        "{stderr}"
    );
    assert!(
        server.stats().requests - requests < 160,
        "only the unfinished records ran again"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("openai/a: 2 tasks") && stdout.contains("openai/b: 2 tasks"),
        "{stdout}"
    );
    let resumed = campaign_metrics(&ws, "camp");
    let names: Vec<&str> = resumed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "logs/openai_a/arith.vlog",
            "logs/openai_a/echo.vlog",
            "logs/openai_b/arith.vlog",
            "logs/openai_b/echo.vlog"
        ]
    );

    // The same campaign uninterrupted ends with the same results; a suite
    // that needs benchmark files not given is left out, and said.
    let out = ws
        .command(&campaign_args(
            "fresh",
            &url,
            &["--task", "suite:hazardous-knowledge"],
        ))
        .env_remove("VIGIE_DATASETS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("note: skipping suite:hazardous-knowledge: every task"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(campaign_metrics(&ws, "fresh"), resumed);

    // A finished campaign has nothing to do; another campaign in its folder is refused.
    let requests = server.stats().requests;
    let out = ws.vigie(&["campaign", "run", "camp", "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("0 to start, 0 to resume, 4 finished"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.stats().requests, requests);
    let out = ws.vigie(&campaign_args("camp", &url, &["--limit", "5"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`limit` there is null, not 5"),
        "{}",
        text(&out.stderr)
    );

    // Assessed as a folder of logs, as today.
    let out = ws.vigie(&["assess", "camp/logs", "--json"]);
    let assessed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert!(assessed.to_string().contains("openai/b"), "{assessed}");
}

#[test]
fn a_campaign_split_into_shards_merges_into_the_unsharded_campaigns_results() {
    let ws = campaign_workspace();
    let server = server();
    let url = server.base_url();
    let out = ws.vigie(&campaign_args("whole", &url, &[]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let whole = campaign_metrics(&ws, "whole");

    // By sample: the index from the scheduler's variable, as Slurm sets it.
    for index in ["0", "1", "2"] {
        let out = ws
            .command(&campaign_args("sharded", &url, &["--shards", "3"]))
            .env("SLURM_ARRAY_TASK_ID", index)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!(
                "shard {index}/3 (split by sample, 1 connections per model)"
            )),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        vigie_log::find_logs(&ws.path().join("sharded/shards"))
            .unwrap()
            .len(),
        12
    );
    let out = ws.vigie(&["campaign", "merge", "sharded"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(campaign_metrics(&ws, "sharded"), whole);
    let out = ws.vigie(&["campaign", "merge", "sharded"]);
    assert!(
        text(&out.stderr).contains("merged 0 runs (4 merged already)"),
        "{}",
        text(&out.stderr)
    );

    // By task: runs dealt out whole, as a Kubernetes Indexed Job numbers its pods.
    for index in ["0", "1"] {
        let out = ws
            .command(&campaign_args(
                "bytask",
                &url,
                &["--shards", "2", "--split", "task"],
            ))
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env("JOB_COMPLETION_INDEX", index)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("2 runs here"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(campaign_metrics(&ws, "bytask"), whole);

    let out = ws
        .command(&campaign_args("nowhere", &url, &["--shards", "2"]))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no shard index"),
        "{}",
        text(&out.stderr)
    );
}

/// Whether a Slurm cluster answers here. Under CI it must: `scripts/test`
/// starts a one-node cluster (`scripts/slurm-local`).
fn slurm_cluster() -> bool {
    let up = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && ["idle", "mix", "alloc"]
                    .iter()
                    .any(|s| text(&o.stdout).contains(s))
        });
    assert!(
        up || std::env::var("CI").as_deref() != Ok("true"),
        "CI runs the Slurm test: no cluster answers (scripts/slurm-local starts one)"
    );
    up
}

fn scontrol(args: &[&str]) -> Output {
    Command::new("scontrol").args(args).output().unwrap()
}

/// Waits until `squeue` lists none of `jobs`.
fn wait_for_jobs(jobs: &[&str], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", &jobs.join(","), "-o", "%i %T"])
            .output()
            .unwrap();
        let listed = text(&out.stdout);
        if listed.trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Slurm jobs still queued: {listed}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_campaign_array_on_real_slurm_survives_a_requeued_shard_and_merges_into_the_unsharded_results()
{
    if !slurm_cluster() {
        eprintln!("skipped: no Slurm cluster here (scripts/slurm-local starts a one-node one)");
        return;
    }
    let ws = campaign_workspace_with(150);
    let server = server();
    let url = server.base_url();
    let definition = campaign_args("camp", &url, &[]);
    let mut init = definition.clone();
    init[1] = "init";
    init.retain(|a| *a != "--no-progress" && *a != "--retry-base" && *a != "0.01");
    let out = ws.vigie(&init);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = ws.vigie(&[
        "campaign",
        "slurm",
        "camp",
        "--shards",
        "4",
        "--throttle",
        "4",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let job = |prefix: &str| -> String {
        let line = printed
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{printed}"));
        line[prefix.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .to_string()
    };
    let (array, merge) = (
        job("submitted the array: job "),
        job("submitted the merge: job "),
    );
    let script = std::fs::read_to_string(ws.path().join("camp/slurm/campaign.sbatch")).unwrap();
    assert!(
        script.contains("#SBATCH --array=0-3%4\n#SBATCH --requeue\n"),
        "{script}"
    );

    // Shard 1 is stopped mid-run, as a node failure or a preemption stops
    // it, and Slurm puts it back in the queue; the requeue delay is cut short.
    let shard_1 = ws.path().join("camp/shards");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written: u64 = vigie_log::find_logs(&shard_1)
            .unwrap_or_default()
            .iter()
            .filter(|p| p.to_string_lossy().contains("shard-1-of-4"))
            // A log just created may not hold its header yet: it counts 0.
            .map(|p| {
                let out = ws.vigie(&["log", "show", p.to_str().unwrap(), "--json"]);
                serde_json::from_slice::<Value>(&out.stdout)
                    .ok()
                    .and_then(|s| s["samples"]["completed"].as_u64())
                    .unwrap_or(0)
            })
            .sum();
        if written >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "shard 1 wrote nothing");
        std::thread::sleep(Duration::from_millis(100));
    }
    let task = format!("{array}_1");
    let out = scontrol(&["requeue", &task]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Slurm holds a requeued job back two minutes; once it is pending again,
    // its start is brought forward.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", &task, "-o", "%T %r"])
            .output()
            .unwrap();
        if text(&out.stdout).contains("PENDING BeginTime") {
            let out = scontrol(&["update", &format!("jobid={task}"), "StartTime=now"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the requeued shard never came back to the queue"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for_jobs(&[&array, &merge], Duration::from_secs(240));

    let err = std::fs::read_to_string(ws.path().join("camp/slurm/out/shard-1.err")).unwrap();
    assert!(err.contains("DUE TO JOB REQUEUE"), "{err}");
    assert!(
        err.contains("to resume"),
        "the requeued shard resumed its own logs: {err}"
    );
    let merged =
        std::fs::read_to_string(ws.path().join("camp/slurm/out/merge.err")).unwrap_or_default();
    assert!(merged.contains("merged 4 runs"), "{merged}");

    // The same campaign run here, unsharded, has the same results.
    let out = ws.vigie(&campaign_args("fresh", &url, &[]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        campaign_metrics(&ws, "camp"),
        campaign_metrics(&ws, "fresh")
    );
}

#[test]
fn a_campaign_becomes_kubernetes_jobs_with_keys_from_a_secret_and_a_task_file_inside_travels() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("camp")).unwrap();
    ws.write("camp/arith.toml", ARITH_TASK);
    ws.dataset("camp/arith.jsonl", &[("What is 2+2?", "4")]);
    let out = ws.vigie(&[
        "campaign",
        "init",
        "camp",
        "--task",
        "camp/arith.toml",
        "--task",
        "suite:refusal",
        "-m",
        "openai/gpt-5",
        "-m",
        "anthropic/claude-sonnet-4-5",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let definition = std::fs::read_to_string(ws.path().join("camp/campaign.toml")).unwrap();
    assert!(
        definition.contains("\"arith.toml\""),
        "kept relative to the folder: {definition}"
    );
    assert!(!ws.path().join("camp/logs").exists(), "init runs nothing");

    let out = ws.vigie(&[
        "campaign",
        "kube",
        "camp",
        "--shards",
        "6",
        "--image",
        "registry.example/vigie:1",
        "--claim",
        "campaigns",
        "--namespace",
        "evals",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("kubectl -n evals create secret generic vigie-keys --from-literal=OPENAI_API_KEY=\"$OPENAI_API_KEY\" --from-literal=ANTHROPIC_API_KEY=\"$ANTHROPIC_API_KEY\""), "{printed}");
    assert!(
        printed.contains(
            "kubectl -n evals wait --for=condition=complete --timeout=48h job/vigie-camp"
        ),
        "{printed}"
    );
    let job = std::fs::read_to_string(ws.path().join("camp/kube/shards-job.yaml")).unwrap();
    assert!(
        job.contains("  completionMode: Indexed\n  completions: 6\n"),
        "{job}"
    );
    assert!(job.contains("- /campaigns/camp\n"), "{job}");
    assert!(!job.contains("sk-"), "{job}");
    assert!(ws.path().join("camp/kube/merge-job.yaml").exists());
    assert!(
        !text(&out.stderr).contains("outside the campaign folder"),
        "{}",
        text(&out.stderr)
    );

    let out = ws.vigie(&[
        "campaign",
        "kube",
        "camp",
        "--shards",
        "6",
        "--image",
        "x",
        "--claim",
        "Bad Claim",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("claimName: must be a DNS subdomain"),
        "{}",
        text(&out.stderr)
    );
    let out = ws.vigie(&[
        "campaign", "kube", "nowhere", "--shards", "2", "--image", "x", "--claim", "c",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no campaign"),
        "{}",
        text(&out.stderr)
    );
}
