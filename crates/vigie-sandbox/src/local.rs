//! The `local` isolation: no isolation at all. A command runs on the host in
//! the sandbox's work folder, with only the task's environment and its
//! timeout (its process group is killed). It exists for machines where no
//! namespace can be made and a user chooses, by an explicit flag, to run
//! trusted tasks anyway; the log says so.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use crate::{io, supervise, ExecOutput, ExecRequest, Finished, ResourceUse, SandboxError};

pub(crate) async fn exec(
    work: &Path,
    request: &ExecRequest,
    mut env: Vec<(String, String)>,
) -> Result<ExecOutput, SandboxError> {
    // Paths the command is given are the sandbox's: /work is the work folder.
    let host = |inside: &str| match inside.strip_prefix("/work") {
        Some(rest) => work.join(rest.trim_start_matches('/')),
        None => work.join(inside.trim_start_matches('/')),
    };
    for (key, value) in &mut env {
        if key == "HOME" && value == "/work" {
            *value = work.display().to_string();
        }
    }
    let cwd = request
        .cwd
        .as_deref()
        .map_or_else(|| work.to_path_buf(), host);
    let started = Instant::now();
    let child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&request.command)
        .env_clear()
        .envs(env)
        .current_dir(&cwd)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io("start /bin/sh"))?;
    let group = child.id().map(|id| nix::unistd::Pid::from_raw(id as i32));
    let kill_group = move || {
        if let Some(group) = group {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    };
    let Finished {
        exit_code,
        timed_out,
        stdout,
        stderr,
    } = supervise(child, request, |_| kill_group()).await?;
    // What the command left running in its group goes with it.
    kill_group();
    Ok(ExecOutput {
        exit_code,
        timed_out,
        stdout,
        stderr,
        duration: started.elapsed(),
        limits: vec!["none: local isolation (the command ran on the host)".into()],
        usage: ResourceUse::default(),
    })
}
