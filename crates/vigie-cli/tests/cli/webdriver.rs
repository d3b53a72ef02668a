//! A WebDriver client for headless Chromium (Debian's `chromium-driver`),
//! just enough for the viewer's tests to type, click and press keys as a
//! person would: W3C WebDriver is plain JSON over HTTP, so a socket does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key WebDriver sends for Enter.
pub(super) const ENTER: &str = "\u{E007}";

/// A Chromium session, closed (and its driver stopped) when dropped.
pub(super) struct Browser {
    driver: Child,
    address: String,
    session: String,
}

/// Where `chromedriver` is, if anywhere; CI must have it.
fn chromedriver() -> Option<String> {
    for candidate in ["chromedriver", "/usr/lib/chromium/chromedriver"] {
        if let Ok(out) = Command::new("which").arg(candidate).output() {
            if out.status.success() {
                return Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
            }
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have chromedriver for the viewer's browser tests (.ci/run installs chromium-driver)"
    );
    eprintln!("skipping: no chromedriver on this machine (apt-get install chromium-driver)");
    None
}

impl Browser {
    /// Starts Chromium (headless, window `size`, profile in `profile`), or
    /// `None` where there is no driver outside CI.
    pub(super) fn start(chromium: &Path, profile: &Path, size: (u32, u32)) -> Option<Browser> {
        let driver_path = chromedriver()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut browser = Browser {
            driver,
            address: format!("127.0.0.1:{port}"),
            session: String::new(),
        };
        let started = Instant::now();
        while TcpStream::connect(&browser.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut args = super::assess::chromium_args(profile);
        args.push(format!("--window-size={},{}", size.0, size.1));
        let session = browser.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "binary": chromium.display().to_string(), "args": args,
            }}}}),
        );
        browser.session = format!(
            "/session/{}",
            session["sessionId"].as_str().expect("a session id")
        );
        Some(browser)
    }

    /// One WebDriver command; its `value`. An error answer fails the test.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let mut stream = TcpStream::connect(&self.address).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        // chromedriver says `Connection: close` and keeps the socket open:
        // read what Content-Length says, not to the end.
        let mut reader = std::io::BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut payload = vec![0; length];
        reader.read_exact(&mut payload).unwrap();
        let payload = String::from_utf8_lossy(&payload);
        let answer: Value = serde_json::from_str(&payload)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}: {payload}"));
        assert!(
            answer["value"].get("error").is_none(),
            "WebDriver {method} {path}: {}",
            answer["value"]
        );
        answer["value"].clone()
    }

    fn command(&self, method: &str, what: &str, body: Value) -> Value {
        self.call(method, &format!("{}{what}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub(super) fn open(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    /// The address shown.
    pub(super) fn url(&self) -> String {
        self.command("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The text the page shows, runs of white space as one space.
    pub(super) fn text(&self) -> String {
        self.script("return document.body ? document.body.innerText : '';")
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs `script` in the page; what it returns.
    pub(super) fn script(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    /// The first element `css` selects (its WebDriver reference).
    pub(super) fn find(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            json!({ "using": "css selector", "value": css }),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Types `keys` into the element `css` selects.
    pub(super) fn type_into(&self, css: &str, keys: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": keys }),
        );
    }

    /// Clicks the element `css` selects.
    pub(super) fn click(&self, css: &str) {
        let element = self.find(css);
        self.command("POST", &format!("/element/{element}/click"), json!({}));
    }

    /// Presses `key` on the page (not in a field).
    pub(super) fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key},
        ]}]});
        self.command("POST", "/actions", actions);
    }

    /// Waits (up to ten seconds) until `holds` says yes of the browser.
    pub(super) fn wait_until(&self, what: &str, holds: impl Fn(&Browser) -> bool) {
        let started = Instant::now();
        while !holds(self) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{what}: not after 10 s; at {} the page shows: {}",
                self.url(),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A screenshot, saved under the target's tmp folder as `name` for a
    /// person to look at: a counter of its pixels of a colour.
    pub(super) fn screenshot(&self, name: &str) -> impl Fn([u8; 3]) -> usize {
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(
                self.command("GET", "/screenshot", Value::Null)
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&shot, &png).unwrap();
        eprintln!("screenshot: {}", shot.display());
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let channels = info.color_type.samples();
        move |colour: [u8; 3]| pixels.chunks(channels).filter(|p| p[..3] == colour).count()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let mut stream = TcpStream::connect(&self.address).ok();
            if let Some(stream) = stream.as_mut() {
                let _ = write!(
                    stream,
                    "DELETE {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.session, self.address
                );
                let _ = stream.read(&mut [0; 512]);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
