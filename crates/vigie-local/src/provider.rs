//! The embedded model as a [`ModelApi`]: requests go to a thread of its own
//! that owns the model, so inference never blocks the async runtime. That
//! thread decodes every request in flight together, one batched step at a
//! time (continuous batching: a request joins at the next step and leaves
//! when done). The chat template from the GGUF file turns messages into a
//! prompt. It also scores continuations by log-likelihood.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc;

use rand::{Rng, SeedableRng};
use vigie_core::{
    BoxFuture, BoxStream, GenerateConfig, GenerateRequest, ModelApi, ModelError, ModelErrorKind,
    ModelOutput, StreamEvent, Usage,
};

use crate::llama::{KvCache, LlamaModel, ModelError as LlamaError, Step};

/// Tokens generated when a request sets no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 512;

/// What a caller asks of the worker.
pub(crate) enum Job {
    /// Generate a continuation.
    Generate {
        /// The prompt.
        prompt: Prompt,
        /// How to sample.
        params: SamplingParams,
        /// Receives each piece of text as it is decoded, if streaming.
        stream: Option<tokio::sync::mpsc::UnboundedSender<String>>,
        /// Receives the result.
        reply: tokio::sync::oneshot::Sender<Result<ModelOutput, ModelError>>,
    },
    /// Log-likelihood of each continuation after a prompt.
    Score {
        /// The context.
        prompt: Prompt,
        /// The candidate continuations.
        continuations: Vec<String>,
        /// Receives one sum of log-probabilities per continuation.
        reply: tokio::sync::oneshot::Sender<Result<Vec<f64>, ModelError>>,
    },
}

/// A prompt: chat messages (rendered with the model's chat template) or raw text.
#[derive(Debug, Clone)]
pub(crate) enum Prompt {
    /// Messages, rendered with the chat template and the assistant's turn
    /// opened, with the tools for a template that takes them (as Hugging
    /// Face templates take them).
    Chat(Vec<vigie_core::ChatMessage>, Vec<serde_json::Value>),
    /// Text given to the model as is.
    Text(String),
}

/// Sampling settings of one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct SamplingParams {
    /// 0 (or absent) for greedy.
    pub temperature: Option<f64>,
    /// Nucleus mass.
    pub top_p: Option<f64>,
    /// Top-k.
    pub top_k: Option<u32>,
    /// Most new tokens ([`DEFAULT_MAX_TOKENS`] when absent).
    pub max_tokens: Option<u32>,
    /// Seed of the sampler.
    pub seed: Option<u64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Added to the logits of the given token ids before sampling.
    pub logit_bias: Vec<(u32, f32)>,
    /// Keep going past the end-of-turn token (for fixed-length benchmarks).
    pub ignore_eos: bool,
}

impl SamplingParams {
    /// The settings a [`GenerateRequest`] carries.
    pub(crate) fn from_config(config: &vigie_core::GenerateConfig) -> SamplingParams {
        SamplingParams {
            temperature: config.temperature,
            top_p: config.top_p,
            top_k: config.top_k,
            max_tokens: config.max_tokens,
            seed: config.seed,
            stop: config.stop.clone(),
            logit_bias: config
                .logit_bias
                .iter()
                .map(|(token, bias)| (*token, bias.clamp(-100.0, 100.0)))
                .collect(),
            ignore_eos: config.ignore_eos,
        }
    }
}

/// Sequences decoded together at most; more requests wait their turn.
pub const MAX_BATCH: usize = 16;

/// A local GGUF model served from a worker thread that decodes all
/// concurrent requests together (continuous batching).
pub struct LocalModel {
    name: String,
    jobs: mpsc::Sender<Job>,
    /// Whether the chat template renders tools itself (else vigie's prompt format).
    native_tools: bool,
    /// The model's context length.
    pub context_length: usize,
}

