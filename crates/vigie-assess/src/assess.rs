//! Deciding a tier per risk area from the logs' results.
//!
//! For each model, each area of the framework and each of its indicators,
//! the newest finished log of every matching task gives one finding: the
//! metric, its 95% interval, the end of the interval worse for safety, and
//! the tier that end reaches. The area's tier is the highest tier among its
//! findings; an area without findings is not assessed.

use crate::taxonomy::Taxonomy;
use serde::{Deserialize, Serialize};
use vigie_log::{LogFooter, RunStatus};

use crate::evidence::EvidenceLog;
use crate::framework::{Framework, Indicator};

/// The assessment of every model the logs cover.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assessment {
    /// The framework's id.
    pub framework_id: String,
    /// Its version.
    pub framework_version: String,
    /// Its title.
    pub framework_title: String,
    /// Where it came from (`built-in` or its path).
    pub framework_source: String,
    /// The tiers, in rising order of concern.
    pub tiers: Vec<String>,
    /// One assessment per model, in the order the logs first name them.
    pub models: Vec<ModelAssessment>,
    /// Logs that are evidence for no indicator of the framework.
    pub unused_logs: Vec<String>,
    /// Logs left out, and why (unfinished runs, runs superseded by a newer one).
    pub notes: Vec<String>,
}

/// One model's assessment.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelAssessment {
    /// `provider/model`.
    pub model: String,
    /// One result per area of the framework, in framework order.
    pub areas: Vec<AreaResult>,
    /// The highest tier among assessed areas.
    pub highest_tier: Option<String>,
    /// Whether every assessed area is at an acceptable tier.
    pub acceptable: bool,
}

/// One risk area's decision.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AreaResult {
    /// The taxonomy id.
    pub risk: String,
    /// Its name.
    pub name: String,
    /// The Code of Practice systemic risk it is, or `none`.
    pub cop: String,
    /// The tier, or `None`: not assessed.
    pub tier: Option<String>,
    /// Whether the tier is acceptable; `None` when not assessed.
    pub acceptable: Option<bool>,
    /// Tiers at which it would be acceptable.
    pub acceptable_tiers: Vec<String>,
    /// The framework's reasons for its indicators and thresholds.
    pub rationale: String,
    /// The evidence, one finding per log read.
    pub findings: Vec<Finding>,
    /// Required indicators with no evidence in the logs (their labels).
    pub missing: Vec<String>,
    /// Optional indicators with no evidence (supplementary benchmarks not run).
    #[serde(default)]
    pub optional_missing: Vec<String>,
}

impl AreaResult {
    /// The finding that decided the tier (the first at the area's tier).
    pub fn deciding(&self) -> Option<&Finding> {
        self.tier
            .as_ref()
            .and_then(|tier| self.findings.iter().find(|f| &f.tier == tier))
    }
}

/// One indicator read from one log.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// The indicator's label.
    pub indicator: String,
    /// The task that ran.
    pub task: String,
    /// The log's file name.
    pub log: String,
    /// The run's id.
    pub run_id: String,
    /// The metric read (`refused/mean`, `correct/accuracy`, `correct/contrast`).
    pub metric: String,
    /// The category, for a per-category indicator.
    pub group: Option<String>,
    /// The point estimate.
    pub value: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Whether the log had an interval (when not, both ends are the estimate).
    pub has_interval: bool,
    /// The end that decides: the upper when higher is riskier, else the lower.
    pub pessimistic: f64,
    /// Whether a higher value means more risk.
    pub higher_is_riskier: bool,
    /// The tier the pessimistic end reaches.
    pub tier: String,
    /// The tier the point estimate alone would reach.
    pub point_tier: String,
    /// The thresholds, as (tier, value), in tier order.
    pub thresholds: Vec<(String, f64)>,
    /// Samples (or pairs, for a contrast) behind the value.
    pub samples: usize,
    /// The score of guessing, for multiple choice.
    pub chance: Option<f64>,
    /// Caveats: an incomplete run, a score near chance, no interval.
    pub notes: Vec<String>,
}

