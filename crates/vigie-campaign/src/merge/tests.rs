//! Merging real shard logs written through the log writer: the metrics of
//! the whole run, the provenance of every piece, and each refusal.

use std::path::{Path, PathBuf};

use vigie_log::fixtures;
use vigie_log::metrics::Metric;
use vigie_log::results::RunTally;
use vigie_log::{LogHeader, LogReader, LogWriter, RunStatus, SampleRecord, Shard};

use super::*;

const SAMPLES: usize = 60;
const EPOCHS: u32 = 2;

fn header(shard: Option<Shard>) -> LogHeader {
    let mut header = fixtures::header("arith", "openai/m", "includes", 0);
    header.scorers[0].metrics = vec![Metric::Accuracy, Metric::Stderr, Metric::BootstrapCi];
    header.settings.epochs = EPOCHS;
    header.settings.seed = 7;
    header.settings.shard = shard;
    header
}

/// Every (sample, epoch) of the run, with a score that varies by both.
fn all_records() -> Vec<SampleRecord> {
    (1..=EPOCHS)
        .flat_map(|epoch| {
            (0..SAMPLES).map(move |i| {
                let value = f64::from(u8::from((i * 7 + epoch as usize * 3) % 5 < 3));
                let mut r = fixtures::record(&format!("s{i}"), i, "includes", value, "q", "a");
                r.epoch = epoch;
                r
            })
        })
        .collect()
}

fn write_log(path: &Path, mut header: LogHeader, records: &[SampleRecord]) {
    header.planned_records = records.len();
    let mut writer = LogWriter::create(path, &header).unwrap();
    let mut tally = RunTally::new(&header);
    for r in records {
        writer.append_sample(r).unwrap();
        tally.add(r);
    }
    let footer = tally.footer(RunStatus::Success, None, vigie_log::now_rfc3339(), 1.0);
    writer.finish(&footer).unwrap();
}

/// The shard logs of the run, split as a campaign splits it.
fn write_shards(dir: &Path, count: u32) -> Vec<PathBuf> {
    (0..count)
        .map(|index| {
            let shard = Shard::new(index, count).unwrap();
            let mine: Vec<SampleRecord> = all_records()
                .into_iter()
                .filter(|r| shard.holds("arith", &r.id, r.epoch))
                .collect();
            let path = dir.join(format!("shard-{index}.vlog"));
            let mut h = header(Some(shard));
            h.run_id = format!("shard-run-{index}");
            write_log(&path, h, &mine);
            path
        })
        .collect()
}

fn no_progress() -> impl FnMut(usize, usize) {
    |_, _| {}
}

#[test]
fn merged_shards_have_the_metrics_of_the_whole_run_and_name_every_piece() {
    let dir = tempfile::tempdir().unwrap();
    let whole_path = dir.path().join("whole.vlog");
    write_log(&whole_path, header(None), &all_records());
    let whole = LogReader::open(&whole_path)
        .unwrap()
        .footer()
        .unwrap()
        .unwrap();

    let shards = write_shards(dir.path(), 4);
    let out = dir.path().join("merged/arith.vlog");
    let mut seen = Vec::new();
    let merged = merge(&shards, &out, &mut |done, total| seen.push((done, total))).unwrap();
    assert_eq!(
        seen.last(),
        Some(&(SAMPLES * EPOCHS as usize, SAMPLES * EPOCHS as usize))
    );
    // Bootstrap intervals included: the same seed over the same scores.
    assert_eq!(merged.footer.metrics, whole.metrics);
    assert!(
        merged.footer.metrics.contains_key("includes/ci95_low"),
        "{:?}",
        merged.footer.metrics
    );
    assert_eq!(merged.footer.samples, whole.samples);

    let mut reader = LogReader::open(&out).unwrap();
    let header = reader.header().unwrap();
    assert_eq!(header.settings.shard, None);
    assert_eq!(header.planned_records, SAMPLES * EPOCHS as usize);
    assert_eq!(header.merged_from.len(), 4);
    for (source, path) in header.merged_from.iter().zip(&shards) {
        let (manifest, _) = LogReader::open(path).unwrap().manifest().unwrap().unwrap();
        assert_eq!(source.merkle_root, manifest.merkle_root);
        assert_eq!(source.path, path.display().to_string());
        assert_eq!(source.records, manifest.records.len());
    }
    let (manifest, _) = reader.manifest().unwrap().unwrap();
    assert_eq!(manifest.provenance.shards, header.merged_from);
    assert_eq!(manifest.records.len(), SAMPLES * EPOCHS as usize);
    // Merging the same shards again names the same run.
    let again = merge(&shards, &dir.path().join("again.vlog"), &mut no_progress()).unwrap();
    assert_eq!(again.header.run_id, header.run_id);
    // A merge never replaces a file.
    let err = merge(&shards, &out, &mut no_progress())
        .unwrap_err()
        .to_string();
    assert!(err.contains("exists already"), "{err}");
}

