//! `vigie score PAIRS.jsonl|PAIRS.csv --scorer ...`: label prompt-response
//! pairs that did not come from a vigie run (another tool's outputs, a human
//! labelling set) with any scorer or judge, and write each pair back with its
//! label, score and explanation added.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use vigie_core::ModelApi;
use vigie_eval::scorer::{ScoreInput, Scorer};
use vigie_eval::Templates;

use crate::{Outcome, UsageError};

/// One pair as read: every field it had.
struct Pair {
    fields: Map<String, Value>,
}

/// Whether `path` names a pairs file rather than a log.
pub(crate) fn is_pairs_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "csv" | "ndjson")
    )
}

pub(crate) fn run(
    input: &Path,
    out: Option<&Path>,
    scorers: Vec<(Scorer, Templates)>,
    judge: Option<Arc<dyn ModelApi>>,
    max_in_flight: usize,
    against: Option<&str>,
) -> Result<Outcome> {
    let started = Instant::now();
    let file = input.display().to_string();
    let text = std::fs::read_to_string(input).with_context(|| format!("cannot read {file}"))?;
    let csv_in = input.extension().is_some_and(|e| e == "csv");
    let pairs = if csv_in {
        read_csv(&file, &text)?
    } else {
        read_jsonl(&file, &text)?
    };
    if let Some(field) = against {
        if let Some(missing) = pairs
            .iter()
            .position(|p| !p.fields.get(field).is_some_and(Value::is_string))
        {
            bail!(UsageError(format!(
                "--against {field}: pair {} of {file} has no text field `{field}`",
                missing + 1
            )));
        }
    }
    let names: Vec<String> = scorers.iter().map(|(s, _)| s.name.clone()).collect();
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| {
        let stem = input
            .file_stem()
            .map_or_else(|| "pairs".into(), |s| s.to_string_lossy().into_owned());
        input.with_file_name(format!(
            "{stem}-scored.{}",
            if csv_in { "csv" } else { "jsonl" }
        ))
    });
    if out.exists() {
        bail!(UsageError(format!(
            "{} exists; choose another --out",
            out.display()
        )));
    }

    let scorers = Arc::new(scorers);
    let scored: Vec<Map<String, Value>> =
        crate::cmd_score::in_order(pairs, max_in_flight, move |pair| {
            let (scorers, judge) = (scorers.clone(), judge.clone());
            async move { score_pair(pair, &scorers, judge.as_deref()).await }
        })?;

    if out.extension().is_some_and(|e| e == "csv") {
        write_csv(&out, &scored)?;
    } else {
        let mut text = String::new();
        for fields in &scored {
            text.push_str(&serde_json::to_string(fields)?);
            text.push('\n');
        }
        std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    }

    // A tally of the first scorer's labels, and the errors of all.
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = 0;
    for fields in &scored {
        if let Some(Value::String(label)) = fields.get("label") {
            *labels.entry(label.clone()).or_default() += 1;
        }
        errors += fields.keys().filter(|k| k.starts_with("error")).count();
    }
    let tally: Vec<String> = labels
        .iter()
        .map(|(label, n)| format!("{label} {n}"))
        .collect();
    println!(
        "{} pairs scored in {:.2} s: {}",
        scored.len(),
        started.elapsed().as_secs_f64(),
        if tally.is_empty() {
            "no labels".into()
        } else {
            tally.join(", ")
        }
    );
    println!("wrote {}", out.display());
    if let Some(field) = against {
        print!("{}", agreement_report(field, &names, &scored));
    }
    if errors > 0 {
        eprintln!("error: {errors} scores could not be decided (see the `error` fields); they are left without a label, never guessed");
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

/// Each scorer's agreement with the reference labels in `field`, as text.
fn agreement_report(field: &str, scorers: &[String], scored: &[Map<String, Value>]) -> String {
    use crate::render::aligned;
    use vigie_eval::agreement::Agreement;
    let mut out = String::new();
    for (i, name) in scorers.iter().enumerate() {
        let key = if i == 0 {
            "label".to_string()
        } else {
            format!("label_{name}")
        };
        let mut labelled: Vec<(&str, &str)> = scored
            .iter()
            .filter_map(|f| Some((f.get(field)?.as_str()?, f.get(&key)?.as_str()?)))
            .collect();
        if labelled.is_empty() {
            out.push_str(&format!("\nscorer `{name}` against `{field}`: no pair has a label to compare ({} without one)\n", scored.len()));
            continue;
        }
        let refusal_labels = ["refusal", "partial_refusal", "compliance"];
        // A StrongREJECT verdict is compared with refusal labels by its `refused` field.
        let refused_view = labelled
            .iter()
            .all(|(r, _)| refusal_labels.contains(r))
            .then(|| {
                labelled
                    .iter()
                    .map(|(r, j)| Some((*r, vigie_eval::scorer::strongreject_refusal(j)?.as_str())))
                    .collect::<Option<Vec<_>>>()
            })
            .flatten();
        let via_refused = refused_view.is_some();
        if let Some(view) = refused_view {
            labelled = view;
        }
        let all = Agreement::compute(labelled.iter().copied());
        // Refusal labels also compare as refused (full or partial) or not.
        let binary = labelled
            .iter()
            .all(|(r, j)| refusal_labels.contains(r) && refusal_labels.contains(j))
            .then(|| {
                let side = |l: &str| {
                    if l == "compliance" {
                        "compliance"
                    } else {
                        "refused"
                    }
                };
                Agreement::compute(labelled.iter().map(|(r, j)| (side(r), side(j))))
            });
        let note = if via_refused {
            ", judged by its `refused` verdict"
        } else {
            ""
        };
        out.push_str(&format!(
            "\nscorer `{name}` against `{field}`: {} pairs ({} without a label{note})\n",
            all.n,
            scored.len() - all.n
        ));
        let mut rows = vec![vec!["".to_string(), "accuracy".into(), "kappa".into()]];
        rows.push(vec![
            format!("{} classes", all.classes.len()),
            format!("{:.3}", all.accuracy),
            format!("{:.3}", all.kappa),
        ]);
        if let Some(b) = &binary {
            rows.push(vec![
                "refused or not".into(),
                format!("{:.3}", b.accuracy),
                format!("{:.3}", b.kappa),
            ]);
        }
        out.push_str(&aligned(&rows));
        let show = |v: f64| {
            if v.is_nan() {
                "-".to_string()
            } else {
                format!("{v:.3}")
            }
        };
        let mut rows = vec![vec![
            "class".to_string(),
            "support".into(),
            "precision".into(),
            "recall".into(),
        ]];
        for (class, c) in &all.classes {
            rows.push(vec![
                class.clone(),
                c.support.to_string(),
                show(c.precision),
                show(c.recall),
            ]);
        }
        out.push_str(&aligned(&rows));
    }
    out
}

async fn score_pair(
    pair: Pair,
    scorers: &[(Scorer, Templates)],
    judge: Option<&dyn ModelApi>,
) -> Map<String, Value> {
    let Pair { mut fields } = pair;
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (prompt, response) = (text("prompt"), text("response"));
    let target: Vec<String> = match fields.get("target") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let metadata = fields.clone();
    let mut added = Vec::new();
    for (i, (scorer, templates)) in scorers.iter().enumerate() {
        // The first scorer's results go in `label`, `score`, `explanation`; others get their name appended.
        let suffix = if i == 0 {
            String::new()
        } else {
            format!("_{}", scorer.name)
        };
        let input = ScoreInput {
            input: &prompt,
            output: &response,
            target: &target,
            choices: &[],
            metadata: &metadata,
        };
        match scorer.score(input, judge, templates).await {
            Ok(score) => {
                let label = score
                    .answer
                    .clone()
                    .map_or_else(|| Value::from(score.value), Value::String);
                added.push((format!("label{suffix}"), label));
                added.push((format!("score{suffix}"), Value::from(score.value)));
                if let Some(explanation) = score.explanation {
                    added.push((format!("explanation{suffix}"), Value::String(explanation)));
                }
            }
            Err(e) => {
                added.push((format!("label{suffix}"), Value::Null));
                added.push((
                    format!("error{suffix}"),
                    Value::String(format!("scorer `{}`: {e}", scorer.name)),
                ));
            }
        }
    }
    for (key, value) in added {
        fields.insert(key, value);
    }
    fields
}

fn check_pair(file: &str, line: usize, fields: &Map<String, Value>) -> Result<()> {
    for key in ["prompt", "response"] {
        match fields.get(key) {
            Some(Value::String(_)) => {}
            Some(_) => bail!(UsageError(format!(
                "{file}:{line}: field `{key}` must be text"
            ))),
            None => bail!(UsageError(format!(
                "{file}:{line}: no field `{key}`; each pair needs `id`, `prompt` and `response`"
            ))),
        }
    }
    Ok(())
}

fn read_jsonl(file: &str, text: &str) -> Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => bail!(UsageError(format!(
                "{file}:{}: each line must be a JSON object",
                i + 1
            ))),
            Err(e) => bail!(UsageError(format!("{file}:{}: not valid JSON: {e}", i + 1))),
        };
        check_pair(file, i + 1, &fields)?;
        pairs.push(Pair { fields });
    }
    Ok(pairs)
}

fn read_csv(file: &str, text: &str) -> Result<Vec<Pair>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| UsageError(format!("{file}:1: bad CSV header: {e}")))?
        .clone();
    let mut pairs = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            UsageError(format!(
                "{file}:{}: bad CSV row: {e}",
                e.position().map_or(0, |p| p.line())
            ))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let fields: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        check_pair(file, line, &fields)?;
        pairs.push(Pair { fields });
    }
    Ok(pairs)
}

fn write_csv(out: &Path, rows: &[Map<String, Value>]) -> Result<()> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut writer =
        csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    writer.write_record(&columns)?;
    for row in rows {
        writer.write_record(columns.iter().map(|c| match row.get(c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }))?;
    }
    writer.flush()?;
    Ok(())
}
