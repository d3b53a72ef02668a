//! The tools an agent calls, and how each runs in the sample's sandbox:
//! `bash` (a fresh shell per call, or a session that keeps its working
//! directory and exported variables from call to call), `python`,
//! `text_editor` (view, create, str_replace, insert, undo_edit), `submit`
//! (handled by the loop), and task-defined command tools (JSON arguments on
//! stdin, the result on stdout). A tool never fails the sample: bad
//! arguments, a non-zero exit, a timeout or a sandbox error come back as the
//! call's result, marked as an error, for the model to read.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use vigie_core::ToolDef;
use vigie_sandbox::{ExecOutput, ExecRequest, Sandbox};

/// A tool as a task file lists it: a built-in's name, or a command tool.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ToolSpec {
    Builtin(String),
    Command(CommandToolSpec),
}

/// A task-defined tool: a command run in the sandbox with the call's JSON
/// arguments on stdin, whose stdout is the result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandToolSpec {
    name: String,
    description: String,
    command: String,
    /// JSON Schema of the arguments (an object), as a TOML table.
    #[serde(default)]
    parameters: Option<toml::Value>,
    /// Seconds, instead of the agent's `tool_timeout`.
    #[serde(default)]
    timeout: Option<f64>,
}

/// A compiled tool.
#[derive(Debug, Clone)]
pub(crate) enum Tool {
    Bash {
        session: bool,
    },
    Python,
    TextEditor,
    Command {
        def: ToolDef,
        command: String,
        timeout: Option<Duration>,
    },
}

/// The name of the tool whose answer is scored.
pub(crate) const SUBMIT: &str = "submit";

/// Names a task may not give its own tools.
const BUILTIN: &[&str] = &["bash", "bash_session", "python", "text_editor", SUBMIT];

impl Tool {
    pub(crate) fn compile(spec: &ToolSpec) -> Result<Tool, String> {
        match spec {
            ToolSpec::Builtin(name) => match name.as_str() {
                "bash" => Ok(Tool::Bash { session: false }),
                "bash_session" => Ok(Tool::Bash { session: true }),
                "python" => Ok(Tool::Python),
                "text_editor" => Ok(Tool::TextEditor),
                SUBMIT => Err("`submit` is always given; do not list it".into()),
                other => Err(format!(
                    "unknown tool `{other}`: the built-in tools are bash, bash_session, python and text_editor; a tool of your own is a table with name, description and command"
                )),
            },
            ToolSpec::Command(c) => {
                if BUILTIN.contains(&c.name.as_str()) {
                    return Err(format!("tool `{}`: the name is a built-in tool's", c.name));
                }
                if c.name.is_empty()
                    || !c
                        .name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
                {
                    return Err(format!(
                        "tool `{}`: a name is letters, digits, `_` and `-` (APIs refuse others)",
                        c.name
                    ));
                }
                let parameters = match &c.parameters {
                    None => json!({"type": "object", "properties": {}}),
                    Some(p) => {
                        let value = serde_json::to_value(p).map_err(|e| e.to_string())?;
                        if value.get("type").and_then(Value::as_str) != Some("object") {
                            return Err(format!(
                                "tool `{}`: field `parameters` is a JSON Schema with type = \"object\"",
                                c.name
                            ));
                        }
                        value
                    }
                };
                let timeout = match c.timeout {
                    Some(t) if !(t > 0.0 && t.is_finite()) => {
                        return Err(format!("tool `{}`: field `timeout` must be positive", c.name))
                    }
                    t => t.map(Duration::from_secs_f64),
                };
                Ok(Tool::Command {
                    def: ToolDef {
                        name: c.name.clone(),
                        description: c.description.clone(),
                        parameters,
                    },
                    command: c.command.clone(),
                    timeout,
                })
            }
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Tool::Bash { session: false } => "bash",
            Tool::Bash { session: true } => "bash_session",
            Tool::Python => "python",
            Tool::TextEditor => "text_editor",
            Tool::Command { def, .. } => &def.name,
        }
    }

