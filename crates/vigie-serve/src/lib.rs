//! An OpenAI-compatible HTTP server over any vigie model ([`ModelApi`]):
//! `GET /v1/models`, `POST /v1/chat/completions` (with `tools`,
//! `tool_choice`, assistant `tool_calls` and `tool` messages; answers carry
//! `tool_calls`) and `POST /v1/completions`, streamed as server-sent events
//! on request, with usage; and the Responses API's `POST /v1/responses` (no
//! tools, no streaming), so that other tools (the `openai` client, Inspect,
//! promptfoo) can use a model vigie runs. `vigie serve` puts the embedded
//! model behind it.
//!
//! Requests reach the model through its streaming methods
//! ([`ModelApi::generate_stream`], [`ModelApi::complete_stream`]); a client
//! that hangs up drops the stream, which stops the model's work on it.
//! Errors are answered in OpenAI's shape. Architecture invariant: this crate
//! knows nothing of tasks or logs.
//!
//! ```no_run
//! # async fn run(model: std::sync::Arc<dyn vigie_core::ModelApi>) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! vigie_serve::serve(listener, model, "local/smollm2".into(), std::future::pending()).await
//! # }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use vigie_core::{
    ChatMessage, ContentPart, GenerateConfig, GenerateRequest, ModelApi, ModelError,
    ModelErrorKind, ModelOutput, Role, StreamEvent, ToolCall, ToolChoice, ToolDef,
};

/// The model a server answers with, and the id clients name it by.
struct Served {
    model: Arc<dyn ModelApi>,
    /// `local/smollm2`; the part after the provider (`smollm2`) is accepted too.
    id: String,
    next_id: AtomicU64,
}

/// Serves `model` as `id` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    model: Arc<dyn ModelApi>,
    id: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(model, id))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The server's routes, for embedding or testing.
pub fn router(model: Arc<dyn ModelApi>, id: String) -> Router {
    let served = Arc::new(Served {
        model,
        id,
        next_id: AtomicU64::new(1),
    });
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/responses", post(responses))
        .fallback(unknown_route)
        .with_state(served)
}

/// An error answered in OpenAI's shape.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = if self.status == StatusCode::NOT_FOUND {
            "not_found_error"
        } else if self.status.is_server_error() {
            "server_error"
        } else {
            "invalid_request_error"
        };
        let body = json!({ "error": { "message": self.message, "type": kind, "param": null, "code": null } });
        (self.status, axum::Json(body)).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

fn model_error(e: ModelError) -> ApiError {
    let status = match e.kind {
        ModelErrorKind::ContextLength | ModelErrorKind::Rejected => StatusCode::BAD_REQUEST,
        ModelErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.message)
}

type Answer = Result<Response, ApiError>;

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {method} {} (this server answers GET /v1/models and POST /v1/chat/completions, /v1/completions and /v1/responses)",
            uri.path()
        ),
    )
}

async fn models(State(served): State<Arc<Served>>) -> Response {
    axum::Json(json!({ "object": "list", "data": [{ "id": served.id, "object": "model", "created": 0, "owned_by": "vigie" }] }))
        .into_response()
}

