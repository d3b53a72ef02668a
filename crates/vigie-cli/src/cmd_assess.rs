//! `vigie assess`, `vigie report` and `vigie compare`: from logs to tiers
//! per risk area, to a report a regulator can read, and to the difference
//! between two runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use vigie_assess::{Assessment, EvidenceLog, Framework, GateRule};
use vigie_report::ReportFormat;

use crate::render::aligned;
use crate::{Outcome, UsageError};

#[derive(Args)]
pub(crate) struct AssessArgs {
    /// Logs, folders of logs, or bundles
    #[arg(required_unless_present = "print_framework")]
    inputs: Vec<PathBuf>,
    /// The safety framework (TOML); default: vigie's built-in framework
    #[arg(long, value_name = "FILE")]
    framework: Option<PathBuf>,
    /// Fail (exit 3) when any area reaches this tier or a higher one, instead of
    /// when an area is not acceptable under the framework
    #[arg(long, value_name = "TIER")]
    fail_at: Option<String>,
    /// Print the assessment as JSON
    #[arg(long)]
    json: bool,
    /// Print the built-in framework (to copy and adapt) and exit
    #[arg(long)]
    print_framework: bool,
}

fn load_framework(path: Option<&Path>) -> Result<Framework> {
    Ok(match path {
        Some(path) => Framework::load(path).map_err(|e| UsageError(e.to_string()))?,
        None => Framework::builtin(),
    })
}

/// Logs with results; logs without (still running, or killed) are named on
/// stderr and left out.
fn evidence(logs: &[PathBuf]) -> Result<Vec<EvidenceLog>> {
    if logs.is_empty() {
        return Err(UsageError("no logs given".into()).into());
    }
    Ok(vigie_assess::load_logs(logs)?)
}

/// `vigie assess`.
pub(crate) fn assess(args: AssessArgs) -> Result<Outcome> {
    if args.print_framework {
        print!("{}", vigie_assess::framework::DEFAULT_FRAMEWORK);
        return Ok(Outcome::Success);
    }
    let framework = load_framework(args.framework.as_deref())?;
    let rule = GateRule::new(&framework, args.fail_at.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    let inputs = crate::inputs(&args.inputs)?;
    let logs = evidence(&inputs.logs)?;
    let assessment = vigie_assess::assess(&framework, &logs);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&assessment)?);
    } else {
        print!("{}", assessment_text(&assessment));
    }
    if assessment.models.is_empty() {
        return Err(
            UsageError("none of the logs has results yet: nothing to assess".into()).into(),
        );
    }
    vigie_assess::gate(&framework, &assessment, &rule)?;
    Ok(Outcome::Success)
}

fn fmt_finding(f: &vigie_assess::Finding) -> String {
    let end = if f.higher_is_riskier {
        "upper"
    } else {
        "lower"
    };
    let group = f
        .group
        .as_ref()
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    format!(
        "{} {}{group} {:.3} [{:.3}, {:.3}], {end} end {:.3}",
        f.task, f.metric, f.value, f.ci_low, f.ci_high, f.pessimistic
    )
}