impl LocalModel {
    /// Loads the model file and starts its worker thread.
    pub fn load(name: &str, path: &Path) -> Result<LocalModel, LlamaError> {
        let model = LlamaModel::load(path)?;
        let template = model
            .chat_template
            .clone()
            .unwrap_or_else(|| CHATML.to_string());
        let native_tools = crate::tools::template_takes_tools(&template);
        let mut env = minijinja::Environment::new();
        env.add_template_owned("chat", template)
            .map_err(|e| LlamaError::Unsupported {
                path: path.display().to_string(),
                reason: format!("chat template: {e}"),
            })?;
        let context_length = model.config.context_length;
        let (jobs, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("vigie-local-model".into())
            .spawn(move || {
                let tokenizer = &model.tokenizer;
                let end_of_turn = [
                    tokenizer.eos,
                    tokenizer.token_id("<|im_end|>"),
                    tokenizer.token_id("<|endoftext|>"),
                ]
                .into_iter()
                .flatten()
                .collect();
                Worker {
                    model: &model,
                    env: &env,
                    end_of_turn,
                }
                .run(receiver)
            })
            .map_err(|source| {
                LlamaError::File(crate::gguf::GgufError::Io {
                    path: path.display().to_string(),
                    source,
                })
            })?;
        Ok(LocalModel {
            name: name.to_string(),
            jobs,
            native_tools,
            context_length,
        })
    }

    /// The prompt of a chat request: with its tools, as the template takes
    /// them or in vigie's prompt format.
    fn chat_prompt(&self, request: &GenerateRequest) -> Prompt {
        if !crate::tools::offered(request) {
            return Prompt::Chat(request.messages.clone(), Vec::new());
        }
        if self.native_tools {
            Prompt::Chat(
                request.messages.clone(),
                crate::tools::template_tools(&request.tools),
            )
        } else {
            Prompt::Chat(crate::tools::in_prompt_format(request), Vec::new())
        }
    }

    /// Hands a job to the worker.
    fn submit(&self, job: Job) -> Result<(), ModelError> {
        self.jobs.send(job).map_err(|_| stopped())
    }

    /// A generation whose pieces of text come as they are decoded. Dropping
    /// the stream stops the decoding.
    fn stream(
        &self,
        prompt: Prompt,
        params: SamplingParams,
    ) -> BoxStream<'static, Result<StreamEvent, ModelError>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let (pieces_tx, pieces) = tokio::sync::mpsc::unbounded_channel();
        let submitted = self.submit(Job::Generate {
            prompt,
            params,
            stream: Some(pieces_tx),
            reply,
        });
        Box::pin(JobStream {
            failed: submitted.err(),
            pieces: Some(pieces),
            answer: Some(answer),
        })
    }

    /// The log-likelihood of each continuation after the prompt (sum of the
    /// log-probabilities of its tokens), as multiple-choice scoring needs.
    async fn loglikelihood_of(
        &self,
        prompt: Prompt,
        continuations: Vec<String>,
    ) -> Result<Vec<f64>, ModelError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.submit(Job::Score {
            prompt,
            continuations,
            reply,
        })?;
        answer.await.map_err(|_| dropped())?
    }
}

/// The events of one streamed job: its pieces of text while the worker
/// sends them, then its result.
struct JobStream {
    failed: Option<ModelError>,
    pieces: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
    answer: Option<tokio::sync::oneshot::Receiver<Result<ModelOutput, ModelError>>>,
}

impl futures_core::Stream for JobStream {
    type Item = Result<StreamEvent, ModelError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if let Some(error) = self.failed.take() {
            self.answer = None;
            return Poll::Ready(Some(Err(error)));
        }
        if let Some(pieces) = self.pieces.as_mut() {
            match pieces.poll_recv(cx) {
                Poll::Ready(Some(text)) => return Poll::Ready(Some(Ok(StreamEvent::Text(text)))),
                // The worker is done with the sequence: its result follows.
                Poll::Ready(None) => self.pieces = None,
                Poll::Pending => return Poll::Pending,
            }
        }
        let Some(answer) = self.answer.as_mut() else {
            return Poll::Ready(None);
        };
        match std::future::Future::poll(std::pin::Pin::new(answer), cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.answer = None;
                Poll::Ready(Some(
                    result
                        .unwrap_or_else(|_| Err(dropped()))
                        .map(StreamEvent::Done),
                ))
            }
        }
    }
}

fn stopped() -> ModelError {
    ModelError::new(
        ModelErrorKind::Fatal,
        "the local model's worker thread has stopped",
    )
}

/// The answer to a request the worker dropped (a panic while taking it in).
fn dropped() -> ModelError {
    ModelError::new(
        ModelErrorKind::Fatal,
        "the local model dropped this request after an internal error (printed on stderr); it serves the next ones",
    )
}