/// `stop` is a string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// Sampling fields common to the endpoints; unknown fields are ignored, as
/// OpenAI-compatible servers do.
#[derive(Deserialize, Default)]
struct Sampling {
    model: Option<String>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<u32>,
    seed: Option<u64>,
    stop: Option<Stop>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    logit_bias: Option<HashMap<String, f32>>,
    #[serde(default)]
    ignore_eos: bool,
    n: Option<u32>,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

impl Sampling {
    /// Checks the request against what is served and turns it into
    /// generation settings; the error is the response to send.
    fn config(
        &self,
        served: &Served,
        default_max_tokens: Option<u32>,
    ) -> Result<GenerateConfig, ApiError> {
        if let Some(model) = &self.model {
            let short = served
                .id
                .split_once('/')
                .map_or(served.id.as_str(), |(_, name)| name);
            if model != &served.id && model != short {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "model `{model}` is not served here (this server serves `{}`)",
                        served.id
                    ),
                ));
            }
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "n: only 1 choice per request is supported",
            ));
        }
        let mut logit_bias = std::collections::BTreeMap::new();
        for (token, bias) in self.logit_bias.iter().flatten() {
            let id: u32 = token.parse().map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("logit_bias: `{token}` is not a token id"),
                )
            })?;
            logit_bias.insert(id, bias.clamp(-100.0, 100.0));
        }
        Ok(GenerateConfig {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            max_tokens: self
                .max_completion_tokens
                .or(self.max_tokens)
                .or(default_max_tokens),
            seed: self.seed,
            stop: match &self.stop {
                None => Vec::new(),
                Some(Stop::One(s)) => vec![s.clone()],
                Some(Stop::Many(v)) => v.clone(),
            },
            logit_bias,
            ignore_eos: self.ignore_eos,
            ..GenerateConfig::default()
        })
    }

    fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }
}

#[derive(Deserialize)]
struct ChatRequest {
    messages: Vec<InMessage>,
    #[serde(default)]
    tools: Vec<InTool>,
    tool_choice: Option<Value>,
    #[serde(flatten)]
    sampling: Sampling,
}

/// A tool as OpenAI's clients send it: `{"type": "function", "function": {...}}`.
#[derive(Deserialize)]
struct InTool {
    #[serde(rename = "type")]
    kind: String,
    function: Option<InFunction>,
}

#[derive(Deserialize)]
struct InFunction {
    name: String,
    #[serde(default)]
    description: String,
    parameters: Option<Value>,
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    tool_calls: Vec<InToolCall>,
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
struct InToolCall {
    id: String,
    function: InCalled,
}

#[derive(Deserialize)]
struct InCalled {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// The tools of a request, and whether and which it must call.
fn tools(
    input: Vec<InTool>,
    choice: Option<Value>,
) -> Result<(Vec<ToolDef>, ToolChoice), ApiError> {
    let mut tools = Vec::with_capacity(input.len());
    for (i, tool) in input.into_iter().enumerate() {
        let (true, Some(function)) = (tool.kind == "function", tool.function) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "tools[{i}]: only tools of type `function`, with a `function`, are supported"
                ),
            ));
        };
        tools.push(ToolDef {
            name: function.name,
            description: function.description,
            parameters: function
                .parameters
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
    }
    let choice = match choice {
        None => ToolChoice::Auto,
        Some(Value::String(word)) if matches!(word.as_str(), "auto" | "none" | "required") => {
            ToolChoice::parse(&word)
        }
        Some(named) => match named.pointer("/function/name").and_then(Value::as_str) {
            Some(name) if tools.iter().any(|t| t.name == name) => {
                ToolChoice::Tool(name.to_string())
            }
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!(
                    "tool_choice: `{named}` is not `auto`, `none`, `required` or one of the tools"
                ),
                ))
            }
        },
    };
    Ok((tools, choice))
}

/// Message content: a string, or a list of parts of which the text ones count.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("the request body: {e}")))
}

