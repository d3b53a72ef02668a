//! A scripted model server on loopback for tests and benchmarks, and a
//! scripted model in process ([`ScriptedModel`]) for tests that need no
//! socket.
//!
//! The server speaks just enough HTTP/1.1 (keep-alive, `Content-Length`
//! bodies) to serve the APIs vigie's providers speak ([`protocols`]):
//! `POST /v1/chat/completions` (OpenAI, and Azure's
//! `/openai/deployments/NAME/chat/completions?api-version=`),
//! `POST /v1/responses`, `POST /v1/messages` (Anthropic),
//! `POST /v1beta/models/NAME:generateContent` (Gemini) and
//! `POST /model/ID/converse` (Bedrock). It refuses what the real APIs refuse
//! (reasoning-model names and `max_tokens`, thinking and `temperature`,
//! reasoning sent back without its signature, unsigned Bedrock requests), and
//! it misbehaves on request, at the socket level, which a framework server
//! would not let it do.
//!
//! Directives in any message of a request script the answer to that
//! conversation:
//!
//! | directive | effect |
//! |---|---|
//! | `[[reply:TEXT]]` | answer TEXT (default: the server's `reply`) |
//! | `[[fail:KIND:N]]` | the first N attempts of this conversation fail, then it is answered; N may be `always` |
//! | `[[delay:MS]]` | wait MS milliseconds before answering |
//! | `[[reasoning:TEXT]]` | reason TEXT before answering (reasoning-model names always reason) |
//! | `[[tool:NAME:ARGS]]` | call tool NAME with ARGS (JSON) instead of answering, unless the conversation ends with tool results; repeatable, for parallel calls |
//! | `[[step:N:NAME:ARGS]]` | on the N-th assistant turn of the conversation (OpenAI chat), call NAME with ARGS (`"{last}"` in ARGS is replaced by the last message's text, e.g. a command's output); NAME `say` answers ARGS as text instead; repeatable (calls of one turn run in parallel): an agent's script |
//! | `[[context:N]]` | refuse, as OpenAI does, a request whose messages hold more than N words (a small context window) |
//! | `[[steps:N:NAME:ARGS]]` | every turn from the N-th on, call NAME with ARGS, with `{turn}` in ARGS replaced by the turn's number (a long agent for benchmarks) |
//!
//! KIND is `429` (with `Retry-After`), `500`, `slow` (answers after `slow`,
//! past a client's timeout), `nonjson` (an HTML page with status 200),
//! `truncate` (a complete response whose JSON is cut short), `drop` (the
//! connection closes mid-body) or `hangup` (it closes before any answer).
//! `GET /stats` returns counters as JSON.
//!
//! Prompts that cannot carry directives (a built-in suite's) are scripted
//! by [`ServerConfig::rules`]: when a message contains a rule's text, the
//! rule's directives apply as if the conversation held them.

mod protocols;
pub mod scripted;
pub use scripted::{Reply, ScriptedModel};

use protocols::Api;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers when not told otherwise.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Delay before every answer.
    pub delay: Duration,
    /// The default answer text.
    pub reply: String,
    /// The `Retry-After` header value sent with 429s.
    pub retry_after: String,
    /// How long a `slow` answer takes.
    pub slow: Duration,
    /// Answer "What is A+B?" with the sum instead of `reply` (for demos).
    pub solve_sums: bool,
    /// (text, directives): a conversation with a message containing `text`
    /// is answered as if it also held `directives` (e.g. `[[reply:No.]]`).
    pub rules: Vec<(String, String)>,
    /// Reasoning every answer carries (for benchmarks of reasoning models).
    pub reasoning: Option<String>,
    /// A tool call (name, JSON arguments) every answer makes, unless it answers tool results.
    pub tool_call: Option<(String, String)>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            delay: Duration::ZERO,
            reply: "4".into(),
            retry_after: "1".into(),
            slow: Duration::from_secs(5),
            solve_sums: false,
            rules: Vec::new(),
            reasoning: None,
            tool_call: None,
        }
    }
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    answered: AtomicU64,
    faults: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

