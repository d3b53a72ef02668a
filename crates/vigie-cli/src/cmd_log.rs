//! `vigie log list|show|export|merge`: reading logs without running
//! anything, and merging a task's shard logs into one.
//! The JSON of `show --json` and the lines of `export` are stable contracts
//! (docs/log-format.md): fields may be added, never renamed or removed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use vigie_log::outputs::{ExportedRecord, LogSummary};
use vigie_log::results::LogResults;
use vigie_log::{LogFooter, LogHeader, LogReader, RunStatus, SampleRecord};

use crate::{Outcome, UsageError};
use vigie_log::records_that_count;

#[derive(clap::Args)]
pub(crate) struct ShowArgs {
    /// The log
    log: PathBuf,
    /// List every sample record
    #[arg(long)]
    samples: bool,
    /// List only the records that ended in an error
    #[arg(long)]
    failed: bool,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
    /// Show this one sample in full (read without decoding the rest of the log)
    #[arg(long, value_name = "ID", conflicts_with_all = ["samples", "failed"])]
    sample_id: Option<String>,
    /// The epoch of --sample-id
    #[arg(long, default_value_t = 1, requires = "sample_id")]
    epoch: u32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    /// The log
    log: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "jsonl")]
    format: ExportFormat,
    /// Write to this file instead of stdout
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct MergeArgs {
    /// The shard logs, or folders holding them (every log under a folder is taken)
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The merged log to write (never replaces a file)
    #[arg(long, short = 'o')]
    output: PathBuf,
}

/// `vigie log merge`: the checks and the copy are `vigie_campaign::merge`'s.
pub(crate) fn merge(args: MergeArgs) -> Result<Outcome> {
    let mut shards = Vec::new();
    for path in &args.shards {
        if path.is_dir() {
            shards.extend(vigie_log::find_logs(path)?);
        } else {
            shards.push(path.clone());
        }
    }
    let started = std::time::Instant::now();
    let mut last_said = started;
    let mut progress = |done: usize, total: usize| {
        if last_said.elapsed().as_secs() >= 5 {
            last_said = std::time::Instant::now();
            eprintln!("merged {done} of {total} records");
        }
    };
    let merged =
        vigie_campaign::merge(&shards, &args.output, &mut progress).map_err(|e| match e {
            vigie_campaign::MergeError::Log(e) => anyhow::Error::from(e),
            refused => UsageError(refused.to_string()).into(),
        })?;
    eprintln!(
        "merged {} shards ({} records) in {:.1} s",
        merged.header.merged_from.len(),
        merged
            .header
            .merged_from
            .iter()
            .map(|s| s.records)
            .sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "{}",
        crate::render::results(
            &merged.header,
            &merged.footer,
            &merged.path.display().to_string()
        )
    );
    Ok(Outcome::Success)
}

pub(crate) fn load(path: &Path, records: Option<&[SampleRecord]>) -> Result<LogResults> {
    Ok(LogResults::read(path, records)?)
}

fn read_records(path: &Path) -> Result<Vec<SampleRecord>> {
    let mut reader = LogReader::open(path)?;
    let records = reader.samples()?.collect::<Result<Vec<_>, _>>()?;
    Ok(records_that_count(records))
}