fn messages(input: Vec<InMessage>, field: &str) -> Result<Vec<ChatMessage>, ApiError> {
    if input.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{field}: at least one message is needed"),
        ));
    }
    let mut known_calls: Vec<String> = Vec::new();
    input
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                other => {
                    return Err(error(StatusCode::BAD_REQUEST, format!("{field}[{i}].role: `{other}` is not supported (system, developer, user, assistant, tool)")))
                }
            };
            let text = match m.content {
                None => String::new(),
                Some(Content::Text(text)) => text,
                Some(Content::Parts(parts)) => {
                    // Chat parts say `text`; Responses parts `input_text` / `output_text`.
                    if let Some(part) = parts.iter().find(|p| !matches!(p.kind.as_str(), "text" | "input_text" | "output_text")) {
                        return Err(error(
                            StatusCode::BAD_REQUEST,
                            format!("{field}[{i}].content: parts of type `{}` are not supported (text only)", part.kind),
                        ));
                    }
                    parts.into_iter().filter_map(|p| p.text).collect::<Vec<_>>().join("\n")
                }
            };
            if role == Role::Tool {
                let Some(id) = m.tool_call_id else {
                    return Err(error(StatusCode::BAD_REQUEST, format!("{field}[{i}]: a `tool` message needs its `tool_call_id`")));
                };
                if !known_calls.contains(&id) {
                    return Err(error(StatusCode::BAD_REQUEST, format!("{field}[{i}]: messages with role `tool` must answer a preceding message's `tool_calls` (no call `{id}`)")));
                }
                return Ok(ChatMessage::tool_result(id, text, false));
            }
            let mut message = ChatMessage::new(role, text);
            if role == Role::Assistant && !m.tool_calls.is_empty() {
                if message.text().is_empty() {
                    message.content.clear();
                }
                for call in m.tool_calls {
                    known_calls.push(call.id.clone());
                    message.content.push(ContentPart::ToolCall(ToolCall::from_text(call.id, call.function.name, &call.function.arguments)));
                }
            }
            Ok(message)
        })
        .collect()
}

/// What a request asks the model to continue.
enum Input {
    /// A conversation, through the model's chat template.
    Chat(GenerateRequest),
    /// Raw text.
    Text(String, GenerateConfig),
}

#[derive(Clone, Copy)]
enum Endpoint {
    Chat,
    Completion,
}

async fn chat_completions(State(served): State<Arc<Served>>, body: Bytes) -> Answer {
    let request: ChatRequest = parse(&body)?;
    let config = request.sampling.config(&served, None)?;
    let (tools, tool_choice) = tools(request.tools, request.tool_choice)?;
    let input = Input::Chat(GenerateRequest {
        messages: messages(request.messages, "messages")?,
        config,
        tools,
        tool_choice,
    });
    respond(
        served,
        Endpoint::Chat,
        input,
        request.sampling.stream,
        request.sampling.include_usage(),
    )
    .await
}

/// Whether an answer may call tools, so that its text is held until the
/// calls are read from it (a stream never shows a call as text).
fn holds_text(input: &Input) -> bool {
    matches!(input, Input::Chat(r) if !r.tools.is_empty() && r.tool_choice != ToolChoice::None)
}

#[derive(Deserialize)]
struct CompletionRequest {
    prompt: PromptField,
    #[serde(flatten)]
    sampling: Sampling,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PromptField {
    One(String),
    Many(Vec<String>),
}

async fn completions(State(served): State<Arc<Served>>, body: Bytes) -> Answer {
    let request: CompletionRequest = parse(&body)?;
    // OpenAI's legacy endpoint defaults to 16 new tokens.
    let config = request.sampling.config(&served, Some(16))?;
    let prompt = match request.prompt {
        PromptField::One(text) => text,
        PromptField::Many(mut list) if list.len() == 1 => list.remove(0),
        PromptField::Many(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "prompt: one prompt per request is supported",
            ))
        }
    };
    respond(
        served,
        Endpoint::Completion,
        Input::Text(prompt, config),
        request.sampling.stream,
        request.sampling.include_usage(),
    )
    .await
}

/// A Responses API request (what Inspect's `openai/` provider sends by default).
#[derive(Deserialize)]
struct ResponsesRequest {
    input: ResponsesInput,
    instructions: Option<String>,
    max_output_tokens: Option<u32>,
    #[serde(default)]
    tools: Vec<ResponsesTool>,
    tool_choice: Option<Value>,
    #[serde(flatten)]
    sampling: Sampling,
}

