//! Every protocol against the scripted server on loopback, which refuses
//! what the real APIs refuse: a task's settings (temperature 0, a small
//! max_tokens) reach reasoning models as they accept them, reasoning comes
//! back and goes back with its signature, and tool calls round-trip.

use std::sync::Arc;
use std::time::Duration;

use vigie_core::{
    ChatMessage, GenerateConfig, GenerateRequest, ModelApi, ModelErrorKind, ModelOutput,
    ReasoningEffort, ReasoningSummary, StopReason, ToolDef,
};
use vigie_providers::{resolve, Profiles, ProviderOptions, RetryPolicy};
use vigie_testserver::{ServerConfig, TestServer};

fn server() -> TestServer {
    TestServer::spawn(ServerConfig::default())
}

fn options(base: String, profiles: Profiles) -> ProviderOptions {
    ProviderOptions {
        base_url: Some(base),
        api_key: Some("test-key".into()),
        max_connections: 2,
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_retries: 0,
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        cache: None,
        profiles: Arc::new(profiles),
    }
}

/// A profile file that sends `openai/gpt-5` to the Responses API.
fn responses_profiles() -> Profiles {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(
        &path,
        "[[profile]]\nname = \"gpt-5-responses\"\nmodels = [\"openai/gpt-5*\"]\nreasoning = \"always\"\napi = \"responses\"\nunsupported = [\"temperature\", \"top_p\", \"stop\"]\n",
    )
    .unwrap();
    Profiles::with_user_file(&path).unwrap()
}

