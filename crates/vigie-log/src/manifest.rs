//! The manifest that makes a log checkable: a SHA-256 of the header, of every
//! sample record and of the footer, a Merkle root over the records, and the
//! run's provenance. The writer builds it as records are appended and stores
//! it after the footer; a verifier recomputes every hash from the file.
//!
//! Hashes are over the exact JSON bytes stored in a frame (after
//! decompression), so a verifier needs no canonical re-encoding. The Merkle
//! tree is RFC 6962's (leaves `H(0x00 ‖ data)`, nodes `H(0x01 ‖ left ‖ right)`,
//! split at the largest power of two below the leaf count), so one record can
//! later be proven part of a signed run without the others.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::schema::{LogHeader, ModelRef};

/// The manifest stored after a finished log's footer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of the manifest's rules (hashing, tree shape).
    pub manifest_version: u32,
    /// The hash function (`sha256`).
    pub hash: String,
    /// SHA-256 (hex) of the header frame's JSON.
    pub header_sha256: String,
    /// SHA-256 (hex) of the footer frame's JSON.
    pub footer_sha256: String,
    /// Every sample record in file order, failed ones and retries included.
    pub records: Vec<RecordDigest>,
    /// Merkle root (hex) over the records' leaf hashes, in file order.
    pub merkle_root: String,
    /// Where the results came from.
    pub provenance: Provenance,
}

/// One sample record's place in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDigest {
    /// The sample id.
    pub id: String,
    /// The epoch.
    pub epoch: u32,
    /// The record's leaf hash (hex): `SHA-256(0x00 ‖ u16le(key length) ‖ key ‖ JSON)`.
    pub sha256: String,
}

/// What produced a run's results: enough to say what was evaluated, how,
/// and with which inputs, without reading the records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The vigie version that started the run.
    pub vigie_version: String,
    /// The vigie version that finished it (differs after a resume by a newer vigie).
    pub finished_by: String,
    /// The run's id.
    pub run_id: String,
    /// The task's name.
    pub task: String,
    /// Where the task was defined.
    pub task_source: String,
    /// SHA-256 of the task definition.
    pub task_sha256: String,
    /// SHA-256 of the dataset.
    pub dataset_sha256: String,
    /// The evaluated model.
    pub model: ModelRef,
    /// The judge model, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_model: Option<ModelRef>,
    /// The attacker model, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker_model: Option<ModelRef>,
    /// The generation settings, as JSON.
    pub generate: serde_json::Value,
    /// Epochs per sample.
    pub epochs: u32,
    /// The run's seed.
    pub seed: u64,
    /// For a log merged from shards: each shard log and its Merkle root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<crate::shard::ShardSource>,
}

impl Provenance {
    /// The provenance a header implies.
    pub fn of(header: &LogHeader) -> Provenance {
        Provenance {
            vigie_version: header.vigie_version.clone(),
            finished_by: env!("CARGO_PKG_VERSION").to_string(),
            run_id: header.run_id.clone(),
            task: header.task.name.clone(),
            task_source: header.task.source.clone(),
            task_sha256: header.task.source_sha256.clone(),
            dataset_sha256: header.task.dataset_sha256.clone(),
            model: header.model.clone(),
            judge_model: header.judge_model.clone(),
            attacker_model: header.attacker_model.clone(),
            generate: serde_json::to_value(&header.settings.generate).unwrap_or_default(),
            epochs: header.settings.epochs,
            seed: header.settings.seed,
            shards: header.merged_from.clone(),
        }
    }

    /// Whether `self` says the same as the header's provenance, leaving out
    /// `finished_by`, which the header cannot know.
    pub fn matches(&self, header: &LogHeader) -> bool {
        let mut expected = Provenance::of(header);
        expected.finished_by.clone_from(&self.finished_by);
        *self == expected
    }
}

/// The manifest version this build writes and checks.
pub const MANIFEST_VERSION: u32 = 1;

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A sample record's leaf hash from its frame key and JSON.
pub fn record_leaf(key: &[u8], json: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update((key.len() as u16).to_le_bytes());
    hasher.update(key);
    hasher.update(json);
    hasher.finalize().into()
}

/// The RFC 6962 Merkle tree hash of `leaves` (already leaf hashes).
/// The empty tree's root is SHA-256 of nothing.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            // The largest power of two below n.
            let split = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            let (left, right) = (merkle_root(&leaves[..split]), merkle_root(&leaves[split..]));
            let mut hasher = Sha256::new();
            hasher.update([1u8]);
            hasher.update(left);
            hasher.update(right);
            hasher.finalize().into()
        }
    }
}

/// Builds a manifest as records are appended.
#[derive(Debug, Clone)]
pub(crate) struct ManifestBuilder {
    header_sha256: String,
    /// Each record's id and epoch; its leaf hash is in `leaves`, written in
    /// hex only when the manifest is made (a run of a million records would
    /// otherwise keep a million hex strings besides the hashes).
    records: Vec<(Box<str>, u32)>,
    leaves: Vec<[u8; 32]>,
}

impl ManifestBuilder {
    pub(crate) fn new(header_json: &[u8]) -> ManifestBuilder {
        ManifestBuilder {
            header_sha256: hex::encode(sha256(header_json)),
            records: Vec::new(),
            leaves: Vec::new(),
        }
    }

    pub(crate) fn add_record(&mut self, id: &str, epoch: u32, key: &[u8], json: &[u8]) {
        self.records.push((id.into(), epoch));
        self.leaves.push(record_leaf(key, json));
    }

    pub(crate) fn finish(&self, header: &LogHeader, footer_json: &[u8]) -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION,
            hash: "sha256".into(),
            header_sha256: self.header_sha256.clone(),
            footer_sha256: hex::encode(sha256(footer_json)),
            records: self
                .records
                .iter()
                .zip(&self.leaves)
                .map(|((id, epoch), leaf)| RecordDigest {
                    id: id.to_string(),
                    epoch: *epoch,
                    sha256: hex::encode(leaf),
                })
                .collect(),
            merkle_root: hex::encode(merkle_root(&self.leaves)),
            provenance: Provenance::of(header),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> [u8; 32] {
        record_leaf(&[i], b"{}")
    }

    fn node(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&left);
        bytes.extend_from_slice(&right);
        sha256(&bytes)
    }

    #[test]
    fn merkle_tree_has_rfc_6962_shape() {
        let l: Vec<[u8; 32]> = (0..5).map(leaf).collect();
        assert_eq!(merkle_root(&l[..1]), l[0]);
        assert_eq!(merkle_root(&l[..2]), node(l[0], l[1]));
        // Three leaves: the left subtree takes the largest power of two below 3.
        assert_eq!(merkle_root(&l[..3]), node(node(l[0], l[1]), l[2]));
        assert_eq!(
            merkle_root(&l[..4]),
            node(node(l[0], l[1]), node(l[2], l[3]))
        );
        assert_eq!(
            merkle_root(&l[..5]),
            node(node(node(l[0], l[1]), node(l[2], l[3])), l[4])
        );
        assert_eq!(
            hex::encode(merkle_root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn order_and_key_change_the_root() {
        let (a, b) = (leaf(1), leaf(2));
        assert_ne!(merkle_root(&[a, b]), merkle_root(&[b, a]));
        assert_ne!(record_leaf(b"k1", b"{}"), record_leaf(b"k2", b"{}"));
        // The key's length is part of the leaf, so key and JSON cannot trade bytes.
        assert_ne!(record_leaf(b"ab", b"c"), record_leaf(b"a", b"bc"));
    }
}
