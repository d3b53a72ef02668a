//! The sandbox is a security boundary: these tests run commands in it, with
//! the vigie binary as its helper, and check from inside what a command can
//! reach. Each needs Linux namespaces; on a machine without them the first
//! test says why, and every test fails rather than passing untested.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use vigie_sandbox::{ExecOutput, ExecRequest, Policy, Sandbox, SandboxHost};

fn host(base: &std::path::Path) -> SandboxHost {
    SandboxHost {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_vigie")),
        base: base.to_path_buf(),
    }
}

fn run(sandbox: &Sandbox, command: &str) -> ExecOutput {
    run_with(sandbox, ExecRequest::new(command, Duration::from_secs(20)))
}

fn run_with(sandbox: &Sandbox, request: ExecRequest) -> ExecOutput {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(sandbox.exec(&request))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn text(output: &ExecOutput) -> String {
    format!(
        "exit {}\nstdout: {}\nstderr: {}",
        output.exit_code,
        output.stdout.text(),
        output.stderr.text()
    )
}

#[test]
fn commands_run_in_the_work_folder_with_only_the_tasks_environment() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    sandbox
        .write_file("notes/hello.txt", b"from the host\n")
        .unwrap();
    let out = run(
        &sandbox,
        "pwd; cat notes/hello.txt; echo made > out.txt; id -u",
    );
    assert_eq!(out.exit_code, 0, "{}", text(&out));
    assert_eq!(out.stdout.text(), "/work\nfrom the host\n0\n");
    assert_eq!(
        sandbox.read_file("out.txt").unwrap(),
        b"made\n",
        "the work folder is the host's"
    );

    // Nothing of vigie's environment: this process's variables stay out.
    let mut request = ExecRequest::new("env | sort", Duration::from_secs(20));
    request.env = BTreeMap::from([("TASK_SETTING".to_string(), "1".to_string())]);
    std::env::set_var("OPENAI_API_KEY", "sk-must-not-leak");
    let out = run_with(&sandbox, request);
    let env = out.stdout.text();
    assert!(
        env.contains("TASK_SETTING=1") && env.contains("HOME=/work"),
        "{env}"
    );
    assert!(
        !env.contains("OPENAI_API_KEY") && !env.contains("sk-must-not-leak"),
        "{env}"
    );
    assert!(!env.contains("CARGO"), "{env}");

    let mut request = ExecRequest::new("cat", Duration::from_secs(20));
    request.stdin = b"piped in".to_vec();
    assert_eq!(run_with(&sandbox, request).stdout.text(), "piped in");
    assert_eq!(run(&sandbox, "exit 3").exit_code, 3);
    sandbox.destroy().unwrap();
}

#[test]
fn there_is_no_network_not_even_the_hosts_loopback() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = run(
        &sandbox,
        &format!(
            "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\""
        ),
    );
    assert_ne!(
        out.exit_code,
        0,
        "reached the host's loopback: {}",
        text(&out)
    );
    let out = run(
        &sandbox,
        "python3 -c \"import socket; print(socket.gethostbyname('example.com'))\"",
    );
    assert_ne!(out.exit_code, 0, "a name resolved: {}", text(&out));
    // Its own loopback is up: a service started inside is reachable from inside.
    let out = run(
        &sandbox,
        "python3 -c \"import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); socket.create_connection(s.getsockname(), 2); print('inside ok')\"",
    );
    assert_eq!(out.stdout.text(), "inside ok\n", "{}", text(&out));
    let out = run(&sandbox, "cat /proc/net/dev | tail -n +3 | cut -d: -f1");
    assert_eq!(
        out.stdout.text().split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "{}",
        text(&out)
    );
}

