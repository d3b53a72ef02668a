//! `vigie serve` end to end: the real binary serving the real embedded model,
//! driven by the official `openai` Python client (`tests/data/openai_client.py`).
//! `scripts/test` installs the client in `target/test-venv` and points
//! `VIGIE_TEST_PYTHON` at it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vigie serve --port 0` and returns it with its base URL.
fn start_server() -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["serve", "--model", "local/smollm2", "--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie runs");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .next()
        .expect("vigie serve prints its address")
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, url)
}

fn python_with_openai() -> Option<String> {
    let python = std::env::var("VIGIE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import openai"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{python} cannot import openai: run the tests with scripts/test, which installs it"
    );
    eprintln!("skipped: {python} has no `openai` package (scripts/test installs it)");
    None
}

#[test]
fn the_openai_python_client_works_unchanged() {
    let Some(python) = python_with_openai() else {
        return;
    };
    let (_server, url) = start_server();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/openai_client.py");
    let output = Command::new(python).arg(script).arg(&url).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the openai client failed against {url}:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn serving_anything_but_a_local_model_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["serve", "--model", "openai/gpt-4o"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("serves local models"));
}
