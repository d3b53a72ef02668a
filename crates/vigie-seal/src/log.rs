//! Signing a finished log and checking one byte for byte: every hash of its
//! manifest is recomputed from the frames, so a changed byte, a removed,
//! added or reordered record, a changed header or footer, and a wrong or
//! missing signature are each found and named.

use std::collections::HashMap;
use std::path::Path;

use vigie_log::manifest::{merkle_root, record_leaf, sha256};
use vigie_log::{FrameKind, LogHeader, LogReader, Manifest, SampleRecord};

use crate::{check_signature, sign_digest, KeyPair, PublicKey, SealError, SignatureCheck};

const DOMAIN: &str = "log";

/// Signs a finished log: appends a signature over its manifest. A log may
/// carry several signatures (an evaluator's and an auditor's).
pub fn sign_log(path: &Path, key: &KeyPair) -> Result<vigie_log::Signature, SealError> {
    let mut reader = LogReader::open(path)?;
    let Some(manifest_json) = manifest_json(&mut reader)? else {
        return Err(SealError::NotSignable {
            path: path.display().to_string(),
            reason: "no manifest: the run has not finished (resume it first), or the log was written before vigie kept manifests".into(),
        });
    };
    let check = verify_log(path, None)?;
    if let Some(problem) = check.problems.iter().find(|p| p.is_integrity()) {
        return Err(SealError::NotSignable {
            path: path.display().to_string(),
            reason: format!("the log does not match its manifest: {problem}"),
        });
    }
    let signature = sign_digest(key, DOMAIN, &hex::encode(sha256(&manifest_json)));
    vigie_log::append_signature(path, &signature)?;
    Ok(signature)
}

fn manifest_json(reader: &mut LogReader) -> Result<Option<Vec<u8>>, SealError> {
    Ok(reader
        .raw_frames()?
        .frames
        .into_iter()
        .find(|f| f.kind == FrameKind::Manifest)
        .map(|f| f.payload))
}

/// What is wrong with a log, a report or a bundle, one finding each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A frame's checksum or compression is broken (a careless edit, or damage).
    Damaged(String),
    /// The log has no manifest.
    NoManifest,
    /// The header's bytes are not those the manifest hashed.
    HeaderChanged,
    /// The footer's bytes (the results) are not those the manifest hashed.
    FooterChanged,
    /// The manifest's provenance says something other than the header.
    ProvenanceMismatch,
    /// The manifest's Merkle root does not follow from its own record hashes.
    RootMismatch,
    /// A record's bytes changed.
    RecordChanged {
        /// The sample id.
        id: String,
        /// The epoch.
        epoch: u32,
    },
    /// A record the manifest lists is not in the log.
    RecordRemoved {
        /// The sample id.
        id: String,
        /// The epoch.
        epoch: u32,
    },
    /// The log holds a record the manifest does not list.
    RecordAdded {
        /// The sample id.
        id: String,
        /// The epoch.
        epoch: u32,
    },
    /// The records are all there but not in the order the manifest lists.
    RecordsReordered {
        /// The first record out of place.
        first_moved: String,
    },
    /// Frames are out of place (a record after the footer, a second header).
    Structure(String),
    /// The log has no signature.
    Unsigned,
    /// A signature does not hold.
    BadSignature {
        /// The key it names.
        key_id: String,
        /// Why it does not hold.
        reason: String,
    },
    /// No signature by the key the verifier expects.
    NotSignedBy {
        /// The expected key's id.
        key_id: String,
    },
    /// A report names a log that is not there to check it against.
    SourceMissing {
        /// The log's file name, as the report names it.
        log: String,
    },
    /// A report's numbers for a log do not match the log.
    SourceMismatch {
        /// The log's file name.
        log: String,
        /// What differs.
        what: String,
    },
    /// A bundle member's bytes are not those its index lists.
    MemberChanged {
        /// The member's path in the bundle.
        member: String,
    },
}