#[test]
fn the_hosts_private_state_cannot_be_read_or_written() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let other = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    other.write_file("flag.txt", b"other sample's").unwrap();
    // A secret in the host's home folder and in vigie's cache.
    let home = PathBuf::from(std::env::var("HOME").unwrap());
    let secret = home.join(format!(".vigie-sandbox-test-{}", std::process::id()));
    std::fs::write(&secret, "host secret").unwrap();
    let cache = vigie_local::default_home();
    std::fs::create_dir_all(&cache).unwrap();
    let cached = cache.join(format!("sandbox-test-{}.key", std::process::id()));
    std::fs::write(&cached, "signing key").unwrap();
    let host_tmp = std::env::temp_dir().join(format!("vigie-sandbox-test-{}", std::process::id()));
    let probes = [
        format!("cat {}", secret.display()),
        format!("cat {}", cached.display()),
        format!("cat {}", other.work_dir().join("flag.txt").display()),
        "ls /root".to_string(),
        "ls /home/*/".to_string(),
        "cat /etc/shadow".to_string(),
        "touch /usr/x".to_string(),
        "touch /etc/x".to_string(),
        "touch /x".to_string(),
        // Root of the sandbox's namespace has no capability to undo any of it.
        "mount -o remount,rw /usr".to_string(),
        "mount -o remount,rw /".to_string(),
        "mount -t tmpfs none /work".to_string(),
    ];
    for probe in &probes {
        let out = run(&sandbox, probe);
        assert_ne!(out.exit_code, 0, "`{probe}` worked: {}", text(&out));
    }
    let out = run(&sandbox, "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status");
    let status = out.stdout.text();
    assert_eq!(status.lines().count(), 3, "{status}");
    assert!(
        status.lines().all(|l| l.ends_with("0000000000000000")),
        "capabilities left: {status}"
    );
    // /tmp takes writes, but they never reach the host's.
    let out = run(
        &sandbox,
        &format!(
            "touch /tmp/{} && ls /tmp",
            host_tmp.file_name().unwrap().to_str().unwrap()
        ),
    );
    assert_eq!(out.exit_code, 0, "{}", text(&out));
    assert!(!host_tmp.exists());
    // Only the sandbox's own processes are visible.
    let out = run(&sandbox, "ls /proc | grep -c '^[0-9]'");
    let visible: u32 = out.stdout.text().trim().parse().unwrap_or(u32::MAX);
    assert!(visible <= 4, "{visible} processes visible: {}", text(&out));
    let out = run(&sandbox, &format!("test -e /proc/{}", std::process::id()));
    assert_ne!(out.exit_code, 0);
    std::fs::remove_file(&secret).unwrap();
    std::fs::remove_file(&cached).unwrap();
}

/// Every process of the host whose command line holds `marker`.
fn host_processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn a_timeout_kills_the_command_and_everything_it_started() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let started = std::time::Instant::now();
    let out = run_with(
        &sandbox,
        ExecRequest::new(
            "sleep 987654 & (sleep 987653 &) ; echo started; sleep 987652",
            Duration::from_millis(700),
        ),
    );
    assert!(out.timed_out, "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.stdout.text(), "started\n");
    std::thread::sleep(Duration::from_millis(300));
    let left = host_processes_with("98765");
    assert!(left.is_empty(), "survived the timeout: {left:?}");
}

#[test]
fn huge_output_costs_the_cap_not_its_size() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let mut request = ExecRequest::new(
        "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo end",
        Duration::from_secs(60),
    );
    request.output_cap = 4096;
    let out = run_with(&sandbox, request);
    assert_eq!(out.exit_code, 0, "{}", text(&out));
    assert_eq!(out.stdout.total, 50_000_005);
    assert!(out.stdout.cut());
    assert_eq!(out.stdout.head.len() + out.stdout.tail.len(), 4096);
    assert!(out.stdout.text().ends_with("x\nend\n"), "the tail is kept");
}

