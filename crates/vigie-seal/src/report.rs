//! Signed reports. A report names the logs it was made from — each log's
//! run id, Merkle root and manifest digest — so a reader can check its
//! numbers against them, and carries signatures over its own content.
//!
//! HTML and Markdown reports hold both as HTML comments, which neither a
//! browser nor a Markdown viewer shows: one `<!-- vigie-sources [...] -->`
//! line anywhere, and `<!-- vigie-signature {...} -->` lines at the very end;
//! the signed content is every byte before the first signature line. A JSON
//! report holds `sources` as a member and `signatures` as its last member; the
//! signed content is the report without `signatures`, written as vigie writes
//! it (two-space indented, members in order).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vigie_log::manifest::sha256;

use crate::log::{signature_problems, Problem};
use crate::{
    check_signature, io_error, sign_digest, KeyPair, PublicKey, SealError, SignatureCheck,
};

const DOMAIN: &str = "report";
const SOURCES_OPEN: &str = "<!-- vigie-sources ";
const SIGNATURE_OPEN: &str = "<!-- vigie-signature ";
const COMMENT_CLOSE: &str = " -->";

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One self-contained HTML page.
    Html,
    /// Markdown.
    Markdown,
    /// JSON.
    Json,
}

impl ReportFormat {
    /// The format a file name implies (`.html`/`.htm`, `.md`, `.json`).
    pub fn from_path(path: &Path) -> Option<ReportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "html" | "htm" => Some(ReportFormat::Html),
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "json" => Some(ReportFormat::Json),
            _ => None,
        }
    }
}

/// A log a report was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSource {
    /// The log's file name.
    pub log: String,
    /// The run's id.
    pub run_id: String,
    /// The task.
    pub task: String,
    /// The evaluated model.
    pub model: String,
    /// The Merkle root of its records.
    pub merkle_root: String,
    /// SHA-256 of its manifest: what its signatures sign.
    pub manifest_sha256: String,
    /// The log's results as the report cites them (`scorer/metric` → value),
    /// checked against the log's footer.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metrics: std::collections::BTreeMap<String, f64>,
}

/// The line an HTML or Markdown report carries its sources in.
pub fn embed_sources(sources: &[ReportSource]) -> String {
    format!(
        "{SOURCES_OPEN}{}{COMMENT_CLOSE}",
        comment_safe(&serde_json::to_string(sources).expect("sources serialize"))
    )
}

/// `-->` cannot appear inside an HTML comment; JSON may spell `>` as `\u003e`.
fn comment_safe(json: &str) -> String {
    json.replace('>', "\\u003e")
}

/// The sources a report names, read back from its text.
pub fn read_sources(text: &str, format: ReportFormat) -> Result<Vec<ReportSource>, String> {
    match format {
        ReportFormat::Json => {
            let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
            serde_json::from_value(value.get("sources").cloned().ok_or("no `sources` member")?)
                .map_err(|e| format!("sources: {e}"))
        }
        ReportFormat::Html | ReportFormat::Markdown => {
            let line = text
                .lines()
                .find_map(|l| l.trim().strip_prefix(SOURCES_OPEN))
                .ok_or("no vigie-sources line: not a report written by vigie")?;
            let json = line
                .strip_suffix(COMMENT_CLOSE.trim_start())
                .unwrap_or(line)
                .trim();
            serde_json::from_str(json).map_err(|e| format!("vigie-sources: {e}"))
        }
    }
}

/// Splits a report into its signed content and its signatures.
fn split(text: &str, format: ReportFormat) -> Result<(String, Vec<vigie_log::Signature>), String> {
    match format {
        ReportFormat::Json => {
            let mut value: Value =
                serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
            let object = value.as_object_mut().ok_or("not a JSON object")?;
            let signatures = match object.shift_remove("signatures") {
                Some(list) => {
                    serde_json::from_value(list).map_err(|e| format!("signatures: {e}"))?
                }
                None => Vec::new(),
            };
            Ok((
                serde_json::to_string_pretty(&value).expect("JSON serializes"),
                signatures,
            ))
        }
        ReportFormat::Html | ReportFormat::Markdown => {
            let start = text
                .find(&format!("\n{SIGNATURE_OPEN}"))
                .map(|i| i + 1)
                .unwrap_or(text.len());
            let (content, tail) = text.split_at(start);
            let mut signatures = Vec::new();
            for (n, line) in tail.lines().enumerate() {
                let json = line
                    .strip_prefix(SIGNATURE_OPEN)
                    .and_then(|l| l.strip_suffix(COMMENT_CLOSE))
                    .ok_or(format!(
                        "line {}: only signature lines may follow the first one",
                        n + 1
                    ))?;
                signatures.push(
                    serde_json::from_str(json)
                        .map_err(|e| format!("signature line {}: {e}", n + 1))?,
                );
            }
            Ok((content.to_string(), signatures))
        }
    }
}