    /// The definition the model is given.
    pub(crate) fn def(&self) -> ToolDef {
        let (description, parameters) = match self {
            Tool::Bash { session: false } => (
                "Run a bash command in the sandbox. Each call starts a fresh shell in /work; files in /work and /tmp are kept between calls.",
                json!({"type": "object", "properties": {"command": {"type": "string", "description": "The bash command to run."}}, "required": ["command"]}),
            ),
            Tool::Bash { session: true } => (
                "Run a bash command in the sandbox's shell session: the working directory and exported variables carry over from call to call (background processes do not). Files in /work and /tmp are kept.",
                json!({"type": "object", "properties": {"command": {"type": "string", "description": "The bash command to run."}}, "required": ["command"]}),
            ),
            Tool::Python => (
                "Run Python 3 code in the sandbox (a fresh interpreter per call, in /work). Print what you want to see.",
                json!({"type": "object", "properties": {"code": {"type": "string", "description": "The Python code to run."}}, "required": ["code"]}),
            ),
            Tool::TextEditor => (
                "View, create and edit files. `view` shows a file with line numbers (or lists a folder); `create` writes a new file; `str_replace` replaces one exact, unique occurrence of old_str with new_str; `insert` puts new_str after line insert_line (0: at the top); `undo_edit` reverts the last edit of the file. Files under /work and /tmp can be edited.",
                json!({"type": "object", "properties": {
                    "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]},
                    "path": {"type": "string", "description": "Absolute path, e.g. /work/solve.py"},
                    "file_text": {"type": "string", "description": "For create: the file's contents."},
                    "old_str": {"type": "string", "description": "For str_replace: the exact text to replace."},
                    "new_str": {"type": "string", "description": "For str_replace and insert: the new text."},
                    "insert_line": {"type": "integer", "description": "For insert: the line after which to insert."},
                    "view_range": {"type": "array", "items": {"type": "integer"}, "description": "For view: [first, last] line, last -1 for the end."}
                }, "required": ["command", "path"]}),
            ),
            Tool::Command { def, .. } => return def.clone(),
        };
        ToolDef {
            name: self.name().to_string(),
            description: description.to_string(),
            parameters,
        }
    }
}

/// The `submit` tool's definition.
pub(crate) fn submit_def() -> ToolDef {
    ToolDef {
        name: SUBMIT.into(),
        description:
            "Submit your final answer. It is checked; you may be told it is wrong and continue."
                .into(),
        parameters: json!({"type": "object", "properties": {"answer": {"type": "string", "description": "The answer."}}, "required": ["answer"]}),
    }
}

/// How one call went: the text the model is shown and what the log keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallResult {
    pub text: String,
    pub is_error: bool,
    pub exit_code: Option<i32>,
    pub output_bytes: u64,
    pub timed_out: bool,
    pub error: Option<String>,
    pub cpu_s: Option<f64>,
    pub memory_peak_bytes: Option<u64>,
    pub limits_in_force: Vec<String>,
    pub duration: Duration,
}

impl CallResult {
    pub(crate) fn refused(why: String) -> CallResult {
        CallResult {
            text: why.clone(),
            is_error: true,
            output_bytes: why.len() as u64,
            error: Some(why),
            ..CallResult::default()
        }
    }
}

/// What a call's run needs: the sandbox, and the timeout and environment
/// the task sets.
pub(crate) struct Workbench<'a> {
    pub sandbox: &'a Sandbox,
    pub timeout: Duration,
    pub env: &'a BTreeMap<String, String>,
    pub limits: vigie_sandbox::Limits,
}

/// The text editor's history, per file, for `undo_edit`.
#[derive(Debug, Default)]
pub(crate) struct EditHistory {
    earlier: HashMap<String, Vec<Option<Vec<u8>>>>,
}

fn string_arg<'v>(arguments: &'v Value, name: &str) -> Result<&'v str, String> {
    match arguments.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("argument `{name}` must be a string, not {other}")),
        None => Err(format!("missing argument `{name}`")),
    }
}

/// `text` quoted for a POSIX shell.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Where the bash session keeps its state between calls.
const SESSION: &str = "/tmp/.vigie-session";

