//! What a log keeps of an agent's sample (the `agent` solver) beyond its
//! messages: the sandbox it worked in, the limits it ran under, one step per
//! tool call, its submissions, and why it ended. A tool call's arguments and
//! the result the model was shown are in the messages (a `tool_call` part and
//! the `tool_result` that answers it); a [`ToolStep`] names the call by id and
//! adds what the messages cannot say: the full size of the output, exit code,
//! duration, whether it was cut or killed, and what it used.

use serde::{Deserialize, Serialize};

/// An agent's sample, beside its messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentRecord {
    /// The sandbox its tools ran in.
    pub sandbox: SandboxRef,
    /// The limits it ran under.
    pub limits: AgentLimits,
    /// The tools it was given, `submit` last (absent from records written
    /// before vigie kept them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Model turns taken.
    pub turns: u32,
    /// Tool calls, in the order they were made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ToolStep>,
    /// Answers given with the `submit` tool, and how each scored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub submissions: Vec<Submission>,
    /// Seconds spent working (model turns and tool calls), not waiting for a
    /// connection slot.
    pub working_s: f64,
    /// Why the agent stopped.
    pub ended: AgentEnd,
    /// Tool outputs dropped from the model's context to fit its window.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outputs_dropped: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The sandbox as the record says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SandboxRef {
    /// `namespaces`, or `local` (no isolation: chosen by an explicit flag).
    pub isolation: String,
    /// The root filesystem the task named, when not the host's system folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<String>,
    /// Whether the task asked for the network.
    #[serde(default)]
    pub network: bool,
    /// The limits the machine enforced on each command, in words
    /// (`cgroup v1 pids.max 256`, `rlimit open_files 1024`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits_in_force: Vec<String>,
}

/// The agent's limits (`None`: none of that kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentLimits {
    /// Messages in the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u32>,
    /// Tokens of the evaluated model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<u32>,
    /// Wall seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
    /// Working seconds (model turns and tool calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_s: Option<f64>,
    /// Submissions scored.
    pub attempts: u32,
    /// Seconds each tool call may run.
    pub tool_timeout_s: f64,
}

/// One tool call as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolStep {
    /// The call's id (the `tool_call` part's).
    pub call_id: String,
    /// The tool.
    pub tool: String,
    /// The model turn that made it, from 1.
    pub turn: u32,
    /// The command's exit status, when a command ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Seconds it took.
    pub duration_s: f64,
    /// Bytes of output it produced in all.
    pub output_bytes: u64,
    /// Bytes of it the model was shown.
    pub shown_bytes: u64,
    /// The output was cut for the model.
    #[serde(default)]
    pub cut: bool,
    /// It ran past its timeout and was killed with all it started.
    #[serde(default)]
    pub timed_out: bool,
    /// Why the call failed before or instead of running (bad arguments, an
    /// unknown tool, a sandbox error); the model was told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// CPU seconds, where a cgroup measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    /// Peak memory in bytes, where a cgroup measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_peak_bytes: Option<u64>,
}

/// An answer given with `submit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Submission {
    /// The model turn that gave it.
    pub turn: u32,
    /// The answer.
    pub answer: String,
    /// The task's first scorer's value for it.
    pub value: f64,
}

/// Why an agent stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentEnd {
    /// It submitted an answer the scorer accepted (or attempts were 1).
    Submitted,
    /// Every attempt was used on wrong answers.
    AttemptsUsed,
    /// The message limit was reached.
    MessageLimit,
    /// The token limit was reached.
    TokenLimit,
    /// The tool-call limit was reached.
    ToolCallLimit,
    /// The wall-time limit was reached.
    TimeLimit,
    /// The working-time limit was reached.
    WorkingLimit,
    /// The model's context could not be made to fit, even with every old tool output dropped.
    ContextFull,
}

impl AgentEnd {
    /// The reason as logs and outputs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentEnd::Submitted => "submitted",
            AgentEnd::AttemptsUsed => "attempts_used",
            AgentEnd::MessageLimit => "message_limit",
            AgentEnd::TokenLimit => "token_limit",
            AgentEnd::ToolCallLimit => "tool_call_limit",
            AgentEnd::TimeLimit => "time_limit",
            AgentEnd::WorkingLimit => "working_limit",
            AgentEnd::ContextFull => "context_full",
        }
    }
}

impl std::fmt::Display for AgentEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
