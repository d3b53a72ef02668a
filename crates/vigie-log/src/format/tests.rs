use std::collections::BTreeMap;
use std::io::Write;

use vigie_core::{ChatMessage, GenerateConfig, Usage};

use super::*;
use crate::schema::{ModelRef, RunSettings, RunStatus, SampleCounts, Score, Signature, TaskRef};

fn header() -> LogHeader {
    LogHeader {
        format_version: FORMAT_VERSION,
        vigie_version: "0.0.0-test".into(),
        run_id: "run".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        task: TaskRef {
            name: "arith".into(),
            source: "arith.toml".into(),
            source_sha256: "aa".into(),
            dataset: "arith.jsonl".into(),
            dataset_sha256: "bb".into(),
            dataset_samples: 3,
            risk_areas: vec!["reliability".into()],
            group_by: Some("level".into()),
            chance: None,
            contrast: None,
        },
        model: ModelRef {
            name: "openai/mock".into(),
            base_url: Some("http://127.0.0.1:1/v1".into()),
            profile: None,
        },
        judge_model: None,
        attacker_model: None,
        settings: RunSettings {
            sandbox: None,
            generate: GenerateConfig::default(),
            epochs: 1,
            epochs_reducer: crate::metrics::Reducer::Mean,
            limit: None,
            sample_ids: vec![],
            seed: 0,
            max_connections: 10,
            timeout_s: 60.0,
            max_retries: 3,
            fail_on_error: None,
            cache: false,
            max_cost: None,
            max_tokens_total: None,
            shard: None,
        },
        scorers: vec![crate::ScorerRef {
            name: "includes".into(),
            metrics: vec![crate::metrics::Metric::Accuracy],
            judge: None,
        }],
        planned_records: 3,
        merged_from: vec![],
    }
}

fn record(id: &str, epoch: u32) -> SampleRecord {
    let mut scores = BTreeMap::new();
    scores.insert(
        "includes".to_string(),
        Score {
            value: 1.0,
            answer: Some("4".into()),
            explanation: None,
            sub_scores: Default::default(),
        },
    );
    SampleRecord {
        agent: None,
        id: id.into(),
        epoch,
        index: 0,
        input: format!("question {id}"),
        target: vec!["4".into()],
        choices: vec![],
        metadata: Default::default(),
        messages: vec![
            ChatMessage::user(format!("question {id}")),
            ChatMessage::assistant("4"),
        ],
        output: "4".into(),
        choice_loglikelihoods: vec![],
        scores,
        usage: Usage {
            input_tokens: 3,
            output_tokens: 1,
            total_tokens: 4,
            ..Usage::default()
        },
        cost_usd: None,
        retries: 0,
        cache_hits: 0,
        time_s: 0.01,
        error: None,
        score_errors: BTreeMap::new(),
    }
}

fn footer() -> LogFooter {
    LogFooter {
        status: RunStatus::Success,
        finished_at: "2026-01-01T00:00:01Z".into(),
        duration_s: 1.0,
        samples: SampleCounts {
            total: 3,
            completed: 3,
            errors: 0,
        },
        metrics: [("includes/accuracy".to_string(), 1.0)]
            .into_iter()
            .collect(),
        contrasts: vec![],
        pass_at_k: Vec::new(),
        groups: vec![crate::GroupMetrics {
            group: "easy".into(),
            samples: 3,
            metrics: [("includes/accuracy".to_string(), 1.0)]
                .into_iter()
                .collect(),
        }],
        usage: Usage::default(),
        retries: 0,
        unscored: BTreeMap::new(),
        error: None,
        cost_usd: None,
    }
}

fn write_log(path: &Path, ids: &[&str], finish: bool) {
    let mut writer = LogWriter::create(path, &header()).unwrap();
    for id in ids {
        writer.append_sample(&record(id, 1)).unwrap();
    }
    if finish {
        writer.finish(&footer()).unwrap();
    }
}

#[test]
fn round_trip_header_samples_footer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    write_log(&path, &["s1", "s2", "s3"], true);
    let mut reader = LogReader::open(&path).unwrap();
    assert_eq!(reader.header().unwrap(), header());
    let samples: Vec<_> = reader.samples().unwrap().map(Result::unwrap).collect();
    assert_eq!(
        samples,
        vec![record("s1", 1), record("s2", 1), record("s3", 1)]
    );
    assert_eq!(reader.footer().unwrap(), Some(footer()));
}