#[test]
fn missing_duplicate_and_foreign_shards_are_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), 4);
    let out = dir.path().join("out.vlog");
    let refused = |paths: &[PathBuf]| {
        merge(paths, &out, &mut no_progress())
            .unwrap_err()
            .to_string()
    };

    let err = refused(&[shards[0].clone(), shards[2].clone()]);
    assert_eq!(
        err,
        "shards 1 and 3 of 4 are missing: merging needs every shard"
    );
    let err = refused(&shards[..3]);
    assert_eq!(err, "shard 3 of 4 is missing: merging needs every shard");

    let err = refused(&[shards.clone(), vec![shards[1].clone()]].concat());
    assert!(err.contains("shard 1/4 is given twice"), "{err}");

    // A shard of another seed, of an edited task, of another split.
    let other = |name: &str, edit: &dyn Fn(&mut LogHeader)| {
        let path = dir.path().join(name);
        let mut h = header(Some(Shard::new(3, 4).unwrap()));
        edit(&mut h);
        write_log(&path, h, &[]);
        [&shards[..3], &[path]].concat()
    };
    let err = refused(&other("seed.vlog", &|h| h.settings.seed = 8));
    assert!(
        err.contains("`settings.seed` is 7 in the first and 8 in the second"),
        "{err}"
    );
    let err = refused(&other("task.vlog", &|h| {
        h.task.source_sha256 = "edited".into()
    }));
    assert!(err.contains("`task.source_sha256`"), "{err}");
    let err = refused(&other("model.vlog", &|h| {
        h.model.name = "openai/other".into()
    }));
    assert!(err.contains("`model.name`"), "{err}");
    let err = refused(&other("split.vlog", &|h| {
        h.settings.shard = Some(Shard::new(3, 5).unwrap())
    }));
    assert!(
        err.contains("`settings.shard.count` is 4 in the first and 5"),
        "{err}"
    );

    let whole = dir.path().join("whole.vlog");
    write_log(&whole, header(None), &all_records());
    let err = refused(&[whole]);
    assert!(err.contains("is not a shard"), "{err}");

    // A record that the shard function gives to another shard.
    let stray = dir.path().join("stray.vlog");
    let shard = Shard::new(3, 4).unwrap();
    let foreign = all_records()
        .into_iter()
        .find(|r| !shard.holds("arith", &r.id, r.epoch))
        .unwrap();
    write_log(&stray, header(Some(shard)), &[foreign]);
    let err = refused(&[&shards[..3], &[stray]].concat());
    assert!(
        err.contains("belongs to shard") && err.contains("not to this shard 3/4"),
        "{err}"
    );

    // A shard still running (no footer).
    let running = dir.path().join("running.vlog");
    let mut h = header(Some(shard));
    h.planned_records = 5;
    drop(LogWriter::create(&running, &h).unwrap());
    let err = refused(&[&shards[..3], std::slice::from_ref(&running)].concat());
    assert!(
        err.contains("has not finished (no footer") && err.contains(&running.display().to_string()),
        "{err}"
    );

    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "a refused merge leaves nothing behind"
    );
}