fn internal(message: &str) -> ModelError {
    ModelError::new(
        ModelErrorKind::Fatal,
        format!("internal error in the local model: {message}; it serves the next requests"),
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// ChatML, for GGUF files that carry no template.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

impl ModelApi for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<ModelOutput, ModelError>> {
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = Job::Generate {
                prompt: self.chat_prompt(request),
                params: SamplingParams::from_config(&request.config),
                stream: None,
                reply,
            };
            self.submit(job)?;
            let mut output = answer.await.map_err(|_| dropped())??;
            if crate::tools::offered(request) {
                crate::tools::read_calls(&mut output);
            }
            Ok(output)
        })
    }

    fn generate_stream<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxStream<'a, Result<StreamEvent, ModelError>> {
        let stream = self.stream(
            self.chat_prompt(request),
            SamplingParams::from_config(&request.config),
        );
        if !crate::tools::offered(request) {
            return stream;
        }
        // The pieces are the raw text, tags included; the whole output has the calls read.
        Box::pin(ReadCalls { inner: stream })
    }

    fn complete_stream<'a>(
        &'a self,
        prompt: &'a str,
        config: &'a GenerateConfig,
    ) -> BoxStream<'a, Result<StreamEvent, ModelError>> {
        self.stream(
            Prompt::Text(prompt.to_string()),
            SamplingParams::from_config(config),
        )
    }

    fn gives_loglikelihoods(&self) -> bool {
        true
    }

    fn loglikelihood<'a>(
        &'a self,
        messages: &'a [vigie_core::ChatMessage],
        continuations: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<f64>, ModelError>> {
        Box::pin(LocalModel::loglikelihood_of(
            self,
            Prompt::Chat(messages.to_vec(), Vec::new()),
            continuations.to_vec(),
        ))
    }
}

/// Messages (and tools, for a template that takes them) through the chat
/// template, the assistant's turn opened.
fn render_chat(
    env: &minijinja::Environment<'_>,
    messages: &[vigie_core::ChatMessage],
    tools: &[serde_json::Value],
) -> Result<String, ModelError> {
    let messages: Vec<minijinja::Value> = messages.iter().map(template_message).collect();
    let context = if tools.is_empty() {
        minijinja::context! { messages => messages, add_generation_prompt => true, bos_token => "", eos_token => "" }
    } else {
        minijinja::context! { messages => messages, tools => tools, add_generation_prompt => true, bos_token => "", eos_token => "" }
    };
    env.get_template("chat")
        .and_then(|t| t.render(context))
        .map_err(fatal)
}

/// A message as Hugging Face chat templates read it: `role` and `content`,
/// and an assistant's `tool_calls` and a tool result's `tool_call_id`.
fn template_message(message: &vigie_core::ChatMessage) -> minijinja::Value {
    use vigie_core::{ContentPart, Role};
    match message.role {
        Role::Tool => {
            let (id, content) = message
                .content
                .iter()
                .find_map(|p| match p {
                    ContentPart::ToolResult(r) => Some((r.call_id.clone(), r.content.clone())),
                    _ => None,
                })
                .unwrap_or_default();
            minijinja::context! { role => "tool", content => content, tool_call_id => id }
        }
        Role::Assistant if message.tool_calls().next().is_some() => {
            let calls: Vec<serde_json::Value> = message
                .tool_calls()
                .map(|c| serde_json::json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
            minijinja::context! { role => "assistant", content => message.text(), tool_calls => minijinja::Value::from_serialize(&calls) }
        }
        role => minijinja::context! { role => role.as_str(), content => message.text() },
    }
}

/// A stream whose final output has its tool calls read from the text.
struct ReadCalls<'a> {
    inner: BoxStream<'a, Result<StreamEvent, ModelError>>,
}

impl futures_core::Stream for ReadCalls<'_> {
    type Item = Result<StreamEvent, ModelError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx).map(|event| {
            event.map(|event| match event {
                Ok(StreamEvent::Done(mut output)) => {
                    crate::tools::read_calls(&mut output);
                    Ok(StreamEvent::Done(output))
                }
                other => other,
            })
        })
    }
}

fn fatal(e: impl std::fmt::Display) -> ModelError {
    ModelError::new(ModelErrorKind::Fatal, e.to_string())
}

