//! Prompt-response pairs that did not come from a vigie run (another tool's
//! outputs, a human labelling set), labelled by any scorer or judge through
//! the engine's bounded runner, written back with each scorer's label, score
//! and explanation added, and compared with reference labels.
//!
//! A pairs file is JSON Lines or CSV; each pair has `prompt` and `response`
//! text (an `id`, a `target` and any other field are kept as they are).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use vigie_core::ModelApi;
use vigie_log::Score;

use crate::agreement::Agreement;
use crate::refusal::RefusalLabel;
use crate::scorer::{strongreject_refusal, ScoreInput, Scorer};
use crate::template::Templates;

/// A pairs file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A pair, or the file, is not what a pairs file holds.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The output exists already: nothing is overwritten.
    #[error("{0} exists; choose another --out")]
    Exists(String),
}

/// One pair as read: every field it had.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The line it starts on.
    pub line: usize,
    /// Its fields (CSV values are text).
    pub fields: Map<String, Value>,
}

/// A pair with what each scorer made of it, in the scorers' order.
#[derive(Debug, Clone)]
pub struct ScoredPair {
    /// The pair as read.
    pub pair: Pair,
    /// Per scorer: its name, and its score or why it could not decide.
    pub scores: Vec<(String, Result<Score, String>)>,
}

/// Whether `path` names a pairs file (`.jsonl`, `.ndjson`, `.csv`) rather than a log.
pub fn is_pairs_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "csv" | "ndjson")
    )
}

/// Where scored pairs go by default: beside the input, `-scored` added.
pub fn default_output(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "pairs".into(), |s| s.to_string_lossy().into_owned());
    let csv = input.extension().is_some_and(|e| e == "csv");
    input.with_file_name(format!(
        "{stem}-scored.{}",
        if csv { "csv" } else { "jsonl" }
    ))
}

/// Reads a pairs file; errors name the file, the line and the field.
pub fn read(path: &Path) -> Result<Vec<Pair>, PairsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PairsError::Io {
        path: file.clone(),
        source,
    })?;
    let pairs = if path.extension().is_some_and(|e| e == "csv") {
        read_csv(&file, &text)?
    } else {
        read_jsonl(&file, &text)?
    };
    for pair in &pairs {
        for key in ["prompt", "response"] {
            let message = match pair.fields.get(key) {
                Some(Value::String(_)) => continue,
                Some(_) => format!("field `{key}` must be text"),
                None => format!("no field `{key}`; each pair needs `id`, `prompt` and `response`"),
            };
            return Err(PairsError::Invalid {
                file,
                line: pair.line,
                message,
            });
        }
    }
    Ok(pairs)
}

fn read_jsonl(file: &str, text: &str) -> Result<Vec<Pair>, PairsError> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |message: String| PairsError::Invalid {
            file: file.to_string(),
            line: i + 1,
            message,
        };
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(fields)) => pairs.push(Pair {
                line: i + 1,
                fields,
            }),
            Ok(_) => return Err(invalid("each line must be a JSON object".into())),
            Err(e) => return Err(invalid(format!("not valid JSON: {e}"))),
        }
    }
    Ok(pairs)
}

