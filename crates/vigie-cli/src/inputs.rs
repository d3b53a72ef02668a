//! The logs a command reads: files, folders of logs, and bundles (unpacked
//! into a temporary folder that lives as long as the returned value).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::UsageError;

/// Logs gathered from the command line, and what they came with.
pub(crate) struct Inputs {
    /// Every log, in the order given (a folder's logs by name).
    pub(crate) logs: Vec<PathBuf>,
    /// Reports among the inputs (`.html`, `.md`, `.json`).
    pub(crate) reports: Vec<PathBuf>,
    /// The folders bundles were unpacked into, kept as long as the logs are read.
    pub(crate) bundles: Vec<tempfile::TempDir>,
}

pub(crate) fn is_log(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == vigie_log::LOG_EXTENSION)
}

pub(crate) fn is_bundle(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == vigie_seal::BUNDLE_EXTENSION)
}

/// Sorts out the paths given: logs, folders of logs, bundles and reports.
pub(crate) fn gather(paths: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs {
        logs: vec![],
        reports: vec![],
        bundles: vec![],
    };
    for path in paths {
        if path.is_dir() {
            let found = vigie_log::find_logs(path)?;
            if found.is_empty() {
                return Err(UsageError(format!(
                    "{}: no .{} files in this folder or its sub-folders",
                    path.display(),
                    vigie_log::LOG_EXTENSION
                ))
                .into());
            }
            inputs.logs.extend(found);
        } else if !path.exists() {
            return Err(UsageError(format!("{}: no such file or folder", path.display())).into());
        } else if is_bundle(path) {
            let dir = tempfile::tempdir()
                .context("cannot make a temporary folder to unpack the bundle")?;
            let bundle = vigie_seal::open_bundle(path, dir.path())?;
            inputs.logs.extend(bundle.logs.iter().cloned());
            inputs.bundles.push(dir);
        } else if vigie_seal::ReportFormat::from_path(path).is_some() {
            inputs.reports.push(path.clone());
        } else {
            inputs.logs.push(path.clone());
        }
    }
    Ok(inputs)
}