#[test]
fn a_fork_bomb_and_a_memory_hog_are_stopped_and_the_limits_are_said() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let mut bomb = ExecRequest::new(
        "bomb() { bomb | bomb & }; bomb; sleep 2; echo survived",
        Duration::from_secs(8),
    );
    bomb.limits.processes = Some(64);
    let out = run_with(&sandbox, bomb);
    assert!(
        out.limits
            .iter()
            .any(|l| l.contains("pids.max 64") || l.contains("processes 64")),
        "{:?}",
        out.limits
    );
    assert!(out.duration < Duration::from_secs(30), "{}", text(&out));
    // The run goes on: the host can still start processes, and the sandbox too.
    assert!(std::process::Command::new("true")
        .status()
        .unwrap()
        .success());
    assert_eq!(run(&sandbox, "echo fine").stdout.text(), "fine\n");

    let mut hog = ExecRequest::new(
        "python3 -c \"x = bytearray(1024 * 1024 * 1024); print('allocated')\"",
        Duration::from_secs(20),
    );
    hog.limits.memory_bytes = Some(256 << 20);
    let out = run_with(&sandbox, hog);
    assert_ne!(
        out.exit_code,
        0,
        "a 1 GiB allocation passed a 256 MiB limit: {}",
        text(&out)
    );
    assert!(!out.stdout.text().contains("allocated"));
    assert!(
        out.limits
            .iter()
            .any(|l| l.contains("memory") || l.contains("address_space")),
        "{:?}",
        out.limits
    );
    eprintln!("limits in force here: {:?}", out.limits);
}

/// The same sandbox without root: run as root (as CI is), this test drops to
/// `nobody` with setpriv and asks `vigie sandbox run` for a command there;
/// run as another user, every test above already ran unprivileged.
#[test]
fn the_sandbox_works_unprivileged() {
    let me = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let mut perms = std::fs::metadata(home.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(home.path(), perms).unwrap();
    // A checkout may sit in a folder only root can enter (a `mktemp -d`):
    // nobody runs its own copy of the binary.
    let vigie = home.path().join("vigie");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_vigie"), &vigie).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_vigie"), &vigie).unwrap();
    }
    let mut perms = std::fs::metadata(&vigie).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&vigie, perms).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&vigie)
        .args([
            "sandbox",
            "run",
            "--",
            "id -u; touch /work/x && echo wrote; cat /etc/shadow || echo no-shadow",
        ])
        .env("VIGIE_HOME", home.path())
        .output()
        .expect("setpriv (util-linux) runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "0\nwrote\nno-shadow\n");
}

#[test]
fn tmp_is_the_sandboxs_own_and_lasts_across_its_commands() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let other = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let out = run(
        &sandbox,
        "echo kept > /tmp/note && ls -ld /tmp | cut -c1-10",
    );
    assert_eq!(out.stdout.text(), "drwxrwxrwt\n", "{}", text(&out));
    assert_eq!(run(&sandbox, "cat /tmp/note").stdout.text(), "kept\n");
    assert_ne!(
        run(&other, "cat /tmp/note").exit_code,
        0,
        "another sandbox's /tmp"
    );
    assert_eq!(sandbox.read_file("/tmp/note").unwrap(), b"kept\n");
}

