//! Campaigns: the evaluations a framework needs, against one or more
//! models, run as one resumable set in one folder, and split into shards
//! that a scheduler (Slurm, Kubernetes) runs on many machines.
//!
//! A shard is a pure function of the campaign and its index
//! ([`vigie_log::shard`]); merging its logs back into one ([`merge`]) proves
//! that nothing is missing or doubled, and gives the metrics an unsharded run
//! of the same seed gives.
#![deny(missing_docs)]

pub mod campaign;
pub mod definition;
pub mod kube;
pub mod merge;
pub mod slurm;

pub use campaign::{prepare, run, CampaignError, CampaignRun, Prepared, RunEnd, Step};
pub use definition::{Campaign, CampaignModel, DefinitionError, Split, CAMPAIGN_FILE};
pub use merge::{merge, MergeError, Merged};
