//! Bundles: one file holding the logs of an assessment and the report made
//! from them, for another institute to verify and re-render. A bundle is a
//! zip archive (stored, not deflated: logs are compressed already) with an
//! index, `vigie-bundle.json`, listing each member's SHA-256; logs sit under
//! `logs/`, the report at the top.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigie_log::manifest::sha256;

use crate::log::{verify_log, LogCheck, Problem};
use crate::report::{verify_report, ReportCheck, ReportFormat};
use crate::{io_error, PublicKey, SealError};

/// The extension of bundle files.
pub const BUNDLE_EXTENSION: &str = "vbundle";
const INDEX: &str = "vigie-bundle.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BundleIndex {
    bundle_version: u32,
    created_at: String,
    created_by: String,
    members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    path: String,
    kind: String,
    sha256: String,
}

/// A bundle unpacked into a folder.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The logs, unpacked.
    pub logs: Vec<PathBuf>,
    /// The report, unpacked.
    pub report: PathBuf,
    /// Members whose bytes are not those the index lists.
    pub changed: Vec<String>,
}

/// Writes `logs` and `report` into one bundle at `out`. Every log the
/// report cites must be among `logs`, and every log must be finished and
/// match its manifest (a log that does not would fail at the other end
/// anyway); signatures are not required here, `verify` asks for them.
pub fn write_bundle(out: &Path, logs: &[PathBuf], report: &Path) -> Result<(), SealError> {
    if ReportFormat::from_path(report).is_some() {
        let cited = crate::verify_report(report, None)?;
        let missing: Vec<&str> = cited
            .sources
            .iter()
            .filter(|s| {
                !logs
                    .iter()
                    .any(|l| l.file_name().is_some_and(|n| n.to_string_lossy() == s.log))
            })
            .map(|s| s.log.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(SealError::Input(format!(
                "{} cites logs not given here: {}",
                report.display(),
                missing.join(", ")
            )));
        }
    }
    write_members(out, logs, report)
}

/// Writes the bundle without checking that the report's logs are all in it
/// (the receiving side must catch a bundle that lacks one: tested).
fn write_members(out: &Path, logs: &[PathBuf], report: &Path) -> Result<(), SealError> {
    let mut members = Vec::new();
    let mut contents = Vec::new();
    for log in logs {
        let check = verify_log(log, None)?;
        if let Some(problem) = check.problems.iter().find(|p| p.is_integrity()) {
            return Err(SealError::NotSignable {
                path: log.display().to_string(),
                reason: format!("cannot be bundled: {problem}"),
            });
        }
        contents.push((
            format!("logs/{}", file_name(log)?),
            "log",
            std::fs::read(log).map_err(io_error(log))?,
        ));
    }
    if ReportFormat::from_path(report).is_none() {
        return Err(SealError::Malformed {
            path: report.display().to_string(),
            reason: "a report's name ends in .html, .md or .json".into(),
        });
    }
    contents.push((
        file_name(report)?,
        "report",
        std::fs::read(report).map_err(io_error(report))?,
    ));
    for (path, kind, bytes) in &contents {
        if members.iter().any(|m: &Member| m.path == *path) {
            return Err(SealError::Malformed {
                path: path.clone(),
                reason: "two files of this name; a bundle holds each name once".into(),
            });
        }
        members.push(Member {
            path: path.clone(),
            kind: kind.to_string(),
            sha256: hex::encode(sha256(bytes)),
        });
    }
    let index = BundleIndex {
        bundle_version: 1,
        created_at: vigie_log::now_rfc3339(),
        created_by: format!("vigie {}", env!("CARGO_PKG_VERSION")),
        members,
    };
    let temp = out.with_extension("vbundle.partial");
    let write = || -> zip::result::ZipResult<()> {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&temp)?);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file(INDEX, options)?;
        zip.write_all(&serde_json::to_vec_pretty(&index).expect("index serializes"))?;
        for (path, _, bytes) in &contents {
            zip.start_file(path.as_str(), options)?;
            zip.write_all(bytes)?;
        }
        zip.finish()?.sync_all()?;
        std::fs::rename(&temp, out)?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        SealError::Io {
            path: out.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        }
    })
}

fn file_name(path: &Path) -> Result<String, SealError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| SealError::Malformed {
            path: path.display().to_string(),
            reason: "no usable file name".into(),
        })
}

