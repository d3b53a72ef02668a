//! The index of one log's samples that the viewer pages, sorts, filters and
//! searches on the server: one compact row per record that counts (the last
//! per sample and epoch), built once per version of the file. A query is
//! plain data parsed from the URL, so a link reproduces the view.

use std::collections::BTreeMap;

use vigie_core::{ContentPart, Role};
use vigie_log::{LogHeader, SampleRecord};

/// One record as the samples table needs it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The sample id.
    pub id: String,
    /// The epoch, from 1.
    pub epoch: u32,
    /// Position in run order.
    pub index: usize,
    /// The failure's kind, when it failed.
    pub error: Option<String>,
    /// The failure's message, shortened.
    pub error_message: Option<String>,
    /// Each header scorer's value, in header order (`None`: not scored).
    pub scores: Vec<Option<f64>>,
    /// The value of the task's `group_by` field.
    pub group: Option<String>,
    /// Metadata fields as text, for filters on any of them.
    pub metadata: BTreeMap<String, String>,
    /// The input, shortened for the table.
    pub input: String,
    /// The output, shortened for the table.
    pub output: String,
    /// Every text of the record, lower-cased, for search.
    text: String,
    /// Wall seconds.
    pub time_s: f64,
    /// Tokens of the evaluated model.
    pub tokens: u64,
}

/// A log's rows and what names their columns.
#[derive(Debug, Clone)]
pub struct SampleIndex {
    /// The scorers, in the header's order.
    pub scorers: Vec<String>,
    /// The task's `group_by` field, if any.
    pub group_by: Option<String>,
    /// The rows, in run order (sample position, then epoch).
    pub rows: Vec<Row>,
}

/// Characters of input and output shown in a table cell.
const CELL_CHARS: usize = 160;

fn short(text: &str) -> String {
    let mut out: String = text.chars().take(CELL_CHARS).collect();
    if text.chars().nth(CELL_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn metadata_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every text the record holds: input, output, and each message part
/// (reasoning, tool calls' names and arguments, tool results).
fn searchable(record: &SampleRecord) -> String {
    let mut text = String::with_capacity(record.input.len() + record.output.len());
    text.push_str(&record.input);
    text.push('\n');
    text.push_str(&record.output);
    for message in &record.messages {
        if message.role == Role::System {
            continue;
        }
        for part in &message.content {
            text.push('\n');
            match part {
                ContentPart::Text { text: t } => text.push_str(t),
                ContentPart::Reasoning(r) => text.push_str(&r.text),
                ContentPart::ToolCall(c) => {
                    text.push_str(&c.name);
                    text.push(' ');
                    text.push_str(&c.arguments.to_string());
                }
                ContentPart::ToolResult(r) => text.push_str(&r.content),
            }
        }
    }
    text.to_lowercase()
}

impl SampleIndex {
    /// The index of `records` (those that count, in run order).
    pub fn build(header: &LogHeader, records: &[SampleRecord]) -> SampleIndex {
        let scorers: Vec<String> = header.scorers.iter().map(|s| s.name.clone()).collect();
        let group_by = header.task.group_by.clone();
        let rows = records
            .iter()
            .map(|r| Row {
                id: r.id.clone(),
                epoch: r.epoch,
                index: r.index,
                error: r.error.as_ref().map(|e| e.kind.as_str().to_string()),
                error_message: r.error.as_ref().map(|e| short(&e.message)),
                scores: scorers
                    .iter()
                    .map(|s| r.scores.get(s).map(|v| v.value))
                    .collect(),
                group: group_by
                    .as_ref()
                    .and_then(|f| r.metadata.get(f))
                    .map(metadata_text),
                metadata: r
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), metadata_text(v)))
                    .collect(),
                input: short(&r.input),
                output: short(&r.output),
                text: searchable(r),
                time_s: r.time_s,
                tokens: r.usage.total_tokens,
            })
            .collect();
        SampleIndex {
            scorers,
            group_by,
            rows,
        }
    }

    /// The rows a query selects, sorted, and the page of them asked for:
    /// (matching row numbers in order, the page's slice of them).
    pub fn select(&self, query: &Query) -> Selection {
        let scorer = |name: &str| self.scorers.iter().position(|s| s == name);
        let needle = query.search.as_deref().map(str::to_lowercase);
        let mut matching: Vec<usize> = (0..self.rows.len())
            .filter(|&i| {
                let row = &self.rows[i];
                let errors = match query.error.as_deref() {
                    None | Some("") | Some("any") => true,
                    Some("none") => row.error.is_none(),
                    Some("only") => row.error.is_some(),
                    Some(kind) => row.error.as_deref() == Some(kind),
                };
                errors
                    && query.epoch.is_none_or(|e| row.epoch == e)
                    && query
                        .group
                        .as_deref()
                        .is_none_or(|g| row.group.as_deref() == Some(g))
                    && query
                        .metadata
                        .iter()
                        .all(|(k, v)| row.metadata.get(k) == Some(v))
                    && query.score.as_ref().is_none_or(|f| {
                        scorer(&f.scorer)
                            .and_then(|s| row.scores[s])
                            .is_some_and(|value| f.holds(value))
                    })
                    && needle.as_deref().is_none_or(|n| row.text.contains(n))
            })
            .collect();
        match query.sort.as_deref() {
            None | Some("") | Some("run") => {}
            Some("id") => matching.sort_by(|&a, &b| self.rows[a].id.cmp(&self.rows[b].id)),
            Some("time") => {
                matching.sort_by(|&a, &b| self.rows[a].time_s.total_cmp(&self.rows[b].time_s))
            }
            Some("tokens") => matching.sort_by_key(|&i| self.rows[i].tokens),
            Some(other) => {
                if let Some(s) = scorer(other) {
                    // Unscored rows last whatever the order.
                    let key = |i: usize| self.rows[i].scores[s].unwrap_or(f64::INFINITY);
                    matching.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
                }
            }
        }
        if query.descending {
            matching.reverse();
        }
        let per = query.per_page.clamp(1, 500);
        let pages = matching.len().div_ceil(per).max(1);
        let page = query.page.clamp(1, pages);
        let shown = matching
            .iter()
            .skip((page - 1) * per)
            .take(per)
            .copied()
            .collect();
        Selection {
            total: matching.len(),
            page,
            pages,
            shown,
            matching,
        }
    }
}

