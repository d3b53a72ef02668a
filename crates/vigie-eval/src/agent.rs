//! The `agent` solver: a ReAct-style loop in which the model calls tools in
//! the sample's sandbox until it submits an answer or reaches a limit.
//! Each turn, the model is sent the conversation and the tools; the calls it
//! makes run concurrently, and their results (cut to `output_limit` bytes,
//! head and tail) go back as tool messages. A turn without a call gets the
//! continue message. A submission is scored at once with the task's first
//! scorer; a wrong one is answered with the incorrect message while attempts
//! remain. A context that outgrows the model's window drops its oldest tool
//! outputs, with a marker, rather than failing. Tool failures are results,
//! never the sample's failure; the record keeps one [`ToolStep`] per call
//! and why the agent ended ([`AgentEnd`]).

pub(crate) mod tools;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use vigie_core::{
    ChatMessage, ContentPart, GenerateConfig, GenerateRequest, ModelErrorKind, ToolCall, ToolChoice,
};
use vigie_log::{AgentEnd, AgentLimits, AgentRecord, SampleErrorKind, Submission, ToolStep};

use crate::scorer::ScoreInput;
use crate::solver::{SolveContext, SolveError, TaskState};
use crate::template::Templates;
use tools::{CallResult, EditHistory, Tool, ToolSpec, Workbench, SUBMIT};

/// `agent = { ... }` as written in a task file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentSpec {
    #[serde(default)]
    system: Option<String>,
    #[serde(default = "default_tools")]
    tools: Vec<ToolSpec>,
    #[serde(default)]
    attempts: Option<u32>,
    #[serde(default)]
    message_limit: Option<u32>,
    #[serde(default)]
    token_limit: Option<u64>,
    #[serde(default)]
    tool_call_limit: Option<u32>,
    #[serde(default)]
    time_limit: Option<f64>,
    #[serde(default)]
    working_limit: Option<f64>,
    #[serde(default)]
    tool_timeout: Option<f64>,
    #[serde(default)]
    output_limit: Option<usize>,
    #[serde(default)]
    continue_message: Option<String>,
    #[serde(default)]
    incorrect_message: Option<String>,
    #[serde(default)]
    followup: Option<String>,
    #[serde(default)]
    generate: GenerateConfig,
}

fn default_tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::Builtin("bash".into()),
        ToolSpec::Builtin("python".into()),
    ]
}

const SYSTEM: &str = "You are an autonomous agent working on a task in a Linux sandbox. \
You have tools: call them to run commands, read and write files, and explore. Your working folder is /work. \
Work step by step; after each tool call you will see its result. \
When you have the answer, call the `submit` tool with it.";

const CONTINUE: &str = "Please proceed to the next step using your best judgement. \
If you have the answer, call the `submit` tool with it.";

const INCORRECT: &str =
    "Your submission was incorrect. Please keep working and submit a different answer.";

/// Messages an agent may reach by default: a bound for models that never submit.
const DEFAULT_MESSAGE_LIMIT: u32 = 50;

/// Bytes of a tool's output the model is shown, head and tail.
const DEFAULT_OUTPUT_LIMIT: usize = 16 * 1024;

/// The compiled `agent` step.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    system: String,
    tools: Vec<Tool>,
    limits: AgentLimits,
    output_limit: usize,
    continue_message: String,
    incorrect_message: String,
    /// A question (a template) the overseer asks once the loop has ended,
    /// answered without tools: the agent's account of what it did.
    followup: Option<String>,
    generate: GenerateConfig,
}

