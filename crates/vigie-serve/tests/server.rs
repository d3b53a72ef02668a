//! The server over a scripted model on loopback: the shapes clients rely on
//! (JSON answers, server-sent events, errors in OpenAI's form), without the
//! embedded model (`vigie-cli`'s `tests/serve.rs` drives that one with the
//! official `openai` client).

use std::sync::Arc;

use serde_json::{json, Value};
use vigie_core::ModelErrorKind;
use vigie_testserver::{Reply, ScriptedModel};

struct Server {
    base: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(model: ScriptedModel) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        runtime.spawn(vigie_serve::serve(
            listener,
            Arc::new(model),
            "scripted/tiny".into(),
            std::future::pending(),
        ));
        Server {
            base,
            client: reqwest::Client::new(),
            runtime,
        }
    }

    /// POSTs `body`; the status and the body as text.
    fn post(&self, path: &str, body: Value) -> (u16, String) {
        self.runtime.block_on(async {
            let response = self
                .client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        })
    }

    fn json(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, text) = self.post(path, body);
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }
}

fn model() -> ScriptedModel {
    ScriptedModel::new(
        "scripted/tiny",
        Reply::text("Paris is the capital.").tokens(12, 4),
    )
    .on("too long", Reply::fail(ModelErrorKind::ContextLength))
    .on("crash", Reply::fail(ModelErrorKind::Server))
}

fn question(text: &str) -> Value {
    json!([{ "role": "user", "content": text }])
}

#[test]
fn chat_completions_answer_in_openai_shape_and_name_the_model() {
    let server = Server::start(model());
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "model": "tiny", "messages": question("Capital of France?"), "max_tokens": 8 }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "scripted/tiny");
    assert_eq!(
        body["choices"][0]["message"],
        json!({ "role": "assistant", "content": "Paris is the capital." })
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16 })
    );
    let (status, models) = server.runtime.block_on(async {
        let r = server
            .client
            .get(format!("{}/models", server.base))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap(),
        )
    });
    assert_eq!(
        (status, &models["data"][0]["id"]),
        (200, &json!("scripted/tiny"))
    );
}

#[test]
fn a_stream_is_server_sent_events_role_text_finish_usage_then_done() {
    let server = Server::start(model());
    let (status, text) = server.post(
        "/chat/completions",
        json!({ "messages": question("Capital of France?"), "stream": true, "stream_options": { "include_usage": true } }),
    );
    assert_eq!(status, 200, "{text}");
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")), "{text}");
    let data: Vec<&str> = events.iter().map(|e| &e["data: ".len()..]).collect();
    assert_eq!(*data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({ "role": "assistant", "content": "" })
    );
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed, "Paris is the capital.");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = chunks.last().unwrap();
    assert_eq!(
        (
            usage["choices"].as_array().unwrap().len(),
            &usage["usage"]["completion_tokens"]
        ),
        (0, &json!(4))
    );
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));
}

#[test]
fn errors_come_back_in_openai_shape_with_the_right_status() {
    let server = Server::start(model());
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "model": "gpt-4o", "messages": question("hi") }),
    );
    assert_eq!(
        (status, &body["error"]["type"]),
        (404, &json!("not_found_error"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not served here (this server serves `scripted/tiny`)"));
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "messages": question("hi"), "n": 2 }),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str().unwrap()),
        (400, "n: only 1 choice per request is supported")
    );
    // A prompt past the context is refused with a JSON error, streaming or not.
    for stream in [false, true] {
        let (status, body) = server.json(
            "/chat/completions",
            json!({ "messages": question("too long"), "stream": stream }),
        );
        assert_eq!(
            (status, &body["error"]["type"]),
            (400, &json!("invalid_request_error")),
            "{body}"
        );
    }
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "messages": question("crash") }),
    );
    assert_eq!(
        (status, &body["error"]["type"]),
        (500, &json!("server_error"))
    );
    // A model that only chats says so on the legacy completions endpoint.
    let (status, body) = server.json(
        "/completions",
        json!({ "prompt": "The capital of France is" }),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("continues chats only"),
        "{body}"
    );
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "messages": [{ "role": "robot", "content": "x" }] }),
    );
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("messages[0].role: `robot` is not supported"));
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "messages": question("hi"), "logit_bias": { "abc": 1 } }),
    );
    assert_eq!(
        (status, body["error"]["message"].as_str().unwrap()),
        (400, "logit_bias: `abc` is not a token id")
    );
    let (status, body) = server.json("/embeddings", json!({}));
    assert_eq!(status, 404);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("no route for POST /v1/embeddings"));
}