/// What a query selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Rows that match.
    pub total: usize,
    /// The page shown, from 1.
    pub page: usize,
    /// Pages in all.
    pub pages: usize,
    /// Row numbers on the page.
    pub shown: Vec<usize>,
    /// Every matching row number, in order (for previous/next).
    pub matching: Vec<usize>,
}

/// A filter on one scorer's value: `flag<1`, `refused=0`, `unsafe>=0.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreFilter {
    /// The scorer.
    pub scorer: String,
    /// `<`, `<=`, `=`, `>=` or `>`.
    pub op: &'static str,
    /// The value compared with.
    pub value: f64,
}

impl ScoreFilter {
    /// Parses `NAME OP VALUE` (no spaces needed).
    pub fn parse(text: &str) -> Result<ScoreFilter, String> {
        for op in ["<=", ">=", "<", ">", "="] {
            if let Some((name, value)) = text.split_once(op) {
                let value = value.trim().parse::<f64>().map_err(|_| {
                    format!("score filter `{text}`: `{}` is not a number", value.trim())
                })?;
                return Ok(ScoreFilter {
                    scorer: name.trim().to_string(),
                    op,
                    value,
                });
            }
        }
        Err(format!(
            "score filter `{text}`: write SCORER, an operator (<, <=, =, >=, >) and a number, e.g. flag<1"
        ))
    }

    fn holds(&self, value: f64) -> bool {
        match self.op {
            "<" => value < self.value,
            "<=" => value <= self.value,
            ">" => value > self.value,
            ">=" => value >= self.value,
            _ => (value - self.value).abs() < 1e-9,
        }
    }
}

/// A samples query, as the URL holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Text searched for in input, output and the whole transcript (any case).
    pub search: Option<String>,
    /// `any`, `none`, `only`, or an error kind.
    pub error: Option<String>,
    /// One epoch.
    pub epoch: Option<u32>,
    /// One value of the task's `group_by` field.
    pub group: Option<String>,
    /// Metadata fields that must equal these values.
    pub metadata: BTreeMap<String, String>,
    /// A filter on a scorer's value.
    pub score: Option<ScoreFilter>,
    /// `run` (default), `id`, `time`, `tokens`, or a scorer's name.
    pub sort: Option<String>,
    /// Highest first.
    pub descending: bool,
    /// The page, from 1.
    pub page: usize,
    /// Rows per page.
    pub per_page: usize,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            search: None,
            error: None,
            epoch: None,
            group: None,
            metadata: BTreeMap::new(),
            score: None,
            sort: None,
            descending: false,
            page: 1,
            per_page: 50,
        }
    }
}

