//! `vigie`: the command line. This crate is glue: it parses arguments, builds
//! tasks, models and logs from the library crates, and is the only crate that
//! prints to stdout. Exit codes: 0 success; 1 a run failed or stopped, a log
//! could not be read, or `verify` found a problem; 2 bad usage or a bad task
//! file (nothing ran); 3 `assess` reached its gate (an area not acceptable, or
//! at the `--fail-at` tier).

mod cmd_assess;
mod cmd_campaign;
mod cmd_eval;
mod cmd_log;
mod cmd_model;
mod cmd_sandbox;
mod cmd_score;
mod cmd_seal;
mod cmd_serve;
mod cmd_suites;
mod cmd_view;
mod env;
mod models;
mod progress;
mod render;
mod session;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// vigie: find out how dangerous a model is, and prove it.
#[derive(Parser)]
#[command(name = "vigie", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Run one command in a fresh sandbox and pass its output and exit status through
    Run(cmd_sandbox::RunArgs),
}

#[derive(Subcommand)]
enum Command {
    /// Run a task against a model, or resume a run
    Eval(Box<cmd_eval::EvalArgs>),
    /// Run a campaign: many tasks against several models in one folder, resumable, sharded
    /// over machines (Slurm, Kubernetes) and merged
    Campaign {
        #[command(subcommand)]
        command: cmd_campaign::CampaignCommand,
    },
    /// Read logs: list, show, export, merge shards
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Fetch and list local models
    Model {
        #[command(subcommand)]
        command: cmd_model::ModelCommand,
    },
    /// Re-score a finished log with other scorers, without calling the evaluated model
    Score(cmd_score::ScoreArgs),
    /// Serve a local model over an OpenAI-compatible HTTP API
    Serve(cmd_serve::ServeArgs),
    /// Browse logs in a web browser: runs, samples filtered and searched on the server, transcripts
    View(cmd_view::ViewArgs),
    /// Run commands in the sandbox agents' tools run in (Linux namespaces, no network)
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Print vigie's risk taxonomy and its mapping to the EU Code of Practice, the Hiroshima
    /// Code, the Seoul commitments, NIST AI 600-1, OWASP and MITRE ATLAS
    Risks {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The built-in suites of safety tasks
    Suite {
        #[command(subcommand)]
        command: SuiteCommand,
    },
    /// Public benchmark files
    Datasets {
        #[command(subcommand)]
        command: DatasetsCommand,
    },
    /// Decide a tier per risk area from logs, under a safety framework
    Assess(cmd_assess::AssessArgs),
    /// Write a report (HTML, Markdown or JSON) of the assessment and the evaluations behind it
    Report(Box<cmd_assess::ReportArgs>),
    /// Compare two runs: metric differences, a paired test, and the samples that changed
    Compare(cmd_assess::CompareArgs),
    /// Make an Ed25519 key pair for signing logs and reports
    Keygen(cmd_seal::KeygenArgs),
    /// Sign finished logs and reports
    Sign(cmd_seal::SignArgs),
    /// Check logs, reports and bundles: every hash, every signature, every cited figure
    Verify(cmd_seal::VerifyArgs),
    /// Pack logs and their report into one file for another institute
    Bundle(cmd_seal::BundleArgs),
}

#[derive(Subcommand)]
enum SuiteCommand {
    /// List the suites and their tasks
    List,
}

#[derive(Subcommand)]
enum DatasetsCommand {
    /// Load every benchmark file under DIR and compare its row count with its PROVENANCE.md
    Check {
        /// The folder (one sub-folder per benchmark, as --datasets expects)
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// List the logs in a folder
    List {
        /// The folder (default: the log folder, ./logs or VIGIE_LOG_DIR)
        dir: Option<PathBuf>,
    },
    /// Show a log's results, and optionally its samples
    Show(cmd_log::ShowArgs),
    /// Export a log's sample records as CSV or JSON Lines
    Export(cmd_log::ExportArgs),
    /// Merge the shard logs of one task (a campaign's --shard I/N) into one log
    Merge(cmd_log::MergeArgs),
}

/// An error that is the user's input, not a failure of a run (exit code 2).
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The logs, folders of logs, bundles and reports a command is given.
fn inputs(paths: &[PathBuf]) -> anyhow::Result<vigie_seal::Inputs> {
    vigie_seal::gather(paths).map_err(|e| match e {
        vigie_seal::SealError::Input(message) => UsageError(message).into(),
        other => other.into(),
    })
}

/// How a command ended when it did not fail outright.
pub(crate) enum Outcome {
    Success,
    /// The command ran but its result is a failure (exit 1).
    Failed,
}

fn main() -> ExitCode {
    // The sandbox's helper is this binary: it must create its namespaces
    // while the process has one thread, before anything else runs.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == vigie_sandbox::inside::HELPER_ARG)
    {
        return vigie_sandbox::inside::helper_main(&args[2..]);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => cmd_eval::run(*args),
        Command::Campaign { command } => cmd_campaign::run(command),
        Command::Log {
            command: LogCommand::List { dir },
        } => cmd_log::list(dir),
        Command::Log {
            command: LogCommand::Show(args),
        } => cmd_log::show(args),
        Command::Log {
            command: LogCommand::Export(args),
        } => cmd_log::export(args),
        Command::Log {
            command: LogCommand::Merge(args),
        } => cmd_log::merge(args),
        Command::Score(args) => cmd_score::run(args),
        Command::Model { command } => cmd_model::run(command),
        Command::Serve(args) => cmd_serve::run(args),
        Command::View(args) => cmd_view::run(args),
        Command::Sandbox {
            command: SandboxCommand::Run(args),
        } => cmd_sandbox::run(args),
        Command::Risks { json } => cmd_suites::risks(json),
        Command::Suite {
            command: SuiteCommand::List,
        } => cmd_suites::list_suites(),
        Command::Datasets {
            command: DatasetsCommand::Check { dir },
        } => cmd_suites::check_datasets(dir),
        Command::Assess(args) => cmd_assess::assess(args),
        Command::Report(args) => cmd_assess::report(*args),
        Command::Compare(args) => cmd_assess::compare(args),
        Command::Keygen(args) => cmd_seal::keygen(args),
        Command::Sign(args) => cmd_seal::sign(args),
        Command::Verify(args) => cmd_seal::verify(args),
        Command::Bundle(args) => cmd_seal::bundle(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            if let Some(gate) = error.downcast_ref::<vigie_assess::GateReached>() {
                eprintln!("gate: {gate}");
                return ExitCode::from(3);
            }
            eprintln!("error: {error:#}");
            if error.downcast_ref::<UsageError>().is_some()
                || error.downcast_ref::<vigie_eval::TaskError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `vigie log export ... | head` closes the pipe early; that is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
