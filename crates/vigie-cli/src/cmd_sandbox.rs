//! `vigie sandbox run -- COMMAND`: one command in a fresh sandbox (the one
//! agents' tools will run in), its output and exit status passed through, so
//! that a user can see what a command can and cannot reach there.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::Outcome;

/// Arguments of `vigie sandbox run`.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Seconds before the command and everything it started are killed
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// A root filesystem (a folder, or a .tar/.tar.gz unpacked once) instead of the host's system folders
    #[arg(long, value_name = "PATH")]
    rootfs: Option<std::path::PathBuf>,
    /// Keep the host's network (by default the sandbox has loopback only)
    #[arg(long)]
    network: bool,
    /// The command line, run by /bin/sh -c in the sandbox's work folder
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub(crate) fn run(args: RunArgs) -> Result<Outcome> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        anyhow::bail!(crate::UsageError("--timeout must be positive".into()));
    }
    let host = vigie_sandbox::SandboxHost {
        helper: std::env::current_exe()?,
        base: crate::env::home().join("sandboxes"),
    };
    let rootfs = args
        .rootfs
        .as_deref()
        .map(|path| vigie_sandbox::rootfs::prepare(path, &host.base))
        .transpose()?;
    let policy = vigie_sandbox::Policy {
        isolation: vigie_sandbox::Isolation::Namespaces,
        rootfs,
        network: args.network,
    };
    let sandbox = vigie_sandbox::Sandbox::create(&host, &policy)?;
    let request = vigie_sandbox::ExecRequest::new(
        args.command.join(" "),
        Duration::from_secs_f64(args.timeout),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let output = runtime.block_on(sandbox.exec(&request));
    sandbox.destroy()?;
    let output = output?;
    std::io::stdout().write_all(output.stdout.text().as_bytes())?;
    std::io::stderr().write_all(output.stderr.text().as_bytes())?;
    if output.timed_out {
        eprintln!(
            "vigie: the command ran past --timeout {}s and was killed, with everything it started",
            args.timeout
        );
    }
    Ok(if output.exit_code == 0 {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
