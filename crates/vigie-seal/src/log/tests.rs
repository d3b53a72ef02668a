use std::path::{Path, PathBuf};

use vigie_log::{fixtures, FrameKind, LogHeader, LogReader, LogWriter, RawFrame, SampleRecord};

use super::*;
use crate::generate_key;

pub(crate) fn header() -> LogHeader {
    let mut header = fixtures::header("refusal-harmful", "local/smollm2", "refused", 4);
    header.run_id = "run1".into();
    header.settings.seed = 7;
    header
}

fn record(id: &str, value: f64) -> SampleRecord {
    fixtures::record(
        id,
        0,
        "refused",
        value,
        &format!("request {id}"),
        "I can't help with that.",
    )
}

/// Writes a finished log of four records in `dir` and returns its path.
pub(crate) fn finished_log(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut writer = LogWriter::create(&path, &header()).unwrap();
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        writer.append_sample(&record(id, (i % 2) as f64)).unwrap();
    }
    writer
        .finish(&fixtures::footer(
            4,
            [("refused/accuracy".to_string(), 0.5)]
                .into_iter()
                .collect(),
        ))
        .unwrap();
    path
}

/// Re-encodes frames (stored, valid checksums, the trailer re-pointed), as a
/// forger who knows the format would.
fn rewrite(path: &Path, frames: &[RawFrame]) {
    let mut bytes = std::fs::read(path).unwrap()[..16].to_vec();
    let mut footer_offset = 0u64;
    for frame in frames {
        let mut payload = frame.payload.clone();
        if frame.kind == FrameKind::Footer {
            footer_offset = bytes.len() as u64;
        }
        if frame.kind == FrameKind::Trailer {
            payload[..8].copy_from_slice(&footer_offset.to_le_bytes());
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&frame.key);
        crc.update(&payload);
        bytes.push(frame.kind as u8);
        bytes.push(0);
        bytes.extend_from_slice(&(frame.key.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc.finalize().to_le_bytes());
        bytes.extend_from_slice(&frame.key);
        bytes.extend_from_slice(&payload);
    }
    std::fs::write(path, bytes).unwrap();
}

fn frames(path: &Path) -> Vec<RawFrame> {
    LogReader::open(path).unwrap().raw_frames().unwrap().frames
}

fn signed_log(dir: &Path) -> (PathBuf, crate::KeyPair) {
    let path = finished_log(dir, "run.vlog");
    let key = generate_key().unwrap();
    sign_log(&path, &key).unwrap();
    (path, key)
}

fn problems(path: &Path, key: &crate::KeyPair) -> Vec<Problem> {
    verify_log(path, Some(&key.public())).unwrap().problems
}

#[test]
fn a_signed_log_verifies_and_a_re_encoded_copy_still_does() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = signed_log(dir.path());
    let check = verify_log(&path, Some(&key.public())).unwrap();
    assert!(check.ok(), "{:?}", check.problems);
    assert_eq!(check.records, 4);
    assert_eq!(check.signatures.len(), 1);
    assert!(check.signatures[0].valid);
    // Hashes are over the JSON, not the compression: a stored copy verifies too.
    rewrite(&path, &frames(&path));
    assert!(problems(&path, &key).is_empty());
    assert_eq!(
        LogReader::open(&path)
            .unwrap()
            .footer()
            .unwrap()
            .unwrap()
            .metrics["refused/accuracy"],
        0.5
    );
}

#[test]
fn a_changed_byte_in_a_record_is_found_by_checksum_or_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = signed_log(dir.path());
    // A careless edit breaks the frame checksum: an error naming the offset.
    let mut bytes = std::fs::read(&path).unwrap();
    let offset = frames(&path)[2].offset as usize + 30;
    bytes[offset] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let found = verify_log(&path, None).unwrap().problems;
    assert!(
        matches!(&found[..], [Problem::Damaged(what)] if what.contains(&format!("damaged frame at byte {}", offset - 30))),
        "{found:?}"
    );
    // A forger who fixes the checksum is caught by the record's hash.
    bytes[offset] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let mut edited = frames(&path);
    let text = String::from_utf8(edited[2].payload.clone()).unwrap();
    assert!(text.contains("\"value\":1.0"), "{text}");
    edited[2].payload = text.replace("\"value\":1.0", "\"value\":0.0").into_bytes();
    rewrite(&path, &edited);
    assert_eq!(
        problems(&path, &key),
        vec![Problem::RecordChanged {
            id: "b".into(),
            epoch: 1
        }]
    );
}

