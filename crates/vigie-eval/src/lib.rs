//! vigie's evaluation engine. A [`Task`] (read from a TOML task file by
//! [`task::load_task`]) is a dataset of [`Sample`]s, a chain of solvers that
//! talk to a model, and scorers; [`engine::run`] runs it against any
//! [`vigie_core::ModelApi`], appends each finished sample to the log at once,
//! and reduces the scores to metrics.
//!
//! Architecture invariant: this crate names no provider and does no HTTP; it
//! sees models only through `dyn ModelApi`. Agents' tools run in the
//! sandbox of `vigie-sandbox`, one per sample ([`sandboxing`]).
//!
//! ```no_run
//! let task = vigie_eval::task::load_task(std::path::Path::new("tasks/arith.toml")).unwrap();
//! println!("{} samples", task.samples.len());
//! ```

mod agent;
pub mod agreement;
pub mod dataset;
pub mod engine;
pub mod jailbreak;
pub mod judges;
pub mod loaders;
pub mod pairs;
pub mod plan;
pub mod refusal;
pub mod rescore;
pub mod sandboxing;
pub mod scorer;
pub mod solver;
pub mod task;
mod template;
#[cfg(test)]
mod test_models;
pub use template::Templates;

pub use dataset::Sample;
pub use task::{Task, TaskError};

/// Hex SHA-256 of some bytes: how logs identify task files and datasets.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
