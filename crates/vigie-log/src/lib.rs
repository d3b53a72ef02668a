//! vigie's evaluation log: the schema of a run ([`LogHeader`], [`SampleRecord`],
//! [`LogFooter`]) and the file format that stores it ([`LogWriter`], [`LogReader`]).
//!
//! This crate is an API boundary: the log is the contract between a run and
//! everything that reads its results later (reports, re-scoring, other
//! institutes). It has no async runtime and never calls a model.
//!
//! # Wire format (version 3)
//!
//! A log is a 16-byte preamble followed by frames, written append-only:
//!
//! ```text
//! preamble := "VIGIELOG" u32le(format_version) u32le(0)
//! frame    := u8(kind) u8(codec) u16le(key_len) u32le(payload_len) u32le(raw_len) u32le(crc32)
//!             key[key_len] payload[payload_len]
//! ```
//!
//! `kind` is 1 header, 2 sample, 3 footer, 4 trailer, 5 manifest, 6 signature.
//! `codec` is 0 (stored) or
//! 1 (zstd). The payload is one JSON object (the header, one sample record or
//! the footer), compressed on its own so that any frame decodes without the
//! others. `crc32` covers key and payload, so a frame torn by a crash is
//! detected. A sample frame's key is `u32le(epoch)` followed by the sample id
//! in UTF-8, so one sample is found by skipping over frames without
//! decompressing them. A finished log ends with a footer frame, a manifest
//! frame ([`Manifest`]: hashes of every frame's JSON and a Merkle root over
//! the records), any signature frames, and a trailer frame whose stored
//! 16-byte payload is `u64le(footer_offset) "VIGIEEND"`, so the results are
//! read from the end of the file in one seek.
//!
//! A log without a footer is a run that is still going or was killed; every
//! complete sample frame in it is valid and a resumed run appends after them.
//!
//! Versions 1 and 2 are read unchanged except that two results they kept in
//! text are read into the typed fields version 3 added (`upgrade`). The
//! results of a log (counts, metrics, intervals) are computed by [`results`]
//! with [`metrics`] and the seeded [`rng`], for the run and every reader.
#![deny(missing_docs)]

pub mod agent;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
mod format;
pub mod manifest;
pub mod metrics;
pub mod outputs;
pub mod results;
pub mod rng;
mod schema;
pub mod shard;
mod upgrade;

pub use agent::{AgentEnd, AgentLimits, AgentRecord, Submission, ToolStep};
pub use format::{
    append_signature, FrameKind, LogReader, LogWriter, RawFrame, RawFrames, ReopenedLog,
    SampleFrames,
};
pub use manifest::{Manifest, Provenance, RecordDigest};
pub use schema::{
    records_that_count, Contrast, ContrastSpec, GroupMetrics, JudgeRef, LogFooter, LogHeader,
    ModelRef, RunSettings, RunStatus, SampleCounts, SampleError, SampleErrorKind, SampleRecord,
    Score, ScorerRef, Signature, TaskRef,
};
pub use shard::{Shard, ShardSource};

/// Every log (`*.vlog`) in a folder and its sub-folders, sorted by path, so
/// that a folder of runs (`logs/`, with a sub-folder per suite run) reads as
/// one set. Hidden entries (a signing's temporary file) are skipped.
pub fn find_logs(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, LogError> {
    let io = |source| LogError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            // Follows links to folders as the shell does; a loop of links ends
            // at the operating system's limit on path length.
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == LOG_EXTENSION) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The current time as logs, manifests and signatures record it: RFC 3339,
/// UTC, whole seconds (`2026-12-01T19:51:02Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The version of the file format this build writes, and the newest it reads.
/// Version 2 added the manifest and signature frames (kinds 5 and 6). Version
/// 3 gave messages content parts (a single text part is still written as a
/// string), records the log-likelihood of each choice and scores their
/// sub-scores as fields, and closed the set of error kinds, reducers and
/// metrics. Version 4 added the parts frontier models answer with (reasoning,
/// tool calls, tool results, the `tool` role), reasoning and cached-input
/// token counts, the reasoning settings, the `unsupported` error kind, costs
/// and the reason a run stopped launching samples: a version-3 reader fails on
/// them, so they bump the version, but version-3 records are version-4
/// records as they stand. Version 5 added agents' records (the sandbox, tool
/// steps, submissions, why the agent ended), the `sandbox` error kind and the
/// run's sandbox isolation; version-4 records are version-5 records as they
/// stand. Version 6 added a run's shard (the part of a task's samples a
/// campaign gave it) and a merged log's shard sources: a version-5 reader
/// would take a shard for a whole run, so they bump the version; version-5
/// records are version-6 records as they stand. Earlier logs read: version 1
/// has no manifest, and records of versions 1 and 2 are brought up to date as
/// they are read.
pub const FORMAT_VERSION: u32 = 6;

/// The extension of vigie log files.
pub const LOG_EXTENSION: &str = "vlog";

/// Why a log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The log's path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not start with the vigie log preamble.
    #[error("{path}: not a vigie log (no VIGIELOG preamble)")]
    NotALog {
        /// The file's path.
        path: String,
    },
    /// The log was written by a newer vigie.
    #[error("{path}: log format version {version} is newer than this vigie reads ({FORMAT_VERSION}); upgrade vigie")]
    UnsupportedVersion {
        /// The log's path.
        path: String,
        /// The version it declares.
        version: u32,
    },
    /// A frame in the middle of the file is damaged.
    #[error("{path}: damaged frame at byte {offset}: {reason}")]
    Corrupt {
        /// The log's path.
        path: String,
        /// Where the damaged frame starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The log has no header frame.
    #[error("{path}: the log has no header")]
    NoHeader {
        /// The log's path.
        path: String,
    },
}
