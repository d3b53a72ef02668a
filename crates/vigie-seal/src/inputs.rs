//! What commands that read runs are given: log files, folders of logs (their
//! sub-folders too), bundles (unpacked into a temporary folder that lives as
//! long as the returned [`Inputs`]) and reports.

use std::path::{Path, PathBuf};

use crate::{ReportFormat, SealError, BUNDLE_EXTENSION};

/// The logs and reports gathered from a command line.
pub struct Inputs {
    /// Every log, in the order given (a folder's by path).
    pub logs: Vec<PathBuf>,
    /// Reports among the inputs (`.html`, `.md`, `.json`).
    pub reports: Vec<PathBuf>,
    /// The folders bundles were unpacked into, removed when this is dropped.
    pub bundles: Vec<tempfile::TempDir>,
}

/// Whether a path names a log.
pub fn is_log(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == vigie_log::LOG_EXTENSION)
}

/// Whether a path names a bundle.
pub fn is_bundle(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == BUNDLE_EXTENSION)
}

/// Sorts out the paths given: logs, folders of logs, bundles and reports.
/// A folder without a log, or a path that does not exist, is an error.
pub fn gather(paths: &[PathBuf]) -> Result<Inputs, SealError> {
    let mut inputs = Inputs {
        logs: vec![],
        reports: vec![],
        bundles: vec![],
    };
    for path in paths {
        if path.is_dir() {
            let found = vigie_log::find_logs(path)?;
            if found.is_empty() {
                return Err(SealError::Input(format!(
                    "{}: no .{} files in this folder or its sub-folders",
                    path.display(),
                    vigie_log::LOG_EXTENSION
                )));
            }
            inputs.logs.extend(found);
        } else if !path.exists() {
            return Err(SealError::Input(format!(
                "{}: no such file or folder",
                path.display()
            )));
        } else if is_bundle(path) {
            let dir = tempfile::tempdir().map_err(|source| SealError::Io {
                path: "a temporary folder to unpack the bundle".into(),
                source,
            })?;
            let bundle = crate::open_bundle(path, dir.path())?;
            inputs.logs.extend(bundle.logs.iter().cloned());
            inputs.bundles.push(dir);
        } else if ReportFormat::from_path(path).is_some() {
            inputs.reports.push(path.clone());
        } else {
            inputs.logs.push(path.clone());
        }
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_walked_and_mistakes_named() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("logs/start-1");
        std::fs::create_dir_all(&nested).unwrap();
        let header = vigie_log::fixtures::header("t", "m", "s", 0);
        vigie_log::LogWriter::create(&nested.join("b.vlog"), &header).unwrap();
        vigie_log::LogWriter::create(&dir.path().join("logs/a.vlog"), &header).unwrap();
        std::fs::write(dir.path().join("report.html"), "<html></html>").unwrap();
        let inputs = gather(&[dir.path().join("logs"), dir.path().join("report.html")]).unwrap();
        let names: Vec<String> = inputs
            .logs
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["logs/a.vlog", "logs/start-1/b.vlog"]);
        assert_eq!(inputs.reports.len(), 1);
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let err = gather(&[dir.path().join("empty")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with("empty: no .vlog files in this folder or its sub-folders"),
            "{err}"
        );
        let err = gather(&[dir.path().join("nope.vlog")])
            .err()
            .unwrap()
            .to_string();
        assert!(err.ends_with("nope.vlog: no such file or folder"), "{err}");
    }
}
