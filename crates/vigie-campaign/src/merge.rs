//! Merging the shard logs of one task into one log: every shard checked
//! first from the ends of its file (the same task, task and dataset hashes,
//! models and settings; each index once, none missing; each finished), then
//! the records copied one at a time, each checked to belong to its shard, and
//! the footer computed by the one results code ([`RunTally`]) as for any run.
//! The merged header lists each shard log and its Merkle root, so the merged
//! log's manifest says which pieces it was made of.
//!
//! Records are streamed: memory holds the tally and the manifest's digests,
//! never the records of a shard, let alone of all of them.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vigie_log::results::RunTally;
use vigie_log::{
    LogError, LogFooter, LogHeader, LogReader, LogWriter, RunStatus, Shard, ShardSource,
};

/// Why shards cannot be merged. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A log cannot be read or the merged log written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// No shard logs were given.
    #[error("no shard logs given")]
    NoShards,
    /// The output exists already; a merge never replaces a file.
    #[error(
        "{0} exists already: a merge never replaces a file; remove it or choose another --output"
    )]
    OutputExists(String),
    /// A log that is no shard (its header has no `settings.shard`).
    #[error("{0} is not a shard: its run holds every sample of its task (a campaign's --shard I/N writes shards)")]
    NotAShard(String),
    /// A shard that has not finished.
    #[error("{path}: the shard has not finished ({status}); run it again to finish it (`vigie eval --resume {path}`, or the campaign's shard command)")]
    Unfinished {
        /// The shard log.
        path: String,
        /// How far it got.
        status: String,
    },
    /// Two shards differ in something that must be the same.
    #[error("{first} and {second} are not shards of one run: `{field}` is {first_value} in the first and {second_value} in the second")]
    Differ {
        /// The header field, as a JSON path (`settings.seed`).
        field: String,
        /// The first log.
        first: String,
        /// Its value.
        first_value: String,
        /// The other log.
        second: String,
        /// Its value.
        second_value: String,
    },
    /// One shard given twice.
    #[error("shard {shard} is given twice: {first} and {second}")]
    Duplicate {
        /// The shard.
        shard: Shard,
        /// One log.
        first: String,
        /// The other.
        second: String,
    },
    /// Shards missing.
    #[error("{}: merging needs every shard", missing_text(.missing, *.count))]
    Missing {
        /// The indexes of the missing shards.
        missing: Vec<u32>,
        /// The shard count.
        count: u32,
    },
    /// A record that is not its shard's part.
    #[error("{path}: the record of sample `{id}` epoch {epoch} belongs to shard {owner}/{count}, not to this shard {index}/{count}")]
    Stray {
        /// The shard log.
        path: String,
        /// The sample.
        id: String,
        /// The epoch.
        epoch: u32,
        /// The shard the record belongs to.
        owner: u32,
        /// This log's shard.
        index: u32,
        /// The count.
        count: u32,
    },
}

/// "shard 2 of 4 is missing", "shards 1 and 3 of 4 are missing".
fn missing_text(indexes: &[u32], count: u32) -> String {
    let words: Vec<String> = indexes.iter().map(u32::to_string).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!(
                "shards {} and {last} of {count} are missing",
                rest.join(", ")
            )
        }
        _ => format!("shard {} of {count} is missing", words.join("")),
    }
}

/// A merged log.
#[derive(Debug)]
pub struct Merged {
    /// Its header (shards listed in `merged_from`).
    pub header: LogHeader,
    /// Its footer.
    pub footer: LogFooter,
    /// Where it was written.
    pub path: PathBuf,
}

/// A shard log read from its ends.
struct ShardLog {
    path: PathBuf,
    shard: Shard,
    header: LogHeader,
    footer: LogFooter,
    merkle_root: String,
    records: usize,
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn read_ends(path: &Path) -> Result<ShardLog, MergeError> {
    let mut reader = LogReader::open(path)?;
    let header = reader.header()?;
    let shard = header
        .settings
        .shard
        .ok_or_else(|| MergeError::NotAShard(shown(path)))?;
    let unfinished = |status: String| MergeError::Unfinished {
        path: shown(path),
        status,
    };
    let footer = reader
        .footer()?
        .ok_or_else(|| unfinished("no footer: still running, or killed".into()))?;
    if footer.status != RunStatus::Success {
        return Err(unfinished(format!(
            "it ended {}{}",
            vigie_log::results::status_word(Some(&footer)),
            footer
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )));
    }
    if footer.samples.completed < footer.samples.total {
        return Err(unfinished(format!(
            "{} of its {} records written",
            footer.samples.completed, footer.samples.total
        )));
    }
    let (manifest, _) = reader
        .manifest()?
        .ok_or_else(|| unfinished("it has no manifest".into()))?;
    Ok(ShardLog {
        path: path.to_path_buf(),
        shard,
        merkle_root: manifest.merkle_root,
        records: manifest.records.len(),
        header,
        footer,
    })
}

/// The header as the shards of one run must share it: what differs between
/// shards by design (ids, times, the shard, its share of the connections, its
/// planned records) is taken out.
fn comparable(header: &LogHeader) -> Value {
    let mut value = serde_json::to_value(header).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for field in [
            "run_id",
            "started_at",
            "vigie_version",
            "planned_records",
            "merged_from",
        ] {
            map.remove(field);
        }
        if let Some(Value::Object(settings)) = map.get_mut("settings") {
            settings.remove("max_connections");
            if let Some(Value::Object(shard)) = settings.get_mut("shard") {
                shard.remove("index");
            }
        }
    }
    value
}