/// The assessment as text: per model, a line per area.
pub(crate) fn assessment_text(assessment: &Assessment) -> String {
    let mut out = format!(
        "framework  {} ({} {}, {})\n",
        assessment.framework_title,
        assessment.framework_id,
        assessment.framework_version,
        assessment.framework_source
    );
    for model in &assessment.models {
        let assessed = model.areas.iter().filter(|a| a.tier.is_some()).count();
        out.push_str(&format!(
            "\nmodel {}: highest tier {} · {} · {assessed} of {} areas assessed\n",
            model.model,
            model.highest_tier.as_deref().unwrap_or("—"),
            if model.acceptable {
                "acceptable"
            } else {
                "NOT ACCEPTABLE"
            },
            model.areas.len()
        ));
        let mut rows = vec![vec![
            "  risk area".to_string(),
            "tier".into(),
            "acceptable".into(),
            "decided by".into(),
        ]];
        for area in &model.areas {
            let (tier, acceptable, why) = match (&area.tier, area.deciding()) {
                (Some(tier), Some(finding)) => (
                    tier.clone(),
                    if area.acceptable == Some(true) {
                        "yes"
                    } else {
                        "NO"
                    }
                    .to_string(),
                    fmt_finding(finding),
                ),
                _ => (
                    "not assessed".into(),
                    "—".into(),
                    format!("no evidence: needs {}", area.missing.join("; ")),
                ),
            };
            rows.push(vec![format!("  {}", area.risk), tier, acceptable, why]);
        }
        out.push_str(&aligned(&rows));
        for area in model
            .areas
            .iter()
            .filter(|a| a.tier.is_some() && !a.missing.is_empty())
        {
            out.push_str(&format!(
                "  partly assessed: {} has no evidence for {}\n",
                area.risk,
                area.missing.join("; ")
            ));
        }
    }
    if !assessment.unused_logs.is_empty() {
        out.push_str(&format!(
            "\nnot evidence for any indicator of the framework: {}\n",
            assessment.unused_logs.join(", ")
        ));
    }
    for note in &assessment.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    Html,
    Md,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Redact {
    On,
    Off,
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Logs, folders of logs, or a bundle (to re-render it)
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write the report
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// html, md or json; default: from the --out file's extension
    #[arg(long)]
    format: Option<FormatArg>,
    /// The safety framework (TOML); default: vigie's built-in framework
    #[arg(long, value_name = "FILE")]
    framework: Option<PathBuf>,
    /// The report's title
    #[arg(long, default_value = "Frontier AI risk assessment")]
    title: String,
    /// Truncate model outputs of hazardous areas in the samples shown
    #[arg(long, value_enum, default_value = "on")]
    redact: Redact,
    /// Sign the report with this key (from `vigie keygen`)
    #[arg(long, value_name = "NAME.key")]
    key: Option<PathBuf>,
}

/// `vigie report`.
pub(crate) fn report(args: ReportArgs) -> Result<Outcome> {
    let format = match args.format {
        Some(FormatArg::Html) => ReportFormat::Html,
        Some(FormatArg::Md) => ReportFormat::Markdown,
        Some(FormatArg::Json) => ReportFormat::Json,
        None => ReportFormat::from_path(&args.out).ok_or_else(|| {
            UsageError(format!(
                "--out {}: name it .html, .md or .json, or give --format",
                args.out.display()
            ))
        })?,
    };
    if ReportFormat::from_path(&args.out) != Some(format) {
        return Err(UsageError(format!(
            "--out {}: a report in this format must be named .{}",
            args.out.display(),
            extension(format)
        ))
        .into());
    }
    let key = args
        .key
        .as_deref()
        .map(vigie_seal::load_secret_key)
        .transpose()?;
    let framework = load_framework(args.framework.as_deref())?;
    let inputs = crate::inputs(&args.inputs)?;
    let report = vigie_report::from_logs(
        &inputs.logs,
        &framework,
        args.title,
        matches!(args.redact, Redact::On),
    )
    .map_err(|e| UsageError(e.to_string()))?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    let data = report.data;
    let text = vigie_report::render(&data, format)?;
    std::fs::write(&args.out, text)
        .with_context(|| format!("{}: cannot write the report", args.out.display()))?;
    print!("{}", assessment_text(&data.assessment));
    println!(
        "\nreport     {} ({} logs cited by Merkle root)",
        args.out.display(),
        data.sources.len()
    );
    match key {
        Some(key) => {
            let signature = vigie_seal::sign_report(&args.out, &key)?;
            println!("signed     by key {}", signature.key_id);
        }
        None => println!("unsigned   (`vigie keygen --out NAME` once, then `--key NAME.key`, lets others verify it)"),
    }
    Ok(Outcome::Success)
}

fn extension(format: ReportFormat) -> &'static str {
    match format {
        ReportFormat::Html => "html",
        ReportFormat::Markdown => "md",
        ReportFormat::Json => "json",
    }
}

#[derive(Args)]
pub(crate) struct CompareArgs {
    /// The first run (the baseline)
    a: PathBuf,
    /// The second run
    b: PathBuf,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Changed samples to list per scorer
    #[arg(long, default_value_t = 20)]
    show: usize,
}

/// `vigie compare`.
pub(crate) fn compare(args: CompareArgs) -> Result<Outcome> {
    let logs = vigie_assess::load_logs(&[args.a.clone(), args.b.clone()])?;
    let (a, b) = (&logs[0], &logs[1]);
    let comparison = vigie_assess::compare(a, b, a.header.settings.seed)
        .map_err(|e| UsageError(e.to_string()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
        return Ok(Outcome::Success);
    }
    println!("A  {}\nB  {}", comparison.a, comparison.b);
    if a.header.task.name != b.header.task.name {
        println!("note: different tasks; samples are paired by id");
    }
    if !comparison.metrics.is_empty() {
        let mut rows = vec![vec![
            "metric".to_string(),
            "A".into(),
            "B".into(),
            "B − A".into(),
        ]];
        for m in &comparison.metrics {
            rows.push(vec![
                m.metric.clone(),
                format!("{:.3}", m.a),
                format!("{:.3}", m.b),
                format!("{:+.3}", m.difference),
            ]);
        }
        println!();
        print!("{}", aligned(&rows));
    }
    for s in &comparison.scorers {
        println!(
            "\n{}: {} shared samples (only A {}, only B {}): A {:.3}, B {:.3}, difference {:+.3} [{:+.3}, {:+.3}], p = {:.4} ({})",
            s.scorer,
            s.shared,
            s.only_a,
            s.only_b,
            s.mean_a,
            s.mean_b,
            s.difference,
            s.ci95_low,
            s.ci95_high,
            s.p_value,
            s.test.replace('_', " ")
        );
        if s.changed.is_empty() {
            println!("  no sample changed");
            continue;
        }
        println!("  {} sample(s) changed:", s.changed.len());
        let mut rows = vec![vec!["    id".to_string(), "A".into(), "B".into()]];
        for c in s.changed.iter().take(args.show) {
            rows.push(vec![
                format!("    {}", c.id),
                format!("{:.3}", c.a),
                format!("{:.3}", c.b),
            ]);
        }
        print!("{}", aligned(&rows));
        if s.changed.len() > args.show {
            println!(
                "    … {} more (--show N, or --json)",
                s.changed.len() - args.show
            );
        }
    }
    Ok(Outcome::Success)
}