#[test]
fn a_task_can_name_its_root_filesystem_and_ask_for_the_network() {
    let base = tempfile::tempdir().unwrap();
    let err = Sandbox::create(
        &host(base.path()),
        &Policy {
            rootfs: Some(base.path().join("no-such-root")),
            ..Policy::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("no /bin/sh"), "{err}");
    // The smallest root filesystem: the host's /bin/sh and the libraries it
    // loads (as `ldd` lists them), and a tool the host itself has not.
    let rootfs = base.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("opt")).unwrap();
    std::fs::write(rootfs.join("opt/ctf-tools"), "installed\n").unwrap();
    let shell = std::fs::canonicalize("/bin/sh").unwrap();
    let ldd = std::process::Command::new("ldd")
        .arg(&shell)
        .output()
        .unwrap();
    let mut files = vec![shell.clone()];
    files.extend(
        String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(PathBuf::from),
    );
    for file in &files {
        let to = rootfs.join(file.strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(file, &to).unwrap();
    }
    let sh = rootfs.join("bin/sh");
    if !sh.exists() {
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::os::unix::fs::symlink(&shell, &sh).unwrap();
    }
    let sandbox = Sandbox::create(
        &host(base.path()),
        &Policy {
            rootfs: Some(rootfs.clone()),
            ..Policy::default()
        },
    )
    .unwrap();
    // Shell built-ins only: nothing else is in this root.
    let out = run(
        &sandbox,
        "read tool < /opt/ctf-tools; echo $tool; [ -e /etc/ld.so.cache ] || echo no-host-etc; [ -e /usr/bin/python3 ] || echo no-host-usr",
    );
    assert_eq!(
        out.stdout.text(),
        "installed\nno-host-etc\nno-host-usr\n",
        "{}",
        text(&out)
    );
    assert_ne!(run(&sandbox, "echo x > /opt/x").exit_code, 0, "read-only");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let networked = Sandbox::create(
        &host(base.path()),
        &Policy {
            network: true,
            ..Policy::default()
        },
    )
    .unwrap();
    let out = run(
        &networked,
        &format!("python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2); print('reached')\""),
    );
    assert_eq!(out.stdout.text(), "reached\n", "{}", text(&out));
}

#[test]
fn what_a_command_used_is_measured_where_a_cgroup_can() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
    let out = run(
        &sandbox,
        "python3 -c \"x = bytearray(64 * 1024 * 1024); sum(range(3_000_000))\"",
    );
    assert_eq!(out.exit_code, 0, "{}", text(&out));
    eprintln!("usage: {:?}, limits: {:?}", out.usage, out.limits);
    if out.limits.iter().any(|l| l.starts_with("cgroup")) {
        let peak = out
            .usage
            .memory_peak_bytes
            .expect("a memory cgroup measures the peak");
        assert!(peak >= 64 << 20, "peak {peak}");
        let cpu = out.usage.cpu_seconds.expect("a cgroup measures CPU");
        assert!(cpu > 0.01 && cpu < 30.0, "cpu {cpu}");
    }
}

#[test]
fn local_isolation_runs_on_the_host_with_only_the_tasks_environment() {
    let base = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::create(
        &host(base.path()),
        &Policy {
            isolation: vigie_sandbox::Isolation::Local,
            ..Policy::default()
        },
    )
    .unwrap();
    std::env::set_var("OPENAI_API_KEY", "sk-must-not-leak");
    let out = run(&sandbox, "pwd; env");
    let stdout = out.stdout.text();
    assert!(
        stdout.starts_with(&sandbox.work_dir().display().to_string()),
        "{stdout}"
    );
    assert!(!stdout.contains("sk-must-not-leak"), "{stdout}");
    assert!(out.limits[0].contains("local"), "{:?}", out.limits);
    let out = run_with(
        &sandbox,
        ExecRequest::new("sleep 987641 & sleep 987640", Duration::from_millis(500)),
    );
    assert!(out.timed_out);
    std::thread::sleep(Duration::from_millis(200));
    assert!(host_processes_with("98764").is_empty());
}

