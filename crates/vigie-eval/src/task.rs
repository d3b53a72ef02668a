//! Task files: the TOML a user writes (documented in `docs/tasks.md`), its
//! validation, and the compiled [`Task`] the engine runs. Every mistake is
//! reported with the file, line and field before anything runs.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use vigie_core::GenerateConfig;

use crate::dataset::{self, ChoicesField, DatasetFormat, FieldMap, Sample};
use crate::scorer::{Scorer, ScorerKind};
use crate::solver::Solver;
use crate::template::Templates;
use vigie_log::metrics::{Metric, Reducer};

/// A task file, or its dataset, that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A mistake at a known place in a file.
    #[error("{file}:{line}:{column}: {message}{}", snippet_block(*line, snippet))]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
        /// The offending line of the file.
        snippet: String,
    },
}

fn snippet_block(line: usize, snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!("\n  {line:>4} | {snippet}")
    }
}

impl TaskError {
    /// An error at byte offset `at` of `source` (the text of `file`).
    pub(crate) fn at(file: &str, source: &str, at: usize, message: impl Into<String>) -> TaskError {
        let at = at.min(source.len());
        let before = &source[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..at].chars().count() + 1;
        let snippet = source[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .trim_end()
            .to_string();
        TaskError::Invalid {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            snippet,
        }
    }

    /// An error at a line of a file whose text is not at hand (a dataset row).
    pub(crate) fn at_line(file: &str, line: usize, message: impl Into<String>) -> TaskError {
        TaskError::Invalid {
            file: file.to_string(),
            line,
            column: 1,
            message: message.into(),
            snippet: String::new(),
        }
    }
}

/// A compiled task, ready to run.
#[derive(Debug, Clone)]
pub struct Task {
    /// The task's name.
    pub name: String,
    /// What it is for, in a sentence.
    pub description: Option<String>,
    /// Risk areas the task gives evidence for (ids of the risk taxonomy).
    pub risk_areas: Vec<String>,
    /// Where it came from (a path, or `suite:<name>/<task>`).
    pub origin: String,
    /// SHA-256 of the task definition.
    pub source_sha256: String,
    /// The dataset's path or name.
    pub dataset_name: String,
    /// SHA-256 of the dataset's bytes.
    pub dataset_sha256: String,
    /// The samples, in dataset order (or the seeded shuffle the task asks for).
    pub samples: Vec<Sample>,
    /// Task-level generation settings.
    pub generate: GenerateConfig,
    /// Epochs the task asks for, unless the command line says otherwise.
    pub epochs: Option<u32>,
    /// How epochs are reduced, unless the command line says otherwise.
    pub epochs_reducer: Option<Reducer>,
    /// A judge model named by the task, unless the command line says otherwise.
    pub judge_model: Option<String>,
    /// The metadata field whose values split the metrics into groups.
    pub group_by: Option<String>,
    /// Two conditions of the same items to compare, if the task asks.
    pub contrast: Option<vigie_log::ContrastSpec>,
    /// The solver chain.
    pub solvers: Vec<Solver>,
    /// The scorers, in task order; names are unique.
    pub scorers: Vec<Scorer>,
    /// The sandbox each sample gets, for tasks with `[sandbox]` or an agent.
    pub sandbox: Option<crate::sandboxing::SandboxPlan>,
    /// The folder the sandbox's file sources and root filesystem are
    /// relative to: the task file's, or a benchmark file's (`None` for
    /// built-in tasks).
    pub base_dir: Option<std::path::PathBuf>,
    /// The dataset's path as the task names it, when a benchmark loader
    /// reads it (its samples' files are relative to its folder).
    pub benchmark_file: Option<String>,
    /// The folder the samples' own file sources are relative to, when not
    /// `base_dir`: a benchmark file's, for a task file that reads one.
    pub sample_files_dir: Option<std::path::PathBuf>,
    /// What was left out while loading, for the plan to say (samples whose
    /// files are missing).
    pub notes: Vec<String>,
    pub(crate) templates: Arc<Templates>,
    pub(crate) dataset_shuffle: bool,
}

impl Task {
    /// Whether any scorer asks a judge model and has no way to do without.
    pub fn needs_judge(&self) -> bool {
        self.scorers
            .iter()
            .any(|s| s.needs_judge() && !s.is_optional() && !s.has_stand_in())
    }

    /// Settles the scorers of a run that has no judge model: those that run
    /// only with one are left out, and a judge with a `without_judge`
    /// stand-in becomes the refusal detector, marked an upper bound.
    pub fn drop_optional_scorers(&mut self) {
        self.scorers.retain_mut(Scorer::settle_without_judge);
    }

