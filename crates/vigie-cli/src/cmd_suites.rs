//! `vigie risks`, `vigie suite list` and `vigie datasets check`: what vigie
//! knows about risks, the suites it ships, and the benchmark files it reads.

use std::path::PathBuf;

use anyhow::{Context, Result};
use vigie_assess::taxonomy::Taxonomy;
use vigie_suites::suites::SUITES;

use crate::render::aligned;
use crate::{Outcome, UsageError};

/// `vigie risks`: the taxonomy as text, or as JSON with `--json`.
pub(crate) fn risks(json: bool) -> Result<Outcome> {
    let taxonomy = Taxonomy::builtin();
    if json {
        let areas: Vec<serde_json::Value> = taxonomy
            .areas
            .iter()
            .map(|a| {
                serde_json::json!({
                    "id": a.id, "name": a.name, "description": a.description.trim(),
                    "eu_code_of_practice": a.cop, "eu_code_of_practice_note": a.cop_note,
                    "international_ai_safety_report_2025": a.iasr, "hiroshima_actions": a.hiroshima,
                    "seoul_commitments": a.seoul, "nist_ai_600_1": a.nist,
                    "owasp_llm_top10": a.owasp, "owasp_edition": a.owasp_edition,
                    "mitre_atlas": a.atlas, "atlas_release": a.atlas_release,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "version": taxonomy.version, "areas": areas })
            )?
        );
        return Ok(Outcome::Success);
    }
    let mut out = String::new();
    for area in &taxonomy.areas {
        out.push_str(&format!("{}  {}\n", area.id, area.name));
        out.push_str(&wrap(area.description.trim(), 88, "    "));
        let mut rows: Vec<Vec<String>> = Vec::new();
        let cop = match &area.cop_note {
            Some(note) if area.cop == "none" => format!("not a specified systemic risk; {note}"),
            Some(note) => format!("{}; {note}", area.cop),
            None => area.cop.clone(),
        };
        rows.push(vec!["    EU Code of Practice".into(), cop]);
        rows.push(vec![
            "    Intl AI Safety Report".into(),
            area.iasr.join(", "),
        ]);
        rows.push(vec![
            "    Hiroshima actions".into(),
            area.hiroshima
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ]);
        rows.push(vec!["    Seoul commitments".into(), area.seoul.join(", ")]);
        rows.push(vec!["    NIST AI 600-1".into(), area.nist.join("; ")]);
        if let Some(edition) = &area.owasp_edition {
            rows.push(vec![
                format!("    OWASP LLM Top 10 {edition}"),
                area.owasp.join(", "),
            ]);
        }
        if let Some(release) = &area.atlas_release {
            rows.push(vec![
                format!("    MITRE ATLAS ({release})"),
                area.atlas.join(", "),
            ]);
        }
        out.push_str(&aligned(&rows));
        out.push('\n');
    }
    print!("{out}");
    Ok(Outcome::Success)
}

/// `vigie suite list`: every suite and its tasks.
pub(crate) fn list_suites() -> Result<Outcome> {
    let mut out = String::new();
    for suite in SUITES {
        out.push_str(&format!("suite:{}\n", suite.name));
        out.push_str(&wrap(suite.description, 88, "    "));
        let rows: Vec<Vec<String>> = suite
            .tasks
            .iter()
            .map(|t| {
                let mut needs: Vec<String> = t.needs().into_iter().map(str::to_string).collect();
                let source = match t.benchmark {
                    Some((title, path)) => {
                        needs.insert(0, format!("--datasets DIR with {path}"));
                        title.to_string()
                    }
                    None => "built in".to_string(),
                };
                let source = if needs.is_empty() {
                    source
                } else {
                    format!("{source}; needs {}", needs.join(", "))
                };
                vec![format!("    suite:{}/{}", suite.name, t.name), source]
            })
            .collect();
        out.push_str(&aligned(&rows));
        out.push('\n');
    }
    out.push_str("run one with: vigie eval suite:NAME [--model MODEL] [--datasets DIR]\n");
    print!("{out}");
    Ok(Outcome::Success)
}

/// `vigie datasets check DIR`: load every benchmark file and compare its
/// count with its provenance note.
pub(crate) fn check_datasets(dir: PathBuf) -> Result<Outcome> {
    if !dir.is_dir() {
        anyhow::bail!(UsageError(format!("{}: no such folder", dir.display())));
    }
    let checks = vigie_suites::benchmarks::check(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    if checks.is_empty() {
        anyhow::bail!(UsageError(format!(
            "{}: no benchmark folders with data files in it",
            dir.display()
        )));
    }
    let mut rows = vec![["file", "loader", "provenance", "loaded", "check"]
        .map(String::from)
        .to_vec()];
    let mut problems = Vec::new();
    for c in &checks {
        let show = |r: &Result<usize, String>| r.as_ref().map_or("-".to_string(), usize::to_string);
        rows.push(vec![
            c.path.clone(),
            c.loader.unwrap_or("-").to_string(),
            show(&c.expected),
            show(&c.loaded),
            if c.ok() { "ok" } else { "FAIL" }.into(),
        ]);
        if !c.ok() {
            let why = match (&c.expected, &c.loaded) {
                (Err(e), _) | (_, Err(e)) => e.clone(),
                (Ok(e), Ok(l)) => format!("PROVENANCE.md says {e} rows, the loader read {l}"),
            };
            problems.push(format!("{}: {why}", c.path));
        }
    }
    print!("{}", aligned(&rows));
    for note in checks.iter().flat_map(|c| &c.notes) {
        println!("note: {note}");
    }
    if problems.is_empty() {
        println!("{} files, every count matches its provenance", checks.len());
        Ok(Outcome::Success)
    } else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        Ok(Outcome::Failed)
    }
}

/// Wraps text at `width` columns, each line indented.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}