fn join(content: &str, signatures: &[vigie_log::Signature], format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => {
            let mut value: Value = serde_json::from_str(content).expect("content is JSON");
            value.as_object_mut().expect("an object").insert(
                "signatures".into(),
                serde_json::to_value(signatures).expect("serializes"),
            );
            serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n"
        }
        ReportFormat::Html | ReportFormat::Markdown => {
            let mut text = content.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            for signature in signatures {
                text.push_str(&format!(
                    "{SIGNATURE_OPEN}{}{COMMENT_CLOSE}\n",
                    comment_safe(&serde_json::to_string(signature).expect("serializes"))
                ));
            }
            text
        }
    }
}

fn read_report(path: &Path) -> Result<(String, ReportFormat), SealError> {
    let format = ReportFormat::from_path(path).ok_or_else(|| SealError::Malformed {
        path: path.display().to_string(),
        reason: "a report's name ends in .html, .md or .json".into(),
    })?;
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    Ok((text, format))
}

/// Adds a signature to a report file, keeping any it has.
pub fn sign_report(path: &Path, key: &KeyPair) -> Result<vigie_log::Signature, SealError> {
    let (text, format) = read_report(path)?;
    let malformed = |reason: String| SealError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    read_sources(&text, format).map_err(malformed)?;
    let (content, mut signatures) = split(&text, format).map_err(malformed)?;
    let signature = sign_digest(key, DOMAIN, &hex::encode(sha256(content.as_bytes())));
    signatures.push(signature.clone());
    std::fs::write(path, join(&content, &signatures, format)).map_err(io_error(path))?;
    Ok(signature)
}

/// The result of checking a report on its own (its sources are checked
/// against logs by whoever has them).
#[derive(Debug, Clone)]
pub struct ReportCheck {
    /// The report's format.
    pub format: ReportFormat,
    /// The logs it names.
    pub sources: Vec<ReportSource>,
    /// Its signatures.
    pub signatures: Vec<SignatureCheck>,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

/// Checks a report's signatures (one by `expected` when given, any valid one
/// otherwise) and reads the logs it names.
pub fn verify_report(path: &Path, expected: Option<&PublicKey>) -> Result<ReportCheck, SealError> {
    let (text, format) = read_report(path)?;
    let malformed = |reason: String| SealError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    let sources = read_sources(&text, format).map_err(malformed)?;
    let (content, signatures) = split(&text, format).map_err(malformed)?;
    let digest = hex::encode(sha256(content.as_bytes()));
    let checks: Vec<SignatureCheck> = signatures
        .iter()
        .map(|s| check_signature(s, DOMAIN, &digest))
        .collect();
    let problems = signature_problems(&checks, &signatures, expected);
    Ok(ReportCheck {
        format,
        sources,
        signatures: checks,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_key;

    fn source() -> ReportSource {
        ReportSource {
            log: "run.vlog".into(),
            run_id: "r1".into(),
            task: "t".into(),
            model: "m".into(),
            merkle_root: "ab".into(),
            manifest_sha256: "cd".into(),
            metrics: [("refused/mean".to_string(), 0.5)].into_iter().collect(),
        }
    }

    fn write(dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let text = match ReportFormat::from_path(&path).unwrap() {
            ReportFormat::Json => {
                serde_json::to_string_pretty(
                    &serde_json::json!({"title": "r", "tier": "low", "sources": [source()]}),
                )
                .unwrap()
                    + "\n"
            }
            _ => format!(
                "<html><body><p>tier: low --></p>\n{}\n</body></html>\n",
                embed_sources(&[source()])
            ),
        };
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reports_of_every_format_sign_verify_and_catch_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["r.html", "r.md", "r.json"] {
            let path = write(dir.path(), name);
            let key = generate_key().unwrap();
            let unsigned = verify_report(&path, None).unwrap();
            assert_eq!(unsigned.problems, vec![Problem::Unsigned], "{name}");
            assert_eq!(unsigned.sources, vec![source()]);
            sign_report(&path, &key).unwrap();
            let auditor = generate_key().unwrap();
            sign_report(&path, &auditor).unwrap();
            let check = verify_report(&path, Some(&key.public())).unwrap();
            assert!(check.problems.is_empty(), "{name}: {:?}", check.problems);
            assert_eq!(check.signatures.len(), 2);
            assert!(verify_report(&path, Some(&auditor.public()))
                .unwrap()
                .problems
                .is_empty());
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replacen("low", "high", 1)).unwrap();
            let check = verify_report(&path, Some(&key.public())).unwrap();
            assert_eq!(
                check.signatures.iter().filter(|s| s.valid).count(),
                0,
                "{name}"
            );
            assert!(
                matches!(check.problems.last(), Some(Problem::NotSignedBy { .. })),
                "{name}: {:?}",
                check.problems
            );
        }
    }

    #[test]
    fn a_report_not_written_by_vigie_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.html");
        std::fs::write(&path, "<html></html>").unwrap();
        let err = verify_report(&path, None).unwrap_err().to_string();
        assert!(
            err.contains("other.html") && err.contains("no vigie-sources line"),
            "{err}"
        );
        let err = verify_report(&dir.path().join("x.pdf"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(".html, .md or .json"), "{err}");
    }
}