pub(crate) fn list(dir: Option<PathBuf>) -> Result<Outcome> {
    let dir = dir.unwrap_or_else(crate::env::log_dir);
    let paths = vigie_log::find_logs(&dir)
        .map_err(|e| UsageError(format!("cannot read the log folder {e}")))?;
    if paths.is_empty() {
        eprintln!("no logs in {} or its sub-folders", dir.display());
        return Ok(Outcome::Success);
    }
    let mut rows = vec![[
        "started".to_string(),
        "task".into(),
        "model".into(),
        "status".into(),
        "done".into(),
        "result".into(),
        "log".into(),
    ]];
    for path in &paths {
        // Logs in sub-folders (a suite run's) are named from the folder listed.
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        match load(path, None) {
            Ok(log) => {
                let s = log.footer.samples;
                rows.push([
                    log.header.started_at.clone(),
                    log.header.task.name.clone(),
                    log.header.model.name.clone(),
                    log.status_word().to_string(),
                    format!(
                        "{}/{}{}",
                        s.completed,
                        s.total,
                        if s.errors > 0 {
                            format!(" ({} err)", s.errors)
                        } else {
                            String::new()
                        }
                    ),
                    headline(&log.header, &log.footer),
                    name,
                ]);
            }
            Err(e) => rows.push([
                String::new(),
                String::new(),
                String::new(),
                "unreadable".into(),
                String::new(),
                format!("{e:#}"),
                name,
            ]),
        }
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    print!("{}", crate::render::aligned(&rows));
    Ok(Outcome::Success)
}

/// The first scorer's main metric, `includes/accuracy 0.840`.
fn headline(header: &LogHeader, footer: &LogFooter) -> String {
    let Some(scorer) = header.scorers.first() else {
        return String::new();
    };
    ["accuracy", "mean"]
        .iter()
        .find_map(|m| {
            footer
                .metrics
                .get(&format!("{}/{m}", scorer.name))
                .map(|v| format!("{}/{m} {v:.3}", scorer.name))
        })
        .unwrap_or_default()
}

pub(crate) fn show(args: ShowArgs) -> Result<Outcome> {
    if let Some(id) = &args.sample_id {
        return show_sample(&args.log, id, args.epoch, args.json);
    }
    let want_records = args.samples || args.failed;
    let records = if want_records {
        Some(read_records(&args.log)?)
    } else {
        None
    };
    let log = load(&args.log, records.as_deref())?;
    let chosen: Option<Vec<SampleRecord>> = records.as_ref().map(|records| {
        records
            .iter()
            .filter(|r| !args.failed || r.error.is_some())
            .cloned()
            .collect()
    });
    let mut stdout = std::io::stdout().lock();
    let manifest = LogReader::open(&args.log)?.manifest()?;
    if args.json {
        let summary = LogSummary::new(&args.log, &log, manifest.as_ref(), chosen.as_deref());
        writeln!(stdout, "{}", serde_json::to_string(&summary)?)?;
        return Ok(Outcome::Success);
    }
    let mut footer = log.footer.clone();
    if !log.finished {
        footer.status = RunStatus::Started;
    }
    write!(
        stdout,
        "{}",
        crate::render::results(&log.header, &footer, &args.log.display().to_string())
    )?;
    if let Some((m, signatures)) = &manifest {
        let signed = if signatures.is_empty() {
            "not signed".to_string()
        } else {
            format!(
                "signatures by {} (check them with `vigie verify`)",
                signatures
                    .iter()
                    .map(|s| s.key_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        writeln!(
            stdout,
            "
manifest {} records, Merkle root {}; {signed}",
            m.records.len(),
            m.merkle_root
        )?;
    }
    if !log.finished {
        writeln!(stdout, "\n(no footer: the run is still going, or was stopped; `vigie eval --resume {}` carries on)", args.log.display())?;
    }
    if want_records {
        writeln!(stdout)?;
        for record in chosen.iter().flatten() {
            let scores: Vec<String> = record
                .scores
                .iter()
                .map(|(k, s)| format!("{k}={}", crate::render::trim_number(s.value)))
                .chain(
                    record
                        .score_errors
                        .keys()
                        .map(|k| format!("{k}=unreadable")),
                )
                .collect();
            let status = match &record.error {
                Some(e) => format!("error[{}]: {}", e.kind, one_line(&e.message, 100)),
                None => scores.join(" "),
            };
            writeln!(
                stdout,
                "{} #{}  {}  | {}",
                record.id,
                record.epoch,
                status,
                one_line(&record.output, 60)
            )?;
        }
    }
    Ok(Outcome::Success)
}

fn show_sample(log: &Path, id: &str, epoch: u32, json: bool) -> Result<Outcome> {
    let mut reader = LogReader::open(log)?;
    let Some(record) = reader.sample(id, epoch)? else {
        bail!(UsageError(format!(
            "{}: no record for sample `{id}`, epoch {epoch}",
            log.display()
        )));
    };
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string(&ExportedRecord::from(&record))?
        )?;
        return Ok(Outcome::Success);
    }
    writeln!(stdout, "sample   {} (epoch {})", record.id, record.epoch)?;
    writeln!(stdout, "target   {}", record.target.join(" | "))?;
    for (name, score) in &record.scores {
        writeln!(
            stdout,
            "score    {name} = {}{}",
            crate::render::trim_number(score.value),
            score
                .answer
                .as_ref()
                .map_or_else(String::new, |a| format!(" (answer: {a})"))
        )?;
    }
    for (name, why) in &record.score_errors {
        writeln!(
            stdout,
            "score    {name}: could not decide: {}",
            one_line(why, 200)
        )?;
    }
    if let Some(error) = &record.error {
        writeln!(stdout, "error    [{}] {}", error.kind, error.message)?;
    }
    let u = record.usage;
    let reasoning = if u.reasoning_tokens > 0 {
        format!(" of which reasoning {}", u.reasoning_tokens)
    } else {
        String::new()
    };
    let cost = record
        .cost_usd
        .map_or_else(String::new, |c| format!("; ${c:.4}"));
    writeln!(
        stdout,
        "tokens   {} (in {}, out {}{reasoning}){cost}; retries {}; {:.3}s",
        u.total_tokens, u.input_tokens, u.output_tokens, record.retries, record.time_s
    )?;
    let steps = record.agent.as_ref().map_or(&[][..], |a| &a.steps[..]);
    if let Some(agent) = &record.agent {
        write!(stdout, "{}", crate::render::agent_summary(agent))?;
    }
    write!(
        stdout,
        "{}",
        crate::render::transcript(&record.messages, steps)
    )?;
    Ok(Outcome::Success)
}

fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

pub(crate) fn export(args: ExportArgs) -> Result<Outcome> {
    let mut reader = LogReader::open(&args.log)?;
    let header = reader.header()?;
    drop(reader);
    let records = read_records(&args.log)?;
    let mut sink: Box<dyn Write> = match &args.out {
        Some(path) => {
            if path.exists() {
                bail!(UsageError(format!(
                    "{} exists; choose another --out",
                    path.display()
                )));
            }
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            ))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        ExportFormat::Jsonl => {
            for record in &records {
                serde_json::to_writer(&mut sink, &ExportedRecord::from(record))?;
                sink.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut sink);
            let mut head: Vec<String> = [
                "id",
                "epoch",
                "input",
                "target",
                "output",
                "error",
                "input_tokens",
                "output_tokens",
                "total_tokens",
                "retries",
                "time_s",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            head.extend(header.scorers.iter().map(|s| format!("score:{}", s.name)));
            writer.write_record(&head)?;
            for r in &records {
                let mut row = vec![
                    r.id.clone(),
                    r.epoch.to_string(),
                    r.input.clone(),
                    r.target.join(" | "),
                    r.output.clone(),
                    r.error
                        .as_ref()
                        .map_or_else(String::new, |e| format!("{}: {}", e.kind, e.message)),
                    r.usage.input_tokens.to_string(),
                    r.usage.output_tokens.to_string(),
                    r.usage.total_tokens.to_string(),
                    r.retries.to_string(),
                    format!("{:.4}", r.time_s),
                ];
                row.extend(header.scorers.iter().map(|s| {
                    r.scores
                        .get(&s.name)
                        .map_or_else(String::new, |v| v.value.to_string())
                }));
                writer.write_record(&row)?;
            }
            writer.flush()?;
        }
    }
    drop(sink);
    Ok(Outcome::Success)
}