/// A Responses API tool: `{"type": "function", "name": ..., "parameters": ...}`.
#[derive(Deserialize)]
struct ResponsesTool {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    #[serde(default)]
    description: String,
    parameters: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ResponsesInput {
    Text(String),
    Items(Vec<ResponsesItem>),
}

#[derive(Deserialize)]
struct ResponsesItem {
    #[serde(rename = "type")]
    kind: Option<String>,
    role: Option<String>,
    content: Option<Content>,
    call_id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
    output: Option<Content>,
}

/// The Responses API, without streaming: input messages, function calls and
/// their outputs in; an assistant message and function calls out. Reasoning
/// items are passed over (the models served here return none).
async fn responses(State(served): State<Arc<Served>>, body: Bytes) -> Answer {
    let request: ResponsesRequest = parse(&body)?;
    if request.sampling.stream {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "stream: streaming is offered on /v1/chat/completions, not on /v1/responses",
        ));
    }
    let mut config = request.sampling.config(&served, None)?;
    config.max_tokens = request.max_output_tokens.or(config.max_tokens);
    let mut input = Vec::new();
    if let Some(instructions) = request.instructions {
        input.push(InMessage {
            role: "system".into(),
            content: Some(Content::Text(instructions)),
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }
    match request.input {
        ResponsesInput::Text(text) => input.push(InMessage {
            role: "user".into(),
            content: Some(Content::Text(text)),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }),
        ResponsesInput::Items(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let kind = item.kind.as_deref().unwrap_or("message");
                match kind {
                    "message" => {
                        let Some(role) = item.role else {
                            return Err(error(StatusCode::BAD_REQUEST, format!("input[{i}]: a message needs its `role`")));
                        };
                        input.push(InMessage {
                            role,
                            content: item.content,
                            tool_calls: Vec::new(),
                            tool_call_id: None,
                        });
                    }
                    "function_call" => {
                        let (Some(id), Some(name)) = (item.call_id, item.name) else {
                            return Err(error(StatusCode::BAD_REQUEST, format!("input[{i}]: a function_call needs `call_id` and `name`")));
                        };
                        let call = InToolCall {
                            id,
                            function: InCalled {
                                name,
                                arguments: item.arguments.unwrap_or_default(),
                            },
                        };
                        // Parallel calls are consecutive items: one assistant turn.
                        match input.last_mut() {
                            Some(last) if last.role == "assistant" && !last.tool_calls.is_empty() => {
                                last.tool_calls.push(call)
                            }
                            _ => input.push(InMessage {
                                role: "assistant".into(),
                                content: None,
                                tool_calls: vec![call],
                                tool_call_id: None,
                            }),
                        }
                    }
                    "function_call_output" => input.push(InMessage {
                        role: "tool".into(),
                        content: item.output,
                        tool_calls: Vec::new(),
                        tool_call_id: item.call_id,
                    }),
                    "reasoning" => {}
                    other => {
                        return Err(error(
                            StatusCode::BAD_REQUEST,
                            format!("input[{i}]: items of type `{other}` are not supported (message, function_call, function_call_output, reasoning)"),
                        ))
                    }
                }
            }
        }
    }
    let mut chat_tools = Vec::with_capacity(request.tools.len());
    for (i, tool) in request.tools.into_iter().enumerate() {
        let (true, Some(name)) = (tool.kind == "function", tool.name) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("tools[{i}]: only tools of type `function`, with a `name`, are supported"),
            ));
        };
        chat_tools.push(InTool {
            kind: "function".into(),
            function: Some(InFunction {
                name,
                description: tool.description,
                parameters: tool.parameters,
            }),
        });
    }
    // A named choice is `{"type": "function", "name": ...}` here, under `function` in chat.
    let choice = request
        .tool_choice
        .filter(|c| !c.is_null())
        .map(|c| match c.get("name") {
            Some(name) => json!({"type": "function", "function": {"name": name}}),
            None => c,
        });
    let (tools, tool_choice) = tools(chat_tools, choice)?;
    let request = GenerateRequest {
        messages: messages(input, "input")?,
        config,
        tools,
        tool_choice,
    };
    let output = whole_answer(events(served.model.clone(), Input::Chat(request))).await?;
    let number = served.next_id.fetch_add(1, Ordering::Relaxed);
    let complete = output.stop_reason != "length";
    Ok(axum::Json(json!({
        "id": format!("resp_{number}"),
        "object": "response",
        "created_at": unix_now(),
        "status": if complete { "completed" } else { "incomplete" },
        "incomplete_details": if complete { Value::Null } else { json!({ "reason": "max_output_tokens" }) },
        "error": null,
        "model": served.id,
        "output": responses_output(&output, number),
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": output.usage.input_tokens,
            "input_tokens_details": { "cached_tokens": 0 },
            "output_tokens": output.usage.output_tokens,
            "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": output.usage.total_tokens,
        },
    }))
    .into_response())
}