/// Unpacks a bundle into `dir` and checks each member against the index.
pub fn open_bundle(path: &Path, dir: &Path) -> Result<Bundle, SealError> {
    let malformed = |reason: String| SealError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| malformed(format!("not a vigie bundle (zip: {e})")))?;
    let mut read_member = |name: &str| -> Result<Vec<u8>, SealError> {
        let mut entry = zip
            .by_name(name)
            .map_err(|e| malformed(format!("{name}: {e}")))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(io_error(path))?;
        Ok(bytes)
    };
    let index: BundleIndex = serde_json::from_slice(&read_member(INDEX)?)
        .map_err(|e| malformed(format!("{INDEX}: {e}")))?;
    if index.bundle_version != 1 {
        return Err(malformed(format!(
            "bundle version {} is newer than this vigie reads (1)",
            index.bundle_version
        )));
    }
    let (mut logs, mut report, mut changed) = (Vec::new(), None, Vec::new());
    for member in &index.members {
        // Members are written under `dir` by their base name only, whatever the index says.
        let name = Path::new(&member.path)
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| malformed(format!("member {:?} has no file name", member.path)))?;
        let bytes = read_member(&member.path)?;
        if hex::encode(sha256(&bytes)) != member.sha256 {
            changed.push(member.path.clone());
        }
        let target = dir.join(name);
        std::fs::write(&target, &bytes).map_err(io_error(&target))?;
        match member.kind.as_str() {
            "log" => logs.push(target),
            "report" if report.is_none() => report = Some(target),
            other => {
                return Err(malformed(format!(
                    "member {:?}: unexpected kind {other:?}",
                    member.path
                )))
            }
        }
    }
    let report = report.ok_or_else(|| malformed("the bundle has no report".into()))?;
    Ok(Bundle {
        logs,
        report,
        changed,
    })
}

/// Every check of a bundle: its members against the index, each log, the
/// report, and the report's sources against the logs beside it.
#[derive(Debug, Clone)]
pub struct BundleCheck {
    /// Each log, by file name, and its check.
    pub logs: Vec<(String, LogCheck)>,
    /// The report's check.
    pub report: ReportCheck,
    /// Problems of the bundle as a whole (changed members, sources not matching).
    pub problems: Vec<Problem>,
}

impl BundleCheck {
    /// Whether everything verifies.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
            && self.report.problems.is_empty()
            && self.logs.iter().all(|(_, c)| c.ok())
    }
}

/// Checks an unpacked bundle.
pub fn verify_bundle(
    bundle: &Bundle,
    expected: Option<&PublicKey>,
) -> Result<BundleCheck, SealError> {
    let mut problems: Vec<Problem> = bundle
        .changed
        .iter()
        .map(|m| Problem::MemberChanged { member: m.clone() })
        .collect();
    let mut logs = Vec::new();
    for log in &bundle.logs {
        logs.push((file_name(log)?, verify_log(log, expected)?));
    }
    let report = verify_report(&bundle.report, expected)?;
    problems.extend(cross_check(&report, &logs));
    Ok(BundleCheck {
        logs,
        report,
        problems,
    })
}

