//! `vigie keygen`, `vigie sign`, `vigie verify` and `vigie bundle`: records
//! that another institute can check without trusting whoever sent them.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use vigie_seal::{LogCheck, Problem, PublicKey, ReportCheck, ReportFormat, SignatureCheck};

use crate::{Outcome, UsageError};
use vigie_seal::{is_bundle, is_log};

#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// Writes NAME.key (secret, owner-only) and NAME.pub (to share)
    #[arg(long, value_name = "NAME")]
    out: PathBuf,
}

/// `vigie keygen`.
pub(crate) fn keygen(args: KeygenArgs) -> Result<Outcome> {
    let key = vigie_seal::generate_key()?;
    let (secret, public) = vigie_seal::write_key_pair(&args.out, &key)?;
    println!("key id   {}", key.public().key_id());
    println!(
        "secret   {} (keep it private: whoever holds it signs as you)",
        secret.display()
    );
    println!(
        "public   {} (give it to whoever verifies your records)",
        public.display()
    );
    Ok(Outcome::Success)
}

#[derive(Args)]
pub(crate) struct SignArgs {
    /// Finished logs, folders of logs (sub-folders included) and reports to sign
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The secret key (NAME.key from `vigie keygen`)
    #[arg(long, value_name = "NAME.key")]
    key: PathBuf,
}

/// `vigie sign`.
pub(crate) fn sign(args: SignArgs) -> Result<Outcome> {
    let key = vigie_seal::load_secret_key(&args.key)?;
    let (files, notes) = vigie_seal::files_to_sign(&args.files).map_err(seal_error)?;
    for note in notes {
        eprintln!("note: {note}");
    }
    for file in &files {
        let signature = if is_log(file) {
            vigie_seal::sign_log(file, &key)?
        } else if ReportFormat::from_path(file).is_some() {
            vigie_seal::sign_report(file, &key)?
        } else {
            return Err(UsageError(format!(
                "{}: sign a log (.{}) or a report (.html, .md, .json)",
                file.display(),
                vigie_log::LOG_EXTENSION
            ))
            .into());
        };
        println!(
            "signed   {} (key {}, {})",
            file.display(),
            signature.key_id,
            signature.signed_at
        );
    }
    Ok(Outcome::Success)
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// Logs, folders of logs (sub-folders included), reports or bundles
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Require a valid signature by this key (NAME.pub); without it, any valid signature will do
    #[arg(long, value_name = "NAME.pub")]
    pubkey: Option<PathBuf>,
    /// Where a report's logs are, to check its figures against them (default: beside the report)
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,
}

