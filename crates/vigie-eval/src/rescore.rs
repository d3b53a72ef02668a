//! Re-scoring a finished log with other scorers: the new log's header (the
//! old one with the scorers added or replaced, and the judge), its path, and
//! the records that count, ready for [`crate::engine::rescore`]. The
//! evaluated model is never called again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigie_core::ModelApi;
use vigie_log::{LogError, LogReader, LogWriter, ModelRef, RunStatus};

use crate::engine::{scorer_refs, Rescore};
use crate::scorer::Scorer;
use crate::template::Templates;

/// Why a log cannot be re-scored.
#[derive(Debug, thiserror::Error)]
pub enum RescoreError {
    /// The log cannot be read, or the new one written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The output exists already: nothing is overwritten.
    #[error("{0} exists; choose another --out")]
    Exists(String),
    /// A scorer needs a judge and none was given.
    #[error("the scorer `{0}` is graded by a judge model, so it needs --judge-model")]
    NoJudge(String),
}

/// Where a re-scored log goes by default: beside the input, `-scored` added.
pub fn default_output(log: &Path) -> PathBuf {
    let stem = log
        .file_stem()
        .map_or_else(|| "log".into(), |s| s.to_string_lossy().into_owned());
    log.with_file_name(format!("{stem}-scored.{}", vigie_log::LOG_EXTENSION))
}

/// Reads `log` and creates `out` (which must not exist) with the header the
/// re-scored run has: the old scorers, each replaced by a new one of the same
/// name, then the new ones; the judge, when given. The new log keeps the
/// old run's status (a run without footer counts as `started`).
pub fn plan(
    log: &Path,
    out: &Path,
    scorers: Vec<Scorer>,
    templates: Templates,
    judge: Option<(Arc<dyn ModelApi>, ModelRef)>,
    max_in_flight: usize,
) -> Result<Rescore, RescoreError> {
    if let Some(scorer) = scorers
        .iter()
        .find(|s| s.needs_judge())
        .filter(|_| judge.is_none())
    {
        return Err(RescoreError::NoJudge(scorer.name.clone()));
    }
    if out.exists() {
        return Err(RescoreError::Exists(out.display().to_string()));
    }
    let mut reader = LogReader::open(log)?;
    let mut header = reader.header()?;
    let original = match reader.footer()? {
        Some(footer) => (footer.status, footer.error),
        None => (RunStatus::Started, None),
    };
    let records = vigie_log::records_that_count(reader.samples()?.collect::<Result<Vec<_>, _>>()?);
    for reference in scorer_refs(&scorers) {
        match header.scorers.iter_mut().find(|s| s.name == reference.name) {
            Some(existing) => *existing = reference,
            None => header.scorers.push(reference),
        }
    }
    let judge = judge.map(|(model, reference)| {
        header.judge_model = Some(reference);
        model
    });
    let writer = LogWriter::create(out, &header)?;
    Ok(Rescore {
        records,
        scorers,
        templates: Arc::new(templates),
        judge,
        max_in_flight,
        writer,
        original,
    })
}