struct State {
    config: ServerConfig,
    counters: Counters,
    attempts: Mutex<HashMap<u64, u32>>,
    /// Every model request body, for tests that check what a client sent.
    bodies: Mutex<Vec<Value>>,
}

/// A running server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

/// The server's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Model requests received.
    pub requests: u64,
    /// Requests answered with a completion.
    pub answered: u64,
    /// Requests answered with a scripted fault.
    pub faults: u64,
    /// The most model requests in flight at once.
    pub max_in_flight: u64,
}

impl TestServer {
    /// Binds to `127.0.0.1:port` (0 picks a free port) and serves on the current runtime.
    pub async fn start(port: u16, config: ServerConfig) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            config,
            counters: Counters::default(),
            attempts: Mutex::new(HashMap::new()),
            bodies: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                serving.counters.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(stream, serving.clone()));
            }
        });
        Ok(TestServer { addr, state })
    }

    /// Starts a server on a runtime of its own in a background thread, for
    /// synchronous tests; it lives as long as the process.
    pub fn spawn(config: ServerConfig) -> TestServer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let server = TestServer::start(0, config).await.expect("bind loopback");
                tx.send(TestServer {
                    addr: server.addr,
                    state: server.state.clone(),
                })
                .expect("the caller waits");
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the server thread starts")
    }

    /// The OpenAI-style base URL (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The server's root URL (`http://127.0.0.1:PORT`), for APIs whose base is not `/v1`.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every model request body received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.state
            .bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let c = &self.state.counters;
        Stats {
            connections: c.connections.load(Ordering::SeqCst),
            requests: c.requests.load(Ordering::SeqCst),
            answered: c.answered.load(Ordering::SeqCst),
            faults: c.faults.load(Ordering::SeqCst),
            max_in_flight: c.max_in_flight.load(Ordering::SeqCst),
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request; `None` when the client closed the connection.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = parsed.parse(buffer) {
            let method = parsed.method.unwrap_or("").to_string();
            let (path, query) = parsed.path.unwrap_or("").split_once('?').map_or(
                (parsed.path.unwrap_or("").to_string(), String::new()),
                |(p, q)| (p.to_string(), q.to_string()),
            );
            let headers: Vec<(String, String)> = parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).to_string(),
                    )
                })
                .collect();
            let mut content_length = 0;
            let mut close = false;
            for h in parsed.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    content_length = std::str::from_utf8(h.value).ok()?.trim().parse().ok()?;
                } else if h.name.eq_ignore_ascii_case("connection")
                    && h.value.eq_ignore_ascii_case(b"close")
                {
                    close = true;
                }
            }
            while buffer.len() < head_len + content_length {
                let mut chunk = [0u8; 16384];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[head_len..head_len + content_length].to_vec();
            buffer.drain(..head_len + content_length);
            return Some(Request {
                method,
                path,
                query,
                headers,
                body,
                close,
            });
        }
        let mut chunk = [0u8; 16384];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<State>) {
    let mut buffer = Vec::with_capacity(8192);
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let route = route(&request);
        let keep_open = match (request.method.as_str(), request.path.as_str()) {
            ("POST", _) if route.is_some() => {
                let (api, model) = route.expect("checked");
                answer_model(&mut stream, &state, &request, api, model).await
            }
            ("GET", "/stats") => {
                let c = &state.counters;
                let body = json!({
                    "connections": c.connections.load(Ordering::SeqCst),
                    "requests": c.requests.load(Ordering::SeqCst),
                    "answered": c.answered.load(Ordering::SeqCst),
                    "faults": c.faults.load(Ordering::SeqCst),
                    "max_in_flight": c.max_in_flight.load(Ordering::SeqCst),
                });
                respond(&mut stream, 200, &[], body.to_string().as_bytes()).await
            }
            ("GET", "/v1/models") => {
                respond(
                    &mut stream,
                    200,
                    &[],
                    br#"{"object":"list","data":[{"id":"mock","object":"model"}]}"#,
                )
                .await
            }
            _ => {
                respond(
                    &mut stream,
                    404,
                    &[],
                    br#"{"error":{"message":"no such route"}}"#,
                )
                .await
            }
        };
        if !keep_open || request.close {
            return;
        }
    }
}