/// A Responses answer's output items: the message (when there is text, or
/// no call), then one `function_call` per call.
fn responses_output(output: &ModelOutput, number: u64) -> Value {
    let mut items = Vec::new();
    if !output.text.is_empty() || output.tool_calls.is_empty() {
        items.push(json!({
            "type": "message", "id": format!("msg_{number}"), "status": "completed", "role": "assistant",
            "content": [{ "type": "output_text", "text": output.text, "annotations": [] }],
        }));
    }
    for (i, call) in output.tool_calls.iter().enumerate() {
        items.push(json!({
            "type": "function_call", "id": format!("fc_{number}_{i}"), "call_id": call.id,
            "name": call.name, "arguments": call.arguments_text(), "status": "completed",
        }));
    }
    Value::Array(items)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tool calls in OpenAI's shape; in a stream's delta each carries its `index`.
fn tool_calls_json(calls: &[ToolCall], delta: bool) -> Value {
    Value::Array(
        calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let mut out = json!({ "id": call.id, "type": "function", "function": { "name": call.name, "arguments": call.arguments_text() } });
                if delta {
                    out["index"] = json!(i);
                }
                out
            })
            .collect(),
    )
}

fn usage_json(output: &ModelOutput) -> Value {
    json!({ "prompt_tokens": output.usage.input_tokens, "completion_tokens": output.usage.output_tokens, "total_tokens": output.usage.total_tokens })
}

/// The model's events for `input`, from a task of their own that owns the
/// model's stream; dropping the receiver (a client that left) ends it at the
/// next event, and with it the model's work.
fn events(
    model: Arc<dyn ModelApi>,
    input: Input,
) -> tokio::sync::mpsc::UnboundedReceiver<Result<StreamEvent, ModelError>> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = match &input {
            Input::Chat(request) => model.generate_stream(request),
            Input::Text(prompt, config) => model.complete_stream(prompt, config),
        };
        while let Some(event) = stream.next().await {
            let last = matches!(event, Ok(StreamEvent::Done(_)) | Err(_));
            if sender.send(event).is_err() || last {
                return;
            }
        }
    });
    receiver
}

/// The whole output of a stream of events.
async fn whole_answer(
    mut events: tokio::sync::mpsc::UnboundedReceiver<Result<StreamEvent, ModelError>>,
) -> Result<ModelOutput, ApiError> {
    while let Some(event) = events.recv().await {
        match event {
            Ok(StreamEvent::Text(_)) => {}
            Ok(StreamEvent::Done(output)) => return Ok(output),
            Err(e) => return Err(model_error(e)),
        }
    }
    Err(error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the model ended its answer without a result",
    ))
}

