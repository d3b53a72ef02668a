//! The tokenizer against llama.cpp's own ids for a committed corpus, on the
//! real embedded model (pulled by `scripts/test` before the tests run).

use std::path::PathBuf;

use serde_json::Value;

fn model_path() -> PathBuf {
    let home = std::env::var("VIGIE_HOME").map(PathBuf::from).unwrap_or_else(|_| {
        std::env::var("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("vigie")).unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vigie"))
    });
    let path = vigie_local::model_path(&home, vigie_local::known_model("smollm2").unwrap());
    assert!(path.is_file(), "{} is missing: run `vigie model pull smollm2` (scripts/test does) before the tests", path.display());
    path
}

#[test]
fn token_ids_equal_llama_cpp_on_the_committed_corpus() {
    let mut file = std::fs::File::open(model_path()).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let tokenizer = vigie_local::tokenizer::Tokenizer::from_gguf(&content).unwrap();
    assert_eq!(tokenizer.vocab_size(), 49_152);
    assert_eq!((tokenizer.bos, tokenizer.eos, tokenizer.add_bos), (Some(1), Some(2), false));
    let fixture: Value = serde_json::from_str(include_str!("data/smollm2_tokens.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let got = tokenizer.encode(text, true);
        if got != expected {
            failures.push(format!("{text:?}\n  llama.cpp {expected:?}\n  vigie     {got:?}"));
        }
        // Decoding gives the text back, control tokens aside.
        let without_specials: String = {
            let mut t = text.to_string();
            for special in ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<file_sep>"] {
                t = t.replace(special, "");
            }
            t
        };
        assert_eq!(tokenizer.decode(&got), without_specials);
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
