//! Top logits at chosen prompt positions, to compare with llama.cpp:
//! `cargo run --release -p vigie-local --example logits -- MODEL.gguf "prompt"|@ids.json POS...`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = vigie_local::llama::LlamaModel::load(std::path::Path::new(&args[1])).unwrap();
    // `@ids.json` gives token ids instead of text.
    let prompt: Vec<u32> = match args[2].strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .unwrap()
            .trim_matches(['[', ']', '\n'])
            .split(',')
            .map(|t| t.trim().parse().unwrap())
            .collect(),
        None => model.tokenizer.encode(&args[2], true),
    };
    let mut cache = model.new_cache();
    let logits = model.forward_all(&prompt, &mut cache).unwrap();
    let vocab = model.config.vocab;
    for pos in &args[3..] {
        let pos: usize = if pos == "last" {
            prompt.len() - 1
        } else {
            pos.parse().unwrap()
        };
        let row = &logits[pos * vocab..(pos + 1) * vocab];
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|a, b| row[*b].total_cmp(&row[*a]));
        let top: Vec<(usize, f32)> = order[..4]
            .iter()
            .map(|&i| (i, (row[i] * 1000.0).round() / 1000.0))
            .collect();
        println!("{pos} {top:?}");
    }
}
