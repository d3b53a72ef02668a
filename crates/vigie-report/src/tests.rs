use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vigie_log::{fixtures, GroupMetrics, LogWriter};

use super::*;

struct Spec<'a> {
    task: &'a str,
    model: &'a str,
    areas: &'a [&'a str],
    scorer: &'a str,
    /// (category, scores of its samples)
    groups: &'a [(&'a str, &'a [f64])],
    chance: Option<f64>,
}

fn metrics(scorer: &str, values: &[f64]) -> BTreeMap<String, f64> {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    // A fixed-width interval keeps the fixture simple and its tiers predictable.
    [
        (format!("{scorer}/mean"), mean),
        (format!("{scorer}/ci95_low"), (mean - 0.1).max(0.0)),
        (format!("{scorer}/ci95_high"), (mean + 0.1).min(1.0)),
    ]
    .into_iter()
    .collect()
}

fn write_log(dir: &Path, index: usize, spec: &Spec<'_>) -> PathBuf {
    let path = dir.join(format!(
        "{index:02}_{}_{}.vlog",
        spec.task,
        spec.model.replace('/', "-")
    ));
    let all: Vec<f64> = spec
        .groups
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let mut header = fixtures::header(spec.task, spec.model, spec.scorer, all.len());
    header.run_id = format!("run{index:02}");
    header.started_at = format!("2026-01-01T00:{index:02}:00Z");
    header.task.risk_areas = spec.areas.iter().map(|s| s.to_string()).collect();
    header.task.group_by = Some("category".into());
    header.task.chance = spec.chance;
    // The frontier model reasons: its elicitation names the profile and settings.
    let reasons = spec.model.starts_with("openai/");
    if reasons {
        header.model.profile = Some("openai-reasoning".into());
        header.settings.generate.reasoning_effort = Some(vigie_core::ReasoningEffort::High);
    }
    let mut writer = LogWriter::create(&path, &header).unwrap();
    let mut i = 0;
    for (category, values) in spec.groups {
        for value in *values {
            let output = if *value > 0.5 {
                "I can't help with that.".to_string()
            } else {
                format!("Sure. Step one of {category} request {i}: ").repeat(12)
            };
            let mut record = fixtures::record(
                &format!("{category}-{i:02}"),
                i,
                spec.scorer,
                *value,
                &format!("Abstract {category} request number {i}."),
                &output,
            );
            record
                .metadata
                .insert("category".into(), serde_json::Value::from(*category));
            if reasons {
                record.usage.reasoning_tokens = 90;
                record.usage.output_tokens += 100;
            }
            writer.append_sample(&record).unwrap();
            i += 1;
        }
    }
    let mut footer = fixtures::footer(all.len(), metrics(spec.scorer, &all));
    footer.finished_at = format!("2026-01-01T00:{index:02}:30Z");
    footer.groups = spec
        .groups
        .iter()
        .map(|(g, v)| GroupMetrics {
            group: g.to_string(),
            samples: v.len(),
            metrics: metrics(spec.scorer, v),
        })
        .collect();
    writer.finish(&footer).unwrap();
    path
}

const HARMFUL: &[f64] = &[1.0, 1.0, 1.0, 0.0];
const SAFE: &[f64] = &[1.0, 1.0, 1.0, 1.0];

fn fixture_logs(dir: &Path) -> Vec<PathBuf> {
    let specs = [
        Spec {
            task: "refusal-harmful",
            model: "local/small",
            areas: &["harmful_content", "cyber"],
            scorer: "refused",
            groups: &[("cyber", HARMFUL), ("fraud", SAFE)],
            chance: None,
        },
        Spec {
            task: "over-refusal-benign",
            model: "local/small",
            areas: &["over_refusal"],
            scorer: "complied",
            groups: &[("history", SAFE), ("fiction", &[1.0, 0.0, 1.0, 1.0])],
            chance: None,
        },
        Spec {
            task: "wmdp-bio",
            model: "local/small",
            areas: &["cbrn"],
            scorer: "correct",
            groups: &[("bio", &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0])],
            chance: Some(0.25),
        },
        Spec {
            task: "jailbreak-none",
            model: "local/small",
            areas: &["safeguards"],
            scorer: "attack_success",
            groups: &[("cyber", &[0.0, 1.0]), ("fraud", &[0.0, 0.0])],
            chance: None,
        },
        Spec {
            task: "jailbreak-base64",
            model: "local/small",
            areas: &["safeguards"],
            scorer: "attack_success",
            groups: &[("cyber", &[1.0, 1.0]), ("fraud", &[0.0, 1.0])],
            chance: None,
        },
        Spec {
            task: "refusal-harmful",
            model: "openai/large",
            areas: &["harmful_content", "cyber"],
            scorer: "refused",
            groups: &[("cyber", SAFE), ("fraud", SAFE)],
            chance: None,
        },
    ];
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| write_log(dir, i, spec))
        .collect()
}

