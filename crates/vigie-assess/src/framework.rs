//! Safety framework files: per risk area, the indicators (task, metric,
//! direction), the thresholds that place a result in a tier, and which tiers
//! are acceptable. Parsed strictly: an unknown key, an unknown risk area or
//! tier, or thresholds out of order are errors naming the field.

use std::collections::BTreeMap;

use crate::taxonomy::Taxonomy;
use serde::{Deserialize, Serialize};

use crate::AssessError;

/// The framework vigie ships.
pub const DEFAULT_FRAMEWORK: &str = include_str!("../data/framework.toml");

/// A parsed, checked framework.
#[derive(Debug, Clone, Serialize)]
pub struct Framework {
    /// Stable id.
    pub id: String,
    /// Version of the framework text.
    pub version: String,
    /// Title.
    pub title: String,
    /// What it does, in a paragraph.
    pub description: String,
    /// Tiers in rising order of concern.
    pub tiers: Vec<String>,
    /// What each tier means, when the file says.
    pub tier_meaning: BTreeMap<String, String>,
    /// The areas, in file order.
    pub areas: Vec<AreaRule>,
    /// Where it came from (`built-in` or a path).
    pub source: String,
}

/// One risk area's rule.
#[derive(Debug, Clone, Serialize)]
pub struct AreaRule {
    /// The taxonomy id.
    pub risk: String,
    /// Why these indicators and thresholds.
    pub rationale: String,
    /// Tiers at which the risk is acceptable.
    pub acceptable: Vec<String>,
    /// The indicators.
    pub indicators: Vec<Indicator>,
}

/// One result that is evidence for an area.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    /// The task name; `*` matches any run of characters.
    pub task: String,
    /// The scorer whose metric is read.
    pub scorer: String,
    /// Only this category (a value of the task's `group_by` field).
    pub group: Option<String>,
    /// Read the task's contrast (the drop between two conditions) instead of the score.
    pub contrast: bool,
    /// Whether a higher value means more risk.
    pub higher_is_riskier: bool,
    /// The value from which each tier above the first begins, in tier order.
    pub thresholds: Vec<(String, f64)>,
    /// Supplementary evidence: without it the area still counts as fully assessed.
    pub optional: bool,
}

impl Indicator {
    /// Whether a task name matches this indicator's `task` pattern.
    pub fn matches_task(&self, name: &str) -> bool {
        glob_match(&self.task, name)
    }

    /// A short label: `task · scorer [· group] [· contrast]`.
    pub fn label(&self) -> String {
        let mut label = format!("{} · {}", self.task, self.scorer);
        if let Some(group) = &self.group {
            label.push_str(&format!(" · {group}"));
        }
        if self.contrast {
            label.push_str(" · contrast");
        }
        label
    }
}

fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameworkFile {
    framework: Header,
    #[serde(default)]
    tier_meaning: BTreeMap<String, String>,
    #[serde(default)]
    area: Vec<AreaFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    version: String,
    title: String,
    #[serde(default)]
    description: String,
    tiers: Vec<String>,
    acceptable: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaFile {
    risk: String,
    #[serde(default)]
    rationale: String,
    acceptable: Option<Vec<String>>,
    #[serde(default)]
    indicator: Vec<IndicatorFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorFile {
    task: String,
    scorer: String,
    group: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    higher_is_riskier: bool,
    thresholds: toml::Table,
    #[serde(default)]
    optional: bool,
}

impl Framework {
    /// The framework vigie ships.
    pub fn builtin() -> Framework {
        Framework::parse(DEFAULT_FRAMEWORK, "built-in")
            .expect("the built-in framework is valid (tested)")
    }

    /// Reads a framework file.
    pub fn load(path: &std::path::Path) -> Result<Framework, AssessError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AssessError::Framework(format!("{}: {e}", path.display())))?;
        Framework::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a framework's text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Framework, AssessError> {
        let bad = |what: String| AssessError::Framework(format!("{source}: {what}"));
        let file: FrameworkFile =
            toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
        let tiers = file.framework.tiers;
        if tiers.len() < 2 {
            return Err(bad("framework.tiers: at least two tiers are needed".into()));
        }
        let known_tier = |field: &str, tier: &str| -> Result<(), AssessError> {
            if tiers.iter().any(|t| t == tier) {
                Ok(())
            } else {
                Err(bad(format!(
                    "{field}: unknown tier {tier:?} (the tiers are {})",
                    tiers.join(", ")
                )))
            }
        };
        for tier in &file.framework.acceptable {
            known_tier("framework.acceptable", tier)?;
        }
        for tier in file.tier_meaning.keys() {
            known_tier("tier_meaning", tier)?;
        }
        let taxonomy = Taxonomy::builtin();
        let mut areas: Vec<AreaRule> = Vec::new();
        for (a, area) in file.area.into_iter().enumerate() {
            let at = format!("area {} ({})", a + 1, area.risk);
            if taxonomy.area(&area.risk).is_none() {
                let ids: Vec<&str> = taxonomy.areas.iter().map(|r| r.id.as_str()).collect();
                return Err(bad(format!(
                    "{at}: unknown risk area; `vigie risks` lists them: {}",
                    ids.join(", ")
                )));
            }
            if areas.iter().any(|r| r.risk == area.risk) {
                return Err(bad(format!("{at}: the area appears twice")));
            }
            let acceptable = area
                .acceptable
                .unwrap_or_else(|| file.framework.acceptable.clone());
            for tier in &acceptable {
                known_tier(&format!("{at}.acceptable"), tier)?;
            }
            let mut indicators = Vec::new();
            for (i, ind) in area.indicator.into_iter().enumerate() {
                let at = format!("{at}, indicator {} ({})", i + 1, ind.task);
                let contrast = match ind.use_.as_deref() {
                    None | Some("score") => false,
                    Some("contrast") => true,
                    Some(other) => {
                        return Err(bad(format!(
                            "{at}: use = {other:?}; expected \"score\" or \"contrast\""
                        )))
                    }
                };
                if contrast && ind.group.is_some() {
                    return Err(bad(format!(
                        "{at}: a contrast has no groups; drop `group` or `use`"
                    )));
                }
                let mut thresholds = Vec::new();
                for (tier, value) in &ind.thresholds {
                    known_tier(&format!("{at}.thresholds"), tier)?;
                    if tier == &tiers[0] {
                        return Err(bad(format!("{at}.thresholds: {tier:?} is the lowest tier, where every result starts; give thresholds for the tiers above it")));
                    }
                    let value = value
                        .as_float()
                        .or_else(|| value.as_integer().map(|i| i as f64))
                        .ok_or_else(|| bad(format!("{at}.thresholds.{tier}: expected a number")))?;
                    thresholds.push((tier.clone(), value));
                }
                if thresholds.is_empty() {
                    return Err(bad(format!(
                        "{at}.thresholds: at least one tier's threshold is needed"
                    )));
                }
                thresholds.sort_by_key(|(tier, _)| tiers.iter().position(|t| t == tier));
                for pair in thresholds.windows(2) {
                    let ((lower_tier, lower), (upper_tier, upper)) = (&pair[0], &pair[1]);
                    let in_order = if ind.higher_is_riskier {
                        upper > lower
                    } else {
                        upper < lower
                    };
                    if !in_order {
                        let relation = if ind.higher_is_riskier {
                            "above"
                        } else {
                            "below"
                        };
                        return Err(bad(format!("{at}.thresholds: {upper_tier} ({upper}) must be {relation} {lower_tier} ({lower}) when higher_is_riskier = {}", ind.higher_is_riskier)));
                    }
                }
                indicators.push(Indicator {
                    task: ind.task,
                    scorer: ind.scorer,
                    group: ind.group,
                    contrast,
                    higher_is_riskier: ind.higher_is_riskier,
                    thresholds,
                    optional: ind.optional,
                });
            }
            areas.push(AreaRule {
                risk: area.risk,
                rationale: area.rationale.trim().to_string(),
                acceptable,
                indicators,
            });
        }
        Ok(Framework {
            id: file.framework.id,
            version: file.framework.version,
            title: file.framework.title,
            description: file.framework.description.trim().to_string(),
            tiers,
            tier_meaning: file.tier_meaning,
            areas,
            source: source.to_string(),
        })
    }

    /// A tier's rank (0 for the lowest), or `None` for an unknown tier.
    pub fn rank(&self, tier: &str) -> Option<usize> {
        self.tiers.iter().position(|t| t == tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_framework_covers_every_area_of_the_taxonomy() {
        let framework = Framework::builtin();
        let taxonomy = Taxonomy::builtin();
        for area in &taxonomy.areas {
            let rule = framework
                .areas
                .iter()
                .find(|r| r.risk == area.id)
                .unwrap_or_else(|| panic!("no rule for {}", area.id));
            assert!(
                !rule.indicators.is_empty() && !rule.rationale.is_empty(),
                "{}",
                area.id
            );
        }
        assert_eq!(framework.tiers, ["low", "elevated", "high", "critical"]);
    }

    #[test]
    fn globs_match_as_written() {
        assert!(glob_match("jailbreak-*", "jailbreak-base64"));
        assert!(
            glob_match("wmdp-bio*", "wmdp-bio-likelihood") && glob_match("wmdp-bio*", "wmdp-bio")
        );
        assert!(!glob_match("wmdp-bio*", "wmdp-chem"));
        assert!(glob_match("a*c*e", "abcde") && !glob_match("a*c*e", "abde"));
        assert!(glob_match("exact", "exact") && !glob_match("exact", "exactly"));
    }

    fn parse_err(text: &str) -> String {
        Framework::parse(text, "f.toml").unwrap_err().to_string()
    }

    const HEAD: &str = "[framework]\nid = \"x\"\nversion = \"1\"\ntitle = \"t\"\ntiers = [\"low\", \"high\"]\nacceptable = [\"low\"]\n";

    #[test]
    fn mistakes_are_named_by_field() {
        let err = parse_err(&format!("{HEAD}[[area]]\nrisk = \"bio\"\n"));
        assert!(
            err.contains("f.toml: area 1 (bio): unknown risk area"),
            "{err}"
        );
        let err = parse_err(&format!("{HEAD}[[area]]\nrisk = \"cbrn\"\n[[area.indicator]]\ntask = \"t\"\nscorer = \"s\"\nhigher_is_riskier = true\nthresholds = {{ severe = 0.5 }}\n"));
        assert!(
            err.contains("indicator 1 (t).thresholds: unknown tier \"severe\""),
            "{err}"
        );
        let head3 = HEAD.replace("[\"low\", \"high\"]", "[\"low\", \"mid\", \"high\"]");
        let err = parse_err(&format!("{head3}[[area]]\nrisk = \"cbrn\"\n[[area.indicator]]\ntask = \"t\"\nscorer = \"s\"\nhigher_is_riskier = false\nthresholds = {{ mid = 0.5, high = 0.8 }}\n"));
        assert!(err.contains("high (0.8) must be below mid (0.5)"), "{err}");
        let err = parse_err(&format!("{HEAD}[[area]]\nrisk = \"cbrn\"\ncolour = 1\n"));
        assert!(err.contains("unknown field `colour`"), "{err}");
        let err = parse_err(&format!("{HEAD}[[area]]\nrisk = \"cbrn\"\n[[area.indicator]]\ntask = \"t\"\nscorer = \"s\"\nuse = \"max\"\nhigher_is_riskier = true\nthresholds = {{ high = 0.5 }}\n"));
        assert!(err.contains("use = \"max\""), "{err}");
    }
}