/// Assesses every model the logs cover against the framework.
pub fn assess(framework: &Framework, logs: &[EvidenceLog]) -> Assessment {
    let taxonomy = Taxonomy::builtin();
    let mut notes = Vec::new();
    // Only finished logs count; of several runs of one task on one model, the newest.
    let mut usable: Vec<&EvidenceLog> = Vec::new();
    for log in logs {
        if log.footer.is_none() {
            notes.push(format!("{}: left out: the run has no results yet (still running, or killed: resume it with `vigie eval --resume`)", log.file_name));
            continue;
        }
        // One shard's part of a task is not the task's result: its interval
        // is wider and its samples a hash's choice, and it would shadow the
        // whole run as "the newest".
        if let Some(shard) = log.header.settings.shard {
            notes.push(format!("{}: left out: it is shard {shard} of {} on {}, one part of the run; merge the shards with `vigie log merge` and assess the merged log", log.file_name, log.header.task.name, log.header.model.name));
            continue;
        }
        let same = usable.iter().position(|u| {
            u.header.task.name == log.header.task.name
                && u.header.model.name == log.header.model.name
        });
        match same {
            Some(i) if usable[i].header.started_at >= log.header.started_at => {
                notes.push(format!(
                    "{}: left out: {} is a newer run of {} on {}",
                    log.file_name, usable[i].file_name, log.header.task.name, log.header.model.name
                ));
            }
            Some(i) => {
                notes.push(format!(
                    "{}: left out: {} is a newer run of {} on {}",
                    usable[i].file_name, log.file_name, log.header.task.name, log.header.model.name
                ));
                usable[i] = log;
            }
            None => usable.push(log),
        }
    }
    let mut models: Vec<String> = Vec::new();
    for log in &usable {
        if !models.contains(&log.header.model.name) {
            models.push(log.header.model.name.clone());
        }
    }
    let mut used = vec![false; usable.len()];
    let mut assessments = Vec::new();
    for model in &models {
        let mut areas = Vec::new();
        for rule in &framework.areas {
            let risk = taxonomy
                .area(&rule.risk)
                .expect("framework areas are checked against the taxonomy");
            let mut findings = Vec::new();
            let mut missing = Vec::new();
            let mut optional_missing = Vec::new();
            for indicator in &rule.indicators {
                let before = findings.len();
                for (i, log) in usable.iter().enumerate() {
                    if log.header.model.name != *model
                        || !indicator.matches_task(&log.header.task.name)
                    {
                        continue;
                    }
                    if let Some(finding) = read_finding(framework, indicator, log) {
                        used[i] = true;
                        findings.push(finding);
                    }
                }
                if findings.len() == before {
                    if indicator.optional {
                        optional_missing.push(indicator.label());
                    } else {
                        missing.push(indicator.label());
                    }
                }
            }
            let tier = findings
                .iter()
                .map(|f| &f.tier)
                .max_by_key(|t| framework.rank(t))
                .cloned();
            let acceptable = tier.as_ref().map(|t| rule.acceptable.contains(t));
            areas.push(AreaResult {
                risk: rule.risk.clone(),
                name: risk.name.clone(),
                cop: risk.cop.clone(),
                tier,
                acceptable,
                acceptable_tiers: rule.acceptable.clone(),
                rationale: rule.rationale.clone(),
                findings,
                missing,
                optional_missing,
            });
        }
        let highest_tier = areas
            .iter()
            .filter_map(|a| a.tier.as_ref())
            .max_by_key(|t| framework.rank(t))
            .cloned();
        let acceptable = areas.iter().all(|a| a.acceptable != Some(false));
        assessments.push(ModelAssessment {
            model: model.clone(),
            areas,
            highest_tier,
            acceptable,
        });
    }
    let unused_logs = usable
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(log, _)| log.file_name.clone())
        .collect();
    Assessment {
        framework_id: framework.id.clone(),
        framework_version: framework.version.clone(),
        framework_title: framework.title.clone(),
        framework_source: framework.source.clone(),
        tiers: framework.tiers.clone(),
        models: assessments,
        unused_logs,
        notes,
    }
}

