//! `vigie score LOG --scorer ...`: score a finished log again with other
//! scorers, without calling the evaluated model, into a new log
//! (`vigie_eval::rescore`, run by the engine). Given a JSONL or CSV file of
//! prompt-response pairs instead, labels the pairs (`vigie_eval::pairs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use vigie_core::ModelApi;
use vigie_eval::pairs::{self, ScorerAgreement};
use vigie_eval::scorer::Scorer;
use vigie_eval::Templates;
use vigie_log::ModelRef;
use vigie_providers::RetryPolicy;

use crate::progress::Progress;
use crate::render::aligned;
use crate::session::Session;
use crate::{Outcome, UsageError};

#[derive(clap::Args)]
pub(crate) struct ScoreArgs {
    /// The log to score, or a JSONL/CSV file of pairs with `id`, `prompt` and `response`
    log: PathBuf,
    /// A scorer: a name (refusal, includes, exact, choice, f1, model_graded) or an inline table
    /// such as 'pattern = { regex = "ANSWER: (\\d+)" }'; repeatable
    #[arg(long, required = true)]
    scorer: Vec<String>,
    /// The judge model for model_graded and judge scorers, and for the answers an account scorer cannot read by rule
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
    /// Show no progress on stderr
    #[arg(long)]
    no_progress: bool,
}

pub(crate) fn run(args: ScoreArgs) -> Result<Outcome> {
    let (scorers, templates) = Scorer::from_cli_list(&args.scorer).map_err(UsageError)?;
    let judge = match (&args.judge_model, scorers.iter().find(|s| s.needs_judge())) {
        (Some(name), _) if scorers.iter().any(Scorer::may_use_judge) => Some(judge_model(
            name,
            args.judge_base_url.as_deref(),
            args.max_connections,
        )?),
        (None, Some(scorer)) => {
            return Err(UsageError(format!(
                "the scorer `{}` is graded by a judge model, so it needs --judge-model",
                scorer.name
            ))
            .into())
        }
        _ => None,
    };
    if pairs::is_pairs_file(&args.log) {
        return score_pairs(&args, scorers, templates, judge.map(|(model, _)| model));
    }
    if args.against.is_some() {
        return Err(UsageError(
            "--against compares labels of a pairs file (JSONL or CSV), not of a log".into(),
        )
        .into());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| vigie_eval::rescore::default_output(&args.log));
    let rescore = vigie_eval::rescore::plan(
        &args.log,
        &out,
        scorers,
        templates,
        judge,
        args.max_connections,
    )
    .map_err(|e| match e {
        vigie_eval::rescore::RescoreError::Log(e) => anyhow::Error::from(e),
        other => UsageError(other.to_string()).into(),
    })?;
    let header = rescore.writer.header().clone();
    let session = Session::new()?;
    let progress = Arc::new(Progress::new(vec![], !args.no_progress));
    let footer = session.runtime.block_on(vigie_eval::engine::rescore(
        rescore,
        progress.clone(),
        session.cancel.clone(),
    ))?;
    progress.finish();
    session.close();
    println!(
        "{}",
        crate::render::results(&header, &footer, &out.display().to_string())
    );
    Ok(if footer.samples.errors > 0 {
        Outcome::Failed
    } else if !footer.unscored.is_empty() {
        eprintln!(
            "error: {}",
            crate::render::unscored(&footer, &out.display().to_string())
        );
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// The judge model, built as `vigie eval` builds it.
fn judge_model(
    name: &str,
    base_url: Option<&str>,
    max_connections: usize,
) -> Result<(Arc<dyn ModelApi>, ModelRef)> {
    let connection = crate::models::Connection {
        max_connections: max_connections.max(1),
        timeout: Duration::from_secs(120),
        retry: RetryPolicy {
            max_retries: 6,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        },
        cache: None,
        profiles: crate::env::profiles(None)?,
    };
    let judge = crate::models::Registry::new(connection, None).build(name, base_url, None)?;
    Ok((judge.api, judge.reference))
}

fn score_pairs(
    args: &ScoreArgs,
    scorers: Vec<Scorer>,
    templates: Templates,
    judge: Option<Arc<dyn ModelApi>>,
) -> Result<Outcome> {
    let started = Instant::now();
    let library = |e: pairs::PairsError| -> anyhow::Error { UsageError(e.to_string()).into() };
    let input = pairs::read(&args.log).map_err(library)?;
    if let Some(field) = &args.against {
        pairs::check_reference(&args.log, &input, field).map_err(library)?;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| pairs::default_output(&args.log));
    if out.exists() {
        return Err(library(pairs::PairsError::Exists(
            out.display().to_string(),
        )));
    }
    let session = Session::new()?;
    let scored = session.runtime.block_on(pairs::score(
        input,
        scorers,
        templates,
        judge,
        args.max_connections,
    ));
    session.close();
    pairs::write(&out, &scored).map_err(library)?;
    let (labels, undecided) = pairs::tally(&scored);
    let tally: Vec<String> = labels
        .iter()
        .map(|(label, n)| format!("{label} {n}"))
        .collect();
    let tally = if tally.is_empty() {
        "no labels".to_string()
    } else {
        tally.join(", ")
    };
    println!(
        "{} pairs scored in {:.2} s: {tally}",
        scored.len(),
        started.elapsed().as_secs_f64()
    );
    println!("wrote {}", out.display());
    if let Some(field) = &args.against {
        print!(
            "{}",
            agreement_report(field, scored.len(), &pairs::agreement(field, &scored))
        );
    }
    if undecided > 0 {
        eprintln!("error: {undecided} scores could not be decided (see the `error` fields); they are left without a label, never guessed");
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

/// Each scorer's agreement with the reference labels, as text.
fn agreement_report(field: &str, total: usize, agreements: &[ScorerAgreement]) -> String {
    let mut out = String::new();
    for a in agreements {
        let name = &a.scorer;
        let Some(all) = &a.all else {
            out.push_str(&format!("\nscorer `{name}` against `{field}`: no pair has a label to compare ({total} without one)\n"));
            continue;
        };
        let note = if a.by_refused {
            ", judged by its `refused` verdict"
        } else {
            ""
        };
        out.push_str(&format!(
            "\nscorer `{name}` against `{field}`: {} pairs ({} without a label{note})\n",
            all.n, a.without_label
        ));
        let mut rows = vec![vec![String::new(), "accuracy".into(), "kappa".into()]];
        rows.push(vec![
            format!("{} classes", all.classes.len()),
            format!("{:.3}", all.accuracy),
            format!("{:.3}", all.kappa),
        ]);
        if let Some(b) = &a.refused_or_not {
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