impl Tool {
    /// Runs one call. Never fails: what goes wrong is the result.
    pub(crate) async fn call(
        &self,
        arguments: &Value,
        bench: &Workbench<'_>,
        history: &std::sync::Mutex<EditHistory>,
    ) -> CallResult {
        let started = Instant::now();
        let mut result = match self.run(arguments, bench, history).await {
            Ok(result) => result,
            Err(why) => CallResult::refused(why),
        };
        result.duration = started.elapsed();
        result
    }

    async fn run(
        &self,
        arguments: &Value,
        bench: &Workbench<'_>,
        history: &std::sync::Mutex<EditHistory>,
    ) -> Result<CallResult, String> {
        match self {
            Tool::Bash { session } => {
                let command = string_arg(arguments, "command")?;
                let script = if *session {
                    // The state a session keeps: where it is and what it exported.
                    format!(
                        "mkdir -p {SESSION}; cd \"$(cat {SESSION}/cwd 2>/dev/null || echo /work)\" 2>/dev/null || cd /work; [ -f {SESSION}/env ] && . {SESSION}/env; {command}\n__vigie_status=$?; pwd > {SESSION}/cwd; export -p > {SESSION}/env; exit $__vigie_status"
                    )
                } else {
                    command.to_string()
                };
                let line = format!(
                    "if command -v bash >/dev/null 2>&1; then exec bash -c {0}; else exec sh -c {0}; fi",
                    quoted(&script)
                );
                exec(bench, ExecRequest::new(line, bench.timeout)).await
            }
            Tool::Python => {
                let code = string_arg(arguments, "code")?;
                let mut request = ExecRequest::new("exec python3 -", bench.timeout);
                request.stdin = code.as_bytes().to_vec();
                exec(bench, request).await
            }
            Tool::Command {
                command, timeout, ..
            } => {
                let mut request =
                    ExecRequest::new(command.clone(), timeout.unwrap_or(bench.timeout));
                request.stdin = serde_json::to_vec(arguments).expect("JSON values serialize");
                exec(bench, request).await
            }
            Tool::TextEditor => edit(arguments, bench, history).await,
        }
    }
}

/// Runs `request` in the sandbox with the task's environment and limits.
async fn run_in(bench: &Workbench<'_>, mut request: ExecRequest) -> Result<ExecOutput, String> {
    request.env = bench.env.clone();
    request.limits = bench.limits;
    bench
        .sandbox
        .exec(&request)
        .await
        .map_err(|e| e.to_string())
}

async fn exec(bench: &Workbench<'_>, request: ExecRequest) -> Result<CallResult, String> {
    let timeout = request.timeout;
    Ok(shown(&run_in(bench, request).await?, timeout))
}

/// A command's result as the model reads it: its output (stderr after
/// stdout), then its exit status or timeout when it did not succeed.
fn shown(output: &ExecOutput, timeout: Duration) -> CallResult {
    let mut text = output.stdout.text();
    let stderr = output.stderr.text();
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stderr);
    }
    if output.timed_out {
        text.push_str(&format!(
            "\n[the command ran past its timeout of {}s and was killed, with everything it started]",
            timeout.as_secs_f64()
        ));
    } else if output.exit_code != 0 {
        text.push_str(&format!("\n[exit code {}]", output.exit_code));
    }
    CallResult {
        text,
        is_error: output.timed_out || output.exit_code != 0,
        exit_code: Some(output.exit_code),
        output_bytes: output.stdout.total + output.stderr.total,
        timed_out: output.timed_out,
        error: None,
        cpu_s: output.usage.cpu_seconds,
        memory_peak_bytes: output.usage.memory_peak_bytes,
        limits_in_force: output.limits.clone(),
        duration: output.duration,
    }
}

fn ok(text: String) -> CallResult {
    CallResult {
        output_bytes: text.len() as u64,
        text,
        ..CallResult::default()
    }
}