/// The API a request's path names, and the model the path names (Gemini,
/// Bedrock, Azure deployments).
fn route(request: &Request) -> Option<(Api, Option<String>)> {
    let path = request.path.as_str();
    match path {
        "/v1/chat/completions" => return Some((Api::OpenAi, None)),
        "/v1/responses" => return Some((Api::Responses, None)),
        "/v1/messages" => return Some((Api::Anthropic, None)),
        _ => {}
    }
    if let Some(model) = path
        .strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.strip_suffix(":generateContent"))
    {
        return Some((Api::Gemini, Some(model.to_string())));
    }
    if let Some(model) = path
        .strip_prefix("/model/")
        .and_then(|rest| rest.strip_suffix("/converse"))
    {
        return Some((Api::Bedrock, Some(model.replace("%3A", ":"))));
    }
    if let Some(deployment) = path
        .strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.strip_suffix("/chat/completions"))
    {
        return Some((Api::OpenAi, Some(deployment.to_string())));
    }
    None
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> bool {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out).await.is_ok()
}

/// The sum in "What is A+B?", as text.
fn solve_sum(text: &str) -> Option<String> {
    let rest = &text[text.find("What is ")? + "What is ".len()..];
    let expression: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '+' || *c == ' ')
        .collect();
    let (a, b) = expression.split_once('+')?;
    Some((a.trim().parse::<i64>().ok()? + b.trim().parse::<i64>().ok()?).to_string())
}

/// Sleeps for `delay` with sub-millisecond precision. Tokio's timer rounds
/// up to whole milliseconds, which would add about 5% to a 20 ms benchmark
/// delay; a thread that waits on a channel with a timeout wakes within
/// microseconds.
async fn precise_sleep(delay: Duration) {
    use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
    use std::sync::OnceLock;
    use std::time::Instant;
    type Wake = (Instant, tokio::sync::oneshot::Sender<()>);
    static TIMER: OnceLock<Mutex<Sender<Wake>>> = OnceLock::new();
    let timer = TIMER.get_or_init(|| {
        let (tx, rx) = channel::<Wake>();
        std::thread::spawn(move || {
            let mut pending: Vec<Wake> = Vec::new();
            loop {
                let now = Instant::now();
                let mut i = 0;
                while i < pending.len() {
                    if pending[i].0 <= now {
                        let (_, wake) = pending.swap_remove(i);
                        let _ = wake.send(());
                    } else {
                        i += 1;
                    }
                }
                let next = pending.iter().map(|(at, _)| *at).min();
                let received = match next {
                    Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                match received {
                    Ok(entry) => pending.push(entry),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        Mutex::new(tx)
    });
    let (wake, woken) = tokio::sync::oneshot::channel();
    let sent = timer
        .lock()
        .expect("timer lock")
        .send((Instant::now() + delay, wake));
    if sent.is_ok() {
        let _ = woken.await;
    }
}

fn directive<'a>(texts: &'a [String], name: &str) -> Option<&'a str> {
    directives(texts, name).last().copied()
}

/// Every `[[name:VALUE]]` in the texts, in order.
fn directives<'a>(texts: &'a [String], name: &str) -> Vec<&'a str> {
    let open = format!("[[{name}:");
    let mut found = Vec::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&open) {
            let after = &rest[start + open.len()..];
            let Some(end) = after.find("]]") else { break };
            found.push(&after[..end]);
            rest = &after[end + 2..];
        }
    }
    found
}

async fn answer_model(
    stream: &mut TcpStream,
    state: &State,
    request: &Request,
    api: Api,
    model: Option<String>,
) -> bool {
    let counters = &state.counters;
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let keep_open = answer_model_inner(stream, state, request, api, model).await;
    counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    keep_open
}

