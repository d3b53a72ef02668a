//! Greedy continuation of a prompt, printed as token ids and text:
//! `cargo run --release -p vigie-local --example greedy -- MODEL.gguf "prompt" [N]`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = vigie_local::llama::LlamaModel::load(std::path::Path::new(&args[1])).unwrap();
    let n: usize = args.get(3).map_or(32, |v| v.parse().unwrap());
    let mut cache = model.new_cache();
    let prompt = model.tokenizer.encode(&args[2], true);
    let started = std::time::Instant::now();
    let mut logits = model.forward(&prompt, &mut cache).unwrap();
    let prefill = started.elapsed();
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..n {
        let next = vigie_local::llama::argmax(&logits);
        out.push(next);
        logits = model.forward(&[next], &mut cache).unwrap();
    }
    let decode = started.elapsed();
    println!("{:?}", out);
    println!("{:?}", model.tokenizer.decode(&out));
    eprintln!("prompt {} tokens in {:.3}s ({:.0} tok/s); {} tokens decoded in {:.3}s ({:.1} tok/s)", prompt.len(), prefill.as_secs_f64(), prompt.len() as f64 / prefill.as_secs_f64(), n, decode.as_secs_f64(), n as f64 / decode.as_secs_f64());
}