impl Problem {
    /// Whether this is about the content (as opposed to who signed it).
    pub fn is_integrity(&self) -> bool {
        !matches!(
            self,
            Problem::Unsigned | Problem::BadSignature { .. } | Problem::NotSignedBy { .. }
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoManifest => f.write_str("no manifest: the run has not finished, or the log predates manifests"),
            Problem::HeaderChanged => f.write_str("the header was changed"),
            Problem::FooterChanged => f.write_str("the results (footer) were changed"),
            Problem::ProvenanceMismatch => f.write_str("the manifest's provenance does not match the header"),
            Problem::RootMismatch => f.write_str("the manifest's Merkle root does not follow from its record hashes (the manifest was edited)"),
            Problem::RecordChanged { id, epoch } => write!(f, "record {id} (epoch {epoch}) was changed"),
            Problem::RecordRemoved { id, epoch } => write!(f, "record {id} (epoch {epoch}) was removed"),
            Problem::RecordAdded { id, epoch } => write!(f, "record {id} (epoch {epoch}) was added"),
            Problem::RecordsReordered { first_moved } => write!(f, "the records were reordered (first out of place: {first_moved})"),
            Problem::Structure(what) | Problem::Damaged(what) => f.write_str(what),
            Problem::Unsigned => f.write_str("not signed"),
            Problem::BadSignature { key_id, reason } => write!(f, "signature by key {key_id} does not hold: {reason}"),
            Problem::NotSignedBy { key_id } => write!(f, "not signed by the expected key {key_id}"),
            Problem::SourceMissing { log } => write!(f, "the report cites log {log}, which is not here to check against"),
            Problem::SourceMismatch { log, what } => write!(f, "the report does not match log {log}: {what}"),
            Problem::MemberChanged { member } => write!(f, "bundle member {member} was changed"),
        }
    }
}

/// The result of checking one log.
#[derive(Debug, Clone)]
pub struct LogCheck {
    /// The log's header as read (it may be the changed one).
    pub header: Option<LogHeader>,
    /// The manifest, when there is one.
    pub manifest: Option<Manifest>,
    /// SHA-256 (hex) of the manifest's JSON: what signatures sign.
    pub manifest_sha256: Option<String>,
    /// Records in the log.
    pub records: usize,
    /// The results in the footer (`scorer/metric` → value), as read.
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Each signature and how it checked.
    pub signatures: Vec<SignatureCheck>,
    /// Everything found wrong; empty for a log that verifies.
    pub problems: Vec<Problem>,
}

