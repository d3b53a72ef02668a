//! vigie's reports: an assessment and the logs behind it, rendered for the
//! people who must read it — one self-contained HTML page (inline styles and
//! SVG plots, nothing fetched), Markdown, or JSON.
//!
//! The sections follow the Code of Practice's Safety and Security Model
//! Report (model; why each risk is or is not acceptable; per-risk evaluations
//! with scoring, elicitation and five random samples; limitations) and add
//! the G7 Hiroshima Code of Conduct actions. Every report names the logs it
//! came from by Merkle root, so `vigie verify` can check it against them.
#![deny(missing_docs)]

mod data;
mod from_logs;
mod svg;

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::Environment;

pub use data::{
    build, Evaluation, Example, Heatmap, HiroshimaRow, ModelSummary, ReportData, ReportInput,
};
pub use from_logs::{from_logs, FromLogs};
pub use vigie_seal::ReportFormat;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The logs could not be read as a report needs.
    #[error("{0}")]
    Input(String),
    /// A template failed (a bug: templates are tested).
    #[error("report template: {0}")]
    Template(String),
}

/// Renders a report in a format. The text ends with the sources line (HTML
/// and Markdown) or `sources` member (JSON) that `vigie verify` reads.
pub fn render(data: &ReportData, format: ReportFormat) -> Result<String, ReportError> {
    match format {
        ReportFormat::Json => {
            Ok(serde_json::to_string_pretty(data).expect("report data serializes") + "\n")
        }
        ReportFormat::Markdown => render_template(
            data,
            "report.md",
            include_str!("../templates/report.md"),
            BTreeMap::new(),
        ),
        ReportFormat::Html => {
            let assessment = &data.assessment;
            let mut extra = BTreeMap::new();
            let charts: BTreeMap<String, Value> = assessment
                .models
                .iter()
                .filter_map(|m| {
                    svg::findings_chart(m, &assessment.tiers)
                        .map(|s| (m.model.clone(), Value::from_safe_string(s)))
                })
                .collect();
            extra.insert("charts", Value::from(charts));
            extra.insert(
                "models_chart",
                svg::models_chart(&assessment.models)
                    .map(Value::from_safe_string)
                    .unwrap_or(Value::from(())),
            );
            extra.insert(
                "heatmaps",
                Value::from(
                    data.heatmaps
                        .iter()
                        .map(|h| Value::from_safe_string(svg::heatmap(h)))
                        .collect::<Vec<_>>(),
                ),
            );
            render_template(
                data,
                "report.html",
                include_str!("../templates/report.html"),
                extra,
            )
        }
    }
}

fn render_template(
    data: &ReportData,
    name: &str,
    source: &str,
    extra: BTreeMap<&str, Value>,
) -> Result<String, ReportError> {
    let mut env = Environment::new();
    env.add_filter("num", |v: Value| -> String {
        match f64::try_from(v.clone()) {
            Ok(x) => format!("{x:.2}"),
            Err(_) if v.is_undefined() || v.is_none() => "—".to_string(),
            Err(_) => v.to_string(),
        }
    });
    // Markdown table cells and list items: one line, no pipes, no HTML.
    env.add_filter("md_inline", |text: String| -> String {
        text.replace('\r', "")
            .replace('\n', " ⏎ ")
            .replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    });
    let tiers = data.assessment.tiers.clone();
    env.add_function("badge", move |tier: Option<String>| -> Value {
        let html = match tier {
            Some(tier) => {
                let rank = tiers.iter().position(|t| *t == tier).unwrap_or(0);
                format!(
                    r#"<span class="badge" style="background:{}">{}</span>"#,
                    svg::tier_colour(rank, tiers.len(), false),
                    svg::escape(&tier)
                )
            }
            None => r#"<span class="badge none">not assessed</span>"#.to_string(),
        };
        Value::from_safe_string(html)
    });
    env.add_template(name, source)
        .map_err(|e| ReportError::Template(format!("{e:#}")))?;
    let mut context: BTreeMap<&str, Value> = extra;
    context.insert("data", Value::from_serialize(data));
    context.insert(
        "sources_line",
        Value::from_safe_string(vigie_seal::embed_sources(&data.sources)),
    );
    let text = env
        .get_template(name)
        .and_then(|t| t.render(context))
        .map_err(|e| ReportError::Template(format!("{e:#}")))?;
    Ok(if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    })
}

#[cfg(test)]
mod tests;
