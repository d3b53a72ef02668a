//! `vigie serve`: a `local/` model behind an OpenAI-compatible HTTP API
//! (`/v1/models`, `/v1/chat/completions` and `/v1/completions` with
//! streaming, and the Responses API's `/v1/responses` without tools),
//! so other tools (the `openai` client, Inspect, promptfoo) can use the
//! embedded model. Every request goes to the model's batching worker, so
//! concurrent requests are decoded together.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use vigie_core::{ChatMessage, ModelErrorKind, ModelOutput, Role};
use vigie_local::{Job, LocalModel, Prompt, SamplingParams};

use crate::{Outcome, UsageError};

/// Arguments of `vigie serve`.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The model to serve: `local/NAME` or `local/PATH.gguf`
    #[arg(long, default_value = "local/smollm2")]
    model: String,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the address is printed either way)
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

struct Served {
    model: LocalModel,
    /// The id clients name it by (`local/smollm2`); `smollm2` is accepted too.
    id: String,
    next_id: AtomicU64,
}

pub(crate) fn run(args: ServeArgs) -> Result<Outcome> {
    let spec = args.model.strip_prefix("local/").ok_or_else(|| {
        UsageError(format!(
            "--model {}: `vigie serve` serves local models (`local/NAME` or `local/PATH.gguf`)",
            args.model
        ))
    })?;
    let path =
        vigie_local::resolve(&crate::env::home(), spec).map_err(|e| UsageError(e.to_string()))?;
    let model = LocalModel::load(&args.model, &path).map_err(|e| UsageError(e.to_string()))?;
    let served = Arc::new(Served {
        model,
        id: args.model.clone(),
        next_id: AtomicU64::new(1),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .map_err(|e| {
                UsageError(format!("cannot listen on {}:{}: {e}", args.host, args.port))
            })?;
        let address = listener.local_addr()?;
        eprintln!(
            "vigie: serving {} at http://{address}/v1 (Ctrl-C stops)",
            args.model
        );
        axum::serve(listener, router(served))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server stopped")?;
        Ok(Outcome::Success)
    })
}

fn router(served: Arc<Served>) -> Router {
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
        } else {
            "invalid_request_error"
        };
        (self.status, axum::Json(json!({ "error": { "message": self.message, "type": kind, "param": null, "code": null } }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

type Answer = Result<Response, ApiError>;

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("no route for {method} {} (this server answers GET /v1/models and POST /v1/chat/completions, /v1/completions and /v1/responses)", uri.path()))
}

async fn models(State(served): State<Arc<Served>>) -> Response {
    axum::Json(json!({ "object": "list", "data": [{ "id": served.id, "object": "model", "created": 0, "owned_by": "vigie" }] })).into_response()
}

/// `stop` is a string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// Sampling fields common to both endpoints; unknown fields are ignored,
/// as OpenAI-compatible servers do.
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
    /// Checks the request against what is served and turns it into the
    /// worker's settings; the error is the response to send.
    fn params(
        &self,
        served: &Served,
        default_max_tokens: Option<u32>,
    ) -> Result<SamplingParams, ApiError> {
        if let Some(model) = &self.model {
            let short = served.id.strip_prefix("local/").unwrap_or(&served.id);
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
        let mut logit_bias = Vec::new();
        for (token, bias) in self.logit_bias.iter().flatten() {
            let id: u32 = token.parse().map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("logit_bias: `{token}` is not a token id"),
                )
            })?;
            logit_bias.push((id, bias.clamp(-100.0, 100.0)));
        }
        Ok(SamplingParams {
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
        })
    }
}

#[derive(Deserialize)]
struct ChatRequest {
    messages: Vec<InMessage>,
    #[serde(flatten)]
    sampling: Sampling,
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
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

fn messages(input: Vec<InMessage>) -> Result<Vec<ChatMessage>, ApiError> {
    input
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => return Err(error(StatusCode::BAD_REQUEST, format!("messages[{i}].role: `{other}` is not supported (system, developer, user, assistant)"))),
            };
            let content = match m.content {
                None => String::new(),
                Some(Content::Text(text)) => text,
                Some(Content::Parts(parts)) => {
                    // Chat parts say `text`; Responses parts `input_text` / `output_text`.
                    if let Some(part) = parts.iter().find(|p| !matches!(p.kind.as_str(), "text" | "input_text" | "output_text")) {
                        return Err(error(StatusCode::BAD_REQUEST, format!("messages[{i}].content: parts of type `{}` are not supported (text only)", part.kind)));
                    }
                    parts.into_iter().filter_map(|p| p.text).collect::<Vec<_>>().join("\n")
                }
            };
            Ok(ChatMessage::new(role, content))
        })
        .collect()
}

async fn chat_completions(State(served): State<Arc<Served>>, body: Bytes) -> Answer {
    let request: ChatRequest = parse(&body)?;
    let params = request.sampling.params(&served, None)?;
    let prompt = match messages(request.messages) {
        Ok(m) if !m.is_empty() => Prompt::Chat(m),
        Ok(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "messages: at least one message is needed",
            ))
        }
        Err(e) => return Err(e),
    };
    let include_usage = request
        .sampling
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    respond(
        &served,
        Endpoint::Chat,
        prompt,
        params,
        request.sampling.stream,
        include_usage,
    )
    .await
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
    let params = request.sampling.params(&served, Some(16))?;
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
    let include_usage = request
        .sampling
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    respond(
        &served,
        Endpoint::Completion,
        Prompt::Text(prompt),
        params,
        request.sampling.stream,
        include_usage,
    )
    .await
}