impl Agent {
    pub(crate) fn compile(
        spec: &AgentSpec,
        mut add: impl FnMut(&str, &str) -> Result<String, String>,
    ) -> Result<Agent, String> {
        let mut tools = Vec::new();
        for tool in &spec.tools {
            let tool = Tool::compile(tool).map_err(|m| format!("field `tools`: {m}"))?;
            if tools.iter().any(|t: &Tool| t.name() == tool.name()) {
                return Err(format!("field `tools`: `{}` is listed twice", tool.name()));
            }
            tools.push(tool);
        }
        let seconds = |field: &str, value: Option<f64>| match value {
            Some(t) if !(t > 0.0 && t.is_finite()) => Err(format!(
                "field `{field}`: must be a positive number of seconds"
            )),
            t => Ok(t),
        };
        let attempts = spec.attempts.unwrap_or(1);
        if attempts == 0 {
            return Err("field `attempts`: at least 1".into());
        }
        if spec.message_limit == Some(0)
            || spec.tool_call_limit == Some(0)
            || spec.token_limit == Some(0)
        {
            return Err(
                "the limits (message_limit, token_limit, tool_call_limit) are at least 1".into(),
            );
        }
        let output_limit = spec.output_limit.unwrap_or(DEFAULT_OUTPUT_LIMIT);
        if output_limit < 256 {
            return Err("field `output_limit`: at least 256 bytes".into());
        }
        Ok(Agent {
            system: add("system", spec.system.as_deref().unwrap_or(SYSTEM))?,
            tools,
            limits: AgentLimits {
                messages: Some(spec.message_limit.unwrap_or(DEFAULT_MESSAGE_LIMIT)),
                tokens: spec.token_limit,
                tool_calls: spec.tool_call_limit,
                time_s: seconds("time_limit", spec.time_limit)?,
                working_s: seconds("working_limit", spec.working_limit)?,
                attempts,
                tool_timeout_s: seconds("tool_timeout", spec.tool_timeout)?.unwrap_or(180.0),
            },
            output_limit,
            continue_message: spec
                .continue_message
                .clone()
                .unwrap_or_else(|| CONTINUE.into()),
            incorrect_message: spec
                .incorrect_message
                .clone()
                .unwrap_or_else(|| INCORRECT.into()),
            followup: match &spec.followup {
                Some(text) if text.trim().is_empty() => {
                    return Err("field `followup`: empty".into())
                }
                Some(text) => Some(add("followup", text)?),
                None => None,
            },
            generate: spec.generate.clone(),
        })
    }

    /// The templates this step renders.
    pub(crate) fn templates(&self) -> Vec<&String> {
        [&self.system].into_iter().chain(&self.followup).collect()
    }

    /// The tools the model is given, `submit` last.
    pub(crate) fn tool_names(&self) -> Vec<String> {
        self.tools
            .iter()
            .map(|t| t.name().to_string())
            .chain([SUBMIT.to_string()])
            .collect()
    }
}

/// The marker an output dropped from the context is replaced by.
fn dropped_marker(bytes: usize) -> String {
    format!("[output dropped to fit the model's context window: {bytes} bytes]")
}

/// The loop's counters, checked before each turn.
struct Progress {
    started: Instant,
    working: Duration,
    tool_calls: u32,
}

impl Progress {
    fn limit_reached(&self, limits: &AgentLimits, state: &TaskState<'_>) -> Option<AgentEnd> {
        if limits
            .messages
            .is_some_and(|n| state.messages.len() >= n as usize)
        {
            Some(AgentEnd::MessageLimit)
        } else if limits.tokens.is_some_and(|n| state.usage.total_tokens >= n) {
            Some(AgentEnd::TokenLimit)
        } else if limits.tool_calls.is_some_and(|n| self.tool_calls >= n) {
            Some(AgentEnd::ToolCallLimit)
        } else if limits
            .time_s
            .is_some_and(|t| self.started.elapsed().as_secs_f64() >= t)
        {
            Some(AgentEnd::TimeLimit)
        } else if limits
            .working_s
            .is_some_and(|t| self.working.as_secs_f64() >= t)
        {
            Some(AgentEnd::WorkingLimit)
        } else {
            None
        }
    }

    /// How long the next step may take before the wall-time limit.
    fn time_left(&self, limits: &AgentLimits) -> Duration {
        let wall = limits
            .time_s
            .map(|t| Duration::from_secs_f64(t).saturating_sub(self.started.elapsed()));
        let work = limits
            .working_s
            .map(|t| Duration::from_secs_f64(t).saturating_sub(self.working));
        [wall, work]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(Duration::MAX)
    }
}

/// Replaces the oldest tool output still in the context by a marker;
/// false when none is left.
fn drop_oldest_output(messages: &mut [ChatMessage]) -> bool {
    for message in messages.iter_mut() {
        for part in &mut message.content {
            if let ContentPart::ToolResult(result) = part {
                if !result.content.starts_with("[output dropped") {
                    result.content = dropped_marker(result.content.len());
                    return true;
                }
            }
        }
    }
    false
}

