//! Greedy continuation of a prompt, printed as token ids and text, with
//! timings: `cargo run --release -p vigie-local --example greedy -- MODEL.gguf "prompt" [N] [STREAMS]`.
//! With STREAMS > 1, that many copies of the prompt are decoded together in
//! batched steps and the aggregate rate is printed as well.

use vigie_local::llama::{argmax, LlamaModel, Step};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = LlamaModel::load(std::path::Path::new(&args[1])).unwrap();
    let n: usize = args.get(3).map_or(32, |v| v.parse().unwrap());
    let streams: usize = args.get(4).map_or(1, |v| v.parse().unwrap());
    let prompt = model.tokenizer.encode(&args[2], true);
    let mut cache = model.new_cache();
    let started = std::time::Instant::now();
    let mut logits = model.forward(&prompt, &mut cache).unwrap();
    let prefill = started.elapsed();
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..n {
        let next = argmax(&logits);
        out.push(next);
        logits = model.forward(&[next], &mut cache).unwrap();
    }
    let decode = started.elapsed();
    println!("{out:?}");
    println!("{:?}", model.tokenizer.decode(&out));
    eprintln!(
        "prompt {} tokens in {:.3}s ({:.0} tok/s); {} tokens decoded in {:.3}s ({:.1} tok/s)",
        prompt.len(),
        prefill.as_secs_f64(),
        prompt.len() as f64 / prefill.as_secs_f64(),
        n,
        decode.as_secs_f64(),
        n as f64 / decode.as_secs_f64()
    );
    if streams > 1 {
        let mut caches: Vec<_> = (0..streams).map(|_| model.new_cache()).collect();
        let mut pending: Vec<Vec<u32>> = vec![prompt.clone(); streams];
        let step = |caches: &mut Vec<_>, pending: &Vec<Vec<u32>>| {
            let mut steps: Vec<Step<'_>> = caches
                .iter_mut()
                .zip(pending)
                .map(|(cache, tokens)| Step {
                    cache,
                    tokens,
                    all_logits: false,
                })
                .collect();
            model.forward_batch(&mut steps).unwrap()
        };
        let mut logits = step(&mut caches, &pending);
        let started = std::time::Instant::now();
        for _ in 0..n {
            pending = logits.iter().map(|l| vec![argmax(l)]).collect();
            logits = step(&mut caches, &pending);
        }
        let batched = started.elapsed();
        eprintln!(
            "{streams} streams: {} tokens decoded in {:.3}s ({:.1} tok/s aggregate)",
            streams * n,
            batched.as_secs_f64(),
            (streams * n) as f64 / batched.as_secs_f64()
        );
    }
}
