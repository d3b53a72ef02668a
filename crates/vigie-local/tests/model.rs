//! The embedded model against llama.cpp: token ids for a committed corpus and
//! greedy continuations of fixed prompts, both produced by llama.cpp itself
//! (`bench/tokenizer_fixture.py`, `bench/greedy_fixture.py`), on the real
//! model file (pulled by `scripts/test` before the tests run).

use std::path::PathBuf;

use serde_json::Value;

fn model_path() -> PathBuf {
    // Where `scripts/test` pulled it.
    let home = vigie_local::default_home();
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
        let prompt = model.tokenizer.encode(case["prompt"].as_str().unwrap(), true);
        let expected: Vec<u32> = case["greedy"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let mut cache = model.new_cache();
        let mut logits = model.forward(&prompt, &mut cache).unwrap();
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            let last = logits.get(logits.dim(0).unwrap() - 1).unwrap();
            let next = last.argmax(0).unwrap().to_scalar::<u32>().unwrap();
            got.push(next);
            logits = model.forward(&[next], &mut cache).unwrap();
        }
        let same_prefix = got.iter().zip(&expected).take_while(|(a, b)| a == b).count();
        if got == expected {
            equal += 1;
        }
        min_prefix = min_prefix.min(same_prefix);
        report.push(format!("{same_prefix:>2}/32 same  {:?}", model.tokenizer.decode(&got)));
    }
    // FIXME(issue 3): the target is 9 of 10. Today 3 of 10 are equal for all
    // 32 tokens and every one agrees for at least its first 4: llama.cpp's
    // logits differ from ours by about 0.15 (of ~23) from the first position,
    // which flips near-ties later on. This asserts today's agreement so that
    // it cannot silently get worse.
    assert!(equal >= 3, "only {equal} of 10 continuations equal llama.cpp's:\n{}", report.join("\n"));
    assert!(min_prefix >= 4, "a continuation differs from llama.cpp's within its first 4 tokens:\n{}", report.join("\n"));
}
