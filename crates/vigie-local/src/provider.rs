//! The embedded model as a [`ModelApi`]: requests go to a thread of its own
//! that owns the model, so inference never blocks the async runtime. The
//! chat template from the GGUF file turns messages into a prompt.

use std::path::Path;
use std::sync::mpsc;

use rand::{Rng, SeedableRng};
use vigie_core::{BoxFuture, GenerateRequest, ModelApi, ModelError, ModelErrorKind, ModelOutput, Usage};

use crate::llama::{LlamaModel, ModelError as LlamaError};

/// Tokens generated when a request sets no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 512;

struct Job {
    request: GenerateRequest,
    reply: tokio::sync::oneshot::Sender<Result<ModelOutput, ModelError>>,
}

/// A local GGUF model served from a worker thread.
pub struct LocalModel {
    name: String,
    jobs: mpsc::Sender<Job>,
}

impl LocalModel {
    /// Loads the model file and starts its worker thread.
    pub fn load(name: &str, path: &Path) -> Result<LocalModel, LlamaError> {
        let model = LlamaModel::load(path)?;
        let template = model.chat_template.clone().unwrap_or_else(|| CHATML.to_string());
        let mut env = minijinja::Environment::new();
        env.add_template_owned("chat", template).map_err(|e| LlamaError::Unsupported { path: path.display().to_string(), reason: format!("chat template: {e}") })?;
        let (jobs, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("vigie-local-model".into())
            .spawn(move || {
                for job in receiver {
                    let result = generate(&model, &env, &job.request);
                    let _ = job.reply.send(result);
                }
            })
            .map_err(|source| LlamaError::Io { path: path.display().to_string(), source })?;
        Ok(LocalModel { name: name.to_string(), jobs })
    }
}

/// ChatML, for GGUF files that carry no template.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

impl ModelApi for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> BoxFuture<'a, Result<ModelOutput, ModelError>> {
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.jobs
                .send(Job { request: request.clone(), reply })
                .map_err(|_| ModelError::new(ModelErrorKind::Fatal, "the local model's worker thread has stopped"))?;
            answer.await.map_err(|_| ModelError::new(ModelErrorKind::Fatal, "the local model's worker thread has stopped"))?
        })
    }
}

fn fatal(e: impl std::fmt::Display) -> ModelError {
    ModelError::new(ModelErrorKind::Fatal, e.to_string())
}

/// Renders the chat, then decodes until the end-of-turn token, a stop
/// sequence or `max_tokens`. Greedy unless `temperature` is above 0.
fn generate(model: &LlamaModel, env: &minijinja::Environment<'_>, request: &GenerateRequest) -> Result<ModelOutput, ModelError> {
    let messages: Vec<minijinja::Value> = request
        .messages
        .iter()
        .map(|m| minijinja::context! { role => m.role.as_str(), content => m.content.clone() })
        .collect();
    let prompt = env
        .get_template("chat")
        .and_then(|t| t.render(minijinja::context! { messages => messages, add_generation_prompt => true, bos_token => "", eos_token => "" }))
        .map_err(fatal)?;
    let tokenizer = &model.tokenizer;
    let prompt_ids = tokenizer.encode(&prompt, true);
    let config = &request.config;
    let max_tokens = config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize;
    let context = model.config.context_length;
    if prompt_ids.len() + 1 > context {
        return Err(ModelError::new(
            ModelErrorKind::ContextLength,
            format!("the prompt has {} tokens and the model's context holds {context}", prompt_ids.len()),
        ));
    }
    let end_of_turn: Vec<u32> = [tokenizer.eos, tokenizer.token_id("<|im_end|>"), tokenizer.token_id("<|endoftext|>")].into_iter().flatten().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed.unwrap_or(0));
    let mut cache = model.new_cache();
    let mut logits = model.forward(&prompt_ids, &mut cache).map_err(fatal)?;
    let mut generated: Vec<u32> = Vec::new();
    let mut text_bytes: Vec<u8> = Vec::new();
    let mut stop_reason = "length";
    while generated.len() < max_tokens {
        let last: Vec<f32> = logits.get(logits.dim(0).map_err(fatal)? - 1).and_then(|row| row.to_vec1()).map_err(fatal)?;
        let next = sample(&last, config.temperature.unwrap_or(0.0), config.top_p, config.top_k, &mut rng);
        if end_of_turn.contains(&next) {
            stop_reason = "stop";
            break;
        }
        generated.push(next);
        text_bytes.extend(tokenizer.token_bytes(next));
        if let Some(cut) = stop_at(&text_bytes, &config.stop) {
            text_bytes.truncate(cut);
            stop_reason = "stop";
            break;
        }
        if cache.len + 1 > context {
            break;
        }
        logits = model.forward(&[next], &mut cache).map_err(fatal)?;
    }
    let usage = Usage { input_tokens: prompt_ids.len() as u64, output_tokens: generated.len() as u64, total_tokens: (prompt_ids.len() + generated.len()) as u64 };
    Ok(ModelOutput { text: String::from_utf8_lossy(&text_bytes).into_owned(), stop_reason: stop_reason.into(), usage, retries: 0, cached: false })
}

