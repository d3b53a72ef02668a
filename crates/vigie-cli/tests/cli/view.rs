//! `vigie view` end to end: the real binary serves logs a real run wrote;
//! the tests read its pages over HTTP on loopback, as a browser would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use super::{eval_args, server, text, Workspace, ARITH_TASK};

/// A running `vigie view`, stopped when dropped.
pub(crate) struct View {
    child: Child,
    pub(crate) base: String,
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn view(ws: &Workspace, args: &[&str]) -> View {
    let mut child = ws
        .command(&[&["view", "--port", "0"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");
    View {
        child,
        base: line.trim().to_string(),
    }
}

/// GET `path` (with `headers`): the status code, the headers and the body.
pub(crate) fn get(base: &str, path: &str, headers: &[&str]) -> (u16, String, String) {
    let address = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut stream = TcpStream::connect(&address).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// A finished run of 12 questions (every third answered wrong) in
/// `logs/nested/`, and its log's id in the viewer.
fn a_run(ws: &Workspace) -> String {
    ws.write("arith.toml", ARITH_TASK);
    let rows: Vec<String> = (0..12)
        .map(|i| {
            format!(
                "What is {i}+0?{}",
                if i % 3 == 0 { " [[reply:wrong]]" } else { "" }
            )
        })
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|q| (q.as_str(), "4")).collect();
    ws.dataset("arith.jsonl", &rows);
    let server = server();
    let out = ws.vigie(&eval_args(
        &server.base_url(),
        "arith.toml",
        &["--log-dir", "logs/nested"],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = ws.only_log_in("logs/nested");
    format!("0/nested/{}", log.file_name().unwrap().to_string_lossy())
}

#[test]
fn logs_runs_samples_and_transcripts_are_served_filtered_on_the_server() {
    let ws = Workspace::new();
    let id = a_run(&ws);
    let log = ws.path().join("logs").join(id.trim_start_matches("0/"));
    let before = std::fs::read(&log).unwrap();
    let v = view(&ws, &["logs"]);

    let (status, _, body) = get(&v.base, "/", &[]);
    assert_eq!(status, 200);
    assert!(body.contains("arith") && body.contains("12 / 12"), "{body}");
    assert!(body.contains("includes accuracy 0.667"), "{body}");

    let (status, _, run) = get(&v.base, &format!("/run?log={id}"), &[]);
    assert_eq!(status, 200, "{run}");
    for expected in [
        "task sha256",
        "dataset sha256",
        "Merkle root",
        "includes",
        "0.667",
    ] {
        assert!(run.contains(expected), "{expected}: {run}");
    }

    // Filtered on the server: the four wrong answers, then a search.
    let (_, _, wrong) = get(
        &v.base,
        &format!("/samples?log={id}&score=includes%3C1"),
        &[],
    );
    assert!(
        wrong.contains("<strong>4</strong> of 12 samples match"),
        "{wrong}"
    );
    assert!(wrong.contains("What is 9+0?") && !wrong.contains("What is 2+0?"));
    assert!(
        wrong.contains("value=\"includes&lt;1\""),
        "the form shows the filter: {wrong}"
    );
    assert!(
        !wrong.contains("None"),
        "an unused field shows nothing: {wrong}"
    );
    let (_, _, found) = get(&v.base, &format!("/samples?log={id}&q=WHAT+IS+11"), &[]);
    assert!(found.contains("<strong>1</strong> of 12"), "{found}");
    let (_, _, api) = get(
        &v.base,
        &format!("/api/samples?log={id}&per=5&page=3&sort=includes&order=desc"),
        &[],
    );
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(
        (api["total"].as_u64(), api["pages"].as_u64()),
        (Some(12), Some(3))
    );
    assert_eq!(api["rows"].as_array().unwrap().len(), 2);
    assert!(api["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["scores"]["includes"] == 0.0));

    // A sample: its transcript, scores, and the next sample the filter selected.
    let (status, _, sample) = get(
        &v.base,
        &format!("/sample?log={id}&n=3&score=includes%3C1"),
        &[],
    );
    assert_eq!(status, 200, "{sample}");
    assert!(sample.contains("Answer with a number only.") && sample.contains("What is 3+0?"));
    assert!(
        sample.contains(">wrong</pre>"),
        "the model's answer: {sample}"
    );
    assert!(
        sample.contains("id=\"next\" href=\"&#x2f;sample?log=") && sample.contains("n=6"),
        "{sample}"
    );
    assert!(
        sample.contains("id=\"previous\"") && sample.contains("n=0"),
        "{sample}"
    );

    // Bad filters are named; the log was never written to.
    let (status, _, bad) = get(&v.base, &format!("/samples?log={id}&score=includes~1"), &[]);
    assert_eq!(status, 400);
    assert!(bad.contains("an operator"), "{bad}");
    assert_eq!(
        std::fs::read(&log).unwrap(),
        before,
        "the viewer never writes a log"
    );
}

#[test]
fn a_run_page_says_who_signed_the_log_and_whether_the_signature_verifies() {
    let ws = Workspace::new();
    let id = a_run(&ws);
    let log = ws.path().join("logs").join(id.trim_start_matches("0/"));
    let run = |ws: &Workspace| {
        let v = view(ws, &["logs"]);
        let (status, _, run) = get(&v.base, &format!("/run?log={id}"), &[]);
        assert_eq!(status, 200, "{run}");
        run
    };
    let unsigned = run(&ws);
    assert!(unsigned.contains("not signed"), "{unsigned}");
    let out = ws.vigie(&["keygen", "--out", "aisi"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ws.vigie(&["sign", "--key", "aisi.key", &log.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key_id = vigie_seal::load_public_key(&ws.path().join("aisi.pub"))
        .unwrap()
        .key_id();
    let signed = run(&ws);
    assert!(
        signed.contains(&format!("signed by {key_id} at "))
            && signed.contains("the signature verifies"),
        "{signed}"
    );
    assert!(
        !signed.contains("not signed") && !signed.contains("CHANGED"),
        "{signed}"
    );
}

#[test]
fn only_logs_under_the_given_paths_are_served() {
    let ws = Workspace::new();
    let id = a_run(&ws);
    // A log outside the viewed folder, and a symlink inside leading to it.
    let outside = tempfile::tempdir().unwrap();
    let real = ws.path().join("logs").join(id.trim_start_matches("0/"));
    std::fs::copy(&real, outside.path().join("secret.vlog")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.vlog"),
        ws.path().join("logs/escape.vlog"),
    )
    .unwrap();
    let v = view(&ws, &["logs"]);
    let (_, _, list) = get(&v.base, "/", &[]);
    assert!(
        !list.contains("escape.vlog") && !list.contains("secret"),
        "{list}"
    );
    let secret = outside.path().join("secret.vlog");
    for attempt in [
        "/run?log=0/escape.vlog".to_string(),
        "/run?log=0/../../etc/passwd".to_string(),
        format!("/run?log={}", secret.display()),
        format!("/sample?log=0/{}&n=0", secret.display()),
        "/run?log=1/anything.vlog".to_string(),
        "/run".to_string(),
    ] {
        let (status, _, body) = get(&v.base, &attempt, &[]);
        assert_eq!(status, 404, "{attempt}: {body}");
    }
    let (status, _, _) = get(&v.base, &format!("/run?log={id}"), &[]);
    assert_eq!(status, 200);
}

#[test]
fn another_address_needs_a_token_and_every_request_carries_it() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("logs")).unwrap();
    let out = ws.vigie(&["view", "logs", "--host", "0.0.0.0", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs --token"),
        "{}",
        text(&out.stderr)
    );
    let out = ws.vigie(&["view", "no-such-folder", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no-such-folder"),
        "{}",
        text(&out.stderr)
    );

    let v = view(&ws, &["logs", "--token", "s3cret"]);
    assert!(v.base.ends_with("/?token=s3cret"), "{}", v.base);
    let (status, _, _) = get(&v.base, "/", &[]);
    assert_eq!(status, 401);
    let (status, _, _) = get(&v.base, "/?token=wrong", &[]);
    assert_eq!(status, 401);
    let (status, head, _) = get(&v.base, "/?token=s3cret", &[]);
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase()
            .contains("set-cookie: vigie_token=s3cret; httponly"),
        "{head}"
    );
    let (status, _, _) = get(&v.base, "/", &["Cookie: vigie_token=s3cret"]);
    assert_eq!(status, 200);
    let (status, _, _) = get(&v.base, "/", &["Authorization: Bearer s3cret"]);
    assert_eq!(status, 200);
}

/// A run still being written: `/api/logs` (which the logs page asks every
/// two seconds) shows its records arriving, then its end.
#[test]
fn a_run_being_written_shows_its_progress_live() {
    let ws = Workspace::new();
    ws.write("arith.toml", ARITH_TASK);
    let rows: Vec<String> = (0..40)
        .map(|i| format!("What is {i}+0? [[delay:60]]"))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|q| (q.as_str(), "4")).collect();
    ws.dataset("arith.jsonl", &rows);
    std::fs::create_dir_all(ws.path().join("logs")).unwrap();
    let v = view(&ws, &["logs"]);
    let server = server();
    let mut run = ws
        .command(&eval_args(
            &server.base_url(),
            "arith.toml",
            &["--max-connections", "1"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let started = std::time::Instant::now();
    loop {
        let (_, _, body) = get(&v.base, "/api/logs", &[]);
        let logs: serde_json::Value = serde_json::from_str(&body).unwrap();
        if let Some(log) = logs.as_array().unwrap().first() {
            seen.push((
                log["status"].as_str().unwrap().to_string(),
                log["completed"].as_u64().unwrap(),
            ));
            if log["status"] == "success" {
                break;
            }
        }
        assert!(started.elapsed().as_secs() < 30, "{seen:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(run.wait().unwrap().success());
    let partial: Vec<u64> = seen
        .iter()
        .filter(|(status, _)| status == "started")
        .map(|(_, n)| *n)
        .collect();
    assert!(partial.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(
        partial.iter().any(|&n| n > 0 && n < 40),
        "seen mid-run: {seen:?}"
    );
    assert_eq!(seen.last().unwrap(), &("success".to_string(), 40));
}

/// In a real browser: the logs page's script redraws the rows from the
/// server (its mark is set), and the filtered samples page renders with its
/// styles (a screenshot a person can read; its pixels are checked).
#[test]
fn the_viewer_renders_and_updates_in_headless_chromium() {
    let ws = Workspace::new();
    let id = a_run(&ws);
    let Some(chromium) = super::assess::chromium() else {
        return;
    };
    let v = view(&ws, &["logs"]);
    let profile = ws.path().join("chromium-profile");
    let out = std::process::Command::new(&chromium)
        .args(super::assess::chromium_args(&profile))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(&v.base)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let dom = text(&out.stdout);
    assert!(
        dom.contains("data-updated=\""),
        "the live script ran: {dom}{}",
        text(&out.stderr)
    );
    assert!(
        dom.contains(&format!("/run?log={}", id.replace('/', "%2F"))),
        "rows drawn by the script: {dom}"
    );

    let count = super::assess::screenshot(
        &chromium,
        &profile,
        &format!("{}samples?log={id}&score=includes%3C1", v.base),
        (1280, 900),
        "view-samples.png",
    );
    assert!(
        count([0x0f, 0x17, 0x2a]) > 1280 * 30,
        "the header band: the page's styles applied"
    );
    assert!(
        count([0xf7, 0xf8, 0xfa]) > 20_000,
        "the filter form and table heads"
    );
}

/// Two runs of one task side by side: the paired test of `vigie compare`,
/// one row per sample, and the changed-only and failures-only filters.
/// A person's session, driven through WebDriver: typing a search and a
/// score filter into the form, opening a sample from the table, moving
/// through the filtered samples with the keyboard, and the transcript's
/// screenshot.
#[test]
fn a_person_filters_opens_a_transcript_and_moves_with_the_keyboard_in_chromium() {
    let ws = Workspace::new();
    let id = a_run(&ws);
    let Some(chromium) = super::assess::chromium() else {
        return;
    };
    let v = view(&ws, &["logs"]);
    let Some(browser) = super::webdriver::Browser::start(
        &chromium,
        &ws.path().join("chromium-profile"),
        (1280, 900),
    ) else {
        return;
    };
    browser.open(&format!("{}samples?log={id}", v.base));
    assert!(
        browser.text().contains("12 of 12 samples match"),
        "{}",
        browser.text()
    );

    // A search typed into the form: the URL keeps it, the server filtered.
    browser.type_into(
        "input[name=q]",
        &format!("what is 9{}", super::webdriver::ENTER),
    );
    browser.wait_until("the search applied", |b| {
        b.text().contains("1 of 12 samples match")
    });
    assert!(browser.url().contains("q=what+is+9"), "{}", browser.url());
    browser.click("#samples tbody a");
    browser.wait_until("the transcript opened", |b| b.text().contains("Transcript"));
    let transcript = browser.text();
    assert!(
        transcript.contains("What is 9+0?") && transcript.contains("wrong"),
        "{transcript}"
    );
    assert!(
        !transcript.contains("None"),
        "a score without an answer shows nothing: {transcript}"
    );

    // The failures only, then through them with the keyboard: 0, 3, 6, 9.
    browser.open(&format!("{}samples?log={id}", v.base));
    browser.type_into(
        "input[name=score]",
        &format!("includes<1{}", super::webdriver::ENTER),
    );
    browser.wait_until("the score filter applied", |b| {
        b.text().contains("4 of 12 samples match")
    });
    browser.click("#samples tbody a");
    browser.wait_until("the first failure opened", |b| {
        b.text().contains("What is 0+0?")
    });
    browser.press("j");
    browser.wait_until("j: the next failure", |b| b.text().contains("What is 3+0?"));
    browser.press("\u{E014}"); // the right arrow
    browser.wait_until("→: the one after", |b| b.text().contains("What is 6+0?"));
    browser.press("k");
    browser.wait_until("k: back one", |b| b.text().contains("What is 3+0?"));
    assert!(
        browser.url().contains("score=includes%3C1"),
        "the filter travels: {}",
        browser.url()
    );

    let count = browser.screenshot("view-transcript.png");
    assert!(
        count([0x0f, 0x17, 0x2a]) > 1280 * 30,
        "the header band: the page's styles applied"
    );
}

#[test]
fn two_runs_of_a_task_are_compared_sample_by_sample() {
    let ws = Workspace::new();
    let first = a_run(&ws);
    // The second run answers every fourth question wrong instead of every third.
    let rows: Vec<String> = (0..12)
        .map(|i| {
            format!(
                "What is {i}+0?{}",
                if i % 4 == 0 { " [[reply:wrong]]" } else { "" }
            )
        })
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|q| (q.as_str(), "4")).collect();
    ws.dataset("arith.jsonl", &rows);
    let server = server();
    let out = ws.vigie(&eval_args(
        &server.base_url(),
        "arith.toml",
        &["--log-dir", "logs/second"],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = format!(
        "0/second/{}",
        ws.only_log_in("logs/second")
            .file_name()
            .unwrap()
            .to_string_lossy()
    );
    let v = view(&ws, &["logs"]);
    let (_, _, run) = get(&v.base, &format!("/run?log={first}"), &[]);
    assert!(
        run.contains("Compare with another run of this task"),
        "{run}"
    );
    let both = format!("/compare?log={first}&log={second}");
    let (status, _, page) = get(&v.base, &both, &[]);
    assert_eq!(status, 200, "{page}");
    // 8 of 12 right against 9 of 12: +0.083, McNemar's exact test.
    assert!(
        page.contains("+0.083") && page.contains("mcnemar_exact"),
        "{page}"
    );
    assert!(page.contains("<strong>12</strong> of 12 samples"), "{page}");
    // Changed: 3, 4, 6, 8 and 9 differ (every third vs every fourth, 0 wrong in both).
    let (_, _, changed) = get(&v.base, &format!("{both}&only=changed"), &[]);
    assert!(
        changed.contains("<strong>5</strong> of 12 samples"),
        "{changed}"
    );
    let (_, _, failures) = get(&v.base, &format!("{both}&only=failures"), &[]);
    assert!(
        failures.contains("<strong>6</strong> of 12 samples"),
        "{failures}"
    );
    // In a real browser: the failures rows, red where a run got it wrong.
    if let Some(chromium) = super::assess::chromium() {
        let count = super::assess::screenshot(
            &chromium,
            &ws.path().join("chromium-profile"),
            &format!("{}{}&only=failures", v.base, both.trim_start_matches('/')),
            (1280, 900),
            "view-compare.png",
        );
        assert!(count([0x0f, 0x17, 0x2a]) > 1280 * 30, "the header band");
        assert!(
            count([0xb4, 0x23, 0x18]) > 200,
            "the wrong answers' cells in red"
        );
    }
    let (status, _, one) = get(&v.base, &format!("/compare?log={first}"), &[]);
    assert_eq!(status, 400);
    assert!(one.contains("two or more runs"), "{one}");
}

/// The assessment: tiers per risk area and model under the default
/// framework, each finding a link to the samples behind it.
#[test]
fn the_assessment_page_links_each_finding_to_its_samples() {
    let ws = Workspace::new();
    let server = server();
    let out = ws.vigie(&eval_args(
        &server.base_url(),
        "suite:refusal",
        &["--limit", "6", "--log-dir", "logs/refusal"],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = view(&ws, &["logs"]);
    let (status, _, page) = get(&v.base, "/assess", &[]);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("vigie default frontier-risk framework"),
        "{page}"
    );
    assert!(page.contains("openai&#x2f;mock"), "{page}");
    assert!(
        page.contains("refusal-harmful · refused&#x2f;mean"),
        "{page}"
    );
    assert!(
        page.contains("not assessed"),
        "areas without evidence say so: {page}"
    );
    let link = page
        .split("href=\"")
        .map(|s| {
            s.split('"')
                .next()
                .unwrap()
                .replace("&#x2f;", "/")
                .replace("&amp;", "&")
        })
        .find(|h| h.starts_with("/samples?log=0/refusal/") && h.contains("refusal-harmful"))
        .unwrap_or_else(|| panic!("no link to the refusal samples: {page}"));
    let (status, _, samples) = get(&v.base, &link, &[]);
    assert_eq!(status, 200, "{link}: {samples}");
    assert!(samples.contains("Samples of refusal-harmful"), "{samples}");
}
