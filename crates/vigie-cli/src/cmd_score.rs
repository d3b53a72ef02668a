//! `vigie score LOG --scorer ...`: score a finished log again with other
//! scorers, without calling the evaluated model; writes a new log. Given a
//! JSONL or CSV file of prompt-response pairs instead, labels the pairs
//! (`score_pairs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vigie_core::ModelApi;
use vigie_eval::scorer::{ScoreInput, Scorer};
use vigie_eval::Templates;
use vigie_log::{LogReader, LogWriter, RunStatus, SampleError, SampleRecord, ScorerRef};
use vigie_providers::RetryPolicy;

use crate::{Outcome, UsageError};
use vigie_log::records_that_count;

#[derive(clap::Args)]
pub(crate) struct ScoreArgs {
    /// The log to score, or a JSONL/CSV file of pairs with `id`, `prompt` and `response`
    log: PathBuf,
    /// A scorer: a name (refusal, includes, exact, choice, f1, model_graded) or an inline table
    /// such as 'pattern = { regex = "ANSWER: (\\d+)" }'; repeatable
    #[arg(long, required = true)]
    scorer: Vec<String>,
    /// The judge model for model_graded
    #[arg(long)]
    judge_model: Option<String>,
    /// Base URL of the judge model's API
    #[arg(long)]
    judge_base_url: Option<String>,
    /// Most judge requests in flight
    #[arg(long, default_value_t = 10)]
    max_connections: usize,
    /// Where to write the scored log or pairs (default: beside the input, with -scored added)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Pairs only: the field holding reference (human) labels; prints each scorer's accuracy,
    /// Cohen's kappa and per-class precision and recall against it
    #[arg(long, value_name = "FIELD")]
    against: Option<String>,
}

pub(crate) fn run(args: ScoreArgs) -> Result<Outcome> {
    let scorers: Vec<(Scorer, Templates)> = args
        .scorer
        .iter()
        .map(|s| Scorer::from_cli(s).map_err(UsageError))
        .collect::<Result<_, _>>()?;
    let needs_judge = scorers.iter().any(|(s, _)| s.needs_judge());
    let judge = match (&args.judge_model, needs_judge) {
        (Some(name), true) => {
            let connection = crate::cmd_eval::Connection {
                max_connections: args.max_connections.max(1),
                timeout: Duration::from_secs(120),
                retry: RetryPolicy {
                    max_retries: 6,
                    base: Duration::from_secs(1),
                    max_delay: Duration::from_secs(60),
                },
                cache: None,
            };
            let (model, _, reference) = crate::cmd_eval::build_model(
                name,
                args.judge_base_url.as_deref(),
                None,
                &connection,
            )?;
            Some((model, reference))
        }
        (None, true) => bail!(UsageError(
            "a model_graded or judge scorer needs --judge-model".into()
        )),
        _ => None,
    };
    if crate::score_pairs::is_pairs_file(&args.log) {
        return crate::score_pairs::run(
            &args.log,
            args.out.as_deref(),
            scorers,
            judge.map(|(model, _)| model),
            args.max_connections,
            args.against.as_deref(),
        );
    }
    if args.against.is_some() {
        bail!(UsageError(
            "--against compares labels of a pairs file (JSONL or CSV), not of a log".into()
        ));
    }

    let mut reader = LogReader::open(&args.log)?;
    let mut header = reader.header()?;
    let old_footer = reader.footer()?;
    let records = records_that_count(reader.samples()?.collect::<Result<Vec<_>, _>>()?);
    drop(reader);
    let judge: Option<Arc<dyn ModelApi>> = judge.map(|(model, reference)| {
        header.judge_model = Some(reference);
        model
    });

    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .log
            .file_stem()
            .map_or_else(|| "log".into(), |s| s.to_string_lossy().into_owned());
        args.log
            .with_file_name(format!("{stem}-scored.{}", vigie_log::LOG_EXTENSION))
    });
    if out.exists() {
        bail!(UsageError(format!(
            "{} exists; choose another --out",
            out.display()
        )));
    }
    for (scorer, _) in &scorers {
        let reference = ScorerRef {
            name: scorer.name.clone(),
            metrics: scorer.metrics.clone(),
        };
        match header.scorers.iter_mut().find(|s| s.name == scorer.name) {
            Some(existing) => *existing = reference,
            None => header.scorers.push(reference),
        }
    }

    let scorers = Arc::new(scorers);
    let rescored: Vec<SampleRecord> = in_order(records, args.max_connections, move |record| {
        let (scorers, judge) = (scorers.clone(), judge.clone());
        async move { rescore(record, &scorers, judge.as_deref()).await }
    })?;

    let mut writer = LogWriter::create(&out, &header)
        .with_context(|| format!("cannot write {}", out.display()))?;
    for record in &rescored {
        writer.append_sample(record)?;
    }
    let status = old_footer.as_ref().map_or(RunStatus::Started, |f| f.status);
    let footer = vigie_log::results::RunTally::of(&header, &rescored).footer(
        status,
        old_footer.as_ref().and_then(|f| f.error.clone()),
        vigie_log::now_rfc3339(),
        0.0,
    );
    writer.finish(&footer)?;
    println!(
        "{}",
        crate::render::results(&header, &footer, &out.display().to_string())
    );
    Ok(if footer.samples.errors > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// Applies `work` to every item, at most `max_in_flight` at a time, and
/// returns the results in the items' order.
pub(crate) fn in_order<T, R, F, Fut>(items: Vec<T>, max_in_flight: usize, work: F) -> Result<Vec<R>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let done = runtime.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
        let mut jobs = tokio::task::JoinSet::new();
        for (position, item) in items.into_iter().enumerate() {
            let (limit, job) = (limit.clone(), work(item));
            jobs.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("never closed");
                (position, job.await)
            });
        }
        let mut done = Vec::new();
        while let Some(joined) = jobs.join_next().await {
            done.push(joined.expect("scoring does not panic"));
        }
        done
    });
    runtime.shutdown_background();
    let mut done = done;
    done.sort_by_key(|(position, _)| *position);
    Ok(done.into_iter().map(|(_, result)| result).collect())
}

async fn rescore(
    mut record: SampleRecord,
    scorers: &[(Scorer, Templates)],
    judge: Option<&dyn ModelApi>,
) -> SampleRecord {
    // A record whose generation failed has nothing to score.
    if record.error.as_ref().is_some_and(|e| e.kind != "scorer") {
        return record;
    }
    record.error = None;
    for (scorer, templates) in scorers {
        let input = ScoreInput {
            input: &record.input,
            output: &record.output,
            target: &record.target,
            choices: &record.choices,
            metadata: &record.metadata,
        };
        match scorer.score(input, judge, templates).await {
            Ok(score) => {
                record.scores.insert(scorer.name.clone(), score);
            }
            Err(e) => {
                record.scores.remove(&scorer.name);
                record.error.get_or_insert(SampleError {
                    kind: "scorer".into(),
                    message: format!("scorer `{}`: {e}", scorer.name),
                });
            }
        }
    }
    record
}