/// Where the first stop sequence starts in the text so far, if one appeared.
fn stop_at(text: &[u8], stops: &[String]) -> Option<usize> {
    stops.iter().filter(|s| !s.is_empty()).filter_map(|s| text.windows(s.len()).position(|w| w == s.as_bytes())).min()
}

/// Picks the next token: the argmax at temperature 0, else a draw from the
/// tempered distribution restricted by top-k and top-p.
fn sample(logits: &[f32], temperature: f64, top_p: Option<f64>, top_k: Option<u32>, rng: &mut impl Rng) -> u32 {
    if temperature <= 0.0 {
        return logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u32);
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if let Some(k) = top_k.filter(|k| *k > 0) {
        order.truncate(k as usize);
    }
    let max = logits[order[0]] as f64;
    let mut weights: Vec<f64> = order.iter().map(|&i| ((logits[i] as f64 - max) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    if let Some(p) = top_p.filter(|p| *p < 1.0) {
        let mut mass = 0.0;
        let keep = weights.iter().position(|w| {
            mass += w / total;
            mass >= p
        });
        if let Some(last) = keep {
            weights.truncate(last + 1);
        }
    }
    let total: f64 = weights.iter().sum();
    let mut draw = rng.random::<f64>() * total;
    for (w, &i) in weights.iter().zip(&order) {
        draw -= w;
        if draw <= 0.0 {
            return i as u32;
        }
    }
    order[weights.len() - 1] as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_greedy_at_zero_and_respects_top_k_and_top_p() {
        let logits = [1.0, 5.0, 3.0, 4.9];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(sample(&logits, 0.0, None, None, &mut rng), 1);
        for _ in 0..200 {
            assert_eq!(sample(&logits, 1.0, None, Some(1), &mut rng), 1, "top-k 1 is greedy");
            let t = sample(&logits, 1.0, Some(0.6), None, &mut rng);
            assert!(t == 1 || t == 3, "top-p 0.6 keeps the two near-equal best: {t}");
        }
        let draws: Vec<u32> = (0..2000).map(|_| sample(&logits, 1.0, None, None, &mut rng)).collect();
        let share = |t: u32| draws.iter().filter(|&&d| d == t).count() as f64 / 2000.0;
        assert!((share(1) - 0.46).abs() < 0.05 && share(0) < 0.03, "{} {}", share(1), share(0));
        let a: Vec<u32> = { let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(9); (0..20).map(|_| sample(&logits, 1.0, None, None, &mut r)).collect() };
        let b: Vec<u32> = { let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(9); (0..20).map(|_| sample(&logits, 1.0, None, None, &mut r)).collect() };
        assert_eq!(a, b, "seeded");
    }

    #[test]
    fn stop_sequences_cut_at_the_earliest() {
        assert_eq!(stop_at(b"Answer: 4\nNext", &["\n".into()]), Some(9));
        assert_eq!(stop_at(b"abcEND", &["END".into(), "c".into()]), Some(2));
        assert_eq!(stop_at(b"abc", &[]), None);
    }
}
