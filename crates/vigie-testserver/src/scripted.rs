//! A scripted model in process, for tests of the engine, the solvers and
//! anything else that takes a `dyn ModelApi`: no socket, no runtime of its
//! own. Each request is answered by the first [`Cue`] whose text appears in
//! any of its messages, or by the default answer, with the delay, token
//! counts, retries, failures and log-likelihoods the cue sets; every request
//! is kept for the test to look at.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use vigie_core::{
    Adaptation, BoxFuture, ChatMessage, GenerateConfig, GenerateRequest, ModelApi, ModelError,
    ModelErrorKind, ModelOutput, Price, Reasoning, StopReason, ToolCall, Usage,
};

/// How one kind of request is answered.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The answers, in turn: the n-th request with this cue gets the n-th
    /// (the last one repeats). Empty: an empty answer.
    texts: Vec<String>,
    delay: Duration,
    usage: Option<Usage>,
    retries: u32,
    failure: Option<(ModelErrorKind, Option<u32>)>,
    loglikelihoods: Option<Vec<f64>>,
    reasoning: Option<String>,
    tool_calls: Vec<(String, String)>,
}

impl Reply {
    /// Answers `text`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            texts: vec![text.into()],
            ..Reply::default()
        }
    }

    /// Answers each text in turn, the last one from then on.
    pub fn texts(texts: &[&str]) -> Reply {
        Reply {
            texts: texts.iter().map(|t| t.to_string()).collect(),
            ..Reply::default()
        }
    }

    /// Fails every time with `kind` (after the retries set by [`Reply::retries`]).
    pub fn fail(kind: ModelErrorKind) -> Reply {
        Reply {
            failure: Some((kind, None)),
            ..Reply::default()
        }
    }

    /// The first `n` requests fail with `kind`; later ones are answered.
    pub fn fail_first(mut self, n: u32, kind: ModelErrorKind) -> Reply {
        self.failure = Some((kind, Some(n)));
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Reports these token counts (default: words read and words written).
    pub fn tokens(mut self, input: u64, output: u64) -> Reply {
        self.usage = Some(Usage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: input + output,
            ..Usage::default()
        });
        self
    }

    /// Reasons `text` before answering (counted as reasoning tokens, by words).
    pub fn reasoning(mut self, text: impl Into<String>) -> Reply {
        self.reasoning = Some(text.into());
        self
    }

    /// Calls tool `name` with `arguments` (JSON text, kept raw with a parse
    /// error when it is not JSON); the answer then stops for tool calls.
    pub fn tool_call(mut self, name: &str, arguments: &str) -> Reply {
        self.tool_calls
            .push((name.to_string(), arguments.to_string()));
        self
    }

    /// Says the answer (or the failure) took this many retries.
    pub fn retries(mut self, retries: u32) -> Reply {
        self.retries = retries;
        self
    }

    /// Gives these log-likelihoods of the continuations (one per choice).
    pub fn loglikelihoods(mut self, values: &[f64]) -> Reply {
        self.loglikelihoods = Some(values.to_vec());
        self
    }
}

/// A cue and its reply.
#[derive(Debug, Clone)]
pub struct Cue {
    text: String,
    reply: Reply,
}

/// A model that answers as scripted.
pub struct ScriptedModel {
    name: String,
    cues: Vec<Cue>,
    default: Reply,
    /// Requests seen per cue (or the default), for answers in turn and `fail_first`.
    seen: Mutex<HashMap<Option<usize>, u32>>,
    requests: Mutex<Vec<GenerateRequest>>,
    price: Option<Price>,
}

impl ScriptedModel {
    /// A model named `name` that answers `default` unless a cue matches.
    pub fn new(name: &str, default: Reply) -> ScriptedModel {
        ScriptedModel {
            name: name.to_string(),
            cues: Vec::new(),
            default,
            seen: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            price: None,
        }
    }

    /// Says its tokens cost `price` (as a profile would).
    pub fn priced(mut self, price: Price) -> ScriptedModel {
        self.price = Some(price);
        self
    }

    /// Answers `reply` to requests with a message containing `text`
    /// (earlier cues win).
    pub fn on(mut self, text: &str, reply: Reply) -> ScriptedModel {
        self.cues.push(Cue {
            text: text.to_string(),
            reply,
        });
        self
    }

