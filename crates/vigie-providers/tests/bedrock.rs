//! Bedrock Converse against the scripted server: credentials from the AWS
//! environment variables, requests SigV4-signed (an unsigned one is refused,
//! as AWS refuses it), reasoning and tool calls. Its own test binary, since
//! it sets the process's AWS variables.

use std::sync::Arc;
use std::time::Duration;

use vigie_core::{
    ChatMessage, GenerateConfig, GenerateRequest, ModelApi, ReasoningEffort, StopReason, ToolDef,
};
use vigie_providers::{resolve, Profiles, ProviderError, ProviderOptions, RetryPolicy};
use vigie_testserver::{ServerConfig, TestServer};

fn options(base: Option<String>) -> ProviderOptions {
    ProviderOptions {
        base_url: base,
        api_key: None,
        max_connections: 2,
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_retries: 0,
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        cache: None,
        profiles: Arc::new(Profiles::builtin()),
    }
}

#[test]
fn bedrock_converse_signs_its_requests_and_reads_reasoning_and_tool_calls() {
    let home = tempfile::tempdir().unwrap();
    // Set before any thread of this process reads the environment.
    std::env::set_var("HOME", home.path());
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
    ] {
        std::env::remove_var(var);
    }
    let name = "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0";
    assert!(matches!(
        resolve(name, &options(None)),
        Err(ProviderError::MissingAwsRegion)
    ));
    std::env::set_var("AWS_REGION", "eu-west-3");
    let err = resolve(name, &options(None)).err().unwrap().to_string();
    assert!(err.contains("no AWS credentials"), "{err}");
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    std::env::set_var(
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    );
    assert_eq!(
        vigie_providers::base_url_for(name, None).as_deref(),
        Some("https://bedrock-runtime.eu-west-3.amazonaws.com")
    );

    let server = TestServer::spawn(ServerConfig::default());
    let (model, _) = resolve(name, &options(Some(server.root_url()))).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut request = GenerateRequest::new(
        vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user(r#"Add. [[tool:add:{"a":2,"b":3}]] [[reply:5]]"#),
        ],
        GenerateConfig {
            temperature: Some(0.0),
            max_tokens: Some(16),
            reasoning_effort: Some(ReasoningEffort::Low),
            ..GenerateConfig::default()
        },
    );
    request.tools = vec![ToolDef {
        name: "add".into(),
        description: String::new(),
        parameters: serde_json::json!({"type": "object"}),
    }];
    let first = runtime.block_on(model.generate(&request)).unwrap();
    assert_eq!(first.stop, StopReason::ToolCalls);
    assert!(first.reasoning[0].signature.is_some());
    request.messages.push(first.message());
    request.messages.push(ChatMessage::tool_result(
        &first.tool_calls[0].id,
        "5",
        false,
    ));
    let second = runtime.block_on(model.generate(&request)).unwrap();
    assert_eq!(second.text, "5");
    let sent = server.requests();
    assert_eq!(
        sent[0]["inferenceConfig"],
        serde_json::json!({"maxTokens": 16 + 2048})
    );
    assert!(
        sent[0]["inferenceConfig"].get("temperature").is_none(),
        "thinking takes no temperature"
    );
}