/// The text editor, on the host's side of the sandbox's folders: files are
/// read by a command in the sandbox (so `view` sees what the agent sees,
/// and no more) and written through [`Sandbox::write_file`] (under /work
/// and /tmp only, never through a link).
async fn edit(
    arguments: &Value,
    bench: &Workbench<'_>,
    history: &std::sync::Mutex<EditHistory>,
) -> Result<CallResult, String> {
    let command = string_arg(arguments, "command")?;
    let path = string_arg(arguments, "path")?;
    if !path.starts_with('/') {
        return Err(format!("`path` must be absolute (e.g. /work/{path})"));
    }
    let read = |path: &str| {
        let path = path.to_string();
        async move {
            let output = editor_command(bench, format!("cat -- {}", quoted(&path))).await?;
            if output.stdout.cut() {
                return Err(format!(
                    "{path} is too large to edit ({} bytes)",
                    output.stdout.total
                ));
            }
            Ok::<Vec<u8>, String>(output.stdout.head)
        }
    };
    let write = |path: &str, bytes: &[u8], before: Option<Vec<u8>>| -> Result<(), String> {
        bench.sandbox.write_file(path, bytes).map_err(|e| match e {
            vigie_sandbox::SandboxError::OutsideWork(_) => {
                format!("{path}: only files under /work and /tmp can be written")
            }
            other => other.to_string(),
        })?;
        history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .earlier
            .entry(path.to_string())
            .or_default()
            .push(before);
        Ok(())
    };
    let text_of =
        |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text"));
    match command {
        "view" => {
            // A folder is listed, two levels deep; the first line says which it was.
            let output = editor_command(
                bench,
                format!(
                    "if [ -d {0} ]; then echo folder; find {0} -maxdepth 2 -not -path '*/.*' | sort; else echo file; cat -- {0}; fi",
                    quoted(path)
                ),
            )
            .await?;
            let all = output.stdout.text();
            let (kind, text) = all.split_once('\n').unwrap_or((all.as_str(), ""));
            if kind == "folder" {
                return Ok(ok(text.to_string()));
            }
            let lines: Vec<&str> = text.lines().collect();
            let (first, last) = match arguments.get("view_range").and_then(Value::as_array) {
                Some(range) if range.len() == 2 => {
                    let first = range[0].as_i64().unwrap_or(1).max(1) as usize;
                    let last = match range[1].as_i64().unwrap_or(-1) {
                        -1 => lines.len(),
                        n => (n.max(0) as usize).min(lines.len()),
                    };
                    if first > lines.len().max(1) || last < first {
                        return Err(format!(
                            "view_range [{}, {}] is outside the file's {} lines",
                            range[0],
                            range[1],
                            lines.len()
                        ));
                    }
                    (first, last)
                }
                Some(_) => return Err("view_range is [first, last]".into()),
                None => (1, lines.len()),
            };
            let numbered: String = lines
                .iter()
                .enumerate()
                .skip(first - 1)
                .take(last + 1 - first)
                .map(|(i, line)| format!("{:>6}\t{line}\n", i + 1))
                .collect();
            Ok(ok(numbered))
        }
        "create" => {
            let text = string_arg(arguments, "file_text")?;
            let before = read(path).await.ok();
            write(path, text.as_bytes(), before)?;
            Ok(ok(format!("File created: {path}")))
        }
        "str_replace" => {
            let old = string_arg(arguments, "old_str")?;
            let new = arguments
                .get("new_str")
                .and_then(Value::as_str)
                .unwrap_or("");
            let bytes = read(path).await?;
            let text = text_of(bytes.clone())?;
            match text.matches(old).count() {
                0 => Err(format!("old_str was not found in {path}; nothing was replaced")),
                1 => {
                    let changed = text.replacen(old, new, 1);
                    write(path, changed.as_bytes(), Some(bytes))?;
                    Ok(ok(format!("Replaced 1 occurrence in {path}")))
                }
                n => Err(format!(
                    "old_str occurs {n} times in {path}; give more of the text around it so that it is unique"
                )),
            }
        }
        "insert" => {
            let new = string_arg(arguments, "new_str")?;
            let at = arguments
                .get("insert_line")
                .and_then(Value::as_u64)
                .ok_or("missing argument `insert_line` (a line number, 0 for the top)")?
                as usize;
            let bytes = read(path).await?;
            let text = text_of(bytes.clone())?;
            let mut lines: Vec<&str> = text.lines().collect();
            if at > lines.len() {
                return Err(format!(
                    "insert_line {at} is past the file's {} lines",
                    lines.len()
                ));
            }
            lines.insert(at, new);
            let mut changed = lines.join("\n");
            changed.push('\n');
            write(path, changed.as_bytes(), Some(bytes))?;
            Ok(ok(format!("Inserted after line {at} of {path}")))
        }
        "undo_edit" => {
            let earlier = history
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .earlier
                .get_mut(path)
                .and_then(Vec::pop);
            match earlier {
                None => Err(format!("no edit of {path} to undo")),
                Some(Some(bytes)) => {
                    bench
                        .sandbox
                        .write_file(path, &bytes)
                        .map_err(|e| e.to_string())?;
                    Ok(ok(format!("Undid the last edit of {path}")))
                }
                Some(None) => {
                    // The edit created the file: undoing removes it.
                    editor_command(bench, format!("rm -f -- {}", quoted(path))).await?;
                    Ok(ok(format!("Undid the creation of {path}")))
                }
            }
        }
        other => Err(format!(
            "unknown command `{other}`: view, create, str_replace, insert or undo_edit"
        )),
    }
}