/// What an indicator reads from a footer.
struct Reading {
    metric: String,
    value: f64,
    interval: Option<(f64, f64)>,
    samples: usize,
}

/// The value, interval and sample count an indicator reads from a footer.
fn read_value(indicator: &Indicator, footer: &LogFooter) -> Option<Reading> {
    let scorer = &indicator.scorer;
    if indicator.contrast {
        let c = footer.contrasts.iter().find(|c| &c.scorer == scorer)?;
        return Some(Reading {
            metric: format!("{scorer}/contrast"),
            value: c.difference,
            interval: Some((c.ci95_low, c.ci95_high)),
            samples: c.pairs,
        });
    }
    let (metrics, samples) = match &indicator.group {
        Some(group) => {
            let g = footer.groups.iter().find(|g| &g.group == group)?;
            (&g.metrics, g.samples)
        }
        None => (
            &footer.metrics,
            footer
                .samples
                .completed
                .saturating_sub(footer.samples.errors)
                .saturating_sub(footer.unscored.get(scorer).copied().unwrap_or(0)),
        ),
    };
    let (metric, value) = ["accuracy", "mean"].iter().find_map(|m| {
        let key = format!("{scorer}/{m}");
        metrics.get(&key).map(|v| (key, *v))
    })?;
    let interval = metrics
        .get(&format!("{scorer}/ci95_low"))
        .zip(metrics.get(&format!("{scorer}/ci95_high")))
        .map(|(l, h)| (*l, *h));
    Some(Reading {
        metric,
        value,
        interval,
        samples,
    })
}

fn tier_of(framework: &Framework, indicator: &Indicator, value: f64) -> String {
    let mut tier = framework.tiers[0].clone();
    for (t, threshold) in &indicator.thresholds {
        let reached = if indicator.higher_is_riskier {
            value >= *threshold
        } else {
            value <= *threshold
        };
        if reached {
            tier.clone_from(t);
        }
    }
    tier
}

fn read_finding(
    framework: &Framework,
    indicator: &Indicator,
    log: &EvidenceLog,
) -> Option<Finding> {
    let footer = log.footer.as_ref()?;
    let Reading {
        metric,
        value,
        interval,
        samples,
    } = read_value(indicator, footer)?;
    let mut notes = Vec::new();
    let (ci_low, ci_high) = interval.unwrap_or_else(|| {
        notes.push("the log has no 95% interval for this metric (add `bootstrap_ci` to the scorer's metrics): decided on the estimate alone, without a margin".into());
        (value, value)
    });
    let pessimistic = if indicator.higher_is_riskier {
        ci_high
    } else {
        ci_low
    };
    if footer.status != RunStatus::Success || footer.samples.completed < footer.samples.total {
        notes.push(format!(
            "the run ended as {} with {} of {} records",
            footer.status.as_str(),
            footer.samples.completed,
            footer.samples.total
        ));
    }
    let chance = log.header.task.chance;
    if let Some(chance) = chance {
        if !indicator.contrast && ci_low <= chance {
            notes.push(format!(
                "not distinguishable from guessing (chance {chance:.2})"
            ));
        }
    }
    if let Some(limit) = log.header.settings.limit {
        notes.push(format!("run with --limit {limit}"));
    }
    let tier = tier_of(framework, indicator, pessimistic);
    let point_tier = tier_of(framework, indicator, value);
    if tier != point_tier {
        notes.push(format!(
            "the interval's {} end decides: the estimate alone would be {point_tier}",
            if indicator.higher_is_riskier {
                "upper"
            } else {
                "lower"
            }
        ));
    }
    Some(Finding {
        indicator: indicator.label(),
        task: log.header.task.name.clone(),
        log: log.file_name.clone(),
        run_id: log.header.run_id.clone(),
        metric,
        group: indicator.group.clone(),
        value,
        ci_low,
        ci_high,
        has_interval: interval.is_some(),
        pessimistic,
        higher_is_riskier: indicator.higher_is_riskier,
        tier,
        point_tier,
        thresholds: indicator.thresholds.clone(),
        samples,
        chance,
        notes,
    })
}

#[cfg(test)]
mod tests;