fn read_csv(file: &str, text: &str) -> Result<Vec<Pair>, PairsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let invalid = |line: usize, message: String| PairsError::Invalid {
        file: file.to_string(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| invalid(1, format!("bad CSV header: {e}")))?
        .clone();
    let mut pairs = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            invalid(line, format!("bad CSV row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let fields = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        pairs.push(Pair { line, fields });
    }
    Ok(pairs)
}

/// Checks that every pair has a text field `field` to compare labels with.
pub fn check_reference(file: &Path, pairs: &[Pair], field: &str) -> Result<(), PairsError> {
    match pairs
        .iter()
        .find(|p| !p.fields.get(field).is_some_and(Value::is_string))
    {
        Some(pair) => Err(PairsError::Invalid {
            file: file.display().to_string(),
            line: pair.line,
            message: format!("--against {field}: the pair has no text field `{field}`"),
        }),
        None => Ok(()),
    }
}

/// Scores every pair with every scorer, at most `max_in_flight` pairs at a
/// time, through the engine's runner; the pairs come back in input order.
pub async fn score(
    pairs: Vec<Pair>,
    scorers: Vec<Scorer>,
    templates: Templates,
    judge: Option<Arc<dyn ModelApi>>,
    max_in_flight: usize,
) -> Vec<ScoredPair> {
    let (scorers, templates) = (Arc::new(scorers), Arc::new(templates));
    let total = pairs.len();
    let jobs: Vec<(usize, Pair)> = pairs.into_iter().enumerate().collect();
    let start = move |(position, pair): (usize, Pair)| {
        let (scorers, templates, judge) = (scorers.clone(), templates.clone(), judge.clone());
        async move {
            (
                position,
                score_pair(pair, &scorers, &templates, judge.as_deref()).await,
            )
        }
    };
    let mut outputs = crate::engine::in_flight(jobs, max_in_flight, start);
    let mut scored: Vec<Option<ScoredPair>> = (0..total).map(|_| None).collect();
    while let Some(output) = outputs.recv().await {
        // Scoring a pair has no panicking path; a panic would be a bug worth stopping for.
        let (position, pair) =
            output.unwrap_or_else(|panic| panic!("scoring a pair panicked: {panic}"));
        scored[position] = Some(pair);
    }
    scored
        .into_iter()
        .map(|p| p.expect("every pair was scored"))
        .collect()
}

async fn score_pair(
    pair: Pair,
    scorers: &[Scorer],
    templates: &Templates,
    judge: Option<&dyn ModelApi>,
) -> ScoredPair {
    let text = |key: &str| {
        pair.fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (prompt, response) = (text("prompt"), text("response"));
    let target: Vec<String> = match pair.fields.get("target") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let mut scores = Vec::with_capacity(scorers.len());
    for scorer in scorers {
        let input = ScoreInput::reply(&prompt, &response, &target, &pair.fields);
        let result = scorer
            .score(input, judge, templates)
            .await
            .map_err(|e| format!("scorer `{}`: {e}", scorer.name));
        scores.push((scorer.name.clone(), result));
    }
    ScoredPair { pair, scores }
}

/// The label a score gives a pair: the answer the scorer read (a refusal
/// label, a judge's grade), else its value.
fn label(score: &Score) -> Value {
    score
        .answer
        .clone()
        .map_or_else(|| Value::from(score.value), Value::String)
}

/// The pair's fields with the scorers' results added: the first scorer's as
/// `label`, `score`, `explanation` (or `error`), the others' with `_<name>`
/// appended to each key.
pub fn output_fields(scored: &ScoredPair) -> Map<String, Value> {
    let mut fields = scored.pair.fields.clone();
    for (i, (name, result)) in scored.scores.iter().enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            format!("_{name}")
        };
        match result {
            Ok(score) => {
                fields.insert(format!("label{suffix}"), label(score));
                fields.insert(format!("score{suffix}"), Value::from(score.value));
                if let Some(explanation) = &score.explanation {
                    fields.insert(
                        format!("explanation{suffix}"),
                        Value::String(explanation.clone()),
                    );
                }
            }
            Err(message) => {
                fields.insert(format!("label{suffix}"), Value::Null);
                fields.insert(format!("error{suffix}"), Value::String(message.clone()));
            }
        }
    }
    fields
}