/// Answers with one JSON document, or with server-sent events when `stream` is set.
async fn respond(
    served: Arc<Served>,
    endpoint: Endpoint,
    input: Input,
    stream: bool,
    include_usage: bool,
) -> Answer {
    let number = served.next_id.fetch_add(1, Ordering::Relaxed);
    let (id, object, chunk_object) = match endpoint {
        Endpoint::Chat => (
            format!("chatcmpl-{number}"),
            "chat.completion",
            "chat.completion.chunk",
        ),
        Endpoint::Completion => (
            format!("cmpl-{number}"),
            "text_completion",
            "text_completion",
        ),
    };
    let created = unix_now();
    let hold = holds_text(&input);
    let mut events = events(served.model.clone(), input);
    if !stream {
        let output = whole_answer(events).await?;
        let choice = match endpoint {
            Endpoint::Chat => {
                let mut message = json!({ "role": "assistant", "content": output.text });
                if !output.tool_calls.is_empty() {
                    if output.text.is_empty() {
                        message["content"] = Value::Null;
                    }
                    message["tool_calls"] = tool_calls_json(&output.tool_calls, false);
                }
                json!({ "index": 0, "message": message, "finish_reason": output.stop_reason, "logprobs": null })
            }
            Endpoint::Completion => {
                json!({ "index": 0, "text": output.text, "finish_reason": output.stop_reason, "logprobs": null })
            }
        };
        let body = json!({ "id": id, "object": object, "created": created, "model": served.id, "choices": [choice], "usage": usage_json(&output) });
        return Ok(axum::Json(body).into_response());
    }
    // Wait for the first event before answering, so that a request the model
    // refuses (a prompt past its context) still gets a JSON error and status.
    let first = match events.recv().await {
        Some(Ok(event)) => event,
        Some(Err(e)) => return Err(model_error(e)),
        None => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the model ended its answer without a result",
            ))
        }
    };
    let chunk = {
        let (id, model) = (id.clone(), served.id.clone());
        move |delta: Option<&str>, finish: Option<&str>, role: bool| -> Value {
            let choice = match endpoint {
                Endpoint::Chat => {
                    let mut d = serde_json::Map::new();
                    if role {
                        d.insert("role".into(), json!("assistant"));
                    }
                    if let Some(text) = delta {
                        d.insert("content".into(), json!(text));
                    }
                    json!({ "index": 0, "delta": d, "finish_reason": finish, "logprobs": null })
                }
                Endpoint::Completion => {
                    json!({ "index": 0, "text": delta.unwrap_or(""), "finish_reason": finish, "logprobs": null })
                }
            };
            json!({ "id": id, "object": chunk_object, "created": created, "model": model, "choices": [choice] })
        }
    };
    let chunk_role = chunk(Some(""), None, true);
    let usage_chunk = {
        let model = served.id.clone();
        move |output: &ModelOutput| json!({ "id": id, "object": chunk_object, "created": created, "model": model, "choices": [], "usage": usage_json(output) })
    };
    // What is ready to send, in order, and whether the answer is complete.
    struct Sending {
        queue: std::collections::VecDeque<String>,
        finished: bool,
        events: tokio::sync::mpsc::UnboundedReceiver<Result<StreamEvent, ModelError>>,
    }
    let take = move |sending: &mut Sending, event: StreamEvent| match event {
        StreamEvent::Text(_) if hold => {}
        StreamEvent::Text(text) => sending
            .queue
            .push_back(chunk(Some(&text), None, false).to_string()),
        StreamEvent::Done(output) => {
            if hold {
                if !output.text.is_empty() {
                    sending
                        .queue
                        .push_back(chunk(Some(&output.text), None, false).to_string());
                }
                if !output.tool_calls.is_empty() {
                    let mut calls = chunk(None, None, false);
                    calls["choices"][0]["delta"] =
                        json!({ "tool_calls": tool_calls_json(&output.tool_calls, true) });
                    sending.queue.push_back(calls.to_string());
                }
            }
            sending
                .queue
                .push_back(chunk(None, Some(&output.stop_reason), false).to_string());
            if include_usage {
                sending.queue.push_back(usage_chunk(&output).to_string());
            }
            sending.queue.push_back("[DONE]".to_string());
            sending.finished = true;
        }
    };
    // The role comes first, in a chunk of its own.
    let mut sending = Sending {
        queue: Default::default(),
        finished: false,
        events,
    };
    sending.queue.push_back(chunk_role.to_string());
    take(&mut sending, first);
    let body = futures_util::stream::unfold(sending, move |mut sending| {
        let take = take.clone();
        async move {
            loop {
                if let Some(data) = sending.queue.pop_front() {
                    return Some((Ok::<_, Infallible>(Event::default().data(data)), sending));
                }
                if sending.finished {
                    return None;
                }
                match sending.events.recv().await {
                    Some(Ok(event)) => take(&mut sending, event),
                    // An error after the stream began cannot change the status: the stream ends.
                    Some(Err(_)) | None => return None,
                }
            }
        }
    });
    Ok(Sse::new(body).into_response())
}
