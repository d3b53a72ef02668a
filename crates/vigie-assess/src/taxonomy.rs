//! The risk taxonomy: vigie's risk areas and their places in the EU Code of
//! Practice, the International AI Safety Report, the Hiroshima Code of
//! Conduct, the Seoul commitments, NIST AI 600-1, OWASP and MITRE ATLAS.
//! The content is data (`data/risks.toml`); this module reads and checks it.

use std::sync::OnceLock;

use serde::Deserialize;

/// The built-in taxonomy file.
pub const RISKS_TOML: &str = include_str!("../data/risks.toml");

/// The systemic risks the Code of Practice names (Appendix 1.4), or none.
pub const COP_RISKS: [&str; 5] = [
    "CBRN",
    "cyber offence",
    "harmful manipulation",
    "loss of control",
    "none",
];

/// One risk area.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskArea {
    /// Stable id, used by task files, logs and frameworks.
    pub id: String,
    /// Short title.
    pub name: String,
    /// One paragraph on what the area covers and what gives evidence for it.
    pub description: String,
    /// The Code of Practice systemic risk it is (one of [`COP_RISKS`]).
    pub cop: String,
    /// Where else the Code of Practice touches it.
    #[serde(default)]
    pub cop_note: Option<String>,
    /// International AI Safety Report 2025 sections.
    pub iasr: Vec<String>,
    /// Hiroshima Code of Conduct actions (1 to 11).
    pub hiroshima: Vec<u8>,
    /// Seoul commitments (I to VIII) and best practices (BP1 to BP8).
    pub seoul: Vec<String>,
    /// NIST AI 600-1 risks.
    pub nist: Vec<String>,
    /// OWASP Top 10 for LLM Applications ids, for safeguard areas.
    #[serde(default)]
    pub owasp: Vec<String>,
    /// The OWASP edition the ids are from.
    #[serde(default)]
    pub owasp_edition: Option<String>,
    /// MITRE ATLAS ids.
    #[serde(default)]
    pub atlas: Vec<String>,
    /// The ATLAS release the ids are from.
    #[serde(default)]
    pub atlas_release: Option<String>,
}

/// The whole taxonomy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    /// Version of the file's shape.
    pub version: u32,
    /// The areas, in the order they are shown.
    #[serde(rename = "area")]
    pub areas: Vec<RiskArea>,
}

/// A taxonomy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("risk taxonomy: {0}")]
pub struct TaxonomyError(String);

impl Taxonomy {
    /// The built-in taxonomy.
    pub fn builtin() -> &'static Taxonomy {
        static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();
        TAXONOMY.get_or_init(|| {
            Taxonomy::parse(RISKS_TOML).expect("the built-in taxonomy is valid (tested)")
        })
    }

    /// Reads and checks a taxonomy file's text.
    pub fn parse(text: &str) -> Result<Taxonomy, TaxonomyError> {
        let taxonomy: Taxonomy = toml::from_str(text).map_err(|e| TaxonomyError(e.to_string()))?;
        let seoul =
            regex::Regex::new(r"^(?:I|II|III|IV|V|VI|VII|VIII|BP[1-8])$").expect("valid regex");
        let iasr = regex::Regex::new(r"^[1-5](?:\.[1-9](?:\.[1-9])?)?$").expect("valid regex");
        let mut seen = std::collections::BTreeSet::new();
        for area in &taxonomy.areas {
            let bad = |m: String| TaxonomyError(format!("area `{}`: {m}", area.id));
            if !seen.insert(area.id.as_str()) {
                return Err(bad("the id is used twice".into()));
            }
            if area.id.is_empty() || !area.id.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(bad("ids are lower-case letters and underscores".into()));
            }
            if !COP_RISKS.contains(&area.cop.as_str()) {
                return Err(bad(format!(
                    "`cop` is `{}`; use one of {}",
                    area.cop,
                    COP_RISKS.join(", ")
                )));
            }
            if let Some(action) = area.hiroshima.iter().find(|a| !(1..=11).contains(*a)) {
                return Err(bad(format!(
                    "Hiroshima action {action} does not exist (1 to 11)"
                )));
            }
            if let Some(s) = area.seoul.iter().find(|s| !seoul.is_match(s)) {
                return Err(bad(format!(
                    "Seoul `{s}` is neither a commitment I-VIII nor a best practice BP1-BP8"
                )));
            }
            if let Some(s) = area.iasr.iter().find(|s| !iasr.is_match(s)) {
                return Err(bad(format!(
                    "`{s}` is not a section number of the International AI Safety Report"
                )));
            }
            if !area.owasp.is_empty() && area.owasp_edition.is_none() {
                return Err(bad(
                    "OWASP ids need `owasp_edition`: the list is renumbered between editions"
                        .into(),
                ));
            }
            if !area.atlas.is_empty() && area.atlas_release.is_none() {
                return Err(bad("ATLAS ids need `atlas_release`".into()));
            }
        }
        Ok(taxonomy)
    }

    /// The area with this id.
    pub fn area(&self, id: &str) -> Option<&RiskArea> {
        self.areas.iter().find(|a| a.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_taxonomy_has_the_areas_the_summits_named() {
        let taxonomy = Taxonomy::parse(RISKS_TOML).unwrap();
        for id in [
            "cbrn",
            "cyber",
            "manipulation",
            "loss_of_control",
            "safeguards",
            "harmful_content",
            "reliability",
            "over_refusal",
        ] {
            assert!(taxonomy.area(id).is_some(), "no area `{id}`");
        }
        // Each of the Code of Practice's four systemic risks is some area's.
        for risk in &COP_RISKS[..4] {
            assert!(
                taxonomy.areas.iter().any(|a| a.cop == *risk),
                "no area is the CoP risk `{risk}`"
            );
        }
        assert!(taxonomy
            .area("safeguards")
            .unwrap()
            .owasp
            .contains(&"LLM01".to_string()));
    }

    #[test]
    fn mistakes_in_a_taxonomy_are_named() {
        let base = "version = 1\n[[area]]\nid = \"x\"\nname = \"X\"\ndescription = \"d\"\niasr = [\"2.1\"]\nhiroshima = [1]\nseoul = [\"I\"]\nnist = []\n";
        let check = |extra: &str, expect: &str| {
            let e = Taxonomy::parse(&format!("{base}{extra}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expect), "{e}");
        };
        check("cop = \"bio\"\n", "`cop` is `bio`");
        check(
            "cop = \"none\"\nowasp = [\"LLM01\"]\n",
            "need `owasp_edition`",
        );
        let e = Taxonomy::parse(
            &base
                .replace("[1]", "[12]")
                .replace("nist = []", "nist = []\ncop = \"none\""),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Hiroshima action 12"), "{e}");
    }
}