/// Writes scored pairs as JSON Lines, or as CSV when `out` ends in `.csv`;
/// an existing file is never overwritten.
pub fn write(out: &Path, scored: &[ScoredPair]) -> Result<(), PairsError> {
    let shown = out.display().to_string();
    if out.exists() {
        return Err(PairsError::Exists(shown));
    }
    let io = |source| PairsError::Io {
        path: shown.clone(),
        source,
    };
    let rows: Vec<Map<String, Value>> = scored.iter().map(output_fields).collect();
    if out.extension().is_some_and(|e| e == "csv") {
        let mut columns: Vec<String> = Vec::new();
        for row in &rows {
            for key in row.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
        let csv_io = |e: csv::Error| io(std::io::Error::other(e));
        let mut writer = csv::Writer::from_path(out).map_err(csv_io)?;
        writer.write_record(&columns).map_err(csv_io)?;
        for row in &rows {
            writer
                .write_record(columns.iter().map(|c| match row.get(c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                }))
                .map_err(csv_io)?;
        }
        writer.flush().map_err(io)?;
    } else {
        let mut text = String::new();
        for row in &rows {
            text.push_str(&serde_json::to_string(row).expect("JSON values serialize"));
            text.push('\n');
        }
        std::fs::write(out, text).map_err(io)?;
    }
    Ok(())
}

/// How many pairs each label got from the first scorer, and how many scores
/// could not be decided (any scorer).
pub fn tally(scored: &[ScoredPair]) -> (BTreeMap<String, usize>, usize) {
    let mut labels = BTreeMap::new();
    let mut undecided = 0;
    for pair in scored {
        if let Some((_, Ok(score))) = pair.scores.first() {
            if let Value::String(label) = label(score) {
                *labels.entry(label).or_default() += 1;
            }
        }
        undecided += pair.scores.iter().filter(|(_, r)| r.is_err()).count();
    }
    (labels, undecided)
}

/// One scorer's agreement with the reference labels.
#[derive(Debug, Clone)]
pub struct ScorerAgreement {
    /// The scorer.
    pub scorer: String,
    /// Pairs without a label from this scorer (it could not decide).
    pub without_label: usize,
    /// Whether its verdicts were compared by their `refused` sub-score (a
    /// StrongREJECT judge against refusal labels).
    pub by_refused: bool,
    /// Agreement over every label; `None` when no pair has one to compare.
    pub all: Option<Agreement>,
    /// For refusal labels, agreement on refused (fully or partly) or not.
    pub refused_or_not: Option<Agreement>,
}

/// Each scorer's agreement with the reference labels in `field`. A
/// StrongREJECT judge is compared with refusal labels by its `refused`
/// sub-score (refusal or compliance).
pub fn agreement(field: &str, scored: &[ScoredPair]) -> Vec<ScorerAgreement> {
    let refusal_labels = [
        RefusalLabel::Refusal,
        RefusalLabel::PartialRefusal,
        RefusalLabel::Compliance,
    ]
    .map(RefusalLabel::as_str);
    let n_scorers = scored.first().map_or(0, |p| p.scores.len());
    (0..n_scorers)
        .map(|i| {
            let scorer = scored[0].scores[i].0.clone();
            let decided: Vec<(&str, &Score)> = scored
                .iter()
                .filter_map(|p| {
                    let reference = p.pair.fields.get(field)?.as_str()?;
                    let score = p.scores[i].1.as_ref().ok()?;
                    label(score).is_string().then_some((reference, score))
                })
                .collect();
            let by_refused = !decided.is_empty()
                && decided
                    .iter()
                    .all(|(r, s)| refusal_labels.contains(r) && strongreject_refusal(s).is_some());
            let labelled: Vec<(String, String)> = decided
                .iter()
                .map(|(reference, score)| {
                    let judged = match strongreject_refusal(score).filter(|_| by_refused) {
                        Some(refusal) => refusal.as_str().to_string(),
                        None => label(score).as_str().unwrap_or_default().to_string(),
                    };
                    (reference.to_string(), judged)
                })
                .collect();
            let all = (!labelled.is_empty()).then(|| {
                Agreement::compute(labelled.iter().map(|(r, j)| (r.as_str(), j.as_str())))
            });
            let refused_or_not = (!labelled.is_empty()
                && labelled.iter().all(|(r, j)| {
                    refusal_labels.contains(&r.as_str()) && refusal_labels.contains(&j.as_str())
                }))
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
            ScorerAgreement {
                scorer,
                without_label: scored.len() - labelled.len(),
                by_refused,
                all,
                refused_or_not,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn bad_pairs_are_named_by_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "p.jsonl", "{\"id\":\"1\",\"prompt\":\"a\",\"response\":\"b\"}\n\n{\"id\":\"2\",\"prompt\":\"a\"}\n");
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "p.jsonl:3: no field `response`; each pair needs `id`, `prompt` and `response`"
            ),
            "{err}"
        );
        let path = write_file(dir.path(), "q.jsonl", "[1]\n");
        assert!(read(&path)
            .unwrap_err()
            .to_string()
            .ends_with("q.jsonl:1: each line must be a JSON object"));
        let path = write_file(dir.path(), "r.csv", "id,prompt,response\n1,a,b\n2,\"c\n");
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("r.csv:") && err.contains("bad CSV row"),
            "{err}"
        );
        let pairs = read(&write_file(
            dir.path(),
            "s.csv",
            "\u{feff}id,prompt,response,human\n1,a,b,refusal\n",
        ))
        .unwrap();
        assert_eq!(
            (pairs[0].line, pairs[0].fields["human"].as_str()),
            (2, Some("refusal"))
        );
        assert!(check_reference(&dir.path().join("s.csv"), &pairs, "label")
            .unwrap_err()
            .to_string()
            .contains("s.csv:2: --against label"));
    }

    #[test]
    fn pairs_are_scored_in_order_and_written_with_labels_never_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let input = write_file(
            dir.path(),
            "p.jsonl",
            &(0..40)
                .map(|i| {
                    let response = if i % 2 == 0 { "I can't help with that." } else { "Sure, here are the steps." };
                    format!("{}\n", serde_json::json!({"id": i.to_string(), "prompt": "Do a thing", "response": response, "human": if i % 2 == 0 { "refusal" } else { "compliance" }}))
                })
                .collect::<String>(),
        );
        let pairs = read(&input).unwrap();
        let (scorers, templates) =
            Scorer::from_cli_list(&["refusal".into(), "includes".into()]).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let scored = runtime.block_on(score(pairs, scorers, templates, None, 7));
        let ids: Vec<&str> = scored
            .iter()
            .map(|p| p.pair.fields["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            (0..40)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        // `includes` needs a target, which the pairs lack: an error, never a guess.
        assert!(scored[0].scores[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("needs a target"));
        assert_eq!(
            tally(&scored),
            (
                [("compliance".to_string(), 20), ("refusal".to_string(), 20)]
                    .into_iter()
                    .collect(),
                40
            )
        );
        let out = default_output(&input);
        write(&out, &scored).unwrap();
        let first: Value = serde_json::from_str(
            std::fs::read_to_string(&out)
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (first["label"].as_str(), first["score"].as_f64()),
            (Some("refusal"), Some(1.0))
        );
        assert!(first["error_includes"]
            .as_str()
            .unwrap()
            .starts_with("scorer `includes`"));
        assert!(matches!(write(&out, &scored), Err(PairsError::Exists(_))));
        let agreement = agreement("human", &scored);
        let refusal = &agreement[0];
        assert_eq!(
            (
                refusal.scorer.as_str(),
                refusal.without_label,
                refusal.by_refused
            ),
            ("refusal", 0, false)
        );
        assert_eq!(refusal.all.as_ref().unwrap().accuracy, 1.0);
        assert_eq!(refusal.refused_or_not.as_ref().unwrap().accuracy, 1.0);
        assert!(agreement[1].all.is_none() && agreement[1].without_label == 40);
    }

    #[test]
    fn strongreject_verdicts_are_compared_with_refusal_labels_by_their_refused_sub_score() {
        let pair = |human: &str| Pair {
            line: 1,
            fields: [("human".to_string(), Value::String(human.into()))]
                .into_iter()
                .collect(),
        };
        let verdict = |text: &str| crate::scorer::strongreject(text).unwrap();
        let scored = vec![
            ScoredPair {
                pair: pair("refusal"),
                scores: vec![(
                    "sr".into(),
                    Ok(verdict("#refused: 1\n#convincing: 1\n#specific: 1")),
                )],
            },
            ScoredPair {
                pair: pair("compliance"),
                scores: vec![(
                    "sr".into(),
                    Ok(verdict("#refused: 0\n#convincing: 5\n#specific: 4")),
                )],
            },
            ScoredPair {
                pair: pair("partial_refusal"),
                scores: vec![(
                    "sr".into(),
                    Ok(verdict("#refused: 0\n#convincing: 2\n#specific: 2")),
                )],
            },
            ScoredPair {
                pair: pair("refusal"),
                scores: vec![("sr".into(), Err("no verdict".into()))],
            },
        ];
        // The written label stays the readable verdict.
        assert_eq!(
            output_fields(&scored[0])["label"],
            "refused=1 convincing=1 specific=1"
        );
        let a = &agreement("human", &scored)[0];
        assert!(a.by_refused);
        assert_eq!(a.without_label, 1);
        let all = a.all.as_ref().unwrap();
        assert_eq!((all.n, all.accuracy), (3, 2.0 / 3.0));
        assert_eq!(a.refused_or_not.as_ref().unwrap().accuracy, 2.0 / 3.0);
        assert_eq!(label(&Score::of(0.25)), Value::from(0.25));
    }
}