impl Query {
    /// Reads a query from URL parameters (`q`, `error`, `epoch`, `group`,
    /// `meta.FIELD`, `score`, `sort`, `order=desc`, `page`, `per`); unknown
    /// parameters are left to the page.
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Query, String> {
        let mut query = Query::default();
        let number = |name: &str, text: &str| {
            text.parse::<usize>()
                .map_err(|_| format!("`{name}={text}`: not a whole number"))
        };
        for (key, value) in params {
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "q" => query.search = Some(value.clone()),
                "error" => query.error = Some(value.clone()),
                "epoch" => query.epoch = Some(number(key, value)? as u32),
                "group" => query.group = Some(value.clone()),
                "score" => query.score = Some(ScoreFilter::parse(value)?),
                "sort" => query.sort = Some(value.clone()),
                "order" => query.descending = value == "desc",
                "page" => query.page = number(key, value)?,
                "per" => query.per_page = number(key, value)?,
                other => {
                    if let Some(field) = other.strip_prefix("meta.") {
                        query.metadata.insert(field.to_string(), value.clone());
                    }
                }
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_log::{fixtures, SampleError, SampleErrorKind};

    fn index() -> SampleIndex {
        let mut header = fixtures::header("t", "m", "flag", 6);
        header.task.group_by = Some("category".into());
        let records: Vec<SampleRecord> = (0..6)
            .map(|i| {
                let mut r = fixtures::record(
                    &format!("s{i}"),
                    i,
                    "flag",
                    if i % 2 == 0 { 1.0 } else { 0.0 },
                    &format!("question {i}"),
                    if i == 4 {
                        "the Needle is here"
                    } else {
                        "nothing"
                    },
                );
                r.metadata.insert(
                    "category".into(),
                    serde_json::json!(if i < 3 { "crypto" } else { "web" }),
                );
                r.time_s = (6 - i) as f64;
                if i == 5 {
                    r.scores.clear();
                    r.error = Some(SampleError {
                        kind: SampleErrorKind::Server,
                        message: "down".into(),
                    });
                }
                r
            })
            .collect();
        SampleIndex::build(&header, &records)
    }

    fn ids(index: &SampleIndex, params: &[(&str, &str)]) -> Vec<String> {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = Query::from_params(&params).unwrap();
        let selection = index.select(&query);
        selection
            .shown
            .iter()
            .map(|&i| index.rows[i].id.clone())
            .collect()
    }

    #[test]
    fn filters_combine_and_sorts_order_on_the_server() {
        let index = index();
        assert_eq!(ids(&index, &[]), ["s0", "s1", "s2", "s3", "s4", "s5"]);
        assert_eq!(ids(&index, &[("score", "flag<1")]), ["s1", "s3"]);
        assert_eq!(
            ids(&index, &[("score", "flag=1"), ("group", "web")]),
            ["s4"]
        );
        assert_eq!(ids(&index, &[("error", "only")]), ["s5"]);
        assert_eq!(ids(&index, &[("error", "server")]), ["s5"]);
        assert_eq!(
            ids(&index, &[("error", "none"), ("meta.category", "crypto")]),
            ["s0", "s1", "s2"]
        );
        assert_eq!(
            ids(&index, &[("q", "NEEDLE")]),
            ["s4"],
            "search ignores case"
        );
        assert_eq!(
            ids(&index, &[("q", "question 3")]),
            ["s3"],
            "and reads the input"
        );
        assert_eq!(
            ids(&index, &[("sort", "time")]),
            ["s5", "s4", "s3", "s2", "s1", "s0"]
        );
        // Unscored rows sort last; descending reverses the whole order.
        assert_eq!(
            ids(&index, &[("sort", "flag")]),
            ["s1", "s3", "s0", "s2", "s4", "s5"]
        );
        assert_eq!(ids(&index, &[("sort", "flag"), ("order", "desc")])[0], "s5");
    }

    #[test]
    fn pages_are_cut_on_the_server_and_a_page_past_the_end_shows_the_last() {
        let index = index();
        assert_eq!(ids(&index, &[("per", "4"), ("page", "2")]), ["s4", "s5"]);
        let params = [("per", "4"), ("page", "9")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let selection = index.select(&Query::from_params(&params).unwrap());
        assert_eq!(
            (selection.page, selection.pages, selection.total),
            (2, 2, 6)
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let bad = |k: &str, v: &str| {
            Query::from_params(&[(k.to_string(), v.to_string())].into_iter().collect()).unwrap_err()
        };
        assert!(bad("score", "flag~1").contains("an operator"));
        assert!(bad("score", "flag<one").contains("`one` is not a number"));
        assert!(bad("page", "two").contains("`page=two`"));
    }
}
