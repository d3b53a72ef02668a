//! Datasets: JSONL, CSV and JSON files turned into [`Sample`]s through the
//! task's field mapping. Rows are checked as they are read; a bad row is
//! reported with its line (its element, for JSON arrays).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::task::TaskError;

/// One evaluation item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unique within the dataset.
    pub id: String,
    /// The prompt text.
    pub input: String,
    /// Expected answers; for multiple choice, letters (`A`, `B`, ...).
    pub target: Vec<String>,
    /// Options of a multiple-choice item, in dataset order.
    pub choices: Vec<String>,
    /// Other fields, for templates and per-category results.
    pub metadata: Map<String, Value>,
}

/// The file formats a dataset can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one row per sample.
    Csv,
    /// One JSON array of objects.
    Json,
}

impl DatasetFormat {
    /// The format a file name's extension implies.
    pub fn from_path(path: &str) -> Option<DatasetFormat> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(DatasetFormat::Jsonl)
        } else if lower.ends_with(".csv") {
            Some(DatasetFormat::Csv)
        } else if lower.ends_with(".json") {
            Some(DatasetFormat::Json)
        } else {
            None
        }
    }
}

/// Where the choices of a multiple-choice item are: one field holding a list,
/// or several fields holding one option each.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ChoicesField {
    /// A field whose value is a list.
    List(String),
    /// One field per option, in order.
    Columns(Vec<String>),
}

/// Which dataset fields fill which parts of a sample.
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// The id field; without it, ids are row numbers from 1.
    pub id: Option<String>,
    /// The input field.
    pub input: String,
    /// The target field.
    pub target: Option<String>,
    /// The choices.
    pub choices: Option<ChoicesField>,
    /// Fields kept as metadata; without it, every field not mapped above.
    pub metadata: Option<Vec<String>>,
}

/// Why a dataset could not be read.
#[derive(Debug)]
pub enum DatasetError {
    /// The first row lacks a mapped field: the mapping is wrong.
    MissingColumn {
        /// The mapping (`input`, `target`, ...).
        field: &'static str,
        /// The field it names.
        column: String,
    },
    /// A row, or the file, is bad.
    Task(TaskError),
}

impl From<TaskError> for DatasetError {
    fn from(e: TaskError) -> Self {
        DatasetError::Task(e)
    }
}

/// Parses a dataset's bytes into samples.
pub fn parse(
    file: &str,
    bytes: &[u8],
    format: DatasetFormat,
    fields: &FieldMap,
) -> Result<Vec<Sample>, DatasetError> {
    let text = decode(file, bytes)?;
    let rows = match format {
        DatasetFormat::Jsonl => jsonl_rows(file, text)?,
        DatasetFormat::Csv => csv_rows(file, text)?,
        DatasetFormat::Json => json_rows(file, text)?,
    };
    let mut samples = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashMap::new();
    for (n, (line, row)) in rows.iter().enumerate() {
        let sample = to_sample(file, n, *line, row, fields)?;
        if let Some(first) = seen.insert(sample.id.clone(), *line) {
            return Err(TaskError::at_line(
                file,
                *line,
                format!(
                    "duplicate sample id `{}` (first at line {first})",
                    sample.id
                ),
            )
            .into());
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// A dataset file's bytes as text: UTF-8 (the line of the first bad byte
/// otherwise), without a leading byte-order mark, which spreadsheet exports
/// add and which is not part of the first field's name.
pub(crate) fn decode<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, TaskError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        TaskError::at_line(file, line, "the file is not UTF-8 text")
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// A metadata value as text, for grouping, filtering and pairing samples:
/// a string as it is, anything else as its JSON.
pub(crate) use vigie_log::results::value_text;

pub(crate) type Row = (usize, Map<String, Value>);

fn jsonl_rows(file: &str, text: &str) -> Result<Vec<Row>, TaskError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => rows.push((i + 1, map)),
            Ok(_) => {
                return Err(TaskError::at_line(
                    file,
                    i + 1,
                    "each line must be a JSON object",
                ))
            }
            Err(e) => {
                return Err(TaskError::at_line(
                    file,
                    i + 1,
                    format!("not valid JSON: {e}"),
                ))
            }
        }
    }
    Ok(rows)
}

pub(crate) fn csv_rows(file: &str, text: &str) -> Result<Vec<Row>, TaskError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| TaskError::at_line(file, 1, format!("bad CSV header: {e}")))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            TaskError::at_line(file, line, format!("bad CSV row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let map = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push((line, map));
    }
    Ok(rows)
}