/// One request being decoded.
struct Sequence {
    cache: KvCache,
    /// Tokens to run at the next step: the prompt, then each sampled token.
    pending: Vec<u32>,
    prompt_tokens: usize,
    generated: Vec<u32>,
    text: Vec<u8>,
    /// Bytes of `text` already streamed.
    streamed: usize,
    params: SamplingParams,
    rng: rand_chacha::ChaCha8Rng,
    stream: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    reply: tokio::sync::oneshot::Sender<Result<ModelOutput, ModelError>>,
}

struct Worker<'m> {
    model: &'m LlamaModel,
    env: &'m minijinja::Environment<'m>,
    /// Tokens that end the assistant's turn.
    end_of_turn: Vec<u32>,
}

impl Worker<'_> {
    /// Takes jobs while any are waiting, runs one step for every active
    /// sequence together, answers the finished ones, and repeats.
    fn run(&self, jobs: mpsc::Receiver<Job>) {
        let mut active: Vec<Sequence> = Vec::new();
        loop {
            if active.is_empty() {
                match jobs.recv() {
                    Ok(job) => self.accept_guarded(job, &mut active),
                    Err(_) => return,
                }
            }
            while active.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => self.accept_guarded(job, &mut active),
                    Err(_) => break,
                }
            }
            if active.is_empty() {
                continue;
            }
            // A panic is a bug, but it must not take the worker down with it:
            // the requests of this step are answered with the error and the
            // worker goes on serving the next ones.
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.step(&mut active))) {
                let message = panic_message(panic.as_ref());
                for sequence in active.drain(..) {
                    let _ = sequence.reply.send(Err(internal(&message)));
                }
            }
        }
    }

    /// Takes a job in; a panic while doing so drops only that job (its
    /// caller hears that the request was dropped).
    fn accept_guarded(&self, job: Job, active: &mut Vec<Sequence>) {
        let before = active.len();
        if catch_unwind(AssertUnwindSafe(|| self.accept(job, active))).is_err() {
            active.truncate(before);
        }
    }

    /// One batched step for every active sequence: the finished ones are
    /// answered and leave `active`.
    fn step(&self, active: &mut Vec<Sequence>) {
        let result = {
            let mut steps: Vec<Step<'_>> = active
                .iter_mut()
                .map(|s| Step {
                    cache: &mut s.cache,
                    tokens: &s.pending,
                    all_logits: false,
                })
                .collect();
            self.model.forward_batch(&mut steps)
        };
        let logits = match result {
            Ok(logits) => logits,
            Err(e) => {
                for sequence in active.drain(..) {
                    let _ = sequence.reply.send(Err(fatal(&e)));
                }
                return;
            }
        };
        // Sequences stay in `active` until they are answered, so a panic
        // here still finds every one of them to answer.
        let mut finished = Vec::new();
        for (i, mut logits) in logits.into_iter().enumerate() {
            if let Some(stop_reason) = self.advance(&mut active[i], &mut logits) {
                finished.push((i, stop_reason));
            }
        }
        for (i, stop_reason) in finished.into_iter().rev() {
            let sequence = active.remove(i);
            self.finish(sequence, stop_reason);
        }
    }

    fn render(&self, prompt: &Prompt) -> Result<String, ModelError> {
        match prompt {
            Prompt::Text(text) => Ok(text.clone()),
            Prompt::Chat(messages, tools) => render_chat(self.env, messages, tools),
        }
    }

    fn accept(&self, job: Job, active: &mut Vec<Sequence>) {
        match job {
            Job::Generate {
                prompt,
                params,
                stream,
                reply,
            } => {
                let prompt_ids = match self.render(&prompt) {
                    Ok(text) => self.model.tokenizer.encode(&text, true),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                let context = self.model.config.context_length;
                if prompt_ids.is_empty() || prompt_ids.len() + 1 > context {
                    let _ = reply.send(Err(ModelError::new(
                        ModelErrorKind::ContextLength,
                        format!(
                            "the prompt has {} tokens and the model's context holds {context}",
                            prompt_ids.len()
                        ),
                    )));
                    return;
                }
                let rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed.unwrap_or(0));
                active.push(Sequence {
                    cache: self.model.new_cache(),
                    prompt_tokens: prompt_ids.len(),
                    pending: prompt_ids,
                    generated: Vec::new(),
                    text: Vec::new(),
                    streamed: 0,
                    params,
                    rng,
                    stream,
                    reply,
                });
            }
            Job::Score {
                prompt,
                continuations,
                reply,
            } => {
                let _ = reply.send(self.score(&prompt, &continuations));
            }
        }
    }

    /// Samples the next token; `Some(reason)` when the sequence is done.
    fn advance(&self, s: &mut Sequence, logits: &mut [f32]) -> Option<&'static str> {
        // Nobody is waiting any more (a client hung up): stop decoding.
        if s.reply.is_closed() || s.stream.as_ref().is_some_and(|t| t.is_closed()) {
            return Some("cancelled");
        }
        #[cfg(test)]
        if s.params
            .stop
            .iter()
            .any(|stop| stop == tests::PANIC_ON_STEP)
        {
            panic!("a test asked the worker to panic");
        }
        let tokenizer = &self.model.tokenizer;
        for &(token, bias) in &s.params.logit_bias {
            if let Some(l) = logits.get_mut(token as usize) {
                *l += bias;
            }
        }
        if s.params.ignore_eos {
            for &token in &self.end_of_turn {
                logits[token as usize] = f32::NEG_INFINITY;
            }
        }
        let next = sample(
            logits,
            s.params.temperature.unwrap_or(0.0),
            s.params.top_p,
            s.params.top_k,
            &mut s.rng,
        );
        if self.end_of_turn.contains(&next) {
            return Some("stop");
        }
        s.generated.push(next);
        s.text.extend(tokenizer.token_bytes(next));
        if let Some(cut) = stop_at(&s.text, &s.params.stop) {
            s.text.truncate(cut);
            return Some("stop");
        }
        self.stream_ready(s, false);
        if s.generated.len() >= s.params.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize
            || s.cache.len + 1 > self.model.config.context_length
        {
            return Some("length");
        }
        s.pending = vec![next];
        None
    }

    /// Sends the text decoded since the last piece: whole UTF-8 characters
    /// only, and nothing a stop sequence might still claim.
    fn stream_ready(&self, s: &mut Sequence, last: bool) {
        let Some(stream) = &s.stream else { return };
        let hold = if last {
            0
        } else {
            s.params
                .stop
                .iter()
                .map(|x| x.len().saturating_sub(1))
                .max()
                .unwrap_or(0)
        };
        let mut end = s.text.len().saturating_sub(hold).max(s.streamed);
        while end > s.streamed && std::str::from_utf8(&s.text[s.streamed..end]).is_err() && !last {
            end -= 1;
        }
        if end > s.streamed {
            let _ = stream.send(String::from_utf8_lossy(&s.text[s.streamed..end]).into_owned());
            s.streamed = end;
        }
    }

    fn finish(&self, mut s: Sequence, stop_reason: &str) {
        self.stream_ready(&mut s, true);
        let usage = Usage {
            input_tokens: s.prompt_tokens as u64,
            output_tokens: s.generated.len() as u64,
            total_tokens: (s.prompt_tokens + s.generated.len()) as u64,
            ..Usage::default()
        };
        let output = ModelOutput {
            text: String::from_utf8_lossy(&s.text).into_owned(),
            stop_reason: stop_reason.into(),
            usage,
            retries: 0,
            cached: false,
            ..ModelOutput::default()
        };
        let _ = s.reply.send(Ok(output));
    }

    /// Sum of log-probabilities of each continuation's tokens after the
    /// prompt. The prompt is run once; each continuation extends a copy of
    /// its cache. Prompt and continuation are tokenized apart, as
    /// lm-evaluation-harness does.
    fn score(&self, prompt: &Prompt, continuations: &[String]) -> Result<Vec<f64>, ModelError> {
        let text = self.render(prompt)?;
        let tokenizer = &self.model.tokenizer;
        let context_ids = tokenizer.encode(&text, true);
        if context_ids.is_empty() {
            return Err(ModelError::new(
                ModelErrorKind::Fatal,
                "the scoring prompt is empty",
            ));
        }
        let (last, head) = context_ids.split_last().expect("not empty");
        let mut cache = self.model.new_cache();
        if !head.is_empty() {
            self.model
                .forward(head, &mut cache)
                .map_err(|e| context_error(&e))?;
        }
        let vocab = self.model.config.vocab;
        let mut out = Vec::with_capacity(continuations.len());
        for continuation in continuations {
            let ids = tokenizer.encode(continuation, false);
            let mut tokens = vec![*last];
            tokens.extend(&ids[..ids.len().saturating_sub(1)]);
            let mut copy = cache.clone();
            let logits = self
                .model
                .forward_all(&tokens, &mut copy)
                .map_err(|e| context_error(&e))?;
            let total: f64 = ids
                .iter()
                .enumerate()
                .map(|(i, &id)| log_softmax_at(&logits[i * vocab..(i + 1) * vocab], id as usize))
                .sum();
            out.push(total);
        }
        Ok(out)
    }
}