/// Each API: the model name, the base URL under the server, the profiles.
fn apis(server: &TestServer) -> Vec<(&'static str, String, Profiles)> {
    let v1 = server.base_url();
    let root = server.root_url();
    vec![
        ("openai/o3-mini", v1.clone(), Profiles::builtin()),
        ("openai/gpt-5", v1.clone(), responses_profiles()),
        ("anthropic/claude-sonnet-4-5", v1, Profiles::builtin()),
        (
            "google/gemini-2.5-pro",
            format!("{root}/v1beta"),
            Profiles::builtin(),
        ),
        ("azure/o4-mini-deployment", root, Profiles::builtin()),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What the built-in suites send: greedy, a short answer.
fn suite_settings() -> GenerateConfig {
    GenerateConfig {
        temperature: Some(0.0),
        max_tokens: Some(16),
        stop: vec!["\n\n".into()],
        ..GenerateConfig::default()
    }
}

fn ask(model: &dyn ModelApi, request: &GenerateRequest) -> ModelOutput {
    runtime()
        .block_on(model.generate(request))
        .unwrap_or_else(|e| panic!("{}: {e}", model.name()))
}

#[test]
fn a_task_meant_for_any_model_reaches_reasoning_models_as_they_accept_it() {
    let server = server();
    for (name, base, profiles) in apis(&server) {
        let (model, _) = resolve(name, &options(base, profiles)).unwrap();
        let mut config = suite_settings();
        if name.starts_with("anthropic/") {
            // Claude thinks when asked to.
            config.reasoning_effort = Some(ReasoningEffort::Low);
        }
        let request = GenerateRequest::new(vec![ChatMessage::user("What is 2+2?")], config);
        let output = ask(&*model, &request);
        assert_eq!(output.text, "4", "{name}");
        assert!(
            output.usage.reasoning_tokens > 0 || !output.reasoning.is_empty(),
            "{name}: {output:?}"
        );
        let adaptation = model.adaptation(&request.config);
        assert!(adaptation.reasons, "{name}");
        // Gemini's thinking models take a temperature; the others refuse one.
        assert_eq!(
            adaptation.dropped.iter().any(|(s, _)| s == "temperature"),
            !name.starts_with("google/"),
            "{name}: {:?}",
            adaptation.dropped
        );
    }
}

#[test]
fn reasoning_goes_back_with_its_signature_and_a_forged_one_is_refused() {
    let server = server();
    let (model, _) = resolve(
        "anthropic/claude-opus-4-1",
        &options(server.base_url(), Profiles::builtin()),
    )
    .unwrap();
    let mut config = suite_settings();
    config.reasoning_tokens = Some(2048);
    let mut request = GenerateRequest::new(vec![ChatMessage::user("What is 2+2?")], config);
    let first = ask(&*model, &request);
    assert!(first.reasoning[0].signature.is_some(), "{first:?}");
    request.messages.push(first.message());
    request
        .messages
        .push(ChatMessage::user("And 3+3? [[reply:6]]"));
    assert_eq!(
        ask(&*model, &request).text,
        "6",
        "the server checked the signature"
    );
    let sent = server.requests();
    let thinking = &sent.last().unwrap()["messages"][1]["content"][0];
    assert_eq!(thinking["type"], "thinking");
    assert_eq!(sent.last().unwrap()["max_tokens"], 16 + 2048);
    assert!(sent.last().unwrap().get("temperature").is_none());

    if let vigie_core::ContentPart::Reasoning(r) = &mut request.messages[1].content[0] {
        r.text.push_str(" (edited)");
    }
    let err = runtime().block_on(model.generate(&request)).unwrap_err();
    assert!(err.message.contains("Invalid `signature`"), "{err}");

    // The Responses API's encrypted reasoning goes back too.
    let (model, _) = resolve(
        "openai/gpt-5",
        &options(server.base_url(), responses_profiles()),
    )
    .unwrap();
    let mut config = suite_settings();
    config.reasoning_summary = Some(ReasoningSummary::Auto);
    let mut request = GenerateRequest::new(vec![ChatMessage::user("What is 2+2?")], config);
    let first = ask(&*model, &request);
    assert!(
        first.reasoning[0].summary && first.reasoning[0].encrypted.is_some(),
        "{first:?}"
    );
    request.messages.push(first.message());
    request.messages.push(ChatMessage::user("Again?"));
    ask(&*model, &request);
    let sent = server.requests();
    assert_eq!(sent.last().unwrap()["input"][1]["type"], "reasoning");
    assert_eq!(sent.last().unwrap()["store"], false);
}

#[test]
fn tool_calls_round_trip_on_every_api() {
    let server = server();
    let tool = ToolDef {
        name: "add".into(),
        description: "Adds two numbers".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}),
    };
    for (name, base, profiles) in apis(&server) {
        let (model, _) = resolve(name, &options(base, profiles)).unwrap();
        let mut request = GenerateRequest::new(
            vec![ChatMessage::user(
                r#"Add 2 and 3. [[tool:add:{"a":2,"b":3}]] [[tool:add:{"a":1,"b":1}]] [[reply:5]]"#,
            )],
            suite_settings(),
        );
        request.tools = vec![tool.clone()];
        let first = ask(&*model, &request);
        assert_eq!(first.stop, StopReason::ToolCalls, "{name}: {first:?}");
        assert_eq!(first.tool_calls.len(), 2, "{name}: parallel calls");
        assert_eq!(
            first.tool_calls[0].arguments,
            serde_json::json!({"a": 2, "b": 3}),
            "{name}"
        );
        request.messages.push(first.message());
        for call in &first.tool_calls {
            request
                .messages
                .push(ChatMessage::tool_result(&call.id, "5", false));
        }
        let second = ask(&*model, &request);
        assert_eq!(
            (second.text.as_str(), second.stop),
            ("5", StopReason::Stop),
            "{name}"
        );
    }
}

#[test]
fn a_model_no_profile_knows_fails_with_the_apis_words_as_unsupported() {
    let server = server();
    // vLLM serving a model with an OpenAI reasoning name: no profile matches.
    let (model, _) = resolve(
        "vllm/o3-mini",
        &options(server.base_url(), Profiles::builtin()),
    )
    .unwrap();
    let request = GenerateRequest::new(vec![ChatMessage::user("2+2?")], suite_settings());
    let err = runtime().block_on(model.generate(&request)).unwrap_err();
    assert_eq!(err.kind, ModelErrorKind::Unsupported);
    assert!(
        err.message.contains("Unsupported parameter: 'max_tokens'"),
        "{err}"
    );
    // The fix the run's message names: -M settings, here by dropping max_tokens
    // and temperature... or a profile; the profile way:
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, "[[profile]]\nname = \"mine\"\nmodels = [\"vllm/o3*\"]\nreasoning = \"always\"\nunsupported = [\"temperature\", \"stop\"]\n").unwrap();
    let (model, _) = resolve(
        "vllm/o3-mini",
        &options(server.base_url(), Profiles::with_user_file(&path).unwrap()),
    )
    .unwrap();
    assert_eq!(ask(&*model, &request).text, "4");
}