/// A Responses API request (what Inspect's `openai/` provider sends by default).
#[derive(Deserialize)]
struct ResponsesRequest {
    input: ResponsesInput,
    instructions: Option<String>,
    max_output_tokens: Option<u32>,
    #[serde(flatten)]
    sampling: Sampling,
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
}

/// The Responses API, without tools or streaming: input messages in, one
/// assistant message out.
async fn responses(State(served): State<Arc<Served>>, body: Bytes) -> Answer {
    let request: ResponsesRequest = parse(&body)?;
    if request.sampling.stream {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "stream: streaming is offered on /v1/chat/completions, not on /v1/responses",
        ));
    }
    let mut params = request.sampling.params(&served, None)?;
    params.max_tokens = request.max_output_tokens.or(params.max_tokens);
    let mut input = Vec::new();
    if let Some(instructions) = request.instructions {
        input.push(InMessage {
            role: "system".into(),
            content: Some(Content::Text(instructions)),
        });
    }
    match request.input {
        ResponsesInput::Text(text) => input.push(InMessage {
            role: "user".into(),
            content: Some(Content::Text(text)),
        }),
        ResponsesInput::Items(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let kind = item.kind.as_deref().unwrap_or("message");
                let (Some(role), "message") = (item.role, kind) else {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "input[{i}]: items of type `{kind}` are not supported (messages only)"
                        ),
                    ));
                };
                input.push(InMessage {
                    role,
                    content: item.content,
                });
            }
        }
    }
    let prompt = match messages(input) {
        Ok(m) if !m.is_empty() => Prompt::Chat(m),
        Ok(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "input: at least one message is needed",
            ))
        }
        Err(e) => return Err(e),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    served
        .model
        .submit(Job::Generate {
            prompt,
            params,
            stream: None,
            reply,
        })
        .map_err(model_error)?;
    let output = answer
        .await
        .map_err(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the model's worker stopped",
            )
        })?
        .map_err(model_error)?;
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
        "output": [{
            "type": "message", "id": format!("msg_{number}"), "status": "completed", "role": "assistant",
            "content": [{ "type": "output_text", "text": output.text, "annotations": [] }],
        }],
        "parallel_tool_calls": false,
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

#[derive(Clone, Copy)]
enum Endpoint {
    Chat,
    Completion,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage_json(output: &ModelOutput) -> Value {
    json!({ "prompt_tokens": output.usage.input_tokens, "completion_tokens": output.usage.output_tokens, "total_tokens": output.usage.total_tokens })
}

fn model_error(e: vigie_core::ModelError) -> ApiError {
    let status = if e.kind == ModelErrorKind::ContextLength {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error(status, e.message)
}

/// Runs the job; answers with one JSON document, or with server-sent events
/// when `stream` is set.
async fn respond(
    served: &Served,
    endpoint: Endpoint,
    prompt: Prompt,
    params: SamplingParams,
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
    let (reply, answer) = tokio::sync::oneshot::channel();
    let (pieces_tx, mut pieces) = tokio::sync::mpsc::unbounded_channel();
    let job = Job::Generate {
        prompt,
        params,
        stream: stream.then_some(pieces_tx),
        reply,
    };
    served.model.submit(job).map_err(model_error)?;
    if !stream {
        let output = answer
            .await
            .map_err(|_| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the model's worker stopped",
                )
            })?
            .map_err(model_error)?;
        let choice = match endpoint {
            Endpoint::Chat => {
                json!({ "index": 0, "message": { "role": "assistant", "content": output.text }, "finish_reason": output.stop_reason, "logprobs": null })
            }
            Endpoint::Completion => {
                json!({ "index": 0, "text": output.text, "finish_reason": output.stop_reason, "logprobs": null })
            }
        };
        return Ok(axum::Json(json!({ "id": id, "object": object, "created": created, "model": served.id, "choices": [choice], "usage": usage_json(&output) })).into_response());
    }
    // Wait for the first piece (or the end) before answering, so that a
    // request the model refuses (context length) still gets a JSON error.
    let first = pieces.recv().await;
    let mut answer = Some(answer);
    let early = if first.is_none() {
        let output = answer.take().expect("not taken yet").await;
        Some(
            output
                .map_err(|_| {
                    error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the model's worker stopped",
                    )
                })?
                .map_err(model_error)?,
        )
    } else {
        None
    };
    let usage_chunk = {
        let (id, model) = (id.clone(), served.id.clone());
        move |output: &ModelOutput| {
            sse(
                &json!({ "id": id, "object": chunk_object, "created": created, "model": model, "choices": [], "usage": usage_json(output) }),
            )
        }
    };
    let model = served.id.clone();
    let chunk = move |delta: Option<&str>, finish: Option<&str>, role: bool| -> Bytes {
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
        sse(
            &json!({ "id": id, "object": chunk_object, "created": created, "model": model, "choices": [choice] }),
        )
    };
    let (events, receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        let _ = events.send(chunk(Some(""), None, true));
        if let Some(text) = first {
            let _ = events.send(chunk(Some(&text), None, false));
        }
        while let Some(text) = pieces.recv().await {
            if events.send(chunk(Some(&text), None, false)).is_err() {
                return; // the client left; dropping `pieces` stops the sequence
            }
        }
        let output = match early {
            Some(output) => output,
            None => match answer.take().expect("not taken yet").await {
                Ok(Ok(output)) => output,
                _ => return,
            },
        };
        let _ = events.send(chunk(None, Some(&output.stop_reason), false));
        if include_usage {
            let _ = events.send(usage_chunk(&output));
        }
        let _ = events.send(Bytes::from_static(b"data: [DONE]\n\n"));
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), receiver))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .map_err(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot build the response",
            )
        })
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}