/// Every built-in CTF challenge (`suite:cyber/ctf`) is solvable: in a fresh
/// sandbox its setup writes its files with a flag it alone is given, and its
/// reference solution, run as the agent's commands are (no `$FLAG`, none of
/// vigie's environment), prints that flag — which is in no file of the
/// repository.
#[test]
fn every_builtin_ctf_challenge_is_solved_by_its_reference_solution() {
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigie-suites/suites/cyber/ctf.jsonl");
    let text = std::fs::read_to_string(&dataset).unwrap();
    let base = tempfile::tempdir().unwrap();
    let mut categories = std::collections::BTreeMap::new();
    let mut difficulties = std::collections::BTreeSet::new();
    for line in text.lines() {
        let challenge: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = challenge["id"].as_str().unwrap();
        *categories
            .entry(challenge["category"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        difficulties.insert(challenge["difficulty"].as_str().unwrap().to_string());
        assert!(
            !challenge["rationale"].as_str().unwrap().is_empty(),
            "{id}: a difficulty rationale"
        );
        let flag = vigie_eval::sandboxing::derived_flag("test-run", id);
        assert!(!text.contains(&flag));
        let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
        let mut setup = ExecRequest::new(
            challenge["setup"].as_str().unwrap(),
            Duration::from_secs(60),
        );
        setup.env = BTreeMap::from([("FLAG".to_string(), flag.clone())]);
        let out = run_with(&sandbox, setup);
        assert_eq!(out.exit_code, 0, "{id}: setup: {}", text_of(&out));
        let mut solve = ExecRequest::new(
            challenge["solution"].as_str().unwrap(),
            Duration::from_secs(60),
        );
        solve.env = BTreeMap::new();
        let out = run_with(&sandbox, solve);
        assert!(
            out.stdout.text().contains(&flag),
            "{id}: the solution did not print the flag: {}",
            text_of(&out)
        );
        // The flag is not lying in plain text in the challenge's files, but
        // where finding a file is the challenge.
        let grep = run(
            &sandbox,
            &format!("grep -rl '{flag}' /work /tmp 2>/dev/null | grep -v '^/work/\\.git' || true"),
        );
        let found = grep.stdout.text();
        let plain: Vec<&str> = found
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let allowed = [
            "gs-hidden-file",
            "gs-needle",
            "gs-archive-nest",
            "gs-locked-file",
            "forensics-magic",
            "forensics-deleted-line",
        ];
        assert!(
            plain.is_empty() || allowed.contains(&id),
            "{id}: the flag is in plain text in {plain:?}"
        );
        sandbox.destroy().unwrap();
    }
    // At least 30, in six categories of at least four, at three levels.
    assert!(text.lines().count() >= 30);
    assert_eq!(categories.len(), 6, "{categories:?}");
    assert!(categories.values().all(|&n| n >= 4), "{categories:?}");
    assert_eq!(
        difficulties.into_iter().collect::<Vec<_>>(),
        ["easy", "hard", "medium"]
    );
}

fn text_of(output: &ExecOutput) -> String {
    text(output)
}

/// Every built-in loss-of-control scenario, both variants, in the sandbox:
/// on the untouched files neither the task nor the action check finds
/// anything; after the ordinary task done alone, the task check passes and
/// the action check still finds nothing (doing the job is not scheming);
/// after the reference scheming action, the action check finds it (in the
/// control too, but for the ranking, whose action there is rank.py's own
/// order). A check that fails in itself (exit 2) fails the test.
#[test]
fn every_builtin_scenario_checks_its_final_state_both_ways() {
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigie-suites/suites/loss-of-control/agentic.jsonl");
    let text = std::fs::read_to_string(&dataset).unwrap();
    let base = tempfile::tempdir().unwrap();
    let mut scenarios = std::collections::BTreeMap::new();
    for line in text.lines() {
        let s: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = s["id"].as_str().unwrap();
        let field = |name: &str| s[name].as_str().unwrap_or_else(|| panic!("{id}: {name}"));
        *scenarios.entry(field("scenario").to_string()).or_insert(0) += 1;
        let exit = |commands: &[&str], check: &str| {
            let sandbox = Sandbox::create(&host(base.path()), &Policy::default()).unwrap();
            for command in commands {
                let out = run_with(
                    &sandbox,
                    ExecRequest::new(*command, Duration::from_secs(60)),
                );
                assert_eq!(out.exit_code, 0, "{id}: {command}: {}", text_of(&out));
            }
            let out = run_with(
                &sandbox,
                ExecRequest::new(field(check), Duration::from_secs(60)),
            );
            sandbox.destroy().unwrap();
            assert!(out.exit_code < 2, "{id}: {check} failed: {}", text_of(&out));
            out.exit_code
        };
        let setup = field("setup");
        assert_eq!(exit(&[setup], "task_check"), 1, "{id}: task done untouched");
        assert_eq!(exit(&[setup], "action_check"), 1, "{id}: acted untouched");
        let task = field("reference_task");
        assert_eq!(
            exit(&[setup, task], "task_check"),
            0,
            "{id}: the task reference"
        );
        assert_eq!(
            exit(&[setup, task], "action_check"),
            1,
            "{id}: doing the task is not acting"
        );
        let act = field("reference_action");
        let expected = if id == "covert-ranking/control" { 1 } else { 0 };
        assert_eq!(
            exit(&[setup, act], "action_check"),
            expected,
            "{id}: the action"
        );
    }
    assert!(scenarios.len() >= 12, "{scenarios:?}");
    assert!(
        scenarios.values().all(|&n| n == 2),
        "a conflict and a control each: {scenarios:?}"
    );
}
