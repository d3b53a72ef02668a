//! Shards: which part of a task's (sample, epoch) pairs a run holds when a
//! campaign splits the task over several machines, and, for a log merged
//! from shards, which shard logs it was made of.
//!
//! A pair's shard is a pure function of the task's name, the sample id, the
//! epoch and the number of shards (a SHA-256, so every platform and every
//! vigie version agrees), so a shard started again on another node runs the
//! same pairs, and a merge can prove that no pair is missing or doubled.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shard `index` of `count` (numbered from 0, as Slurm's array ids and
/// Kubernetes' completion indexes are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards the task is split into.
    pub count: u32,
}

/// Why a `--shard` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not `I/N` with numbers.
    #[error("`{0}` is not a shard: write INDEX/COUNT, e.g. 0/4 (shards are numbered from 0)")]
    Syntax(String),
    /// `N` is 0, or `I` is not below `N`.
    #[error("shard {index}/{count} does not exist: shards are numbered from 0 to {}", count.saturating_sub(1))]
    OutOfRange {
        /// The index given.
        index: u32,
        /// The count given.
        count: u32,
    },
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Shard::new(index, count)
    }

    /// Whether this shard runs the pair (`id`, `epoch`) of `task`.
    pub fn holds(&self, task: &str, id: &str, epoch: u32) -> bool {
        shard_of(task, id, epoch, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard, of `count`, that runs the pair (`id`, `epoch`) of `task`: the
/// first eight bytes of `SHA-256(task ‖ 0x00 ‖ id ‖ 0x00 ‖ u32le(epoch))`,
/// little-endian, modulo `count`.
pub fn shard_of(task: &str, id: &str, epoch: u32, count: u32) -> u32 {
    let mut hash = Sha256::new();
    hash.update(task.as_bytes());
    hash.update([0]);
    hash.update(id.as_bytes());
    hash.update([0]);
    hash.update(epoch.to_le_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) % u64::from(count.max(1))) as u32
}

/// One shard log a merged log was made of, as its header records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSource {
    /// The shard.
    pub shard: Shard,
    /// The shard log's path as the merge was given it.
    pub path: String,
    /// The shard run's id.
    pub run_id: String,
    /// The Merkle root of the shard log's manifest.
    pub merkle_root: String,
    /// The records the shard log holds (retries included).
    pub records: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_belongs_to_exactly_one_shard_and_the_split_is_even() {
        let count = 4;
        let mut sizes = [0usize; 4];
        for n in 0..4000 {
            let id = format!("s{n}");
            let owners: Vec<u32> = (0..count)
                .filter(|&i| Shard { index: i, count }.holds("task", &id, 1))
                .collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0] as usize] += 1;
        }
        // 4000 pairs over 4 shards: each within 10% of 1000.
        assert!(
            sizes.iter().all(|&s| (900..=1100).contains(&s)),
            "{sizes:?}"
        );
    }

    #[test]
    fn the_shard_of_a_pair_is_fixed_by_task_id_and_epoch() {
        // Pinned: a change of the function would split a running campaign differently.
        assert_eq!(
            shard_of("xstest", "v2-1", 1, 1000),
            shard_of("xstest", "v2-1", 1, 1000)
        );
        let a = (0..64).map(|n| shard_of("t", &format!("{n}"), 1, 8));
        let b = (0..64).map(|n| shard_of("t", &format!("{n}"), 2, 8));
        assert_ne!(a.collect::<Vec<_>>(), b.collect::<Vec<_>>());
        assert_ne!(
            shard_of("a", "b", 1, 1 << 30),
            shard_of("ab", "", 1, 1 << 30)
        );
        // The value the documented formula gives, computed apart from this code
        // (Python's hashlib: int.from_bytes(sha256(b"xstest\0v2-1\0" + pack("<I", 1))[:8], "little")).
        assert_eq!(shard_of("xstest", "v2-1", 1, 1 << 20), 773_421);
    }

    #[test]
    fn a_shard_is_written_index_slash_count_from_zero() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(
            Shard::parse(" 3 / 4 ").map(|s| s.to_string()),
            Ok("3/4".into())
        );
        assert!(matches!(
            Shard::parse("4/4"),
            Err(ShardError::OutOfRange { .. })
        ));
        assert!(matches!(
            Shard::parse("0/0"),
            Err(ShardError::OutOfRange { .. })
        ));
        assert!(matches!(Shard::parse("1-4"), Err(ShardError::Syntax(_))));
        assert!(Shard::parse("4/4")
            .unwrap_err()
            .to_string()
            .contains("from 0 to 3"));
    }
}