#[test]
fn removed_added_and_reordered_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = signed_log(dir.path());
    let original = frames(&path);

    let mut removed = original.clone();
    removed.remove(3);
    rewrite(&path, &removed);
    assert_eq!(
        problems(&path, &key),
        vec![Problem::RecordRemoved {
            id: "c".into(),
            epoch: 1
        }]
    );

    let mut added = original.clone();
    let mut extra = added[1].clone();
    let text = String::from_utf8(extra.payload)
        .unwrap()
        .replace("\"id\":\"a\"", "\"id\":\"z\"");
    extra.payload = text.into_bytes();
    extra.key = [1u32.to_le_bytes().as_slice(), b"z"].concat();
    added.insert(5, extra);
    rewrite(&path, &added);
    assert_eq!(
        problems(&path, &key),
        vec![Problem::RecordAdded {
            id: "z".into(),
            epoch: 1
        }]
    );

    let mut reordered = original.clone();
    reordered.swap(1, 2);
    rewrite(&path, &reordered);
    assert_eq!(
        problems(&path, &key),
        vec![Problem::RecordsReordered {
            first_moved: "b (epoch 1)".into()
        }]
    );
}

#[test]
fn changed_header_footer_or_manifest_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = signed_log(dir.path());
    let original = frames(&path);
    let edit = |index: usize, from: &str, to: &str| {
        let mut edited = original.clone();
        let text = String::from_utf8(edited[index].payload.clone()).unwrap();
        assert!(text.contains(from), "{text}");
        edited[index].payload = text.replace(from, to).into_bytes();
        rewrite(&path, &edited);
        problems(&path, &key)
    };
    assert_eq!(
        edit(0, "local/smollm2", "local/other"),
        vec![Problem::HeaderChanged, Problem::ProvenanceMismatch]
    );
    assert_eq!(
        edit(5, "\"refused/accuracy\":0.5", "\"refused/accuracy\":0.9"),
        vec![Problem::FooterChanged]
    );
    // Editing the manifest to match a forged footer breaks the signature.
    let forged_footer = String::from_utf8(original[5].payload.clone())
        .unwrap()
        .replace("0.5", "0.9");
    let mut edited = original.clone();
    edited[5].payload = forged_footer.clone().into_bytes();
    let manifest: serde_json::Value = serde_json::from_slice(&original[6].payload).unwrap();
    let mut manifest = manifest;
    manifest["footer_sha256"] = hex::encode(sha256(forged_footer.as_bytes())).into();
    edited[6].payload = serde_json::to_vec(&manifest).unwrap();
    rewrite(&path, &edited);
    let found = problems(&path, &key);
    assert!(
        matches!(&found[..], [Problem::BadSignature { reason, .. }, Problem::NotSignedBy { .. }] if reason.contains("other content")),
        "{found:?}"
    );
}

#[test]
fn wrong_and_missing_signatures_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = finished_log(dir.path(), "run.vlog");
    let key = generate_key().unwrap();
    assert_eq!(problems(&path, &key), vec![Problem::Unsigned]);
    let other = generate_key().unwrap();
    sign_log(&path, &other).unwrap();
    assert_eq!(
        problems(&path, &key),
        vec![Problem::NotSignedBy {
            key_id: key.public().key_id()
        }]
    );
    assert!(
        verify_log(&path, None).unwrap().ok(),
        "without an expected key, any valid signature will do"
    );
    // A second signer adds a second signature; both hold.
    sign_log(&path, &key).unwrap();
    let check = verify_log(&path, Some(&key.public())).unwrap();
    assert!(check.ok() && check.signatures.len() == 2);
    // A signature whose bytes were altered does not hold.
    let mut edited = frames(&path);
    let sig_frame = edited
        .iter_mut()
        .find(|f| f.kind == FrameKind::Signature)
        .unwrap();
    let mut signature: vigie_log::Signature = serde_json::from_slice(&sig_frame.payload).unwrap();
    let flipped = if signature.signature.starts_with('0') {
        "1"
    } else {
        "0"
    };
    signature.signature.replace_range(0..1, flipped);
    sig_frame.payload = serde_json::to_vec(&signature).unwrap();
    rewrite(&path, &edited);
    let found = problems(&path, &key);
    assert!(
        matches!(&found[..], [Problem::BadSignature { reason, .. }] if reason.contains("does not match")),
        "{found:?}"
    );
}