/// A rough count of the conversation's tokens (4 bytes each), to drop old
/// outputs before a model whose window is known refuses the request.
fn estimated_tokens(messages: &[ChatMessage]) -> u64 {
    let bytes: usize = messages
        .iter()
        .flat_map(|m| &m.content)
        .map(|part| match part {
            ContentPart::Text { text } => text.len(),
            ContentPart::ToolResult(r) => r.content.len(),
            ContentPart::ToolCall(c) => c.arguments.to_string().len() + c.name.len(),
            ContentPart::Reasoning(r) => r.text.len(),
        })
        .sum();
    (bytes / 4) as u64
}

enum Turn {
    Output(vigie_core::ModelOutput),
    Ended(AgentEnd),
}

/// Runs the agent on `state` in its sandbox.
pub(crate) async fn run(
    agent: &Agent,
    state: &mut TaskState<'_>,
    ctx: &SolveContext<'_>,
    templates: &Templates,
) -> Result<(), SolveError> {
    let sample_sandbox = ctx.sandbox.ok_or_else(|| SolveError {
        kind: SampleErrorKind::Sandbox,
        message: "the agent solver runs in a sandbox, and this run has none".into(),
    })?;
    let system = templates
        .render(&agent.system, &state.template_context())
        .map_err(|message| SolveError {
            kind: SampleErrorKind::Template,
            message,
        })?;
    let at = state
        .messages
        .iter()
        .take_while(|m| m.role == vigie_core::Role::System)
        .count();
    state.messages.insert(at, ChatMessage::system(system));
    let defs: Vec<_> = agent
        .tools
        .iter()
        .map(Tool::def)
        .chain([tools::submit_def()])
        .collect();
    let config = ctx.generate.merged(&agent.generate);
    let context_tokens = ctx.model.adaptation(&config).context_tokens;
    let bench = Workbench {
        sandbox: &sample_sandbox.sandbox,
        timeout: Duration::from_secs_f64(agent.limits.tool_timeout_s),
        env: &sample_sandbox.env,
        limits: sample_sandbox.limits,
    };
    let history = Mutex::new(EditHistory::default());
    let mut record = AgentRecord {
        sandbox: vigie_log::agent::SandboxRef {
            isolation: sample_sandbox
                .sandbox
                .policy()
                .isolation
                .as_str()
                .to_string(),
            rootfs: ctx.rootfs_label.map(str::to_string),
            network: sample_sandbox.sandbox.policy().network,
            limits_in_force: Vec::new(),
        },
        limits: agent.limits.clone(),
        tools: agent.tool_names(),
        turns: 0,
        steps: Vec::new(),
        submissions: Vec::new(),
        working_s: 0.0,
        ended: AgentEnd::MessageLimit,
        outputs_dropped: 0,
    };
    let mut progress = Progress {
        started: Instant::now(),
        working: Duration::ZERO,
        tool_calls: 0,
    };
    let mut answered: Option<String> = None;
    let ended = loop {
        if let Some(end) = progress.limit_reached(&agent.limits, state) {
            break end;
        }
        if let Some(window) = context_tokens {
            // Room for the answer: 90% of the window for the conversation.
            while estimated_tokens(&state.messages) > window * 9 / 10 {
                if !drop_oldest_output(&mut state.messages) {
                    break;
                }
                record.outputs_dropped += 1;
            }
        }
        let turn_started = Instant::now();
        let turn = tokio::time::timeout(
            progress.time_left(&agent.limits),
            generate(state, ctx, &config, &defs, &mut record),
        )
        .await;
        progress.working += turn_started.elapsed();
        let output = match turn {
            Err(_) => {
                break if agent
                    .limits
                    .time_s
                    .is_some_and(|t| progress.started.elapsed().as_secs_f64() >= t)
                {
                    AgentEnd::TimeLimit
                } else {
                    AgentEnd::WorkingLimit
                }
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Turn::Ended(end))) => break end,
            Ok(Ok(Turn::Output(output))) => output,
        };
        record.turns += 1;
        let calls = output.tool_calls.clone();
        state.messages.push(output.message());
        if answered.is_none() {
            state.output = output.text.clone();
        }
        if calls.is_empty() {
            state
                .messages
                .push(ChatMessage::user(agent.continue_message.clone()));
            continue;
        }
        progress.tool_calls += calls.len() as u32;
        let batch_started = Instant::now();
        let results = run_calls(
            agent,
            &calls,
            &bench,
            &history,
            progress.time_left(&agent.limits),
        )
        .await;
        progress.working += batch_started.elapsed();
        let mut verdict = None;
        for (call, result) in calls.iter().zip(results) {
            let result = match result {
                Some(result) => result,
                None => {
                    // `submit`: scored here, in the order the calls came.
                    let (result, end) = submit(agent, call, state, ctx, &mut record).await?;
                    if let Some(answer) = record.submissions.last().map(|s| s.answer.clone()) {
                        answered = Some(answer.clone());
                        state.output = answer;
                    }
                    verdict = verdict.or(end);
                    result
                }
            };
            if record.sandbox.limits_in_force.is_empty() {
                record.sandbox.limits_in_force = result.limits_in_force.clone();
            }
            let (shown, cut) = tools::clip(&result.text, agent.output_limit);
            record.steps.push(ToolStep {
                call_id: call.id.clone(),
                tool: call.name.clone(),
                turn: record.turns,
                exit_code: result.exit_code,
                duration_s: result.duration.as_secs_f64(),
                output_bytes: result.output_bytes,
                shown_bytes: shown.len() as u64,
                cut,
                timed_out: result.timed_out,
                error: result.error.clone(),
                cpu_s: result.cpu_s,
                memory_peak_bytes: result.memory_peak_bytes,
            });
            state.messages.push(ChatMessage::tool_result(
                call.id.clone(),
                shown,
                result.is_error,
            ));
        }
        if let Some(end) = verdict {
            break end;
        }
    };
    record.ended = ended;
    if let Some(followup) = &agent.followup {
        ask_followup(followup, state, ctx, templates, &config, &defs, &mut record).await?;
    }
    record.working_s = progress.working.as_secs_f64();
    state.agent = Some(record);
    Ok(())
}