#[test]
fn the_responses_api_answers_one_message_and_refuses_streaming() {
    let server = Server::start(model());
    let (status, body) = server.json("/responses", json!({ "input": "Capital of France?", "instructions": "Be brief.", "max_output_tokens": 8 }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["object"], &body["status"]),
        (&json!("response"), &json!("completed"))
    );
    assert_eq!(
        body["output"][0]["content"][0],
        json!({ "type": "output_text", "text": "Paris is the capital.", "annotations": [] })
    );
    assert_eq!(body["usage"]["output_tokens"], 4);
    let (status, _) = server.json("/responses", json!({ "input": "x", "stream": true }));
    assert_eq!(status, 400);
    let (status, body) = server.json(
        "/responses",
        json!({ "input": [{ "type": "web_search_call", "id": "ws" }] }),
    );
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("items of type `web_search_call` are not supported"));
    let (status, body) = server.json(
        "/responses",
        json!({ "input": [{ "type": "function_call", "name": "f" }] }),
    );
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("input[0]: a function_call needs `call_id` and `name`"));
}

fn weather_tool() -> Value {
    json!([{ "type": "function", "function": { "name": "get_weather", "description": "Weather in a city",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } }])
}

#[test]
fn tools_are_taken_and_tool_calls_returned_whole_and_streamed() {
    let server = Server::start(
        ScriptedModel::new("scripted/tiny", Reply::text("It is 18C.")).on(
            "Weather",
            Reply::text("").tool_call("get_weather", r#"{"city":"Paris"}"#),
        ),
    );
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "model": "tiny", "messages": question("Weather in Paris?"), "tools": weather_tool(), "tool_choice": "auto" }),
    );
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(
        call["function"],
        json!({ "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" })
    );

    // The call and its result go back; the model answers them.
    let id = call["id"].as_str().unwrap();
    let messages = json!([
        { "role": "user", "content": "What should I wear?" },
        { "role": "assistant", "content": null, "tool_calls": [call] },
        { "role": "tool", "tool_call_id": id, "content": "18C, clear" },
    ]);
    let (status, body) = server.json(
        "/chat/completions",
        json!({ "model": "tiny", "messages": messages, "tools": weather_tool() }),
    );
    assert_eq!(
        (status, body["choices"][0]["message"]["content"].clone()),
        (200, json!("It is 18C.")),
        "{body}"
    );

    let (status, text) = server.post(
        "/chat/completions",
        json!({ "model": "tiny", "messages": question("Weather in Paris?"), "tools": weather_tool(), "stream": true }),
    );
    assert_eq!(status, 200, "{text}");
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let delta_calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(delta_calls.len(), 1, "{text}");
    assert_eq!(delta_calls[0][0]["index"], 0);
    assert_eq!(delta_calls[0][0]["function"]["name"], "get_weather");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn bad_tool_requests_are_refused_naming_the_field() {
    let server = Server::start(model());
    let cases = [
        (json!({ "messages": [{ "role": "tool", "tool_call_id": "nope", "content": "x" }] }),
         "messages[0]: messages with role `tool` must answer a preceding message's `tool_calls` (no call `nope`)"),
        (json!({ "messages": [{ "role": "tool", "content": "x" }] }), "messages[0]: a `tool` message needs its `tool_call_id`"),
        (json!({ "messages": question("hi"), "tools": [{ "type": "retrieval" }] }), "tools[0]: only tools of type `function`"),
        (json!({ "messages": question("hi"), "tools": weather_tool(), "tool_choice": { "type": "function", "function": { "name": "other" } } }), "tool_choice:"),
    ];
    for (body, expected) in cases {
        let (status, answer) = server.json("/chat/completions", body);
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{message}");
    }
}

/// What Inspect's `openai/` provider sends with `use_tools`: the Responses
/// API with function tools, then the call and its output as input items.
#[test]
fn the_responses_api_takes_tools_and_returns_function_calls() {
    let server = Server::start(
        ScriptedModel::new("scripted/tiny", Reply::text("It is 18C.")).on(
            "Weather",
            Reply::text("").tool_call("get_weather", r#"{"city":"Paris"}"#),
        ),
    );
    let tools = json!([{ "type": "function", "name": "get_weather", "description": "Weather in a city",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } } }, "strict": false }]);
    let (status, body) = server.json(
        "/responses",
        json!({ "model": "tiny", "input": [{ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "Weather in Paris?" }] }],
                "tools": tools, "tool_choice": null, "store": false, "include": ["reasoning.encrypted_content"], "reasoning": { "summary": "auto" } }),
    );
    assert_eq!(status, 200, "{body}");
    let call = body["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap()
        .clone();
    assert_eq!(
        (call["name"].clone(), call["arguments"].clone()),
        (json!("get_weather"), json!("{\"city\":\"Paris\"}"))
    );
    let (status, body) = server.json(
        "/responses",
        json!({ "model": "tiny", "tools": tools, "input": [
            { "type": "message", "role": "user", "content": "What should I wear?" },
            { "type": "reasoning", "id": "rs_1", "summary": [] },
            { "type": "function_call", "call_id": call["call_id"], "name": "get_weather", "arguments": call["arguments"] },
            { "type": "function_call_output", "call_id": call["call_id"], "output": "18C" },
        ] }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"][0]["content"][0]["text"], "It is 18C.");
    let (status, body) = server.json(
        "/responses",
        json!({ "model": "tiny", "input": [{ "type": "function_call_output", "call_id": "nope", "output": "?" }] }),
    );
    assert_eq!(status, 400, "{body}");
}
