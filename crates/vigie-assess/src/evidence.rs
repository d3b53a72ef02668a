//! Reading the logs an assessment rests on: their header and results, and,
//! for comparisons and examples, the per-sample scores of the records that count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vigie_log::{LogFooter, LogHeader, LogReader, SampleRecord};

use crate::AssessError;

/// One log as evidence: where it is, what ran, and its results.
#[derive(Debug, Clone)]
pub struct EvidenceLog {
    /// The log's path.
    pub path: PathBuf,
    /// Its file name, as reports cite it.
    pub file_name: String,
    /// What ran.
    pub header: LogHeader,
    /// Its results; `None` for a run still going or killed.
    pub footer: Option<LogFooter>,
}

/// Reads the header and results of each log.
pub fn load_logs(paths: &[PathBuf]) -> Result<Vec<EvidenceLog>, AssessError> {
    let mut logs = Vec::with_capacity(paths.len());
    for path in paths {
        let mut reader = LogReader::open(path)?;
        let header = reader.header()?;
        let footer = reader.footer()?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        logs.push(EvidenceLog {
            path: path.clone(),
            file_name,
            header,
            footer,
        });
    }
    Ok(logs)
}

/// The records that count (the last per sample and epoch), in run order.
pub fn records_that_count(path: &Path) -> Result<Vec<SampleRecord>, AssessError> {
    let records = LogReader::open(path)?
        .samples()?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vigie_log::records_that_count(records))
}

/// Per scorer, each sample's score over its scored epochs, reduced as the
/// run reduced them (`mean`, `max`, ...).
pub fn per_sample_scores(
    path: &Path,
    header: &LogHeader,
) -> Result<BTreeMap<String, BTreeMap<String, f64>>, AssessError> {
    let records = LogReader::open(path)?
        .samples()?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vigie_log::results::per_sample_scores(header, &records))
}
