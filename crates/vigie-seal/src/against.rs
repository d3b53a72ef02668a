//! Checks that read several files together: a report against the logs it
//! cites, found beside it (or in a folder given), and the logs of folders to
//! sign.

use std::path::{Path, PathBuf};

use crate::{
    cross_check, verify_log, verify_report, LogCheck, Problem, PublicKey, ReportCheck, SealError,
};

/// A report checked against the logs it cites.
pub struct ReportVerification {
    /// The report's own check (signatures, sources).
    pub report: ReportCheck,
    /// Every problem: the report's, the cross-check's, and the cited logs' integrity.
    pub problems: Vec<Problem>,
    /// The cited logs found and checked.
    pub logs: Vec<(String, LogCheck)>,
    /// The cited logs not found, whose figures are unchecked.
    pub absent: Vec<String>,
    /// Where the logs were looked for.
    pub logs_dir: PathBuf,
}

impl ReportVerification {
    /// Whether the report verifies (absent logs are noted, not failed).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a report and, against it, every log it cites that is in
/// `logs_dir` (default: the report's folder). A report names logs by plain
/// file name; any other name is not looked up.
pub fn verify_report_against_logs(
    path: &Path,
    logs_dir: Option<&Path>,
    expected: Option<&PublicKey>,
) -> Result<ReportVerification, SealError> {
    let report = verify_report(path, expected)?;
    let dir = logs_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
    let mut logs = Vec::new();
    let mut absent = Vec::new();
    for source in &report.sources {
        let plain = Path::new(&source.log)
            .file_name()
            .is_some_and(|n| n == source.log.as_str());
        let log = dir.join(&source.log);
        if plain && log.exists() {
            logs.push((source.log.clone(), verify_log(&log, None)?));
        } else {
            absent.push(source.log.clone());
        }
    }
    let mut problems = report.problems.clone();
    problems.extend(
        cross_check(&report, &logs)
            .into_iter()
            .filter(|p| !matches!(p, Problem::SourceMissing { .. })),
    );
    problems.extend(logs.iter().flat_map(|(name, c)| {
        c.problems
            .iter()
            .filter(|p| p.is_integrity())
            .map(move |p| Problem::SourceMismatch {
                log: name.clone(),
                what: p.to_string(),
            })
    }));
    Ok(ReportVerification {
        report,
        problems,
        logs,
        absent,
        logs_dir: dir,
    })
}

/// The files `vigie sign` signs: files as given, and the finished logs of
/// folders (sub-folders too); a folder's unfinished logs are named in the
/// notes, as a run may still be going.
pub fn files_to_sign(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), SealError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for given in paths {
        if !given.is_dir() {
            files.push(given.clone());
            continue;
        }
        let found = vigie_log::find_logs(given)?;
        if found.is_empty() {
            return Err(SealError::Input(format!(
                "{}: no .{} files in this folder or its sub-folders",
                given.display(),
                vigie_log::LOG_EXTENSION
            )));
        }
        for log in found {
            if vigie_log::LogReader::open(&log)?.footer()?.is_some() {
                files.push(log);
            } else {
                notes.push(format!(
                    "{}: not signed, the run has not finished",
                    log.display()
                ));
            }
        }
    }
    Ok((files, notes))
}
