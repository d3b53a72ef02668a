//! The index of one log's samples that the viewer pages, sorts, filters and
//! searches on the server: one row per record that counts (the last per
//! sample and epoch), built once per version of the file. Rows are stored
//! as columns (ids in one arena, strings interned, scores as `f32`) so a
//! million fit in well under a hundred MB; texts stay in the log, read back
//! by the frame's offset, except a compressed copy of what search reads
//! (`search`). A query is plain data parsed from the URL, so a link
//! reproduces the view.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use vigie_core::{ContentPart, Role};
use vigie_log::{LogHeader, SampleRecord};

use crate::search::{SearchText, SearchTextBuilder};

/// No value in a column of interned strings.
const NONE: u32 = u32::MAX;

/// One row's identity, as the pages name and link it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row<'a> {
    /// The sample id.
    pub id: &'a str,
    /// The epoch, from 1.
    pub epoch: u32,
    /// Position in run order.
    pub index: u32,
    /// Where the record's frame starts in the log.
    pub offset: u64,
}

/// A log's rows, column by column in run order (sample position, then
/// epoch), and what names their columns.
#[derive(Debug, Default)]
pub struct SampleIndex {
    /// The scorers, in the header's order.
    pub scorers: Vec<String>,
    /// The task's `group_by` field, if any.
    pub group_by: Option<String>,
    ids: String,
    /// Where each row's id ends in `ids`.
    id_ends: Vec<u32>,
    epochs: Vec<u32>,
    positions: Vec<u32>,
    offsets: Vec<u64>,
    /// The failure's kind (interned) or `NONE`.
    errors: Vec<u32>,
    /// Each header scorer's value, `scorers.len()` per row (NaN: not scored).
    scores: Vec<f32>,
    /// The value of the task's `group_by` field (interned) or `NONE`.
    groups: Vec<u32>,
    /// Metadata fields and values as text (both interned), the row's from
    /// the previous row's end to its own in `meta_ends`.
    metadata: Vec<(u32, u32)>,
    meta_ends: Vec<u32>,
    /// Wall seconds.
    times: Vec<f32>,
    /// Tokens of the evaluated model.
    tokens: Vec<u32>,
    strings: Vec<Box<str>>,
    interned: HashMap<Box<str>, u32>,
    /// Each error kind's first message.
    first_errors: BTreeMap<String, String>,
    /// What search reads, when it fitted its budget.
    text: Option<SearchText>,
}

