//! Ready-made log parts for tests of the crates that read logs (behind the
//! `fixtures` feature, which only dev-dependencies turn on).

use std::collections::BTreeMap;

use vigie_core::{ChatMessage, GenerateConfig, Usage};

use crate::{
    LogFooter, LogHeader, ModelRef, RunSettings, RunStatus, SampleCounts, SampleRecord, Score,
    ScorerRef, TaskRef, FORMAT_VERSION,
};

/// A header for `task` on `model` with one scorer and plain settings.
pub fn header(task: &str, model: &str, scorer: &str, records: usize) -> LogHeader {
    LogHeader {
        format_version: FORMAT_VERSION,
        vigie_version: "0.1.0".into(),
        run_id: format!("run-{task}"),
        started_at: "2026-01-01T00:00:00Z".into(),
        task: TaskRef {
            name: task.into(),
            source: format!("suite:x/{task}"),
            source_sha256: "0123456789abcdef0123".into(),
            dataset: "data.jsonl".into(),
            dataset_sha256: "fe".into(),
            dataset_samples: records,
            risk_areas: vec![],
            group_by: None,
            chance: None,
            contrast: None,
        },
        model: ModelRef {
            name: model.into(),
            base_url: None,
            profile: None,
        },
        judge_model: None,
        attacker_model: None,
        settings: RunSettings {
            sandbox: None,
            generate: GenerateConfig {
                temperature: Some(0.0),
                max_tokens: Some(128),
                ..GenerateConfig::default()
            },
            epochs: 1,
            epochs_reducer: crate::metrics::Reducer::Mean,
            limit: None,
            sample_ids: vec![],
            seed: 0,
            max_connections: 4,
            timeout_s: 60.0,
            max_retries: 3,
            fail_on_error: None,
            cache: false,
            max_cost: None,
            max_tokens_total: None,
            shard: None,
        },
        scorers: vec![ScorerRef {
            name: scorer.into(),
            metrics: vec![
                crate::metrics::Metric::Mean,
                crate::metrics::Metric::BootstrapCi,
            ],
            judge: None,
        }],
        planned_records: records,
        merged_from: vec![],
    }
}

/// The footer of a successful run of `records` records with these metrics.
pub fn footer(records: usize, metrics: BTreeMap<String, f64>) -> LogFooter {
    LogFooter {
        status: RunStatus::Success,
        finished_at: "2026-01-01T00:01:00Z".into(),
        duration_s: 60.0,
        samples: SampleCounts {
            total: records,
            completed: records,
            errors: 0,
        },
        metrics,
        groups: vec![],
        contrasts: vec![],
        pass_at_k: Vec::new(),
        usage: Usage::default(),
        retries: 0,
        unscored: BTreeMap::new(),
        error: None,
        cost_usd: None,
    }
}

/// A one-turn record of sample `id` answered with `output` and scored `value` by `scorer`.
pub fn record(
    id: &str,
    index: usize,
    scorer: &str,
    value: f64,
    input: &str,
    output: &str,
) -> SampleRecord {
    SampleRecord {
        agent: None,
        id: id.into(),
        epoch: 1,
        index,
        input: input.into(),
        target: vec![],
        choices: vec![],
        metadata: Default::default(),
        messages: vec![
            ChatMessage::system("You are a helpful assistant."),
            ChatMessage::user(input),
            ChatMessage::assistant(output),
        ],
        output: output.into(),
        choice_loglikelihoods: vec![],
        scores: [(scorer.to_string(), Score::of(value))]
            .into_iter()
            .collect(),
        usage: Usage::default(),
        retries: 0,
        cache_hits: 0,
        time_s: 0.5,
        error: None,
        score_errors: BTreeMap::new(),
        cost_usd: None,
    }
}