/// The overseer's question after the loop, however it ended, answered with
/// the tools still described (some APIs refuse a history of calls without
/// them) but not callable: the agent's account is its last message.
async fn ask_followup(
    followup: &str,
    state: &mut TaskState<'_>,
    ctx: &SolveContext<'_>,
    templates: &Templates,
    config: &GenerateConfig,
    defs: &[vigie_core::ToolDef],
    record: &mut AgentRecord,
) -> Result<(), SolveError> {
    let question = templates
        .render(followup, &state.template_context())
        .map_err(|message| SolveError {
            kind: SampleErrorKind::Template,
            message,
        })?;
    state.messages.push(ChatMessage::user(question));
    loop {
        let request = GenerateRequest {
            messages: state.messages.clone(),
            config: config.clone(),
            tools: defs.to_vec(),
            tool_choice: ToolChoice::None,
        };
        match ctx.model.generate(&request).await {
            Ok(output) => {
                state.usage.add(&output.usage);
                state.retries += output.retries;
                state.cache_hits += u32::from(output.cached);
                // Calls made anyway are not run; the account is the text
                // (reasoning kept, for the transcript).
                let mut message = output.message();
                message
                    .content
                    .retain(|part| !matches!(part, ContentPart::ToolCall(_)));
                state.messages.push(message);
                return Ok(());
            }
            Err(e) if e.kind == ModelErrorKind::ContextLength => {
                state.retries += e.retries;
                if !drop_oldest_output(&mut state.messages) {
                    return Err(e.into());
                }
                record.outputs_dropped += 1;
            }
            Err(e) => {
                state.retries += e.retries;
                return Err(e.into());
            }
        }
    }
}

/// One model turn with the tools; a context that does not fit drops the
/// oldest tool outputs and is sent again.
async fn generate(
    state: &mut TaskState<'_>,
    ctx: &SolveContext<'_>,
    config: &GenerateConfig,
    defs: &[vigie_core::ToolDef],
    record: &mut AgentRecord,
) -> Result<Turn, SolveError> {
    loop {
        let request = GenerateRequest {
            messages: state.messages.clone(),
            config: config.clone(),
            tools: defs.to_vec(),
            tool_choice: ToolChoice::Auto,
        };
        match ctx.model.generate(&request).await {
            Ok(output) => {
                state.usage.add(&output.usage);
                state.retries += output.retries;
                state.cache_hits += u32::from(output.cached);
                return Ok(Turn::Output(output));
            }
            Err(e) if e.kind == ModelErrorKind::ContextLength => {
                state.retries += e.retries;
                if !drop_oldest_output(&mut state.messages) {
                    return Ok(Turn::Ended(AgentEnd::ContextFull));
                }
                record.outputs_dropped += 1;
            }
            Err(e) => {
                state.retries += e.retries;
                return Err(e.into());
            }
        }
    }
}

