//! `vigie-testserver`: the scripted loopback model server as a program, for
//! benchmarks, for scripted checks (`--rule`: a scripted agent) and for
//! trying vigie without a model. Prints
//! `listening on http://127.0.0.1:PORT/v1` once it accepts connections.

use std::time::Duration;

use vigie_testserver::{ServerConfig, TestServer};

fn main() {
    let mut port = 0u16;
    let mut config = ServerConfig::default();
    let mut threads = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" => {
                port = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--port takes a number"))
            }
            "--delay-ms" => {
                config.delay = Duration::from_millis(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("--delay-ms takes a number")),
                )
            }
            "--reply" => config.reply = value(),
            "--retry-after" => config.retry_after = value(),
            "--solve-sums" => config.solve_sums = true,
            "--reasoning-words" => {
                let words: usize = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--reasoning-words takes a number"));
                config.reasoning = Some(reasoning_text(words));
            }
            "--tool-call" => {
                let spec = value();
                let (name, args) = spec.split_once(':').unwrap_or((spec.as_str(), "{}"));
                config.tool_call = Some((name.to_string(), args.to_string()));
            }
            "--rule" => {
                // TEXT=>DIRECTIVES: a conversation with a message holding
                // TEXT is answered as if DIRECTIVES were in it.
                let spec = value();
                let Some((text, directives)) = spec.split_once("=>") else {
                    usage("--rule takes TEXT=>DIRECTIVES")
                };
                config
                    .rules
                    .push((text.to_string(), directives.to_string()));
            }
            "--threads" => {
                threads = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--threads takes a number"))
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let server = TestServer::start(port, config).await.unwrap_or_else(|e| {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        });
        println!("listening on {}", server.base_url());
        std::future::pending::<()>().await;
    });
}

/// `words` words of made-up reasoning, varied as real reasoning is (a
/// repeated word would compress to nothing and flatter log sizes).
fn reasoning_text(words: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fu", "go", "hi", "ju", "pe",
        "zo",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(words);
    for _ in 0..words {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = 1 + (state >> 60) as usize % 3;
        let word: String = (0..n)
            .map(|i| SYLLABLES[((state >> (8 * i + 8)) & 15) as usize])
            .collect();
        out.push(word);
    }
    out.join(" ")
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("usage: vigie-testserver [--port N] [--delay-ms MS] [--reply TEXT] [--retry-after SECS] [--solve-sums] [--reasoning-words N] [--tool-call NAME:ARGS] [--rule TEXT=>DIRECTIVES] [--threads N]");
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}