    /// Whether a solver asks an attacker model.
    pub fn needs_attacker(&self) -> bool {
        self.solvers.iter().any(Solver::uses_attacker)
    }

    /// Leaves out the samples whose sandbox files are missing (a source that
    /// does not exist, or a folder with nothing in it once the task's
    /// exclusions are taken out), with a note naming them; the rest run.
    pub fn skip_samples_without_files(&mut self) {
        let (Some(plan), Some(base)) = (&self.sandbox, &self.base_dir) else {
            return;
        };
        let own = self.sample_files_dir.as_deref().unwrap_or(base);
        let mut skipped = Vec::new();
        self.samples
            .retain(|sample| match plan.missing_files(base, own, sample) {
                None => true,
                Some(what) => {
                    skipped.push(format!("{} ({what})", sample.id));
                    false
                }
            });
        if !skipped.is_empty() {
            self.notes.push(format!(
                "{}: {} samples skipped, their files are missing: {}",
                self.name,
                skipped.len(),
                skipped.join(", ")
            ));
        }
    }

    /// The tools of the task's agent (`submit` last); empty without one.
    pub fn agent_tools(&self) -> Vec<String> {
        self.solvers.iter().flat_map(Solver::agent_tools).collect()
    }

    /// Whether a solver scores choices by likelihood, which only some models give.
    pub fn needs_loglikelihood(&self) -> bool {
        self.solvers.iter().any(Solver::uses_loglikelihood)
    }

    /// The score of guessing uniformly among the choices (for `true_mass`,
    /// of spreading the probability evenly), averaged over `samples`, for
    /// tasks scored by `choice` or `true_mass`; `None` otherwise.
    pub fn chance(&self, samples: &[Sample]) -> Option<f64> {
        let by_choice = self
            .scorers
            .iter()
            .any(|s| matches!(s.kind, ScorerKind::Choice | ScorerKind::TrueMass));
        let with_choices: Vec<&Sample> = samples.iter().filter(|s| !s.choices.is_empty()).collect();
        if !by_choice || with_choices.is_empty() {
            return None;
        }
        let total: f64 = with_choices
            .iter()
            .map(|s| s.target.len().max(1) as f64 / s.choices.len() as f64)
            .sum();
        Some(total / with_choices.len() as f64)
    }