/// A command the editor runs in the sandbox for itself (with the task's
/// environment and limits), its error output the error when it fails.
async fn editor_command(bench: &Workbench<'_>, command: String) -> Result<ExecOutput, String> {
    let output = run_in(bench, ExecRequest::new(command, bench.timeout)).await?;
    if output.exit_code != 0 {
        return Err(output.stderr.text().trim().to_string());
    }
    Ok(output)
}

/// `text` as the model is shown it: at most `limit` bytes, its start and
/// its end, with a marker saying how much was cut.
pub(crate) fn clip(text: &str, limit: usize) -> (String, bool) {
    if text.len() <= limit {
        return (text.to_string(), false);
    }
    let half = limit / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let cut = tail_start - head_end;
    (
        format!(
            "{}\n[... {cut} bytes of output cut; {} in all ...]\n{}",
            &text[..head_end],
            text.len(),
            &text[tail_start..]
        ),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_is_shown_as_its_start_and_end_with_what_was_cut() {
        let text = format!("{}{}", "a".repeat(100), "z".repeat(100));
        let (shown, cut) = clip(&text, 20);
        assert!(cut);
        assert!(shown.starts_with("aaaaaaaaaa\n[... 180 bytes of output cut; 200 in all ...]\n"));
        assert!(shown.ends_with("zzzzzzzzzz"));
        assert_eq!(clip("short", 20), ("short".to_string(), false));
        // Never a cut through a character.
        let (shown, _) = clip(&"é".repeat(50), 21);
        assert!(shown.contains("bytes of output cut"));
    }

    #[test]
    fn tools_a_task_names_are_checked() {
        let bad = |spec: ToolSpec| Tool::compile(&spec).unwrap_err();
        assert!(bad(ToolSpec::Builtin("shell".into())).contains("unknown tool `shell`"));
        assert!(bad(ToolSpec::Builtin("submit".into())).contains("always given"));
        let command = |name: &str, parameters: Option<toml::Value>| {
            ToolSpec::Command(CommandToolSpec {
                name: name.into(),
                description: "d".into(),
                command: "cat".into(),
                parameters,
                timeout: None,
            })
        };
        assert!(bad(command("bash", None)).contains("built-in"));
        assert!(bad(command("has space", None)).contains("letters, digits"));
        let array: toml::Value = toml::from_str("type = \"array\"").unwrap();
        assert!(bad(command("lookup", Some(array))).contains("type = \"object\""));
        let tool = Tool::compile(&command("lookup", None)).unwrap();
        assert_eq!(tool.def().name, "lookup");
        assert_eq!(
            Tool::compile(&ToolSpec::Builtin("bash_session".into()))
                .unwrap()
                .name(),
            "bash_session"
        );
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(quoted("it's"), "'it'\\''s'");
    }
}
