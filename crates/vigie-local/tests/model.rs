//! The embedded model against llama.cpp: token ids for a committed corpus and
//! greedy continuations of fixed prompts, both produced by llama.cpp itself
//! (`bench/tokenizer_fixture.py`, `bench/greedy_fixture.py`), on the real
//! model file (pulled by `scripts/test` before the tests run).

use std::path::PathBuf;

use serde_json::Value;
use vigie_core::GenerateConfig;

fn model_path() -> PathBuf {
    // Where `scripts/test` pulled it.
    let home = vigie_local::default_home();
    let path = vigie_local::model_path(&home, vigie_local::known_model("smollm2").unwrap());
    assert!(
        path.is_file(),
        "{} is missing: run `vigie model pull smollm2` (scripts/test does) before the tests",
        path.display()
    );
    path
}

#[test]
fn token_ids_equal_llama_cpp_on_the_committed_corpus() {
    let content = vigie_local::gguf::GgufFile::open(&model_path()).unwrap();
    let tokenizer = vigie_local::tokenizer::Tokenizer::from_gguf(&content).unwrap();
    assert_eq!(tokenizer.vocab_size(), 49_152);
    assert_eq!(
        (tokenizer.bos, tokenizer.eos, tokenizer.add_bos),
        (Some(1), Some(2), false)
    );
    let fixture: Value = serde_json::from_str(include_str!("data/smollm2_tokens.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tokenizer.encode(text, true);
        if got != expected {
            failures.push(format!(
                "{text:?}\n  llama.cpp {expected:?}\n  vigie     {got:?}"
            ));
        }
        // Decoding gives the text back, control tokens aside.
        let without_specials: String = {
            let mut t = text.to_string();
            for special in [
                "<|im_start|>",
                "<|im_end|>",
                "<|endoftext|>",
                "<repo_name>",
                "<file_sep>",
            ] {
                t = t.replace(special, "");
            }
            t
        };
        assert_eq!(tokenizer.decode(&got), without_specials);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn greedy_continuations_follow_llama_cpp() {
    let model = vigie_local::llama::LlamaModel::load(&model_path()).unwrap();
    let fixture: Value = serde_json::from_str(include_str!("data/smollm2_greedy.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    let mut report = Vec::new();
    let mut equal = 0;
    let mut min_prefix = usize::MAX;
    for case in cases {
        let prompt = model
            .tokenizer
            .encode(case["prompt"].as_str().unwrap(), true);
        let expected: Vec<u32> = case["greedy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let mut cache = model.new_cache();
        let mut logits = model.forward(&prompt, &mut cache).unwrap();
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            let next = vigie_local::llama::argmax(&logits);
            got.push(next);
            logits = model.forward(&[next], &mut cache).unwrap();
        }
        let same_prefix = got
            .iter()
            .zip(&expected)
            .take_while(|(a, b)| a == b)
            .count();
        if got == expected {
            equal += 1;
        }
        min_prefix = min_prefix.min(same_prefix);
        report.push(format!(
            "{same_prefix:>2}/32 same  {:?}",
            model.tokenizer.decode(&got)
        ));
    }
    // The issue asks for 9 of 10; with llama.cpp's arithmetic reproduced
    // (kernels, exp, fused RoPE, the two f16 product orders) all 10 agree.
    assert_eq!(
        equal,
        10,
        "continuations that differ from llama.cpp's:\n{}",
        report.join("\n")
    );
    assert_eq!(min_prefix, 32);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Asks the model through `ModelApi`, as the engine and `vigie serve` do.
async fn generate(
    model: &vigie_local::LocalModel,
    text: &str,
    config: GenerateConfig,
) -> vigie_core::ModelOutput {
    let request = vigie_core::GenerateRequest {
        messages: vec![vigie_core::ChatMessage::user(text)],
        config,
        ..Default::default()
    };
    vigie_core::ModelApi::generate(model, &request)
        .await
        .unwrap()
}

fn tokens(n: u32) -> GenerateConfig {
    GenerateConfig {
        max_tokens: Some(n),
        ..Default::default()
    }
}

#[test]
fn concurrent_requests_decode_together_and_answer_as_they_would_alone() {
    let model =
        std::sync::Arc::new(vigie_local::LocalModel::load("local/smollm2", &model_path()).unwrap());
    let prompts: [&'static str; 4] = [
        "What is the capital of France?",
        "Name three primary colours.",
        "What is 12 times 7?",
        "Why is the sky blue?",
    ];
    let params = tokens(12);
    runtime().block_on(async {
        let mut alone = Vec::new();
        for p in prompts {
            alone.push(generate(&model, p, params.clone()).await.text);
        }
        let tasks: Vec<_> = prompts
            .into_iter()
            .map(|p| {
                let (model, params) = (model.clone(), params.clone());
                tokio::spawn(async move { generate(&model, p, params).await.text })
            })
            .collect();
        let mut together = Vec::new();
        for task in tasks {
            together.push(task.await.unwrap());
        }
        assert_eq!(
            together, alone,
            "a batched step gives each sequence what it gets alone"
        );
    });
}

#[test]
fn logit_bias_ignore_eos_and_loglikelihood() {
    let model = vigie_local::LocalModel::load("local/smollm2", &model_path()).unwrap();
    runtime().block_on(async {
        // ignore_eos: exactly max_tokens, even where the model would stop.
        let params = GenerateConfig {
            ignore_eos: true,
            ..tokens(20)
        };
        let out = generate(&model, "Say yes.", params).await;
        assert_eq!(
            (out.usage.output_tokens, out.stop_reason.as_str()),
            (20, "length")
        );
        // logit_bias: a large bias on one token makes greedy decoding pick it.
        let target = 9690; // a token id the model would not choose here
        let params = GenerateConfig {
            logit_bias: [(target, 100.0)].into_iter().collect(),
            ..tokens(3)
        };
        let out = generate(&model, "What is the capital of France?", params).await;
        assert_eq!(out.usage.output_tokens, 3);
        let plain = generate(&model, "What is the capital of France?", tokens(3)).await;
        assert_ne!(out.text, plain.text);
        // Log-likelihood: the right answer is the likelier continuation.
        let question = [vigie_core::ChatMessage::user(
            "What is the capital of France?",
        )];
        let answers = [
            "The capital of France is Paris.".to_string(),
            "The capital of France is Berlin.".to_string(),
        ];
        let scores = vigie_core::ModelApi::loglikelihood(&model, &question, &answers)
            .await
            .unwrap();
        assert!(scores[0] > scores[1] && scores[0] < 0.0, "{scores:?}");
    });
}

/// A copy of the embedded model with `patch` applied to its bytes.
fn patched_copy(dir: &std::path::Path, name: &str, patch: impl Fn(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(model_path()).unwrap();
    patch(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Where `needle` first occurs in `bytes`.
fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the pattern is in the file")
}

/// A GGUF string as the file stores it: u64 length, then the bytes.
fn gguf_string(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Regression (issue 12): a byte without a token of its own panicked the
/// model's worker at the first text holding it, and every later request
/// failed with "worker thread has stopped". SmolLM2's own vocabulary has no
/// token for byte 0x04; llama.cpp leaves such a byte out, and so does vigie.
#[test]
fn a_byte_without_a_token_is_left_out_as_llama_cpp_leaves_it() {
    let content = vigie_local::gguf::GgufFile::open(&model_path()).unwrap();
    let tokenizer = vigie_local::tokenizer::Tokenizer::from_gguf(&content).unwrap();
    assert_eq!(
        tokenizer.token_id("Ą"),
        None,
        "the vocabulary has no token for byte 0x04"
    );
    let (a, b) = (
        tokenizer.token_id("a").unwrap(),
        tokenizer.token_id("b").unwrap(),
    );
    assert_eq!(tokenizer.encode("a\u{4}b", false), [a, b]);
}

/// Regression (issue 12): a tensor of absurd shape (a width-0 norm) panicked
/// the worker at the first step, a damaged count could become a huge
/// allocation. Both are refused at load, naming the file and what is wrong,
/// and other models keep serving.
#[test]
fn malformed_model_files_are_refused_at_load_naming_file_and_fault() {
    let dir = tempfile::tempdir().unwrap();
    // The final norm's one dimension (576) set to 0: a vector of no values.
    let empty_norm = patched_copy(dir.path(), "empty-norm.gguf", |bytes| {
        let at =
            find(bytes, &gguf_string("output_norm.weight")) + 8 + "output_norm.weight".len() + 4;
        assert_eq!(
            u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()),
            576
        );
        bytes[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    });
    let err = vigie_local::LocalModel::load("local/x", &empty_norm)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("empty-norm.gguf")
            && err.contains("tensor `output_norm.weight` has 0 values, not the width 576"),
        "{err}"
    );
    // A layer count far beyond the tensors the file holds.
    let many_layers = patched_copy(dir.path(), "many-layers.gguf", |bytes| {
        let at = find(bytes, &gguf_string("llama.block_count")) + 8 + "llama.block_count".len() + 4;
        bytes[at..at + 4].copy_from_slice(&4_000_000_000u32.to_le_bytes());
    });
    let err = vigie_local::LocalModel::load("local/x", &many_layers)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("many-layers.gguf") && err.contains("llama.block_count is 4000000000"),
        "{err}"
    );
    // The real model, loaded after them in the same process, answers.
    let model = vigie_local::LocalModel::load("local/smollm2", &model_path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let request = vigie_core::GenerateRequest {
        messages: vec![vigie_core::ChatMessage::user("Say hi.")],
        config: vigie_core::GenerateConfig {
            max_tokens: Some(3),
            ..Default::default()
        },
        ..Default::default()
    };
    let output = runtime
        .block_on(vigie_core::ModelApi::generate(&model, &request))
        .unwrap();
    assert_eq!(output.usage.output_tokens, 3);
}

/// SmolLM2's template takes no tools, so they reach it in vigie's prompt
/// format: the prompt lists them, and whatever the model writes, no call is
/// left in the answer's text as a tag.
#[test]
fn tools_reach_a_template_without_them_in_the_prompt_format() {
    let model = vigie_local::LocalModel::load("local/smollm2", &model_path()).unwrap();
    let runtime = runtime();
    let mut request = vigie_core::GenerateRequest::new(
        vec![vigie_core::ChatMessage::user(
            "What is the weather in Paris?",
        )],
        tokens(24),
    );
    let plain = runtime
        .block_on(vigie_core::ModelApi::generate(&model, &request))
        .unwrap();
    request.tools = vec![vigie_core::ToolDef {
        name: "get_weather".into(),
        description: "The weather in a city".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }];
    let with_tools = runtime
        .block_on(vigie_core::ModelApi::generate(&model, &request))
        .unwrap();
    assert!(
        with_tools.usage.input_tokens > plain.usage.input_tokens + 40,
        "the tools are in the prompt: {} vs {} tokens",
        with_tools.usage.input_tokens,
        plain.usage.input_tokens
    );
    assert!(!with_tools.text.contains("<tool_call>"), "{with_tools:?}");
    assert_eq!(
        with_tools.stop == vigie_core::StopReason::ToolCalls,
        !with_tools.tool_calls.is_empty()
    );
}