fn context_error(e: &LlamaError) -> ModelError {
    match e {
        LlamaError::ContextLength { .. } => {
            ModelError::new(ModelErrorKind::ContextLength, e.to_string())
        }
        _ => fatal(e),
    }
}

/// `log softmax(logits)[index]`, computed in f64.
fn log_softmax_at(logits: &[f32], index: usize) -> f64 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let sum: f64 = logits.iter().map(|&v| (v as f64 - max).exp()).sum();
    logits[index] as f64 - max - sum.ln()
}

/// Where the first stop sequence starts in the text so far, if one appeared.
fn stop_at(text: &[u8], stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.windows(s.len()).position(|w| w == s.as_bytes()))
        .min()
}

/// Picks the next token: the argmax at temperature 0, else a draw from the
/// tempered distribution restricted by top-k and top-p.
fn sample(
    logits: &[f32],
    temperature: f64,
    top_p: Option<f64>,
    top_k: Option<u32>,
    rng: &mut impl Rng,
) -> u32 {
    if temperature <= 0.0 {
        return crate::llama::argmax(logits);
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if let Some(k) = top_k.filter(|k| *k > 0) {
        order.truncate(k as usize);
    }
    let max = logits[order[0]] as f64;
    let mut weights: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - max) / temperature).exp())
        .collect();
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

    /// A stop sequence that makes the worker panic in the middle of a step.
    pub(super) const PANIC_ON_STEP: &str = "\u{0}panic-on-step";

    /// A template that knows tools, in the shape of Qwen2.5's and Hermes'
    /// (trimmed): it is given the tools, the assistant's calls and the results.
    const TOOLS_TEMPLATE: &str = "{%- if tools %}<|im_start|>system\n# Tools\n{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}<|im_end|>\n{%- endif %}{%- for message in messages %}{%- if message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant\n{%- for call in message.tool_calls %}<tool_call>{{ {'name': call.function.name, 'arguments': call.function.arguments} | tojson }}</tool_call>{%- endfor %}<|im_end|>\n{%- elif message.role == 'tool' %}<|im_start|>user\n<tool_response>{{ message.content }}</tool_response><|im_end|>\n{%- else %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{%- endif %}{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}";

    #[test]
    fn a_template_that_knows_tools_gets_them_with_calls_and_results() {
        assert!(crate::tools::template_takes_tools(TOOLS_TEMPLATE));
        assert!(!crate::tools::template_takes_tools(CHATML));
        let mut env = minijinja::Environment::new();
        env.add_template("chat", TOOLS_TEMPLATE).unwrap();
        let tools = crate::tools::template_tools(&[vigie_core::ToolDef {
            name: "get_weather".into(),
            description: "Weather in a city".into(),
            parameters: serde_json::json!({"type": "object"}),
        }]);
        let messages = vec![
            vigie_core::ChatMessage::user("Weather in Paris?"),
            vigie_core::ChatMessage {
                role: vigie_core::Role::Assistant,
                content: vec![vigie_core::ContentPart::ToolCall(
                    vigie_core::ToolCall::from_text("c1", "get_weather", r#"{"city":"Paris"}"#),
                )],
            },
            vigie_core::ChatMessage::tool_result("c1", "18C", false),
        ];
        let prompt = render_chat(&env, &messages, &tools).unwrap();
        assert!(prompt.contains(r#""name":"get_weather""#), "{prompt}");
        assert!(
            prompt.contains(
                r#"<tool_call>{"arguments":{"city":"Paris"},"name":"get_weather"}</tool_call>"#
            ),
            "{prompt}"
        );
        assert!(
            prompt.contains("<tool_response>18C</tool_response>"),
            "{prompt}"
        );
        assert!(prompt.ends_with("<|im_start|>assistant"), "{prompt}");
    }

    #[test]
    fn streams_give_pieces_that_join_to_the_whole_answer_chat_and_raw_text() {
        let home = crate::default_home();
        let path = crate::model_path(&home, crate::known_model("smollm2").unwrap());
        let model = LocalModel::load("local/smollm2", &path).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let collect = |stream: BoxStream<'_, Result<StreamEvent, ModelError>>| {
            runtime.block_on(async {
                let mut stream = stream;
                let (mut pieces, mut done) = (Vec::new(), None);
                while let Some(event) =
                    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
                {
                    match event.unwrap() {
                        StreamEvent::Text(text) => pieces.push(text),
                        StreamEvent::Done(output) => done = Some(output),
                    }
                }
                (pieces, done.expect("a stream ends with its output"))
            })
        };
        let request = GenerateRequest {
            messages: vec![vigie_core::ChatMessage::user(
                "What is the capital of France?",
            )],
            config: GenerateConfig {
                max_tokens: Some(12),
                ..Default::default()
            },
            ..Default::default()
        };
        let (pieces, output) = collect(model.generate_stream(&request));
        assert!(pieces.len() > 1, "{pieces:?}");
        assert_eq!(pieces.concat(), output.text);
        assert_eq!(
            output.text,
            runtime.block_on(model.generate(&request)).unwrap().text,
            "streamed or not, the same greedy answer"
        );
        let config = GenerateConfig {
            max_tokens: Some(5),
            ignore_eos: true,
            ..Default::default()
        };
        let (pieces, output) = collect(model.complete_stream("The capital of France is", &config));
        assert_eq!(
            (
                pieces.concat(),
                output.usage.output_tokens,
                output.stop_reason.as_str()
            ),
            (output.text.clone(), 5, "length")
        );
    }

    #[test]
    fn a_panic_in_a_step_answers_its_requests_and_the_worker_serves_the_next() {
        let home = crate::default_home();
        let path = crate::model_path(&home, crate::known_model("smollm2").unwrap());
        assert!(
            path.is_file(),
            "{} is missing: run `vigie model pull smollm2` first",
            path.display()
        );
        let model = LocalModel::load("local/smollm2", &path).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let request = |stop: Vec<String>| GenerateRequest {
            messages: vec![vigie_core::ChatMessage::user("Say hi.")],
            config: vigie_core::GenerateConfig {
                max_tokens: Some(4),
                stop,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = runtime
            .block_on(model.generate(&request(vec![PANIC_ON_STEP.into()])))
            .unwrap_err();
        assert!(
            err.message
                .contains("internal error in the local model: a test asked the worker to panic"),
            "{err}"
        );
        let output = runtime.block_on(model.generate(&request(vec![]))).unwrap();
        assert!(output.usage.output_tokens > 0, "{output:?}");
    }

    #[test]
    fn sampling_is_greedy_at_zero_and_respects_top_k_and_top_p() {
        let logits = [1.0, 5.0, 3.0, 4.9];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(sample(&logits, 0.0, None, None, &mut rng), 1);
        for _ in 0..200 {
            assert_eq!(
                sample(&logits, 1.0, None, Some(1), &mut rng),
                1,
                "top-k 1 is greedy"
            );
            let t = sample(&logits, 1.0, Some(0.6), None, &mut rng);
            assert!(
                t == 1 || t == 3,
                "top-p 0.6 keeps the two near-equal best: {t}"
            );
        }
        let draws: Vec<u32> = (0..2000)
            .map(|_| sample(&logits, 1.0, None, None, &mut rng))
            .collect();
        let share = |t: u32| draws.iter().filter(|&&d| d == t).count() as f64 / 2000.0;
        assert!(
            (share(1) - 0.46).abs() < 0.05 && share(0) < 0.03,
            "{} {}",
            share(1),
            share(0)
        );
        let a: Vec<u32> = {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            (0..20)
                .map(|_| sample(&logits, 1.0, None, None, &mut r))
                .collect()
        };
        let b: Vec<u32> = {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            (0..20)
                .map(|_| sample(&logits, 1.0, None, None, &mut r))
                .collect()
        };
        assert_eq!(a, b, "seeded");
    }

    #[test]
    fn stop_sequences_cut_at_the_earliest() {
        assert_eq!(stop_at(b"Answer: 4\nNext", &["\n".into()]), Some(9));
        assert_eq!(stop_at(b"abcEND", &["END".into(), "c".into()]), Some(2));
        assert_eq!(stop_at(b"abc", &[]), None);
    }
}
