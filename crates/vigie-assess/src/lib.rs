//! vigie's risk assessment: from evaluation logs to a decision per risk area.
//!
//! A [`Framework`] (a TOML file; vigie ships a default) says which task
//! results are evidence for each risk area and where the tier thresholds lie.
//! [`assess`] reads the logs' results, takes the end of each 95% interval that
//! is worse for safety, and places every area in a tier — or marks it not
//! assessed when no log gives evidence for it. [`compare`] sets two runs side
//! by side with a paired test over their shared samples.
//!
//! It also holds the risk taxonomy ([`taxonomy`]) the areas come from, with
//! their places in the EU Code of Practice, the Hiroshima Code and the other
//! frameworks; task files, frameworks and reports name areas by its ids.
//!
//! This crate reads logs and decides; it does not render (that is
//! `vigie-report`), does not check signatures (that is `vigie-seal`) and
//! needs nothing of the engine: it depends on the log crate only.
#![deny(missing_docs)]

mod assess;
mod compare;
mod evidence;
pub mod framework;
mod gate;
pub mod taxonomy;

pub use assess::{assess, AreaResult, Assessment, Finding, ModelAssessment};
pub use compare::{compare, Comparison, MetricDelta, ScoreChange, ScorerComparison};
pub use evidence::{load_logs, per_sample_scores, records_that_count, EvidenceLog};
pub use framework::{Framework, Indicator};
pub use gate::{gate, GateReached, GateRule};

/// Why an assessment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    /// The framework file is wrong.
    #[error("framework {0}")]
    Framework(String),
    /// A log could not be read.
    #[error(transparent)]
    Log(#[from] vigie_log::LogError),
    /// The logs cannot be compared or assessed as given.
    #[error("{0}")]
    Input(String),
}