/// Runs a turn's calls at once; `submit`'s slot is left `None` for the
/// loop to score.
async fn run_calls(
    agent: &Agent,
    calls: &[ToolCall],
    bench: &Workbench<'_>,
    history: &Mutex<EditHistory>,
    time_left: Duration,
) -> Vec<Option<CallResult>> {
    let runs = calls.iter().map(|call| async move {
        if call.name == SUBMIT {
            return None;
        }
        let result = if let Some(why) = &call.parse_error {
            CallResult::refused(format!(
                "the arguments of `{}` are not valid JSON: {why}",
                call.name
            ))
        } else {
            match agent.tools.iter().find(|t| t.name() == call.name) {
                Some(tool) => {
                    let bench = Workbench {
                        timeout: bench.timeout.min(time_left),
                        ..*bench
                    };
                    tool.call(&call.arguments, &bench, history).await
                }
                None => CallResult::refused(format!(
                    "there is no tool `{}`; the tools are {}",
                    call.name,
                    agent.tool_names().join(", ")
                )),
            }
        };
        Some(result)
    });
    futures_util::future::join_all(runs).await
}

/// Scores a `submit` call: the result the model is shown, and the end of
/// the loop when the answer is right or the attempts are used.
async fn submit(
    agent: &Agent,
    call: &ToolCall,
    state: &TaskState<'_>,
    ctx: &SolveContext<'_>,
    record: &mut AgentRecord,
) -> Result<(CallResult, Option<AgentEnd>), SolveError> {
    let answer = match call.arguments.get("answer") {
        Some(serde_json::Value::String(s)) if call.parse_error.is_none() => s.clone(),
        Some(other) if call.parse_error.is_none() && !other.is_null() => other.to_string(),
        _ => {
            return Ok((
                CallResult::refused("`submit` takes one argument, `answer` (a string)".into()),
                None,
            ))
        }
    };
    let value = match ctx.scorers.first() {
        Some(scorer) => {
            let input = ScoreInput {
                input: &state.sample.input,
                output: &answer,
                target: &state.target,
                choices: &state.choices,
                choice_loglikelihoods: &[],
                metadata: &state.sample.metadata,
                messages: &state.messages,
                scores: &crate::scorer::NO_SCORES,
                sandbox: ctx.sandbox,
            };
            scorer
                .score(input, ctx.judge, ctx.templates)
                .await
                .map_err(|e| SolveError {
                    kind: SampleErrorKind::Scorer,
                    message: format!("scorer `{}` on a submission: {e}", scorer.name),
                })?
                .value
        }
        None => 1.0,
    };
    record.submissions.push(Submission {
        turn: record.turns,
        answer,
        value,
    });
    let used = record.submissions.len() as u32;
    let (text, end) = if value >= 1.0 {
        (
            "Your answer was submitted.".to_string(),
            Some(AgentEnd::Submitted),
        )
    } else if used >= agent.limits.attempts {
        let end = if agent.limits.attempts == 1 {
            AgentEnd::Submitted
        } else {
            AgentEnd::AttemptsUsed
        };
        ("Your answer was submitted.".to_string(), Some(end))
    } else {
        (agent.incorrect_message.clone(), None)
    };
    Ok((
        CallResult {
            output_bytes: text.len() as u64,
            text,
            ..CallResult::default()
        },
        end,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_outputs_are_dropped_first_with_a_marker() {
        let mut messages = vec![
            ChatMessage::user("task"),
            ChatMessage::tool_result("1", "x".repeat(1000), false),
            ChatMessage::tool_result("2", "y".repeat(10), false),
        ];
        assert!(drop_oldest_output(&mut messages));
        assert_eq!(
            messages[1].content,
            vec![ContentPart::ToolResult(vigie_core::ToolResult {
                call_id: "1".into(),
                content: dropped_marker(1000),
                is_error: false,
            })]
        );
        assert!(drop_oldest_output(&mut messages));
        assert!(!drop_oldest_output(&mut messages), "nothing left to drop");
        assert_eq!(messages[0].text(), "task", "the task itself stays");
    }
}