    /// The samples in run order: the dataset order, or its seeded shuffle when
    /// the task sets `dataset.shuffle`.
    pub fn ordered_samples(&self, seed: u64) -> Vec<Sample> {
        if !self.dataset_shuffle {
            return self.samples.clone();
        }
        vigie_log::rng::permutation(seed, "dataset", self.samples.len())
            .into_iter()
            .map(|i| self.samples[i].clone())
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSpec {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    risk_areas: Vec<String>,
    dataset: Spanned<DatasetSpec>,
    #[serde(default)]
    generate: GenerateConfig,
    #[serde(default)]
    epochs: Option<Spanned<u32>>,
    #[serde(default)]
    epochs_reducer: Option<Spanned<String>>,
    #[serde(default)]
    judge_model: Option<String>,
    #[serde(default)]
    group_by: Option<Spanned<String>>,
    #[serde(default)]
    contrast: Option<Spanned<ContrastTable>>,
    #[serde(default, rename = "solver")]
    solvers: Vec<Spanned<crate::solver::SolverSpec>>,
    #[serde(default, rename = "scorer")]
    scorers: Vec<Spanned<crate::scorer::ScorerSpec>>,
    #[serde(default)]
    sandbox: Option<Spanned<crate::sandboxing::SandboxSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetSpec {
    path: Spanned<String>,
    #[serde(default)]
    format: Option<DatasetFormat>,
    #[serde(default)]
    loader: Option<Spanned<String>>,
    #[serde(default)]
    id: Option<Spanned<String>>,
    #[serde(default)]
    input: Option<Spanned<String>>,
    #[serde(default)]
    target: Option<Spanned<String>>,
    #[serde(default)]
    choices: Option<Spanned<ChoicesField>>,
    #[serde(default)]
    metadata: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    shuffle: bool,
    #[serde(default)]
    take: Option<Spanned<usize>>,
    #[serde(default)]
    filter: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    #[serde(default)]
    exclude_ids: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContrastTable {
    field: String,
    baseline: String,
    pair: String,
}

/// Reads and compiles a task file; the dataset path is relative to it.
pub fn load_task(path: &Path) -> Result<Task, TaskError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|source| TaskError::Io {
        file: file.clone(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let read =
        |relative: &str| -> Result<Vec<u8>, std::io::Error> { std::fs::read(base.join(relative)) };
    let display_dataset = |relative: &str| base.join(relative).display().to_string();
    let mut task = compile(&file, &source, &read, &display_dataset)?;
    task.base_dir = Some(base.to_path_buf());
    // A benchmark's samples bring files (a challenge's folder) beside the
    // benchmark's file, as in a suite; the task's own are beside the task.
    task.sample_files_dir = task
        .benchmark_file
        .as_ref()
        .and_then(|dataset| base.join(dataset).parent().map(Path::to_path_buf));
    task.skip_samples_without_files();
    Ok(task)
}

/// Compiles a task from its text. `read_dataset` resolves the dataset path
/// (a file beside the task, or a file built into the binary);
/// `dataset_label` says how to name it in errors and logs.
pub fn compile(
    file: &str,
    source: &str,
    read_dataset: &dyn Fn(&str) -> Result<Vec<u8>, std::io::Error>,
    dataset_label: &dyn Fn(&str) -> String,
) -> Result<Task, TaskError> {
    let spec: TaskSpec = toml::from_str(source).map_err(|e| toml_error(file, source, &e))?;
    let err_at = |span: Range<usize>, message: String| {
        TaskError::at(file, source, element_start(source, span.start), message)
    };

    if spec.name.get_ref().trim().is_empty() {
        return Err(err_at(
            spec.name.span(),
            "field `name`: must not be empty".into(),
        ));
    }

    // Dataset.
    let ds = spec.dataset.get_ref();
    let dataset_span = spec.dataset.span();
    let dataset_path = ds.path.get_ref();
    let dataset_label = dataset_label(dataset_path);
    let bytes = read_dataset(dataset_path).map_err(|e| {
        err_at(
            ds.path.span(),
            format!("field `dataset.path`: cannot read `{dataset_label}`: {e}"),
        )
    })?;
    let samples = match (&ds.loader, &ds.input) {
        (Some(loader), _) => {
            let loader = crate::loaders::Loader::parse(loader.get_ref()).map_err(|m| err_at(loader.span(), format!("field `dataset.loader`: {m}")))?;
            let mapped = [ds.id.as_ref().map(|_| "id"), ds.input.as_ref().map(|_| "input"), ds.target.as_ref().map(|_| "target"), ds.choices.as_ref().map(|_| "choices")];
            if let Some(field) = mapped.into_iter().flatten().next() {
                return Err(err_at(ds.path.span(), format!("field `dataset.{field}`: a loader maps the fields itself; remove `{field}` or the loader")));
            }
            loader.load(&dataset_label, &bytes)?
        }
        (None, None) => return Err(err_at(dataset_span, "field `dataset.input`: missing; name the field that holds the prompt, or set `dataset.loader`".into())),
        (None, Some(input)) => {
            let format = match ds.format {
                Some(format) => format,
                None => DatasetFormat::from_path(dataset_path).ok_or_else(|| {
                    err_at(ds.path.span(), format!("field `dataset.path`: cannot tell the format of `{dataset_path}` from its extension; set `dataset.format` to jsonl, csv or json"))
                })?,
            };
            let fields = FieldMap {
                id: ds.id.as_ref().map(|s| s.get_ref().clone()),
                input: input.get_ref().clone(),
                target: ds.target.as_ref().map(|s| s.get_ref().clone()),
                choices: ds.choices.as_ref().map(|s| s.get_ref().clone()),
                metadata: ds.metadata.as_ref().map(|s| s.get_ref().clone()),
            };
            dataset::parse(&dataset_label, &bytes, format, &fields).map_err(|e| match e {
                // A field the dataset lacks is the task file's mistake: point at the mapping.
                dataset::DatasetError::MissingColumn { field, column } => {
                    let span = match field {
                        "id" => ds.id.as_ref().map(|s| s.span()),
                        "input" => Some(input.span()),
                        "target" => ds.target.as_ref().map(|s| s.span()),
                        "choices" => ds.choices.as_ref().map(|s| s.span()),
                        _ => ds.metadata.as_ref().map(|s| s.span()),
                    }
                    .unwrap_or(ds.path.span());
                    err_at(span, format!("field `dataset.{field}`: the dataset `{dataset_label}` has no field `{column}`"))
                }
                dataset::DatasetError::Task(e) => e,
            })?
        }
    };
    let mut samples = samples;
    if let Some(filter) = &ds.filter {
        samples.retain(|sample| {
            filter.get_ref().iter().all(|(field, wanted)| {
                sample
                    .metadata
                    .get(field)
                    .is_some_and(|v| dataset::value_text(v) == *wanted)
            })
        });
        if samples.is_empty() {
            return Err(err_at(
                filter.span(),
                format!("field `dataset.filter`: no sample of `{dataset_label}` matches"),
            ));
        }
    }
    // An id the dataset lacks is not an error: a list kept for a published
    // benchmark applies to any part of it.
    if let Some(excluded) = &ds.exclude_ids {
        samples.retain(|s| !excluded.get_ref().contains(&s.id));
    }
    if let Some(take) = &ds.take {
        if *take.get_ref() == 0 {
            return Err(err_at(
                take.span(),
                "field `dataset.take`: must be at least 1".into(),
            ));
        }
        samples.truncate(*take.get_ref());
    }
    if samples.is_empty() {
        return Err(err_at(
            ds.path.span(),
            format!("field `dataset.path`: the dataset `{dataset_label}` has no samples"),
        ));
    }

    if let Some(field) = &spec.group_by {
        if !samples
            .iter()
            .any(|s| s.metadata.contains_key(field.get_ref()))
        {
            return Err(err_at(
                field.span(),
                format!(
                    "field `group_by`: no sample of `{dataset_label}` has the metadata field `{}`",
                    field.get_ref()
                ),
            ));
        }
    }

    let contrast = match &spec.contrast {
        None => None,
        Some(table) => {
            let c = table.get_ref();
            let bad = |m: String| err_at(table.span(), format!("field `contrast`: {m}"));
            let mut values: Vec<String> = samples
                .iter()
                .filter_map(|s| s.metadata.get(&c.field).map(dataset::value_text))
                .collect();
            values.sort();
            values.dedup();
            if !values.contains(&c.baseline) {
                return Err(bad(format!(
                    "no sample has `{}` = `{}`",
                    c.field, c.baseline
                )));
            }
            if values.len() != 2 {
                return Err(bad(format!(
                    "`{}` must take exactly two values (a baseline and a variant); it takes {}: {}",
                    c.field,
                    values.len(),
                    values.join(", ")
                )));
            }
            if samples.iter().any(|s| !s.metadata.contains_key(&c.pair)) {
                return Err(bad(format!(
                    "every sample needs the pairing field `{}`",
                    c.pair
                )));
            }
            let variant = values
                .into_iter()
                .find(|v| *v != c.baseline)
                .expect("two values");
            Some(vigie_log::ContrastSpec {
                field: c.field.clone(),
                baseline: c.baseline.clone(),
                variant,
                pair: c.pair.clone(),
            })
        }
    };

    // Epochs and reducer.
    let epochs = match &spec.epochs {
        Some(e) if *e.get_ref() == 0 => {
            return Err(err_at(
                e.span(),
                "field `epochs`: must be at least 1".into(),
            ))
        }
        Some(e) => Some(*e.get_ref()),
        None => None,
    };
    let epochs_reducer = match &spec.epochs_reducer {
        Some(r) => Some(
            Reducer::parse(r.get_ref())
                .map_err(|m| err_at(r.span(), format!("field `epochs_reducer`: {m}")))?,
        ),
        None => None,
    };

    // Templates, solvers and scorers.
    let mut templates = Templates::new();
    let mut solvers = Vec::new();
    for (i, spanned) in spec.solvers.iter().enumerate() {
        let solver = Solver::compile(spanned.get_ref(), i, &mut templates).map_err(|m| {
            err_at(
                spanned.span(),
                format!("solver {} ({}): {m}", i + 1, spanned.get_ref().kind_name()),
            )
        })?;
        solvers.push(solver);
    }
    if solvers.is_empty() {
        solvers.push(Solver::generate_default());
    }
    if spec.scorers.is_empty() {
        return Err(TaskError::at(
            file,
            source,
            source.len(),
            "the task has no `[[scorer]]`; add one (e.g. `includes = {}`)",
        ));
    }
    let mut scorers: Vec<Scorer> = Vec::new();
    let mut names = BTreeSet::new();
    for (i, spanned) in spec.scorers.iter().enumerate() {
        let scorer =
            Scorer::compile(spanned.get_ref(), i, &mut templates, read_dataset).map_err(|m| {
                err_at(
                    spanned.span(),
                    format!("scorer {} ({}): {m}", i + 1, spanned.get_ref().kind_name()),
                )
            })?;
        if !names.insert(scorer.name.clone()) {
            return Err(err_at(
                spanned.span(),
                format!("scorer {}: another scorer is already named `{}`; give this one a distinct `name`", i + 1, scorer.name),
            ));
        }
        if let ScorerKind::Account(account) = &scorer.kind {
            if !scorers.iter().any(|s| s.name == account.action) {
                return Err(err_at(
                    spanned.span(),
                    format!("scorer {} (account): field `action`: no scorer before it is named `{}`; name the state check it is weighed against", i + 1, account.action),
                ));
            }
        }
        scorers.push(scorer);
    }
    let templates = Arc::new(templates);

    // Render every template once against the first sample, so that a
    // misspelt variable fails here, with its line, and not mid-run.
    let probe = &samples[0];
    for (i, spanned) in spec.solvers.iter().enumerate() {
        solvers[i].check_templates(&templates, probe).map_err(|m| {
            err_at(
                spanned.span(),
                format!("solver {} ({}): {m}", i + 1, spanned.get_ref().kind_name()),
            )
        })?;
    }
    for (i, spanned) in spec.scorers.iter().enumerate() {
        scorers[i].check_templates(&templates, probe).map_err(|m| {
            err_at(
                spanned.span(),
                format!("scorer {} ({}): {m}", i + 1, spanned.get_ref().kind_name()),
            )
        })?;
    }
    if scorers.iter().any(|s| matches!(s.kind, ScorerKind::Choice))
        && samples.iter().all(|s| s.choices.is_empty())
    {
        return Err(err_at(
            ds.path.span(),
            "a `choice` scorer needs `dataset.choices`".into(),
        ));
    }

    let sandbox = match &spec.sandbox {
        Some(table) => Some(
            crate::sandboxing::SandboxPlan::compile(table.get_ref())
                .map_err(|m| err_at(table.span(), m))?,
        ),
        // An agent works in a sandbox, the default one unless the task says.
        None if solvers.iter().any(Solver::is_agent) => {
            Some(crate::sandboxing::SandboxPlan::default())
        }
        None => None,
    };
    if let (None, Some((i, _))) = (
        &sandbox,
        scorers.iter().enumerate().find(|(_, s)| s.reads_sandbox()),
    ) {
        return Err(err_at(
            spec.scorers[i].span(),
            format!("scorer {} (state_check): reads the sample's sandbox, and the task has none; add a `[sandbox]` table or an `agent` solver", i + 1),
        ));
    }

    Ok(Task {
        sandbox,
        base_dir: None,
        benchmark_file: ds.loader.is_some().then(|| ds.path.get_ref().clone()),
        sample_files_dir: None,
        notes: Vec::new(),
        name: spec.name.into_inner(),
        description: spec.description,
        risk_areas: spec.risk_areas,
        origin: file.to_string(),
        source_sha256: crate::sha256_hex(source.as_bytes()),
        dataset_name: dataset_label,
        dataset_sha256: crate::sha256_hex(&bytes),
        samples,
        generate: spec.generate,
        epochs,
        epochs_reducer,
        judge_model: spec.judge_model,
        group_by: spec.group_by.map(Spanned::into_inner),
        contrast,
        solvers,
        scorers,
        templates,
        dataset_shuffle: ds.shuffle,
    })
}

/// An array-of-tables element's span starts at its `[[header]]`; its first
/// key, on the next line, is the better place to point at.
fn element_start(source: &str, at: usize) -> usize {
    let rest = &source[at.min(source.len())..];
    if rest.starts_with("[[") {
        if let Some(newline) = rest.find('\n') {
            let next = at + newline + 1;
            let skipped = source[next..].len() - source[next..].trim_start().len();
            return next + skipped;
        }
    }
    at
}

/// Turns a TOML error into one that names the file, line and field.
fn toml_error(file: &str, source: &str, error: &toml::de::Error) -> TaskError {
    let at = error.span().map_or(0, |s| s.start);
    let mut message = error.message().trim().to_string();
    if let Some(field) = field_at(source, at) {
        let key = field.rsplit('.').next().unwrap_or(&field);
        if !message.contains(&format!("`{key}`")) {
            message = format!("field `{field}`: {message}");
        }
    }
    TaskError::at(file, source, at, message)
}

/// The dotted name of the key on the line holding `at`, qualified by the
/// table header above it (`dataset.input`), when the line has one.
fn field_at(source: &str, at: usize) -> Option<String> {
    let before = &source[..at.min(source.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = source[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        })?;
    let table = source[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key,
    })
}

/// Checks the names in a metrics list.
pub(crate) fn parse_metrics(names: &[String]) -> Result<Vec<Metric>, String> {
    names
        .iter()
        .map(|n| Metric::parse(n).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