/// The first place, as a JSON path, where `a` and `b` differ, and the two values there.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|key| {
                let null = Value::Null;
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                first_difference(
                    x.get(key).unwrap_or(&null),
                    y.get(key).unwrap_or(&null),
                    &path,
                )
            })
        }
        _ if a == b => None,
        _ => Some((at.to_string(), a.to_string(), b.to_string())),
    }
}

/// Merges the shard logs `paths` of one run into a new log at `output`;
/// `progress` hears the records copied so far and the records in all.
/// Every check runs before the first byte is written; a record found not to
/// belong to its shard removes the partial output.
pub fn merge(
    paths: &[PathBuf],
    output: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Merged, MergeError> {
    if paths.is_empty() {
        return Err(MergeError::NoShards);
    }
    if output.exists() {
        return Err(MergeError::OutputExists(shown(output)));
    }
    let mut shards = paths
        .iter()
        .map(|p| read_ends(p))
        .collect::<Result<Vec<_>, _>>()?;
    let first = comparable(&shards[0].header);
    for other in &shards[1..] {
        if let Some((field, a, b)) = first_difference(&first, &comparable(&other.header), "") {
            return Err(MergeError::Differ {
                field,
                first: shown(&shards[0].path),
                first_value: a,
                second: shown(&other.path),
                second_value: b,
            });
        }
    }
    shards.sort_by_key(|s| s.shard.index);
    for pair in shards.windows(2) {
        if pair[0].shard == pair[1].shard {
            return Err(MergeError::Duplicate {
                shard: pair[0].shard,
                first: shown(&pair[0].path),
                second: shown(&pair[1].path),
            });
        }
    }
    let count = shards[0].shard.count;
    let missing: Vec<u32> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.shard.index == *i))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }

    let header = merged_header(&shards);
    let total: usize = shards.iter().map(|s| s.records).sum();
    // Written under a hidden name and renamed when complete, so that no
    // reader (a folder of logs, `vigie view`) ever takes a half-merged log
    // for a result.
    let partial = output.with_file_name(format!(
        ".{}.merging",
        output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LogError::Io {
            path: shown(dir),
            source,
        })?;
    }
    let copied = copy_records(&shards, &header, &partial, total, progress);
    let footer = match copied {
        Ok(footer) => footer,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, output).map_err(|source| LogError::Io {
        path: shown(output),
        source,
    })?;
    Ok(Merged {
        header,
        footer,
        path: output.to_path_buf(),
    })
}

fn copy_records(
    shards: &[ShardLog],
    header: &LogHeader,
    partial: &Path,
    total: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<LogFooter, MergeError> {
    let mut writer = LogWriter::create(partial, header)?;
    let mut tally = RunTally::new(header);
    let mut done = 0;
    for shard in shards {
        let mut reader = LogReader::open(&shard.path)?;
        for record in reader.samples()? {
            let record = record?;
            let (task, s) = (&header.task.name, shard.shard);
            if !s.holds(task, &record.id, record.epoch) {
                return Err(MergeError::Stray {
                    path: shown(&shard.path),
                    owner: vigie_log::shard::shard_of(task, &record.id, record.epoch, s.count),
                    id: record.id,
                    epoch: record.epoch,
                    index: s.index,
                    count: s.count,
                });
            }
            writer.append_sample(&record)?;
            tally.add(&record);
            done += 1;
            if done % 4096 == 0 {
                progress(done, total);
            }
        }
    }
    progress(done, total);
    // The shards ran side by side: the merged run took as long as the
    // slowest, and ended when the last one did.
    let duration_s = shards
        .iter()
        .map(|s| s.footer.duration_s)
        .fold(0.0, f64::max);
    let finished_at = shards
        .iter()
        .map(|s| s.footer.finished_at.clone())
        .max()
        .unwrap_or_else(vigie_log::now_rfc3339);
    let footer = tally.footer(RunStatus::Success, None, finished_at, duration_s);
    // The scores are no longer needed while the manifest is written.
    drop(tally);
    writer.finish(&footer)?;
    Ok(footer)
}

/// The header of the merged run: the shards' common header without a shard,
/// every shard's planned records and connections, the earliest start, and a
/// run id derived from the shards' own, so merging the same shards twice
/// names the same run.
fn merged_header(shards: &[ShardLog]) -> LogHeader {
    let mut header = shards[0].header.clone();
    header.settings.shard = None;
    header.planned_records = shards.iter().map(|s| s.header.planned_records).sum();
    header.settings.max_connections = shards
        .iter()
        .map(|s| s.header.settings.max_connections)
        .sum();
    header.started_at = shards
        .iter()
        .map(|s| s.header.started_at.clone())
        .min()
        .unwrap_or_default();
    let mut id = Sha256::new();
    for shard in shards {
        id.update(shard.header.run_id.as_bytes());
        id.update([0]);
    }
    header.run_id = hex::encode(&id.finalize()[..16]);
    header.format_version = vigie_log::FORMAT_VERSION;
    header.merged_from = shards
        .iter()
        .map(|s| ShardSource {
            shard: s.shard,
            path: shown(&s.path),
            run_id: s.header.run_id.clone(),
            merkle_root: s.merkle_root.clone(),
            records: s.records,
        })
        .collect();
    header
}

#[cfg(test)]
mod tests;