#[test]
fn one_sample_is_found_by_id_and_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    let mut writer = LogWriter::create(&path, &header()).unwrap();
    for epoch in 1..=2 {
        for id in ["s1", "s10", "s2"] {
            writer.append_sample(&record(id, epoch)).unwrap();
        }
    }
    drop(writer);
    let mut reader = LogReader::open(&path).unwrap();
    assert_eq!(reader.sample("s1", 2).unwrap(), Some(record("s1", 2)));
    assert_eq!(reader.sample("s2", 1).unwrap(), Some(record("s2", 1)));
    assert_eq!(reader.sample("s3", 1).unwrap(), None);
    // A later record for the same key (a retry after resuming) is the one found.
    let mut retried = record("s2", 1);
    retried.output = "retried".into();
    let mut writer = LogWriter::reopen(&path).unwrap().writer;
    writer.append_sample(&retried).unwrap();
    drop(writer);
    let mut reader = LogReader::open(&path).unwrap();
    assert_eq!(reader.sample("s2", 1).unwrap().unwrap().output, "retried");
    assert_eq!(
        reader.footer().unwrap(),
        None,
        "an unfinished log has no footer"
    );
}

#[test]
fn a_log_cut_at_every_byte_reopens_with_every_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.vlog");
    write_log(&full, &["s1", "s2"], false);
    let bytes = std::fs::read(&full).unwrap();
    let one_record_end = {
        let path = dir.path().join("one.vlog");
        write_log(&path, &["s1"], false);
        std::fs::metadata(&path).unwrap().len() as usize
    };
    let header_end = {
        let path = dir.path().join("none.vlog");
        write_log(&path, &[], false);
        std::fs::metadata(&path).unwrap().len() as usize
    };
    for cut in header_end..bytes.len() {
        let path = dir.path().join(format!("cut{cut}.vlog"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let reopened = LogWriter::reopen(&path).unwrap();
        let expected = if cut >= one_record_end { 1 } else { 0 };
        assert_eq!(reopened.samples.len(), expected, "cut at {cut}");
        let kept = if expected == 1 {
            one_record_end
        } else {
            header_end
        };
        assert_eq!(reopened.torn_bytes as usize, cut - kept, "cut at {cut}");
        // Appending after the cut leaves a clean log.
        let mut writer = reopened.writer;
        writer.append_sample(&record("s9", 1)).unwrap();
        drop(writer);
        let mut reader = LogReader::open(&path).unwrap();
        let ids: Vec<_> = reader.samples().unwrap().map(|r| r.unwrap().id).collect();
        assert_eq!(ids.last().map(String::as_str), Some("s9"));
        assert_eq!(ids.len(), expected + 1);
    }
}

#[test]
fn damage_in_the_middle_is_an_error_and_nothing_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    write_log(&path, &["s1", "s2", "s3"], false);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    // Flip a byte inside the first sample's payload (well before the end).
    let header_end = {
        let p = dir.path().join("h.vlog");
        write_log(&p, &[], false);
        std::fs::metadata(&p).unwrap().len() as usize
    };
    bytes[header_end + 30] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = LogWriter::reopen(&path)
        .err()
        .expect("damage must be reported");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() as usize,
        len,
        "nothing was cut"
    );
    let mut reader = LogReader::open(&path).unwrap();
    assert!(reader.samples().unwrap().any(|r| r.is_err()));
}

#[test]
fn reopening_a_finished_log_removes_its_footer_and_keeps_its_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    write_log(&path, &["s1", "s2"], true);
    let reopened = LogWriter::reopen(&path).unwrap();
    assert_eq!(reopened.samples.len(), 2);
    assert_eq!(reopened.previous_footer, Some(footer()));
    let mut writer = reopened.writer;
    writer.append_sample(&record("s3", 1)).unwrap();
    writer.finish(&footer()).unwrap();
    let mut reader = LogReader::open(&path).unwrap();
    assert_eq!(reader.samples().unwrap().count(), 3);
    assert_eq!(reader.footer().unwrap(), Some(footer()));
}