/// Checks that every log a report names is among `logs` with the same root
/// and manifest.
pub fn cross_check(report: &ReportCheck, logs: &[(String, LogCheck)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for source in &report.sources {
        let Some((_, check)) = logs.iter().find(|(name, _)| *name == source.log) else {
            problems.push(Problem::SourceMissing {
                log: source.log.clone(),
            });
            continue;
        };
        let root = check.manifest.as_ref().map(|m| m.merkle_root.as_str());
        if root != Some(source.merkle_root.as_str()) {
            problems.push(Problem::SourceMismatch {
                log: source.log.clone(),
                what: "its Merkle root differs".into(),
            });
        } else if check.manifest_sha256.as_deref() != Some(source.manifest_sha256.as_str()) {
            problems.push(Problem::SourceMismatch {
                log: source.log.clone(),
                what: "its manifest differs".into(),
            });
        }
        for (metric, cited) in &source.metrics {
            match check.metrics.get(metric) {
                Some(found) if (found - cited).abs() <= 1e-9 * found.abs().max(1.0) => {}
                Some(found) => problems.push(Problem::SourceMismatch {
                    log: source.log.clone(),
                    what: format!("{metric} is {cited} in the report but {found} in the log"),
                }),
                None => problems.push(Problem::SourceMismatch {
                    log: source.log.clone(),
                    what: format!("the report cites {metric}, which the log does not have"),
                }),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tests::finished_log;
    use crate::report::{embed_sources, ReportSource};
    use crate::{generate_key, sign_log, sign_report};

    fn report_for(dir: &Path, logs: &[PathBuf]) -> PathBuf {
        let sources: Vec<ReportSource> = logs
            .iter()
            .map(|log| {
                let check = verify_log(log, None).unwrap();
                let manifest = check.manifest.unwrap();
                ReportSource {
                    log: file_name(log).unwrap(),
                    run_id: manifest.provenance.run_id.clone(),
                    task: manifest.provenance.task.clone(),
                    model: manifest.provenance.model.name.clone(),
                    merkle_root: manifest.merkle_root.clone(),
                    manifest_sha256: check.manifest_sha256.unwrap(),
                    metrics: check.metrics.clone(),
                }
            })
            .collect();
        let path = dir.join("report.md");
        std::fs::write(&path, format!("# Report\n\n{}\n", embed_sources(&sources))).unwrap();
        path
    }

    /// Two signed logs and a signed report citing both, in `dir`.
    fn signed_run(dir: &Path) -> (crate::KeyPair, Vec<PathBuf>, PathBuf) {
        let key = generate_key().unwrap();
        let logs = vec![finished_log(dir, "a.vlog"), finished_log(dir, "b.vlog")];
        for log in &logs {
            sign_log(log, &key).unwrap();
        }
        let report = report_for(dir, &logs);
        sign_report(&report, &key).unwrap();
        (key, logs, report)
    }

    #[test]
    fn sign_bundle_and_verify_in_a_fresh_directory() {
        let work = tempfile::tempdir().unwrap();
        let (key, logs, report) = signed_run(work.path());
        let out = work.path().join("run.vbundle");
        write_bundle(&out, &logs, &report).unwrap();

        let elsewhere = tempfile::tempdir().unwrap();
        let moved = elsewhere.path().join("received.vbundle");
        std::fs::copy(&out, &moved).unwrap();
        drop(work);
        let unpacked = tempfile::tempdir().unwrap();
        let bundle = open_bundle(&moved, unpacked.path()).unwrap();
        let check = verify_bundle(&bundle, Some(&key.public())).unwrap();
        assert!(
            check.ok(),
            "{:?} {:?} {:?}",
            check.problems,
            check.report.problems,
            check.logs
        );
        assert_eq!(check.logs.len(), 2);

        // The same records without the signature: the content checks, the signer does not.
        let unsigned = finished_log(elsewhere.path(), "a.vlog.unsigned");
        std::fs::copy(&unsigned, &bundle.logs[0]).unwrap();
        let check = verify_bundle(&bundle, None).unwrap();
        assert!(!check.ok());
        assert_eq!(check.logs[0].1.problems, vec![Problem::Unsigned]);
        assert!(
            check.problems.is_empty(),
            "same records, same root: {:?}",
            check.problems
        );
    }

    #[test]
    fn a_changed_member_and_a_missing_log_are_named() {
        let work = tempfile::tempdir().unwrap();
        let (key, logs, report) = signed_run(work.path());
        let out = work.path().join("run.vbundle");
        let err = write_bundle(&out, &logs[..1], &report)
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("cites logs not given here: b.vlog"), "{err}");
        // Made by other means, such a bundle is caught at the other end.
        write_members(&out, &logs[..1], &report).unwrap();
        let unpacked = tempfile::tempdir().unwrap();
        let check = verify_bundle(
            &open_bundle(&out, unpacked.path()).unwrap(),
            Some(&key.public()),
        )
        .unwrap();
        assert_eq!(
            check.problems,
            vec![Problem::SourceMissing {
                log: "b.vlog".into()
            }]
        );

        // A report whose cited figure differs from the log's is named, even when signed.
        let mut sources = crate::read_sources(
            &std::fs::read_to_string(&report).unwrap(),
            ReportFormat::Markdown,
        )
        .unwrap();
        sources[0].metrics.insert("refused/accuracy".into(), 0.9);
        let forged = work.path().join("forged.md");
        std::fs::write(
            &forged,
            format!("# Report\n\n{}\n", embed_sources(&sources)),
        )
        .unwrap();
        sign_report(&forged, &key).unwrap();
        let report_check = verify_report(&forged, Some(&key.public())).unwrap();
        let logs_checked = vec![("a.vlog".to_string(), verify_log(&logs[0], None).unwrap())];
        let found = cross_check(&report_check, &logs_checked);
        assert!(
            found.contains(&Problem::SourceMismatch {
                log: "a.vlog".into(),
                what: "refused/accuracy is 0.9 in the report but 0.5 in the log".into()
            }),
            "{found:?}"
        );

        // Flip one byte of the stored report inside the archive.
        let mut bytes = std::fs::read(&out).unwrap();
        let at = bytes.windows(8).position(|w| w == b"# Report").unwrap();
        bytes[at + 2] = b'r';
        std::fs::write(&out, &bytes).unwrap();
        let unpacked = tempfile::tempdir().unwrap();
        match open_bundle(&out, unpacked.path()) {
            // The zip's own checksum may refuse the member first.
            Err(e) => assert!(
                e.to_string().contains("report.md")
                    || e.to_string().contains("CRC")
                    || e.to_string().contains("checksum"),
                "{e}"
            ),
            Ok(bundle) => {
                let check = verify_bundle(&bundle, Some(&key.public())).unwrap();
                assert!(
                    check.problems.contains(&Problem::MemberChanged {
                        member: "report.md".into()
                    }),
                    "{:?}",
                    check.problems
                );
            }
        }
    }
}