/// `vigie verify`: every file checked, every problem named; exit 1 if any.
pub(crate) fn verify(args: VerifyArgs) -> Result<Outcome> {
    let expected = args
        .pubkey
        .as_deref()
        .map(vigie_seal::load_public_key)
        .transpose()?;
    let mut failed = false;
    let mut files = Vec::new();
    for given in &args.files {
        if given.is_dir() {
            files.extend(crate::inputs(std::slice::from_ref(given))?.logs);
        } else {
            files.push(given.clone());
        }
    }
    for file in &files {
        if !file.exists() {
            return Err(UsageError(format!("{}: no such file", file.display())).into());
        }
        let ok = if is_bundle(file) {
            verify_bundle(file, expected.as_ref())?
        } else if ReportFormat::from_path(file).is_some() {
            verify_report(file, args.logs.as_deref(), expected.as_ref())?
        } else {
            let check = vigie_seal::verify_log(file, expected.as_ref())?;
            print_log_check(&file.display().to_string(), &check);
            check.ok()
        };
        failed |= !ok;
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn signatures_text(checks: &[SignatureCheck]) -> String {
    if checks.is_empty() {
        return "unsigned".into();
    }
    checks
        .iter()
        .map(|c| {
            if c.valid {
                format!("signed by {} ({})", c.key_id, c.signed_at)
            } else {
                format!("BAD signature claiming {}", c.key_id)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_problems(problems: &[Problem]) {
    for problem in problems {
        println!("  ✗ {problem}");
    }
}

fn print_log_check(name: &str, check: &LogCheck) {
    let verdict = if check.ok() { "OK  " } else { "FAIL" };
    let root = check
        .manifest
        .as_ref()
        .map(|m| {
            format!(
                ", Merkle root {}…",
                &m.merkle_root[..16.min(m.merkle_root.len())]
            )
        })
        .unwrap_or_default();
    println!(
        "{verdict} {name}: {} records{root}, {}",
        check.records,
        signatures_text(&check.signatures)
    );
    print_problems(&check.problems);
}

fn verify_report(
    path: &Path,
    logs_dir: Option<&Path>,
    expected: Option<&PublicKey>,
) -> Result<bool> {
    let checked = vigie_seal::verify_report_against_logs(path, logs_dir, expected)?;
    print_report_check(
        &path.display().to_string(),
        &checked.report,
        &checked.problems,
        checked.logs.len(),
    );
    if !checked.absent.is_empty() {
        println!(
            "  note: {} cited log(s) not found in {} (--logs DIR): its figures for them are unchecked",
            checked.absent.len(),
            checked.logs_dir.display()
        );
    }
    Ok(checked.ok())
}

fn print_report_check(name: &str, check: &ReportCheck, problems: &[Problem], logs_checked: usize) {
    let verdict = if problems.is_empty() { "OK  " } else { "FAIL" };
    println!(
        "{verdict} {name}: report citing {} log(s), {} checked against it, {}",
        check.sources.len(),
        logs_checked,
        signatures_text(&check.signatures)
    );
    print_problems(problems);
}

fn verify_bundle(path: &Path, expected: Option<&PublicKey>) -> Result<bool> {
    let dir = tempfile::tempdir()?;
    let bundle = vigie_seal::open_bundle(path, dir.path())?;
    let check = vigie_seal::verify_bundle(&bundle, expected)?;
    let verdict = if check.ok() { "OK  " } else { "FAIL" };
    println!(
        "{verdict} {}: bundle of {} log(s) and a report",
        path.display(),
        check.logs.len()
    );
    print_problems(&check.problems);
    for (name, log) in &check.logs {
        print!("  ");
        print_log_check(name, log);
    }
    print!("  ");
    print_report_check(
        &bundle
            .report
            .file_name()
            .unwrap_or_default()
            .to_string_lossy(),
        &check.report,
        &check.report.problems,
        check.logs.len(),
    );
    Ok(check.ok())
}

#[derive(Args)]
pub(crate) struct BundleArgs {
    /// Logs (or folders of logs) and one report
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The bundle to write (.vbundle)
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
}

/// `vigie bundle`.
pub(crate) fn bundle(args: BundleArgs) -> Result<Outcome> {
    if !is_bundle(&args.out) {
        return Err(UsageError(format!(
            "--out {}: a bundle's name ends in .{}",
            args.out.display(),
            vigie_seal::BUNDLE_EXTENSION
        ))
        .into());
    }
    let inputs = crate::inputs(&args.inputs)?;
    if !inputs.bundles.is_empty() {
        return Err(UsageError(
            "a bundle cannot hold another bundle; give its logs and report".into(),
        )
        .into());
    }
    let report =
        match inputs.reports.as_slice() {
            [report] => report.clone(),
            [] => return Err(UsageError(
                "give the report to bundle with the logs (`vigie report LOGS --out report.html`)"
                    .into(),
            )
            .into()),
            _ => return Err(UsageError("give one report per bundle".into()).into()),
        };
    let check = vigie_seal::verify_report(&report, None)?;
    vigie_seal::write_bundle(&args.out, &inputs.logs, &report).map_err(seal_error)?;
    let unsigned = check.signatures.is_empty();
    println!(
        "bundle   {} ({} logs and {})",
        args.out.display(),
        inputs.logs.len(),
        report.display()
    );
    if unsigned {
        println!("note: the report is not signed; `vigie verify` at the other end will say so (`vigie sign REPORT --key K`)");
    }
    Ok(Outcome::Success)
}

/// A seal error that is a usage mistake exits 2.
fn seal_error(e: vigie_seal::SealError) -> anyhow::Error {
    match e {
        vigie_seal::SealError::Input(message) => UsageError(message).into(),
        other => other.into(),
    }
}
