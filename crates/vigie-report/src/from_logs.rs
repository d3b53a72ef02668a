//! A report from log files: each log is checked byte for byte against its
//! manifest (`vigie-seal`) before it may be cited, logs without a manifest
//! (unfinished, or written before manifests) are left out with a note, and
//! the rest are assessed and gathered into the report's content.

use std::path::PathBuf;

use vigie_assess::{Assessment, Framework};
use vigie_seal::{Problem, ReportSource};

use crate::{build, ReportData, ReportError, ReportInput};

/// A report's content, and the logs it left out.
pub struct FromLogs {
    /// The content to render.
    pub data: ReportData,
    /// Why some logs are not cited.
    pub notes: Vec<String>,
}

impl FromLogs {
    /// The assessment the report shows.
    pub fn assessment(&self) -> &Assessment {
        &self.data.assessment
    }
}

/// Assesses `paths` under `framework` and gathers the report. A log that
/// does not match its manifest stops the report, naming the log and the
/// problem: a report never cites a changed log.
pub fn from_logs(
    paths: &[PathBuf],
    framework: &Framework,
    title: String,
    redact: bool,
) -> Result<FromLogs, ReportError> {
    let mut cited = Vec::new();
    let mut sources = Vec::new();
    let mut signers = Vec::new();
    let mut notes = Vec::new();
    for path in paths {
        let check =
            vigie_seal::verify_log(path, None).map_err(|e| ReportError::Input(e.to_string()))?;
        if let Some(problem) = check.problems.iter().find(|p| p.is_integrity()) {
            if matches!(problem, Problem::NoManifest) {
                notes.push(format!("{}: left out: {problem}", path.display()));
                continue;
            }
            return Err(ReportError::Input(format!(
                "{}: does not match its manifest ({problem}); a report cannot cite it",
                path.display()
            )));
        }
        let (Some(manifest), Some(manifest_sha256)) = (&check.manifest, &check.manifest_sha256)
        else {
            continue;
        };
        sources.push(ReportSource {
            log: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            run_id: manifest.provenance.run_id.clone(),
            task: manifest.provenance.task.clone(),
            model: manifest.provenance.model.name.clone(),
            merkle_root: manifest.merkle_root.clone(),
            manifest_sha256: manifest_sha256.clone(),
            metrics: check.metrics.clone(),
        });
        signers.push(
            check
                .signatures
                .iter()
                .filter(|s| s.valid)
                .map(|s| s.key_id.clone())
                .collect(),
        );
        cited.push(path.clone());
    }
    if cited.is_empty() {
        return Err(ReportError::Input(format!(
            "none of the logs can be cited{}: nothing to report",
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        )));
    }
    let logs = vigie_assess::load_logs(&cited).map_err(|e| ReportError::Input(e.to_string()))?;
    let assessment = vigie_assess::assess(framework, &logs);
    let data = build(ReportInput {
        title,
        assessment: &assessment,
        logs: &logs,
        sources,
        signers,
        redact,
    })?;
    Ok(FromLogs { data, notes })
}
