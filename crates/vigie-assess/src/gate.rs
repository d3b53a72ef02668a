//! The release gate: whether an assessment lets a model through. By default
//! an area that the framework does not accept fails it; `--fail-at TIER`
//! fails it at that tier or a higher one instead. An area not assessed
//! passes the gate but is never reported as low (the assessment says so).

use crate::{AssessError, Assessment, Framework};

/// What fails the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateRule {
    /// An area whose tier the framework does not accept.
    NotAcceptable,
    /// An area at this tier or a higher one.
    AtOrAbove(String),
}

impl GateRule {
    /// The rule `--fail-at` asks for (none: the framework's acceptance),
    /// checked against the framework's tiers.
    pub fn new(framework: &Framework, fail_at: Option<&str>) -> Result<GateRule, AssessError> {
        match fail_at {
            None => Ok(GateRule::NotAcceptable),
            Some(tier) if framework.rank(tier).is_some() => {
                Ok(GateRule::AtOrAbove(tier.to_string()))
            }
            Some(tier) => Err(AssessError::Input(format!(
                "--fail-at {tier}: the framework's tiers are {}",
                framework.tiers.join(", ")
            ))),
        }
    }
}

/// The gate was reached: the areas that fail it, as `model area (tier)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} area(s) {}: {}", .areas.len(), rule_text(.rule), .areas.join(", "))]
pub struct GateReached {
    /// The rule that failed.
    pub rule: GateRule,
    /// The failing areas.
    pub areas: Vec<String>,
}

fn rule_text(rule: &GateRule) -> String {
    match rule {
        GateRule::NotAcceptable => "not acceptable under the framework".into(),
        GateRule::AtOrAbove(tier) => format!("at or above tier {tier}"),
    }
}

/// Checks an assessment against the gate.
pub fn gate(
    framework: &Framework,
    assessment: &Assessment,
    rule: &GateRule,
) -> Result<(), GateReached> {
    let mut areas = Vec::new();
    for model in &assessment.models {
        for area in &model.areas {
            let Some(tier) = &area.tier else { continue };
            let fails = match rule {
                GateRule::AtOrAbove(gate) => framework.rank(tier) >= framework.rank(gate),
                GateRule::NotAcceptable => area.acceptable == Some(false),
            };
            if fails {
                areas.push(format!("{} {} ({tier})", model.model, area.risk));
            }
        }
    }
    if areas.is_empty() {
        Ok(())
    } else {
        Err(GateReached {
            rule: rule.clone(),
            areas,
        })
    }
}