    /// Every generation request so far, in the order they came.
    pub fn requests(&self) -> Vec<GenerateRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn cue_for(&self, messages: &[ChatMessage]) -> (Option<usize>, &Reply) {
        let found = self
            .cues
            .iter()
            .position(|cue| messages.iter().any(|m| m.text().contains(&cue.text)));
        (found, found.map_or(&self.default, |i| &self.cues[i].reply))
    }

    /// How many requests this cue had before this one.
    fn turn(&self, cue: Option<usize>) -> u32 {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let count = seen.entry(cue).or_default();
        *count += 1;
        *count - 1
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

impl ModelApi for ScriptedModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<ModelOutput, ModelError>> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.clone());
        let (cue, reply) = self.cue_for(&request.messages);
        let turn = self.turn(cue);
        Box::pin(async move {
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            if let Some((kind, first)) = reply.failure {
                if first.is_none_or(|n| turn < n) {
                    let mut error = ModelError::new(kind, format!("scripted {kind:?} failure"));
                    error.retries = reply.retries;
                    return Err(error);
                }
            }
            let text = reply
                .texts
                .get(turn as usize)
                .or(reply.texts.last())
                .cloned()
                .unwrap_or_default();
            let thought = reply.reasoning.as_deref().map_or(0, words);
            let usage = reply.usage.unwrap_or_else(|| {
                let input: u64 = request.messages.iter().map(|m| words(&m.text())).sum();
                Usage {
                    input_tokens: input,
                    output_tokens: words(&text) + thought,
                    total_tokens: input + words(&text) + thought,
                    reasoning_tokens: thought,
                    ..Usage::default()
                }
            });
            let tool_calls: Vec<ToolCall> = reply
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, (name, arguments))| {
                    ToolCall::from_text(format!("call_{turn}_{i}"), name, arguments)
                })
                .collect();
            let stop = if tool_calls.is_empty() {
                StopReason::Stop
            } else {
                StopReason::ToolCalls
            };
            Ok(ModelOutput {
                text,
                reasoning: reply
                    .reasoning
                    .iter()
                    .map(|text| Reasoning {
                        text: text.clone(),
                        ..Reasoning::default()
                    })
                    .collect(),
                tool_calls,
                stop,
                stop_reason: stop.as_str().into(),
                usage,
                retries: reply.retries,
                cached: false,
            })
        })
    }

    fn adaptation(&self, config: &GenerateConfig) -> Adaptation {
        Adaptation {
            max_tokens_sent: config.max_tokens,
            price: self.price,
            ..Adaptation::default()
        }
    }

    fn gives_loglikelihoods(&self) -> bool {
        self.default.loglikelihoods.is_some()
            || self.cues.iter().any(|c| c.reply.loglikelihoods.is_some())
    }

    fn loglikelihood<'a>(
        &'a self,
        messages: &'a [ChatMessage],
        _continuations: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<f64>, ModelError>> {
        let (_, reply) = self.cue_for(messages);
        let values = reply.loglikelihoods.clone();
        Box::pin(async move {
            match values {
                // Returned as scripted, even of the wrong length, so that a
                // caller's own check can be tested.
                Some(values) => Ok(values),
                None => Err(ModelError::new(
                    ModelErrorKind::Fatal,
                    "no log-likelihoods scripted for this request",
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(model: &ScriptedModel, text: &str) -> Result<ModelOutput, ModelError> {
        let request = GenerateRequest::new(vec![ChatMessage::user(text)], Default::default());
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(model.generate(&request))
    }

    #[test]
    fn cues_answer_in_turn_fail_first_and_count_words() {
        let model = ScriptedModel::new("scripted/m", Reply::text("four"))
            .on(
                "flaky",
                Reply::text("ok")
                    .fail_first(2, ModelErrorKind::Server)
                    .retries(3),
            )
            .on("counting", Reply::texts(&["one", "two"]).tokens(7, 1));
        assert_eq!(
            ask(&model, "What is 2+2?").unwrap().usage,
            Usage {
                input_tokens: 3,
                output_tokens: 1,
                total_tokens: 4,
                ..Usage::default()
            }
        );
        let errors: Vec<_> = (0..3).map(|_| ask(&model, "a flaky one")).collect();
        assert_eq!(errors[0].as_ref().unwrap_err().retries, 3);
        assert!(errors[1].is_err() && errors[2].as_ref().unwrap().text == "ok");
        let texts: Vec<String> = (0..3)
            .map(|_| ask(&model, "counting").unwrap().text)
            .collect();
        assert_eq!(texts, ["one", "two", "two"]);
        assert_eq!(model.requests().len(), 7);
        assert!(!model.gives_loglikelihoods());
    }
}