/// What the table shows of a row beyond its numbers, read from the log.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The input, shortened.
    pub input: String,
    /// The output, shortened.
    pub output: String,
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
/// (reasoning, tool calls' names and arguments, tool results), lower-cased.
pub(crate) fn searchable(record: &SampleRecord) -> String {
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

/// The items of `column` (`stride` per row) of the rows `kept`, in order.
fn gather<T: Copy>(column: &[T], stride: usize, kept: &[u32]) -> Vec<T> {
    let mut out = Vec::with_capacity(kept.len() * stride);
    for &n in kept {
        let at = n as usize * stride;
        out.extend_from_slice(&column[at..at + stride]);
    }
    out
}

/// Row `n`'s range in a column of variable-length items ending at `ends`.
fn span(ends: &[u32], n: usize) -> std::ops::Range<usize> {
    let start = if n == 0 { 0 } else { ends[n - 1] as usize };
    start..ends[n] as usize
}

impl SampleIndex {
    /// An empty index of a run with `header`.
    pub fn new(header: &LogHeader) -> SampleIndex {
        SampleIndex {
            scorers: header.scorers.iter().map(|s| s.name.clone()).collect(),
            group_by: header.task.group_by.clone(),
            ..SampleIndex::default()
        }
    }

    /// The index of `records` with their frames' offsets, in file order
    /// (the last record of a sample's epoch replaces earlier ones).
    pub fn build(
        header: &LogHeader,
        records: impl IntoIterator<Item = (u64, SampleRecord)>,
    ) -> SampleIndex {
        SampleIndex::build_within(header, records, crate::search::BUDGET_BYTES)
    }

    /// [`SampleIndex::build`], with `budget` compressed bytes for search's copy of the texts.
    pub(crate) fn build_within(
        header: &LogHeader,
        records: impl IntoIterator<Item = (u64, SampleRecord)>,
        budget: usize,
    ) -> SampleIndex {
        let mut index = SampleIndex::new(header);
        let mut text = SearchTextBuilder::new(budget);
        for (offset, record) in records {
            index.push(offset, &record);
            text.push(&searchable(&record));
        }
        // Run order; of a sample's epoch written twice (a resumed run), the
        // later frame counts. Sorting row numbers then keeping the last of
        // each key needs no map beside the columns.
        let key = |n: u32| {
            let n = n as usize;
            (index.positions[n], index.epochs[n], index.offsets[n])
        };
        let mut order: Vec<u32> = (0..index.len() as u32).collect();
        order.sort_unstable_by_key(|&n| key(n));
        let mut kept: Vec<u32> = Vec::with_capacity(order.len());
        for n in order {
            match kept.last_mut() {
                Some(last) if key(*last).0 == key(n).0 && key(*last).1 == key(n).1 => *last = n,
                _ => kept.push(n),
            }
        }
        // Where each record of the file went (`NONE`: replaced).
        let mut placed = vec![NONE; index.len()];
        for (at, &n) in kept.iter().enumerate() {
            placed[n as usize] = at as u32;
        }
        index.text = text.finish(&placed);
        if kept.iter().enumerate().any(|(at, &n)| at as u32 != n) {
            index.reorder(&kept);
        }
        index
    }

    /// Puts the columns in the order of `kept`, dropping the rows not in it.
    fn reorder(&mut self, kept: &[u32]) {
        let mut ids = String::with_capacity(self.ids.len());
        let mut id_ends = Vec::with_capacity(kept.len());
        let mut metadata = Vec::with_capacity(self.metadata.len());
        let mut meta_ends = Vec::with_capacity(kept.len());
        for &n in kept {
            ids.push_str(&self.ids[span(&self.id_ends, n as usize)]);
            id_ends.push(ids.len() as u32);
            metadata.extend_from_slice(&self.metadata[span(&self.meta_ends, n as usize)]);
            meta_ends.push(metadata.len() as u32);
        }
        (self.ids, self.id_ends) = (ids, id_ends);
        (self.metadata, self.meta_ends) = (metadata, meta_ends);
        self.epochs = gather(&self.epochs, 1, kept);
        self.positions = gather(&self.positions, 1, kept);
        self.offsets = gather(&self.offsets, 1, kept);
        self.errors = gather(&self.errors, 1, kept);
        self.scores = gather(&self.scores, self.scorers.len(), kept);
        self.groups = gather(&self.groups, 1, kept);
        self.times = gather(&self.times, 1, kept);
        self.tokens = gather(&self.tokens, 1, kept);
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&n) = self.interned.get(text) {
            return n;
        }
        let n = self.strings.len() as u32;
        self.strings.push(text.into());
        self.interned.insert(text.into(), n);
        n
    }

    fn push(&mut self, offset: u64, r: &SampleRecord) {
        let error = match &r.error {
            Some(e) => {
                self.first_errors
                    .entry(e.kind.as_str().to_string())
                    .or_insert_with(|| short(&e.message));
                self.intern(e.kind.as_str())
            }
            None => NONE,
        };
        self.errors.push(error);
        for s in 0..self.scorers.len() {
            let value = r.scores.get(&self.scorers[s]);
            self.scores.push(value.map_or(f32::NAN, |v| v.value as f32));
        }
        let group = self
            .group_by
            .as_ref()
            .and_then(|f| r.metadata.get(f).map(metadata_text));
        let group = group.map_or(NONE, |g| self.intern(&g));
        self.groups.push(group);
        for (k, v) in &r.metadata {
            if matches!(
                v,
                serde_json::Value::Object(_) | serde_json::Value::Array(_)
            ) {
                continue;
            }
            let text = metadata_text(v);
            // Long values (setup scripts, checks) are not filters anyone types.
            let value = if text.len() <= 200 {
                self.intern(&text)
            } else {
                NONE
            };
            let field = self.intern(k);
            self.metadata.push((field, value));
        }
        self.meta_ends.push(self.metadata.len() as u32);
        self.ids.push_str(&r.id);
        self.id_ends.push(self.ids.len() as u32);
        self.epochs.push(r.epoch);
        self.positions.push(r.index as u32);
        self.offsets.push(offset);
        self.times.push(r.time_s as f32);
        self.tokens
            .push(r.usage.total_tokens.min(u64::from(u32::MAX)) as u32);
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.id_ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.id_ends.is_empty()
    }

    /// Row `n` (from 0, in run order).
    pub fn row(&self, n: usize) -> Row<'_> {
        Row {
            id: &self.ids[span(&self.id_ends, n)],
            epoch: self.epochs[n],
            index: self.positions[n],
            offset: self.offsets[n],
        }
    }

    /// Every row, in run order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        (0..self.len()).map(|n| self.row(n))
    }

    fn string(&self, n: u32) -> Option<&str> {
        (n != NONE).then(|| &*self.strings[n as usize])
    }

    /// Row `n`'s error kind.
    pub fn error_of(&self, n: usize) -> Option<&str> {
        self.string(self.errors[n])
    }

    /// Row `n`'s value of scorer number `scorer`.
    pub fn score_of(&self, n: usize, scorer: usize) -> Option<f64> {
        (scorer < self.scorers.len())
            .then(|| self.scores[n * self.scorers.len() + scorer])
            .filter(|v| !v.is_nan())
            .map(f64::from)
    }

    /// Row `n`'s group.
    pub fn group_of(&self, n: usize) -> Option<&str> {
        self.string(self.groups[n])
    }

    /// Whether search reads the index's own copy of the texts (else the log).
    pub fn searches_in_memory(&self) -> bool {
        self.text.is_some()
    }

    /// Each error kind with how many rows failed so and the first message.
    pub fn errors_by_kind(&self) -> Vec<(String, usize, String)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for n in 0..self.len() {
            if let Some(kind) = self.error_of(n) {
                *counts.entry(kind).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(k, n)| {
                (
                    k.to_string(),
                    n,
                    self.first_errors.get(k).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The distinct values of an interned column, sorted.
    fn distinct(&self, column: &[u32]) -> Vec<&str> {
        let mut seen = vec![false; self.strings.len()];
        for &n in column {
            if n != NONE {
                seen[n as usize] = true;
            }
        }
        let mut values: Vec<&str> = (0..self.strings.len())
            .filter(|&n| seen[n])
            .map(|n| &*self.strings[n])
            .collect();
        values.sort_unstable();
        values
    }

    /// The values the rows' groups take, sorted.
    pub fn groups(&self) -> Vec<&str> {
        self.distinct(&self.groups)
    }

    /// The error kinds the rows have, sorted.
    pub fn error_kinds(&self) -> Vec<&str> {
        self.distinct(&self.errors)
    }

    /// The input and output of rows `shown`, read from the log at `path`.
    pub fn previews(&self, path: &Path, shown: &[usize]) -> Vec<Preview> {
        let mut reader = vigie_log::LogReader::open(path).ok();
        shown
            .iter()
            .map(|&n| {
                match reader
                    .as_mut()
                    .and_then(|r| r.record_at(self.offsets[n]).ok())
                {
                    Some(record) => Preview {
                        input: short(&record.input),
                        output: short(&record.output),
                    },
                    None => Preview {
                        input: String::new(),
                        output: "(the record could not be read back)".into(),
                    },
                }
            })
            .collect()
    }

    /// The rows a query selects, sorted, and the page of them asked for.
    /// A search reads the index's compressed copy of the texts, or, when
    /// they did not fit its budget, the log at `path`.
    pub fn select(&self, query: &Query, path: &Path) -> Selection {
        let scorer = |name: &str| self.scorers.iter().position(|s| s == name);
        let field = |name: &str| self.interned.get(name).copied();
        let metadata: Option<Vec<(u32, u32)>> = query
            .metadata
            .iter()
            .map(|(k, v)| Some((field(k)?, field(v)?)))
            .collect();
        let error_id = query.error.as_deref().and_then(field);
        let group_id = query.group.as_deref().map(field);
        let score = query.score.as_ref().map(|f| (f, scorer(&f.scorer)));
        let mut matching: Vec<usize> = match metadata {
            // A field or value no row has matches nothing.
            None => Vec::new(),
            Some(metadata) => (0..self.len())
                .filter(|&n| {
                    let error = self.errors[n];
                    let errors = match query.error.as_deref() {
                        None | Some("") | Some("any") => true,
                        Some("none") => error == NONE,
                        Some("only") => error != NONE,
                        Some(_) => error_id == Some(error),
                    };
                    errors
                        && query.epoch.is_none_or(|e| self.epochs[n] == e)
                        && group_id.is_none_or(|g| g == Some(self.groups[n]))
                        && metadata
                            .iter()
                            .all(|m| self.metadata[span(&self.meta_ends, n)].contains(m))
                        && score.is_none_or(|(f, s)| {
                            s.and_then(|s| self.score_of(n, s))
                                .is_some_and(|value| f.holds(value))
                        })
                })
                .collect(),
        };
        if let Some(needle) = query.search.as_deref().filter(|n| !n.is_empty()) {
            let needle = needle.to_lowercase();
            matching = match &self.text {
                Some(text) => text.find(&needle, &matching, self.len()),
                None => self.search_log(path, &matching, &needle),
            };
        }
        match query.sort.as_deref() {
            None | Some("") | Some("run") => {}
            Some("id") => matching.sort_by(|&a, &b| self.row(a).id.cmp(self.row(b).id)),
            Some("time") => matching.sort_by(|&a, &b| self.times[a].total_cmp(&self.times[b])),
            Some("tokens") => matching.sort_by_key(|&n| self.tokens[n]),
            Some(other) => {
                if let Some(s) = scorer(other) {
                    // Unscored rows last whatever the order.
                    let key = |n: usize| self.score_of(n, s).unwrap_or(f64::INFINITY);
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

    /// Of `candidates` (ascending), those whose record holds `needle`
    /// (lower-cased), read from the log: front to back in two halves at
    /// once, each frame's JSON looked at as bytes; the few that hold the
    /// text are then decoded and checked against their input, output and
    /// transcript (JSON escapes and field names make the bytes a first
    /// look only). For logs whose texts exceed the in-memory budget.
    fn search_log(&self, path: &Path, candidates: &[usize], needle: &str) -> Vec<usize> {
        let Ok(quick) = regex::bytes::RegexBuilder::new(&regex::escape(needle))
            .case_insensitive(true)
            .build()
        else {
            return Vec::new();
        };
        let mut by_offset: Vec<(u64, usize)> =
            candidates.iter().map(|&n| (self.offsets[n], n)).collect();
        by_offset.sort_unstable();
        let half = by_offset.len().div_ceil(2).max(1);
        let found: Vec<Vec<usize>> = std::thread::scope(|scope| {
            let workers: Vec<_> = by_offset
                .chunks(half)
                .map(|chunk| {
                    let quick = &quick;
                    scope.spawn(move || {
                        let Ok(mut reader) = vigie_log::LogReader::open(path) else {
                            return Vec::new();
                        };
                        let last = chunk.last().map_or(0, |c| c.0);
                        let mut hits = Vec::new();
                        if let Ok(frames) = reader.payloads_from(chunk[0].0) {
                            for (offset, raw) in frames.map_while(Result::ok) {
                                if offset > last {
                                    break;
                                }
                                if let Ok(at) = chunk.binary_search_by_key(&offset, |c| c.0) {
                                    if quick.is_match(&raw) {
                                        hits.push(chunk[at]);
                                    }
                                }
                            }
                        }
                        hits.into_iter()
                            .filter(|&(offset, _)| {
                                reader
                                    .record_at(offset)
                                    .is_ok_and(|r| searchable(&r).contains(needle))
                            })
                            .map(|(_, n)| n)
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        // Back to run order, the candidates' order.
        let mut found = found.concat();
        found.sort_unstable();
        found
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

    /// Six records written to a real log (the index reads texts back from
    /// it), indexed with search's copy of the texts in memory.
    fn index() -> (tempfile::TempDir, std::path::PathBuf, SampleIndex) {
        index_within(crate::search::BUDGET_BYTES)
    }

    /// The same, with `budget` bytes for search's copy (0: search reads the log).
    fn index_within(budget: usize) -> (tempfile::TempDir, std::path::PathBuf, SampleIndex) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.vlog");
        let mut header = fixtures::header("t", "m", "flag", 6);
        header.task.group_by = Some("category".into());
        let mut writer = vigie_log::LogWriter::create(&path, &header).unwrap();
        for i in 0..6 {
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
            writer.append_sample(&r).unwrap();
        }
        // A later record of s1 replaces the first.
        let mut again = fixtures::record("s1", 1, "flag", 0.0, "question 1", "a second try");
        again
            .metadata
            .insert("category".into(), serde_json::json!("crypto"));
        again.time_s = 5.0;
        writer.append_sample(&again).unwrap();
        drop(writer);
        let records: Vec<(u64, SampleRecord)> = vigie_log::LogReader::open(&path)
            .unwrap()
            .samples_with_offsets()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let index = SampleIndex::build_within(&header, records, budget);
        assert_eq!(index.searches_in_memory(), budget > 0);
        (dir, path, index)
    }

    fn ids(
        (_, path, index): &(tempfile::TempDir, std::path::PathBuf, SampleIndex),
        params: &[(&str, &str)],
    ) -> Vec<String> {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = Query::from_params(&params).unwrap();
        let selection = index.select(&query, path);
        selection
            .shown
            .iter()
            .map(|&i| index.row(i).id.to_string())
            .collect()
    }

    #[test]
    fn filters_combine_and_sorts_order_on_the_server() {
        filters_and_sorts(&index());
    }

    #[test]
    fn search_reads_the_log_when_the_texts_do_not_fit_in_memory() {
        filters_and_sorts(&index_within(0));
    }

    fn filters_and_sorts(index: &(tempfile::TempDir, std::path::PathBuf, SampleIndex)) {
        assert_eq!(ids(index, &[]), ["s0", "s1", "s2", "s3", "s4", "s5"]);
        assert_eq!(ids(index, &[("score", "flag<1")]), ["s1", "s3"]);
        assert_eq!(ids(index, &[("score", "flag=1"), ("group", "web")]), ["s4"]);
        assert_eq!(ids(index, &[("error", "only")]), ["s5"]);
        assert_eq!(ids(index, &[("error", "server")]), ["s5"]);
        assert_eq!(
            ids(index, &[("error", "none"), ("meta.category", "crypto")]),
            ["s0", "s1", "s2"]
        );
        assert_eq!(
            ids(index, &[("q", "NEEDLE")]),
            ["s4"],
            "search ignores case"
        );
        assert_eq!(
            ids(index, &[("q", "question 3")]),
            ["s3"],
            "and reads the input"
        );
        assert_eq!(
            ids(index, &[("q", "second TRY")]),
            ["s1"],
            "and the record that counts"
        );
        assert_eq!(
            ids(index, &[("q", "nothing"), ("score", "flag=1")]),
            ["s0", "s2"],
            "within the filter"
        );
        assert_eq!(
            ids(index, &[("q", "nothing"), ("score", "flag<1")]),
            ["s3"],
            "and never in a record replaced"
        );
        assert_eq!(
            ids(index, &[("sort", "time")]),
            ["s5", "s4", "s3", "s2", "s1", "s0"]
        );
        // Unscored rows sort last; descending reverses the whole order.
        assert_eq!(
            ids(index, &[("sort", "flag")]),
            ["s1", "s3", "s0", "s2", "s4", "s5"]
        );
        assert_eq!(ids(index, &[("sort", "flag"), ("order", "desc")])[0], "s5");
    }

    #[test]
    fn pages_are_cut_on_the_server_and_a_page_past_the_end_shows_the_last() {
        let index = index();
        assert_eq!(ids(&index, &[("per", "4"), ("page", "2")]), ["s4", "s5"]);
        let params = [("per", "4"), ("page", "9")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let selection = index
            .2
            .select(&Query::from_params(&params).unwrap(), &index.1);
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