async fn refuse(stream: &mut TcpStream, api: Api, status: u16, message: &str) -> bool {
    let body = match api {
        Api::Anthropic => {
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}})
        }
        Api::Gemini => {
            json!([{"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}}])
        }
        Api::Bedrock => json!({"message": message}),
        Api::OpenAi | Api::Responses => {
            json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
        }
    };
    respond(stream, status, &[], body.to_string().as_bytes()).await
}

async fn answer_model_inner(
    stream: &mut TcpStream,
    state: &State,
    http: &Request,
    api: Api,
    path_model: Option<String>,
) -> bool {
    let counters = &state.counters;
    let Ok(request) = serde_json::from_slice::<Value>(&http.body) else {
        return refuse(stream, api, 400, "the body is not JSON").await;
    };
    state
        .bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request.clone());
    if http.path.starts_with("/openai/deployments/") {
        if !http.query.contains("api-version=") {
            return refuse(stream, api, 404, "Resource not found").await;
        }
        if http.header("api-key").is_none() && http.header("authorization").is_none() {
            return refuse(
                stream,
                api,
                401,
                "Access denied due to missing subscription key.",
            )
            .await;
        }
    }
    let signed = http
        .header("authorization")
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 Credential="))
        && http.header("x-amz-date").is_some();
    let mut asked = match protocols::read(api, &request, signed) {
        Ok(asked) => asked,
        Err((status, message)) => return refuse(stream, api, status, &message).await,
    };
    if let Some(model) = path_model {
        asked.model = model;
    }
    let mut texts = std::mem::take(&mut asked.texts);
    let prompt_tokens = texts
        .iter()
        .map(|t| t.split_whitespace().count())
        .sum::<usize>();
    let matched: Vec<String> = state
        .config
        .rules
        .iter()
        .filter(|(text, _)| texts.iter().any(|t| t.contains(text.as_str())))
        .map(|(_, d)| d.clone())
        .collect();
    let n_messages = texts.len();
    texts.extend(matched);
    if let Some(window) = directive(&texts, "context").and_then(|v| v.parse::<usize>().ok()) {
        if prompt_tokens > window {
            let message = format!("This model's maximum context length is {window} tokens. However, your messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages.");
            return refuse(stream, api, 400, &message).await;
        }
    }
    let mut delay = state.config.delay;
    if let Some(ms) = directive(&texts, "delay").and_then(|v| v.parse::<u64>().ok()) {
        delay = Duration::from_millis(ms);
    }

    if let Some(spec) = directive(&texts, "fail") {
        let (kind, times) = spec.split_once(':').unwrap_or((spec, "1"));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        texts[..n_messages].hash(&mut hasher);
        let attempt = {
            let mut attempts = state.attempts.lock().expect("attempts lock");
            let n = attempts.entry(hasher.finish()).or_insert(0);
            *n += 1;
            *n
        };
        let failing = times == "always" || times.parse::<u32>().is_ok_and(|t| attempt <= t);
        if failing {
            counters.faults.fetch_add(1, Ordering::SeqCst);
            return fault(stream, state, kind).await;
        }
    }

    if !delay.is_zero() {
        precise_sleep(delay).await;
    }
    let sum = if state.config.solve_sums {
        texts[..n_messages].last().and_then(|t| solve_sum(t))
    } else {
        None
    };
    let text = directive(&texts, "reply")
        .map(str::to_string)
        .or(sum)
        .unwrap_or_else(|| state.config.reply.clone());
    let reasoning = directive(&texts, "reasoning")
        .map(str::to_string)
        .or_else(|| state.config.reasoning.clone())
        .or_else(|| {
            asked.reasons.then(|| {
                let asked_for: Vec<&str> = texts[..n_messages]
                    .last()
                    .map(|t| t.split_whitespace().take(8).collect())
                    .unwrap_or_default();
                format!("The question is: {}. I answer it.", asked_for.join(" "))
            })
        });
    let mut tool_calls: Vec<(String, String)> = Vec::new();
    let turn = asked.turns + 1;
    let mut text = text;
    let mut scripted = false;
    let mut said = false;
    for spec in directives(&texts, "step") {
        let mut parts = spec.splitn(3, ':');
        let (Some(n), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        if n.parse::<usize>().ok() != Some(turn) {
            continue;
        }
        scripted = true;
        // `{last}`: the text of the conversation's last message (a tool's
        // result), so that a script can submit what a command found.
        let last = texts[..n_messages].last().map_or("", |t| t.trim());
        let escaped = serde_json::to_string(last).expect("a string serializes");
        let args = parts.next().unwrap_or("{}").replace("\"{last}\"", &escaped);
        let args = args.as_str();
        if name == "say" {
            text = args.to_string();
            said = true;
        } else {
            tool_calls.push((name.to_string(), args.to_string()));
        }
    }

    for spec in directives(&texts, "steps") {
        let mut parts = spec.splitn(3, ':');
        let (Some(n), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !scripted && n.parse::<usize>().is_ok_and(|from| turn >= from) {
            let args = parts
                .next()
                .unwrap_or("{}")
                .replace("{turn}", &turn.to_string());
            if name == "say" {
                text = args;
                said = true;
            } else {
                tool_calls.push((name.to_string(), args));
            }
        }
    }
    // A scripted agent's turn of tool calls says nothing else.
    if !said && !tool_calls.is_empty() {
        text = String::new();
    }
    if !scripted && tool_calls.is_empty() && !asked.after_tool_results {
        for spec in directives(&texts, "tool") {
            let (name, args) = spec.split_once(':').unwrap_or((spec, "{}"));
            tool_calls.push((name.to_string(), args.to_string()));
        }
        if let (true, Some(call)) = (tool_calls.is_empty(), &state.config.tool_call) {
            tool_calls.push(call.clone());
        }
    }
    let reasoning_tokens = reasoning
        .as_deref()
        .map_or(0, |r| r.split_whitespace().count());
    let reply = protocols::Reply {
        completion_tokens: text.split_whitespace().count().max(1),
        text,
        reasoning,
        tool_calls,
        prompt_tokens,
        reasoning_tokens,
    };
    let number = counters.answered.fetch_add(1, Ordering::SeqCst) + 1;
    let answer = protocols::answer(api, &asked, &reply, number);
    respond(stream, 200, &[], answer.to_string().as_bytes()).await
}

async fn fault(stream: &mut TcpStream, state: &State, kind: &str) -> bool {
    match kind {
        "429" => {
            respond(
                stream,
                429,
                &[("retry-after", &state.config.retry_after)],
                br#"{"error":{"message":"rate limited (scripted)"}}"#,
            )
            .await
        }
        "500" => {
            respond(
                stream,
                500,
                &[],
                br#"{"error":{"message":"internal error (scripted)"}}"#,
            )
            .await
        }
        "slow" => {
            tokio::time::sleep(state.config.slow).await;
            respond(stream, 200, &[], br#"{"choices":[{"message":{"role":"assistant","content":"late"},"finish_reason":"stop"}]}"#).await
        }
        "nonjson" => {
            let page = b"<html><body>502 Bad Gateway (scripted)</body></html>";
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n",
                page.len()
            );
            stream.write_all(head.as_bytes()).await.is_ok() && stream.write_all(page).await.is_ok()
        }
        "truncate" => {
            respond(
                stream,
                200,
                &[],
                br#"{"choices":[{"message":{"role":"assis"#,
            )
            .await
        }
        "drop" => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{\"choices\":[{\"mess";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.flush().await;
            false
        }
        "hangup" => false,
        _ => {
            respond(
                stream,
                400,
                &[],
                br#"{"error":{"message":"unknown scripted fault"}}"#,
            )
            .await
        }
    }
}