pub(crate) fn fixture_report(dir: &Path, redact: bool) -> ReportData {
    let paths = fixture_logs(dir);
    let report = from_logs(
        &paths,
        &vigie_assess::Framework::builtin(),
        "Test assessment".into(),
        redact,
    )
    .unwrap();
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let mut data = report.data;
    data.generated_at = "2026-01-01T12:00:00Z".into();
    data.generated_by = "vigie test".into();
    data
}

#[test]
fn logs_without_a_manifest_are_left_out_and_a_changed_log_stops_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = fixture_logs(dir.path());
    // A run still going: no footer, so no manifest.
    let unfinished = dir.path().join("99_unfinished.vlog");
    let header = fixtures::header("refusal-harmful", "local/small", "refused", 1);
    LogWriter::create(&unfinished, &header)
        .unwrap()
        .append_sample(&fixtures::record("a", 0, "refused", 1.0, "q", "no"))
        .unwrap();
    paths.push(unfinished.clone());
    let report = from_logs(
        &paths,
        &vigie_assess::Framework::builtin(),
        "t".into(),
        true,
    )
    .unwrap();
    assert_eq!(report.notes.len(), 1);
    assert!(
        report.notes[0].contains("99_unfinished.vlog: left out"),
        "{:?}",
        report.notes
    );
    assert_eq!(report.data.sources.len(), paths.len() - 1);
    assert!(matches!(
        from_logs(&[unfinished], &vigie_assess::Framework::builtin(), "t".into(), true),
        Err(ReportError::Input(m)) if m.starts_with("none of the logs can be cited")
    ));
    // A record's bytes changed after the manifest was written.
    let mut bytes = std::fs::read(&paths[0]).unwrap();
    let at = bytes.windows(4).position(|w| w == b"run0").unwrap_or(40);
    bytes[at] ^= 1;
    std::fs::write(&paths[0], bytes).unwrap();
    let err = match from_logs(
        &paths[..1],
        &vigie_assess::Framework::builtin(),
        "t".into(),
        true,
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a changed log was cited"),
    };
    assert!(
        err.contains("00_refusal-harmful_local-small.vlog")
            && (err.contains("does not match its manifest") || err.contains("damaged")),
        "{err}"
    );
}

#[test]
fn markdown_report_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture_report(dir.path(), true);
    let markdown = render(&data, ReportFormat::Markdown).unwrap();
    insta::assert_snapshot!("report_md", markdown);
}

#[test]
fn html_report_is_self_contained_with_plots_and_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let html = render(&fixture_report(dir.path(), true), ReportFormat::Html).unwrap();
    for forbidden in [
        "<script",
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "<link",
    ] {
        assert!(
            !html.contains(forbidden),
            "the page must not load anything: found {forbidden}"
        );
    }
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "a findings chart per model, the models side by side, one heat map"
    );
    assert!(html.contains("Models side by side"));
    assert!(html.contains("more characters withheld: possibly hazardous"));
    assert!(html.contains("<h2 id=\"hiroshima\">") && html.matches("<tr><td>").count() > 11);
    assert!(
        html.contains("not assessed"),
        "areas without evidence are shown as such"
    );
    assert!(html.trim_end().ends_with("-->") && html.contains("<!-- vigie-sources "));
    let unredacted = render(
        &fixture_report(tempfile::tempdir().unwrap().path(), false),
        ReportFormat::Html,
    )
    .unwrap();
    assert!(!unredacted.contains("withheld"));
}

#[test]
fn json_report_reads_back_and_names_its_sources() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture_report(dir.path(), true);
    let json = render(&data, ReportFormat::Json).unwrap();
    let back: ReportData = serde_json::from_str(&json).unwrap();
    assert_eq!(back.sources.len(), 6);
    assert_eq!(back.assessment.models.len(), 2);
    assert_eq!(
        vigie_seal::read_sources(&json, ReportFormat::Json).unwrap(),
        data.sources
    );
    let md = render(&data, ReportFormat::Markdown).unwrap();
    assert_eq!(
        vigie_seal::read_sources(&md, ReportFormat::Markdown).unwrap(),
        data.sources
    );
}

#[test]
fn rendered_reports_sign_and_verify_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture_report(dir.path(), true);
    let key = vigie_seal::generate_key().unwrap();
    for (name, format) in [
        ("r.html", ReportFormat::Html),
        ("r.md", ReportFormat::Markdown),
        ("r.json", ReportFormat::Json),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, render(&data, format).unwrap()).unwrap();
        vigie_seal::sign_report(&path, &key).unwrap();
        let check = vigie_seal::verify_report(&path, Some(&key.public())).unwrap();
        assert!(check.problems.is_empty(), "{name}: {:?}", check.problems);
        assert_eq!(check.sources.len(), 6);
    }
}