pub(crate) fn json_rows(file: &str, text: &str) -> Result<Vec<Row>, TaskError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| TaskError::at_line(file, e.line(), format!("not valid JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(TaskError::at_line(
            file,
            1,
            "a JSON dataset must be an array of objects",
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            // JSON arrays have no line per row; the element number stands in.
            Value::Object(map) => Ok((i + 1, map)),
            _ => Err(TaskError::at_line(
                file,
                1,
                format!("element {} of the array is not an object", i + 1),
            )),
        })
        .collect()
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn to_sample(
    file: &str,
    n: usize,
    line: usize,
    row: &Map<String, Value>,
    fields: &FieldMap,
) -> Result<Sample, DatasetError> {
    let first = n == 0;
    let get = |field: &'static str, column: &str| -> Result<&Value, DatasetError> {
        row.get(column).ok_or_else(|| {
            if first {
                DatasetError::MissingColumn {
                    field,
                    column: column.to_string(),
                }
            } else {
                TaskError::at_line(
                    file,
                    line,
                    format!("no field `{column}` (mapped by `dataset.{field}`)"),
                )
                .into()
            }
        })
    };
    let bad = |message: String| -> DatasetError { TaskError::at_line(file, line, message).into() };

    let id = match &fields.id {
        Some(column) => scalar_text(get("id", column)?).ok_or_else(|| {
            bad(format!(
                "field `{column}` (the id) must be a string or a number"
            ))
        })?,
        None => (n + 1).to_string(),
    };
    let input_column = &fields.input;
    let input = scalar_text(get("input", input_column)?).ok_or_else(|| {
        bad(format!(
            "field `{input_column}` (the input) must be a string"
        ))
    })?;

    let choices = match &fields.choices {
        None => Vec::new(),
        Some(ChoicesField::List(column)) => match get("choices", column)? {
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    scalar_text(v).ok_or_else(|| {
                        bad(format!("field `{column}`: every choice must be a string"))
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(bad(format!(
                    "field `{column}` (the choices) must be a list"
                )))
            }
        },
        Some(ChoicesField::Columns(columns)) => columns
            .iter()
            .map(|c| {
                get("choices", c).and_then(|v| {
                    scalar_text(v)
                        .ok_or_else(|| bad(format!("field `{c}` (a choice) must be a string")))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    if choices.len() > 26 {
        return Err(bad(format!(
            "{} choices; at most 26 (A to Z) are supported",
            choices.len()
        )));
    }

    let target = match &fields.target {
        None => Vec::new(),
        Some(column) => {
            let value = get("target", column)?;
            let raw: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            raw.into_iter()
                .map(|v| {
                    if choices.is_empty() {
                        scalar_text(v).ok_or_else(|| bad(format!("field `{column}` (the target) must be a string, a number or a list of them")))
                    } else {
                        choice_letter(v, &choices).ok_or_else(|| {
                            bad(format!("field `{column}`: target {v} is neither a letter, an index nor the text of one of the {} choices", choices.len()))
                        })
                    }
                })
                .collect::<Result<_, _>>()?
        }
    };

    let mut mapped: Vec<&str> = vec![input_column.as_str()];
    mapped.extend(fields.id.as_deref());
    mapped.extend(fields.target.as_deref());
    match &fields.choices {
        Some(ChoicesField::List(c)) => mapped.push(c),
        Some(ChoicesField::Columns(cs)) => mapped.extend(cs.iter().map(String::as_str)),
        None => {}
    }
    let metadata = match &fields.metadata {
        Some(columns) => columns
            .iter()
            .map(|c| get("metadata", c).map(|v| (c.clone(), v.clone())))
            .collect::<Result<Map<_, _>, _>>()?,
        None => row
            .iter()
            .filter(|(k, _)| !mapped.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    Ok(Sample {
        id,
        input,
        target,
        choices,
        metadata,
    })
}

/// The letter of the choice a target names: an index (a JSON number or a
/// string of digits), a letter, or the choice's own text.
fn choice_letter(value: &Value, choices: &[String]) -> Option<String> {
    let letter = |i: usize| (i < choices.len()).then(|| char::from(b'A' + i as u8).to_string());
    match value {
        Value::Number(n) => n.as_u64().and_then(|i| letter(i as usize)),
        Value::String(s) => {
            let s = s.trim();
            if s.len() == 1 && s.as_bytes()[0].is_ascii_uppercase() {
                return letter((s.as_bytes()[0] - b'A') as usize);
            }
            if let Some(i) = choices.iter().position(|c| c.trim() == s) {
                return letter(i);
            }
            s.parse::<usize>().ok().and_then(letter)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> FieldMap {
        FieldMap {
            id: Some("id".into()),
            input: "question".into(),
            target: Some("answer".into()),
            choices: None,
            metadata: None,
        }
    }

    #[test]
    fn jsonl_rows_map_to_samples_with_the_rest_as_metadata() {
        let text = b"{\"id\": \"s1\", \"question\": \"What is 2+2?\", \"answer\": 4, \"topic\": \"sums\"}\n\n{\"id\": 2, \"question\": \"1+1?\", \"answer\": \"2\"}\n";
        let samples = parse("d.jsonl", text, DatasetFormat::Jsonl, &fields()).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].id, "s1");
        assert_eq!(samples[0].target, vec!["4"]);
        assert_eq!(
            samples[0].metadata.get("topic"),
            Some(&Value::String("sums".into()))
        );
        assert_eq!(samples[1].id, "2");
    }

    #[test]
    fn a_bad_line_is_named() {
        let text = b"{\"id\": \"s1\", \"question\": \"q\", \"answer\": \"a\"}\n{\"id\": \"s2\", \"question\": \"q\"\n";
        let Err(DatasetError::Task(e)) = parse("d.jsonl", text, DatasetFormat::Jsonl, &fields())
        else {
            panic!("expected an error")
        };
        assert!(
            e.to_string().starts_with("d.jsonl:2:1: not valid JSON"),
            "{e}"
        );
        let text = b"{\"id\": \"s1\", \"question\": \"q\", \"answer\": \"a\"}\n{\"id\": \"s1\", \"question\": \"q\", \"answer\": \"b\"}\n";
        let Err(DatasetError::Task(e)) = parse("d.jsonl", text, DatasetFormat::Jsonl, &fields())
        else {
            panic!("expected an error")
        };
        assert!(
            e.to_string()
                .contains("d.jsonl:2:1: duplicate sample id `s1` (first at line 1)"),
            "{e}"
        );
        let text = b"{\"id\": \"s1\", \"question\": \"q\", \"answer\": \"a\"}\n{\"id\": \"s2\", \"answer\": \"b\"}\n";
        let Err(DatasetError::Task(e)) = parse("d.jsonl", text, DatasetFormat::Jsonl, &fields())
        else {
            panic!("expected an error")
        };
        assert!(
            e.to_string()
                .contains("d.jsonl:2:1: no field `question` (mapped by `dataset.input`)"),
            "{e}"
        );
    }

    #[test]
    fn a_mapping_the_first_row_lacks_is_the_task_files_mistake() {
        let text = b"{\"id\": \"s1\", \"q\": \"x\", \"answer\": \"a\"}\n";
        let result = parse("d.jsonl", text, DatasetFormat::Jsonl, &fields());
        assert!(matches!(
            result,
            Err(DatasetError::MissingColumn { field: "input", .. })
        ));
    }

    #[test]
    fn csv_choices_from_columns_and_targets_as_letters_indices_or_text() {
        let text = "question,a,b,c,answer\nSky colour?,red,blue,green,B\nGrass?,red,blue,green,2\nBlood?,red,blue,green,red\n";
        let fields = FieldMap {
            id: None,
            input: "question".into(),
            target: Some("answer".into()),
            choices: Some(ChoicesField::Columns(vec![
                "a".into(),
                "b".into(),
                "c".into(),
            ])),
            metadata: None,
        };
        let samples = parse("d.csv", text.as_bytes(), DatasetFormat::Csv, &fields).unwrap();
        let targets: Vec<_> = samples.iter().map(|s| s.target[0].as_str()).collect();
        assert_eq!(targets, ["B", "C", "A"]);
        assert_eq!(samples[0].choices, ["red", "blue", "green"]);
        assert_eq!(samples[2].id, "3");
        assert!(samples[0].metadata.is_empty());
    }

    #[test]
    fn json_arrays_with_list_choices_and_index_targets() {
        let text = br#"[{"question": "Q1", "choices": ["x", "y"], "answer": 1}, {"question": "Q2", "choices": ["x", "y"], "answer": 5}]"#;
        let fields = FieldMap {
            id: None,
            input: "question".into(),
            target: Some("answer".into()),
            choices: Some(ChoicesField::List("choices".into())),
            metadata: None,
        };
        let Err(DatasetError::Task(e)) = parse("d.json", text, DatasetFormat::Json, &fields) else {
            panic!("expected an error")
        };
        assert!(
            e.to_string().contains(
                "target 5 is neither a letter, an index nor the text of one of the 2 choices"
            ),
            "{e}"
        );
        let text = br#"[{"question": "Q1", "choices": ["x", "y"], "answer": 1}]"#;
        let samples = parse("d.json", text, DatasetFormat::Json, &fields).unwrap();
        assert_eq!(samples[0].target, ["B"]);
    }
}
