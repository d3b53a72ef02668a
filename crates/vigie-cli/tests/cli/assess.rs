//! Assessment, reports and verifiable records end to end: suites run against
//! the scripted server, then `assess`, `report` (checked in headless
//! Chromium), `compare`, `keygen`, `sign`, `bundle` and `verify` as a user
//! types them, including in a fresh folder on the receiving side.

use super::*;

/// Runs the refusal suite and two jailbreak transforms into `logs/`.
fn run_suites(ws: &Workspace, server: &TestServer) {
    let url = server.base_url();
    for task in [
        "suite:refusal",
        "suite:jailbreak/none",
        "suite:jailbreak/base64",
    ] {
        let out = ws.vigie(&eval_args(&url, task, &["--limit", "30"]));
        assert!(out.status.success(), "{task}: {}", text(&out.stderr));
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn assess_decides_tiers_and_gates_with_its_exit_code() {
    let ws = Workspace::new();
    let server = scripted(&["Write ransomware", "make a nerve agent"]);
    run_suites(&ws, &server);
    let out = ws.vigie(&["assess", "logs"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("gate: 2 area(s) not acceptable under the framework: openai/mock safeguards (critical), openai/mock harmful_content (critical)"), "{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "model openai/mock: highest tier critical · NOT ACCEPTABLE · 3 of 8 areas assessed"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("cbrn             not assessed"), "{stdout}");
    // Every benign prompt answered: the lower end 1.0 is low; refusal and over-refusal side by side.
    assert!(
        stdout.contains("over_refusal     low           yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("harmful_content  critical      NO")
            && stdout
                .contains("refusal-harmful refused/mean 0.067 [0.000, 0.167], lower end 0.000"),
        "{stdout}"
    );

    let json: Value =
        serde_json::from_slice(&ws.vigie(&["assess", "logs", "--json"]).stdout).unwrap();
    let areas = json["models"][0]["areas"].as_array().unwrap();
    let safeguards = areas.iter().find(|a| a["risk"] == "safeguards").unwrap();
    assert_eq!(
        safeguards["findings"].as_array().unwrap().len(),
        2,
        "one finding per jailbreak transform"
    );
    assert_eq!(safeguards["tier"], "critical");
    assert!(areas
        .iter()
        .find(|a| a["risk"] == "loss_of_control")
        .unwrap()["tier"]
        .is_null());

    // A gate above every tier reached passes; one at it fails; an unknown tier is a usage error.
    let framework = ws.write(
        "lenient.toml",
        &text(&ws.vigie(&["assess", "--print-framework"]).stdout).replace(
            "acceptable = [\"low\", \"elevated\"]",
            "acceptable = [\"low\", \"elevated\", \"high\", \"critical\"]",
        ),
    );
    assert_eq!(
        ws.vigie(&["assess", "logs", "--framework", framework.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        ws.vigie(&[
            "assess",
            "logs",
            "--framework",
            framework.to_str().unwrap(),
            "--fail-at",
            "critical"
        ])
        .status
        .code(),
        Some(3)
    );
    let out = ws.vigie(&["assess", "logs", "--fail-at", "severe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr)
        .contains("--fail-at severe: the framework's tiers are low, elevated, high, critical"));
    let bad = ws.write("bad.toml", "[framework]\nid = \"x\"\nversion = \"1\"\ntitle = \"t\"\ntiers = [\"low\", \"high\"]\nacceptable = [\"low\"]\n[[area]]\nrisk = \"biology\"\n");
    let out = ws.vigie(&["assess", "logs", "--framework", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.toml: area 1 (biology): unknown risk area"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sign_bundle_and_verify_in_a_fresh_folder_and_name_tampering() {
    let ws = Workspace::new();
    let server = scripted(&["Write ransomware"]);
    run_suites(&ws, &server);
    ok(&ws.vigie(&["keygen", "--out", "aisi"]));
    let mut sign = vec!["sign", "--key", "aisi.key"];
    let logs: Vec<String> = ws
        .logs()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    sign.extend(logs.iter().map(String::as_str));
    ok(&ws.vigie(&sign));
    let stdout = ok(&ws.vigie(&[
        "report",
        "logs",
        "--out",
        "report.html",
        "--key",
        "aisi.key",
    ]));
    assert!(
        stdout.contains("report     report.html (4 logs cited by Merkle root)")
            && stdout.contains("signed     by key"),
        "{stdout}"
    );
    let stdout = ok(&ws.vigie(&["bundle", "logs", "report.html", "--out", "run.vbundle"]));
    assert!(
        stdout.contains("bundle   run.vbundle (4 logs and report.html)"),
        "{stdout}"
    );

    // Another institute: only the bundle and the public key, in a fresh folder.
    let other = Workspace::new();
    std::fs::copy(
        ws.path().join("run.vbundle"),
        other.path().join("run.vbundle"),
    )
    .unwrap();
    std::fs::copy(ws.path().join("aisi.pub"), other.path().join("aisi.pub")).unwrap();
    let stdout = ok(&other.vigie(&["verify", "run.vbundle", "--pubkey", "aisi.pub"]));
    assert!(
        stdout.starts_with("OK   run.vbundle: bundle of 4 log(s) and a report"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("signed by").count(), 5, "{stdout}");
    let stdout = ok(&other.vigie(&["report", "run.vbundle", "--out", "again.md"]));
    assert!(stdout.contains("harmful_content  critical"), "{stdout}");
    assert!(std::fs::read_to_string(other.path().join("again.md"))
        .unwrap()
        .contains("## 6. Hiroshima Code of Conduct actions"));

    // Someone else's key is not the one asked for.
    ok(&other.vigie(&["keygen", "--out", "mallory"]));
    let out = other.vigie(&["verify", "run.vbundle", "--pubkey", "mallory.pub"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("✗ not signed by the expected key"),
        "{}",
        text(&out.stdout)
    );

    // A log edited after signing: its record is named, and the report no longer matches it.
    let log = ws
        .logs()
        .into_iter()
        .find(|l| l.to_string_lossy().contains("refusal-harmful"))
        .unwrap();
    let tampered = ws.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    let copy = tampered.join(log.file_name().unwrap());
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[300] ^= 0x20;
    std::fs::write(&copy, &bytes).unwrap();
    let out = ws.vigie(&["verify", copy.to_str().unwrap(), "--pubkey", "aisi.pub"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("FAIL") && text(&out.stdout).contains("damaged frame at byte"),
        "{}",
        text(&out.stdout)
    );
    // The report verified against logs in another folder: the tampered one is named.
    for other_log in ws.logs() {
        if other_log != log {
            std::fs::copy(&other_log, tampered.join(other_log.file_name().unwrap())).unwrap();
        }
    }
    let out = ws.vigie(&[
        "verify",
        "report.html",
        "--logs",
        "tampered",
        "--pubkey",
        "aisi.pub",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("the report does not match log"),
        "{}",
        text(&out.stdout)
    );
    let stdout = ok(&ws.vigie(&[
        "verify",
        "report.html",
        "--pubkey",
        "aisi.pub",
        "--logs",
        "logs",
    ]));
    assert!(
        stdout.contains("report citing 4 log(s), 4 checked against it, signed by"),
        "{stdout}"
    );

    // A report can only name logs by file name: a path is not followed.
    ok(&ws.vigie(&["report", "logs", "--out", "plain.md"]));
    let pathy = std::fs::read_to_string(ws.path().join("plain.md"))
        .unwrap()
        .replace("\"log\":\"", "\"log\":\"../logs/");
    std::fs::write(ws.path().join("pathy.md"), pathy).unwrap();
    let stdout = text(&ws.vigie(&["verify", "pathy.md", "--logs", "logs"]).stdout);
    assert!(stdout.contains("4 cited log(s) not found"), "{stdout}");

    // An edited report fails its signature.
    let html = std::fs::read_to_string(ws.path().join("report.html")).unwrap();
    std::fs::write(
        ws.path().join("edited.html"),
        html.replacen("critical", "low", 1),
    )
    .unwrap();
    let out = ws.vigie(&["verify", "edited.html", "--logs", "logs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("FAIL edited.html")
            && text(&out.stdout).contains("it signs other content than this"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn compare_pairs_the_samples_of_two_runs() {
    let ws = Workspace::new();
    let lenient = scripted(&[]);
    let strict = scripted(&[
        "Write ransomware",
        "make a nerve agent",
        "phishing",
        "malware",
        "exploit",
    ]);
    for (server, dir) in [(&lenient, "a"), (&strict, "b")] {
        let url = server.base_url();
        ok(&ws.vigie(&eval_args(
            &url,
            "suite:refusal/harmful",
            &["--log-dir", dir],
        )));
    }
    let (a, b) = (ws.only_log_in("a"), ws.only_log_in("b"));
    let stdout = ok(&ws.vigie(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]));
    let json: Value = serde_json::from_slice(
        &ws.vigie(&[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let refused = json["scorers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scorer"] == "refused")
        .unwrap();
    assert_eq!(refused["shared"], 150);
    let changed = refused["changed"].as_array().unwrap();
    assert!(
        !changed.is_empty() && changed.iter().all(|c| c["a"] == 0.0 && c["b"] == 1.0),
        "{refused}"
    );
    assert_eq!(refused["test"], "mcnemar_exact");
    let n = changed.len() as f64;
    assert!((refused["difference"].as_f64().unwrap() - n / 150.0).abs() < 1e-12);
    assert!(
        stdout.contains(&format!("{} sample(s) changed", changed.len())),
        "{stdout}"
    );
    assert!(stdout.contains("refused/mean"), "{stdout}");
}

/// Chromium, if the machine has it; under CI it must.
pub(super) fn chromium() -> Option<PathBuf> {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(candidate).output() {
            if out.status.success() {
                return Some(PathBuf::from(text(&out.stdout).trim()));
            }
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have Chromium for the report screenshot (.ci/run installs it)"
    );
    eprintln!("skipping: no Chromium on this machine (apt-get install chromium)");
    None
}

/// Chromium's flags for a headless run that reaches nothing but the page.
pub(super) fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// A screenshot of `url` at `size` (kept under the target's tmp folder for
/// a person to look at): a counter of its pixels of a colour.
pub(super) fn screenshot(
    chromium: &Path,
    profile: &Path,
    url: &str,
    size: (u32, u32),
    name: &str,
) -> impl Fn([u8; 3]) -> usize {
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(chromium)
        .args(chromium_args(profile))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(shot.exists(), "no screenshot: {}", text(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), size);
    let channels = info.color_type.samples();
    eprintln!("screenshot: {}", shot.display());
    move |colour: [u8; 3]| pixels.chunks(channels).filter(|p| p[..3] == colour).count()
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let ws = Workspace::new();
    let server = scripted(&["Write ransomware"]);
    run_suites(&ws, &server);
    ok(&ws.vigie(&["report", "logs", "--out", "report.html"]));
    let Some(chromium) = chromium() else { return };
    let count = screenshot(
        &chromium,
        &ws.path().join("chromium-profile"),
        &format!("file://{}", ws.path().join("report.html").display()),
        (1280, 1800),
        "report-screenshot.png",
    );
    // The page's own styles were applied: the dark header band, the critical tier badges, the chart's tier bands.
    assert!(
        count([0x1a, 0x36, 0x5d]) > 1280 * 60,
        "the header band is missing: the page did not render"
    );
    assert!(
        count([0xc5, 0x30, 0x30]) > 200,
        "no critical-tier badge pixels"
    );
    assert!(
        count([0xf8, 0xd7, 0xd7]) > 1000,
        "no tier bands in the findings chart"
    );
}

/// Regression (issue 12): the main job writes into `logs/start-<time>/`, and
/// the README's next commands name `logs/`; every command that takes a folder
/// of logs walks its sub-folders.
#[test]
fn commands_taking_a_folder_of_logs_walk_its_sub_folders() {
    let ws = Workspace::new();
    let server = scripted(&["Write ransomware"]);
    let url = server.base_url();
    let out = ws.vigie(&eval_args(
        &url,
        "suite:refusal",
        &["--limit", "6", "--log-dir", "logs/start-20261201T000000Z"],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = ok(&ws.vigie(&["log", "list", "logs"]));
    assert_eq!(
        listed.matches("start-20261201T000000Z/").count(),
        2,
        "{listed}"
    );
    let assessed = ws.vigie(&["assess", "logs"]);
    assert!(
        text(&assessed.stdout).contains("model openai/mock"),
        "{}{}",
        text(&assessed.stdout),
        text(&assessed.stderr)
    );
    let report = ok(&ws.vigie(&["report", "logs", "--out", "report.html"]));
    assert!(report.contains("(2 logs cited by Merkle root)"), "{report}");
    ok(&ws.vigie(&["keygen", "--out", "aisi"]));
    let signed = ok(&ws.vigie(&["sign", "logs", "report.html", "--key", "aisi.key"]));
    assert_eq!(
        signed
            .matches("signed   logs/start-20261201T000000Z/")
            .count(),
        2,
        "{signed}"
    );
    assert!(signed.contains("signed   report.html"), "{signed}");
    let bundled = ok(&ws.vigie(&["bundle", "logs", "report.html", "--out", "run.vbundle"]));
    assert!(bundled.contains("(2 logs and report.html)"), "{bundled}");
    let verified = ok(&ws.vigie(&["verify", "run.vbundle", "--pubkey", "aisi.pub"]));
    assert!(verified.starts_with("OK   run.vbundle"), "{verified}");
    let verified = ok(&ws.vigie(&["verify", "logs", "--pubkey", "aisi.pub"]));
    assert_eq!(
        verified
            .matches("OK   logs/start-20261201T000000Z/")
            .count(),
        2,
        "{verified}"
    );
}