#[test]
fn other_files_and_newer_versions_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.vlog");
    std::fs::write(&path, b"{\"not\": \"a log\"}").unwrap();
    let err = LogReader::open(&path).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!("{}: not a vigie log (no VIGIELOG preamble)", path.display())
    );
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"VIGIELOG").unwrap();
    file.write_all(&99u32.to_le_bytes()).unwrap();
    file.write_all(&0u32.to_le_bytes()).unwrap();
    drop(file);
    let err = LogReader::open(&path).err().unwrap();
    assert!(matches!(
        err,
        LogError::UnsupportedVersion { version: 99, .. }
    ));
}

#[test]
fn create_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    write_log(&path, &["s1"], true);
    assert!(LogWriter::create(&path, &header()).is_err());
    assert_eq!(
        LogReader::open(&path).unwrap().samples().unwrap().count(),
        1
    );
}

#[test]
fn a_finished_log_carries_a_manifest_that_matches_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    write_log(&path, &["s1", "s2", "s3"], true);
    let mut reader = LogReader::open(&path).unwrap();
    let (manifest, signatures) = reader.manifest().unwrap().expect("a manifest");
    assert!(signatures.is_empty());
    let raw = reader.raw_frames().unwrap();
    assert_eq!(raw.format_version, FORMAT_VERSION);
    let kinds: Vec<FrameKind> = raw.frames.iter().map(|f| f.kind).collect();
    use FrameKind::*;
    assert_eq!(
        kinds,
        vec![Header, Sample, Sample, Sample, Footer, Manifest, Trailer]
    );
    assert_eq!(
        manifest.header_sha256,
        hex::encode(crate::manifest::sha256(&raw.frames[0].payload))
    );
    assert_eq!(
        manifest.footer_sha256,
        hex::encode(crate::manifest::sha256(&raw.frames[4].payload))
    );
    let leaves: Vec<[u8; 32]> = raw.frames[1..4]
        .iter()
        .map(|f| crate::manifest::record_leaf(&f.key, &f.payload))
        .collect();
    assert_eq!(
        manifest
            .records
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["s1", "s2", "s3"]
    );
    assert_eq!(manifest.records[1].sha256, hex::encode(leaves[1]));
    assert_eq!(
        manifest.merkle_root,
        hex::encode(crate::manifest::merkle_root(&leaves))
    );
    assert!(manifest.provenance.matches(&header()));
    assert_eq!(manifest.provenance.model.name, "openai/mock");
}

#[test]
fn a_signature_goes_before_the_trailer_and_a_resume_drops_manifest_and_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.vlog");
    write_log(&path, &["s1"], false);
    let signature = Signature {
        algorithm: "ed25519".into(),
        public_key: "00".into(),
        key_id: "k".into(),
        signed_at: "2026-01-01T00:00:02Z".into(),
        signed_sha256: "ab".into(),
        signature: "cd".into(),
    };
    let err = append_signature(&path, &signature).unwrap_err().to_string();
    assert!(err.contains("only a finished log can be signed"), "{err}");
    let mut writer = LogWriter::reopen(&path).unwrap().writer;
    writer.append_sample(&record("s2", 1)).unwrap();
    writer.finish(&footer()).unwrap();
    append_signature(&path, &signature).unwrap();
    append_signature(&path, &signature).unwrap();
    let mut reader = LogReader::open(&path).unwrap();
    assert_eq!(
        reader.footer().unwrap(),
        Some(footer()),
        "the trailer still finds the footer"
    );
    let (manifest, signatures) = reader.manifest().unwrap().unwrap();
    assert_eq!(
        manifest.records.len(),
        2,
        "records kept from before the resume are in the manifest"
    );
    assert_eq!(signatures, vec![signature.clone(), signature]);
    assert_eq!(reader.sample("s2", 1).unwrap().unwrap().id, "s2");
    let reopened = LogWriter::reopen(&path).unwrap();
    assert_eq!(reopened.samples.len(), 2);
    reopened.writer.finish(&footer()).unwrap();
    let (_, signatures) = LogReader::open(&path).unwrap().manifest().unwrap().unwrap();
    assert!(
        signatures.is_empty(),
        "a resumed run's old signatures no longer hold and are gone"
    );
    assert!(!dir.path().join(".a.vlog.signing").exists());
}