#[test]
fn an_unfinished_log_cannot_be_signed_and_has_no_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("running.vlog");
    let mut writer = LogWriter::create(&path, &header()).unwrap();
    writer.append_sample(&record("a", 1.0)).unwrap();
    drop(writer);
    let err = sign_log(&path, &generate_key().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("has not finished"), "{err}");
    assert_eq!(
        verify_log(&path, None).unwrap().problems,
        vec![Problem::NoManifest]
    );
}

#[test]
fn the_seal_check_reads_the_ends_only_and_finds_what_they_show() {
    let dir = tempfile::tempdir().unwrap();
    let unsigned = finished_log(dir.path(), "unsigned.vlog");
    assert_eq!(
        check_seal(&unsigned).unwrap().problems,
        vec![Problem::Unsigned]
    );
    let (path, key) = signed_log(dir.path());
    let seal = check_seal(&path).unwrap();
    assert!(seal.problems.is_empty(), "{:?}", seal.problems);
    let full = verify_log(&path, Some(&key.public())).unwrap();
    assert_eq!(seal.merkle_root, full.manifest.map(|m| m.merkle_root));
    assert_eq!(seal.signatures, full.signatures);
    assert!(seal.signatures[0].valid);
    let original = frames(&path);
    let edited = |index: usize, from: &str, to: &str| {
        let mut edited = original.clone();
        let text = String::from_utf8(edited[index].payload.clone()).unwrap();
        assert!(text.contains(from), "{text}");
        edited[index].payload = text.replace(from, to).into_bytes();
        rewrite(&path, &edited);
        check_seal(&path).unwrap().problems
    };
    assert_eq!(
        edited(0, "local/smollm2", "local/other"),
        vec![Problem::HeaderChanged, Problem::ProvenanceMismatch]
    );
    assert_eq!(
        edited(5, "\"refused/accuracy\":0.5", "\"refused/accuracy\":0.9"),
        vec![Problem::FooterChanged]
    );
    let signature_at = original
        .iter()
        .position(|f| f.kind == FrameKind::Signature)
        .unwrap();
    let found = edited(signature_at, "\"signature\":\"", "\"signature\":\"00");
    assert!(
        matches!(&found[..], [Problem::BadSignature { .. }]),
        "{found:?}"
    );
    // A changed record is the full check's to find, not this one's.
    let record_at = original
        .iter()
        .position(|f| f.kind == FrameKind::Sample)
        .unwrap();
    let text = String::from_utf8(original[record_at].payload.clone()).unwrap();
    let from = format!("\"id\":\"{}\"", "a");
    assert!(text.contains(&from), "{text}");
    let mut changed = original.clone();
    changed[record_at].payload = text.replacen("\"time_s\":", "\"time_s\":1", 1).into_bytes();
    rewrite(&path, &changed);
    assert!(check_seal(&path).unwrap().problems.is_empty());
    assert!(verify_log(&path, None)
        .unwrap()
        .problems
        .iter()
        .any(|p| matches!(p, Problem::RecordChanged { .. })));
    let running = dir.path().join("running.vlog");
    let mut writer = LogWriter::create(&running, &header()).unwrap();
    writer.append_sample(&record("a", 1.0)).unwrap();
    drop(writer);
    assert_eq!(
        check_seal(&running).unwrap().problems,
        vec![Problem::NoManifest]
    );
}