impl LogCheck {
    /// Whether the log verifies: intact, and signed as asked.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a log against its manifest and its signatures. With `expected`,
/// a valid signature by that key is required; without, at least one valid
/// signature is. A damaged frame (checksum, compression) is an error naming
/// its offset.
pub fn verify_log(path: &Path, expected: Option<&PublicKey>) -> Result<LogCheck, SealError> {
    let mut reader = LogReader::open(path)?;
    let raw = match reader.raw_frames() {
        Ok(raw) => raw,
        Err(e @ vigie_log::LogError::Corrupt { .. }) => {
            return Ok(LogCheck {
                header: None,
                manifest: None,
                manifest_sha256: None,
                records: 0,
                metrics: Default::default(),
                signatures: vec![],
                problems: vec![Problem::Damaged(e.to_string())],
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut problems = Vec::new();
    let mut header: Option<(LogHeader, String)> = None;
    let mut footer_hash = None;
    let mut metrics = std::collections::BTreeMap::new();
    let mut manifest: Option<(Manifest, String)> = None;
    let mut signatures = Vec::new();
    let mut records: Vec<(String, u32, String)> = Vec::new();
    let malformed = |offset: u64, e: serde_json::Error| SealError::Malformed {
        path: path.display().to_string(),
        reason: format!("frame at byte {offset}: {e}"),
    };
    for frame in &raw.frames {
        let after_footer = footer_hash.is_some();
        match frame.kind {
            FrameKind::Header => {
                if header.is_some() {
                    problems.push(Problem::Structure(format!(
                        "a second header at byte {}",
                        frame.offset
                    )));
                    continue;
                }
                let parsed: LogHeader = serde_json::from_slice(&frame.payload)
                    .map_err(|e| malformed(frame.offset, e))?;
                header = Some((parsed, hex::encode(sha256(&frame.payload))));
            }
            FrameKind::Sample => {
                if after_footer {
                    problems.push(Problem::Structure(format!(
                        "a record after the footer at byte {}",
                        frame.offset
                    )));
                }
                let record: SampleRecord = serde_json::from_slice(&frame.payload)
                    .map_err(|e| malformed(frame.offset, e))?;
                if record.frame_key() != frame.key {
                    problems.push(Problem::Structure(format!(
                        "the frame key at byte {} does not name its record {}",
                        frame.offset, record.id
                    )));
                }
                records.push((
                    record.id,
                    record.epoch,
                    hex::encode(record_leaf(&frame.key, &frame.payload)),
                ));
            }
            FrameKind::Footer => {
                let footer: vigie_log::LogFooter = serde_json::from_slice(&frame.payload)
                    .map_err(|e| malformed(frame.offset, e))?;
                metrics = footer.metrics;
                footer_hash = Some(hex::encode(sha256(&frame.payload)));
            }
            FrameKind::Manifest => {
                let parsed: Manifest = serde_json::from_slice(&frame.payload)
                    .map_err(|e| malformed(frame.offset, e))?;
                manifest = Some((parsed, hex::encode(sha256(&frame.payload))));
            }
            FrameKind::Signature => {
                let parsed: vigie_log::Signature = serde_json::from_slice(&frame.payload)
                    .map_err(|e| malformed(frame.offset, e))?;
                signatures.push(parsed);
            }
            FrameKind::Trailer => {}
        }
    }
    if let Some(offset) = raw.torn_at {
        problems.push(Problem::Structure(format!(
            "the file ends inside a frame at byte {offset}"
        )));
    }
    let record_count = records.len();
    let Some((manifest, manifest_sha256)) = manifest else {
        problems.push(Problem::NoManifest);
        return Ok(LogCheck {
            header: header.map(|h| h.0),
            manifest: None,
            manifest_sha256: None,
            records: record_count,
            metrics,
            signatures: vec![],
            problems,
        });
    };
    match &header {
        Some((parsed, hash)) => {
            if *hash != manifest.header_sha256 {
                problems.push(Problem::HeaderChanged);
            }
            if !manifest.provenance.matches(parsed) {
                problems.push(Problem::ProvenanceMismatch);
            }
        }
        None => problems.push(Problem::HeaderChanged),
    }
    if footer_hash.as_deref() != Some(manifest.footer_sha256.as_str()) {
        problems.push(Problem::FooterChanged);
    }
    let listed_leaves: Option<Vec<[u8; 32]>> = manifest
        .records
        .iter()
        .map(|r| {
            hex::decode(&r.sha256)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
        })
        .collect();
    if listed_leaves.is_none_or(|leaves| hex::encode(merkle_root(&leaves)) != manifest.merkle_root)
    {
        problems.push(Problem::RootMismatch);
    }
    let listed: Vec<(String, u32, String)> = manifest
        .records
        .iter()
        .map(|r| (r.id.clone(), r.epoch, r.sha256.clone()))
        .collect();
    problems.extend(compare_records(&listed, &records));
    let signature_checks: Vec<SignatureCheck> = signatures
        .iter()
        .map(|s| check_signature(s, DOMAIN, &manifest_sha256))
        .collect();
    problems.extend(signature_problems(&signature_checks, &signatures, expected));
    Ok(LogCheck {
        header: header.map(|h| h.0),
        manifest: Some(manifest),
        manifest_sha256: Some(manifest_sha256),
        records: record_count,
        metrics,
        signatures: signature_checks,
        problems,
    })
}

/// What [`check_seal`] found.
#[derive(Debug, Clone)]
pub struct SealCheck {
    /// The manifest's Merkle root (hex), when there is a manifest.
    pub merkle_root: Option<String>,
    /// Each signature and how it checked.
    pub signatures: Vec<SignatureCheck>,
    /// Everything found wrong; empty for a seal that holds.
    pub problems: Vec<Problem>,
}

/// Checks a log's seal without reading its records: each signature over
/// its manifest, and the manifest against the header and the footer as
/// they are now. Whether every record still matches is [`verify_log`]'s
/// longer check; this one reads the ends of the file only, so that a
/// viewer of a million-record log can say at once who signed it and
/// whether the signature holds.
pub fn check_seal(path: &Path) -> Result<SealCheck, SealError> {
    /// The manifest less its list of records, which serde skips unread.
    #[derive(serde::Deserialize)]
    struct ManifestHead {
        header_sha256: String,
        footer_sha256: String,
        merkle_root: String,
        provenance: vigie_log::Provenance,
    }
    let found = |problems| SealCheck {
        merkle_root: None,
        signatures: vec![],
        problems,
    };
    let mut reader = LogReader::open(path)?;
    let (header, ends) = match reader.raw_ends() {
        Ok(frames) => frames,
        Err(e @ vigie_log::LogError::Corrupt { .. }) => {
            return Ok(found(vec![Problem::Damaged(e.to_string())]))
        }
        Err(e) => return Err(e.into()),
    };
    let frame = |kind: FrameKind| ends.iter().find(|f| f.kind == kind);
    let Some(manifest_frame) = frame(FrameKind::Manifest) else {
        return Ok(found(vec![Problem::NoManifest]));
    };
    let malformed = |offset: u64, e: serde_json::Error| SealError::Malformed {
        path: path.display().to_string(),
        reason: format!("frame at byte {offset}: {e}"),
    };
    let manifest: ManifestHead = serde_json::from_slice(&manifest_frame.payload)
        .map_err(|e| malformed(manifest_frame.offset, e))?;
    let mut problems = Vec::new();
    if hex::encode(sha256(&header.payload)) != manifest.header_sha256 {
        problems.push(Problem::HeaderChanged);
    }
    let parsed: LogHeader =
        serde_json::from_slice(&header.payload).map_err(|e| malformed(header.offset, e))?;
    if !manifest.provenance.matches(&parsed) {
        problems.push(Problem::ProvenanceMismatch);
    }
    let footer = frame(FrameKind::Footer).map(|f| hex::encode(sha256(&f.payload)));
    if footer.as_deref() != Some(manifest.footer_sha256.as_str()) {
        problems.push(Problem::FooterChanged);
    }
    let manifest_sha256 = hex::encode(sha256(&manifest_frame.payload));
    let signatures: Vec<vigie_log::Signature> = ends
        .iter()
        .filter(|f| f.kind == FrameKind::Signature)
        .map(|f| serde_json::from_slice(&f.payload).map_err(|e| malformed(f.offset, e)))
        .collect::<Result<_, _>>()?;
    let checks: Vec<SignatureCheck> = signatures
        .iter()
        .map(|s| check_signature(s, DOMAIN, &manifest_sha256))
        .collect();
    problems.extend(signature_problems(&checks, &signatures, None));
    Ok(SealCheck {
        merkle_root: Some(manifest.merkle_root),
        signatures: checks,
        problems,
    })
}

/// The problems with a set of signatures: each invalid one, none at all,
/// none by the expected key.
pub(crate) fn signature_problems(
    checks: &[SignatureCheck],
    signatures: &[vigie_log::Signature],
    expected: Option<&PublicKey>,
) -> Vec<Problem> {
    let mut problems: Vec<Problem> = checks
        .iter()
        .filter(|c| !c.valid)
        .map(|c| Problem::BadSignature {
            key_id: c.key_id.clone(),
            reason: c.reason.clone().unwrap_or_default(),
        })
        .collect();
    if signatures.is_empty() {
        problems.push(Problem::Unsigned);
    } else if let Some(expected) = expected {
        let by_expected = checks
            .iter()
            .zip(signatures)
            .any(|(c, s)| c.valid && s.public_key == expected.hex());
        if !by_expected {
            problems.push(Problem::NotSignedBy {
                key_id: expected.key_id(),
            });
        }
    }
    problems
}

/// Compares the manifest's records with the log's, by (id, epoch, occurrence):
/// a key in one and not the other is removed or added, a shared key with
/// another hash is changed, shared keys in another order are reordered.
fn compare_records(
    listed: &[(String, u32, String)],
    found: &[(String, u32, String)],
) -> Vec<Problem> {
    type Key = (String, u32, usize);
    fn keyed(records: &[(String, u32, String)]) -> Vec<(Key, &str)> {
        let mut seen: HashMap<(&str, u32), usize> = HashMap::new();
        records
            .iter()
            .map(|(id, epoch, hash)| {
                let n = seen.entry((id.as_str(), *epoch)).or_default();
                *n += 1;
                ((id.clone(), *epoch, *n), hash.as_str())
            })
            .collect()
    }
    let (listed, found) = (keyed(listed), keyed(found));
    let found_map: HashMap<&Key, &str> = found.iter().map(|(k, h)| (k, *h)).collect();
    let listed_map: HashMap<&Key, &str> = listed.iter().map(|(k, h)| (k, *h)).collect();
    let mut problems = Vec::new();
    for (key, hash) in &listed {
        match found_map.get(key) {
            None => problems.push(Problem::RecordRemoved {
                id: key.0.clone(),
                epoch: key.1,
            }),
            Some(h) if h != hash => problems.push(Problem::RecordChanged {
                id: key.0.clone(),
                epoch: key.1,
            }),
            Some(_) => {}
        }
    }
    for (key, _) in &found {
        if !listed_map.contains_key(key) {
            problems.push(Problem::RecordAdded {
                id: key.0.clone(),
                epoch: key.1,
            });
        }
    }
    let shared_listed: Vec<&Key> = listed
        .iter()
        .map(|(k, _)| k)
        .filter(|k| found_map.contains_key(k))
        .collect();
    let shared_found: Vec<&Key> = found
        .iter()
        .map(|(k, _)| k)
        .filter(|k| listed_map.contains_key(k))
        .collect();
    if let Some((moved, _)) = shared_found
        .iter()
        .zip(&shared_listed)
        .find(|(a, b)| a != b)
    {
        problems.push(Problem::RecordsReordered {
            first_moved: format!("{} (epoch {})", moved.0, moved.1),
        });
    }
    problems
}

#[cfg(test)]
pub(crate) mod tests;
