//! The report's plots as inline SVG, drawn by hand: a page that must open
//! offline cannot fetch a plotting library, and three chart kinds do not
//! need one. Every chart has a `<title>` and text labels, so it reads
//! without colour too.

use std::fmt::Write;

use vigie_assess::{Finding, ModelAssessment};

use crate::data::Heatmap;

/// Tier colours by rank (solid for marks, light for bands).
const TIER_SOLID: [&str; 4] = ["#2e7d32", "#b7791f", "#dd6b20", "#c53030"];
const TIER_LIGHT: [&str; 4] = ["#e3f1e4", "#fbf0d3", "#fde3cf", "#f8d7d7"];
/// Colours of models side by side.
const MODEL_COLOURS: [&str; 6] = [
    "#2b6cb0", "#b83280", "#2c7a7b", "#6b46c1", "#975a16", "#4a5568",
];

const WIDTH: f64 = 780.0;
const LABEL_W: f64 = 280.0;
const VALUE_W: f64 = 110.0;
const ROW_H: f64 = 26.0;
const TOP: f64 = 30.0;

/// The colour of a tier by its rank among `count` tiers.
pub(crate) fn tier_colour(rank: usize, count: usize, light: bool) -> &'static str {
    let palette = if light { &TIER_LIGHT } else { &TIER_SOLID };
    // Spread any number of tiers over the four colours, keeping ends fixed.
    let index = if count <= 1 {
        0
    } else {
        (rank * (palette.len() - 1) + (count - 1) / 2) / (count - 1)
    };
    palette[index.min(palette.len() - 1)]
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Scale {
    low: f64,
    high: f64,
    left: f64,
    width: f64,
}

impl Scale {
    fn for_values<'a>(values: impl Iterator<Item = &'a f64>) -> Scale {
        let (mut low, mut high) = (0.0f64, 1.0f64);
        for v in values {
            low = low.min(*v);
            high = high.max(*v);
        }
        if low < 0.0 {
            low = (low * 10.0).floor() / 10.0;
        }
        Scale {
            low,
            high,
            left: LABEL_W,
            width: WIDTH - LABEL_W - VALUE_W,
        }
    }

    fn x(&self, v: f64) -> f64 {
        self.left + (v.clamp(self.low, self.high) - self.low) / (self.high - self.low) * self.width
    }

    fn axis(&self, svg: &mut String, y_top: f64, y_bottom: f64) {
        let mut tick = (self.low * 4.0).ceil() / 4.0;
        while tick <= self.high + 1e-9 {
            let x = self.x(tick);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{y_top:.1}" x2="{x:.1}" y2="{y_bottom:.1}" stroke="#cbd5e0" stroke-width="0.5"/>"##
            );
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#4a5568">{tick:.2}</text>"##,
                y_bottom + 12.0
            );
            tick += 0.25;
        }
    }
}

/// Tier bands of one finding's row: where along the axis each tier begins.
fn bands(svg: &mut String, scale: &Scale, finding: &Finding, tiers: &[String], y: f64) {
    // Boundaries between tiers in axis order.
    let mut cuts: Vec<(f64, usize)> = finding
        .thresholds
        .iter()
        .map(|(t, v)| (*v, tiers.iter().position(|x| x == t).unwrap_or(0)))
        .collect();
    let mut segments: Vec<(f64, f64, usize)> = Vec::new();
    if finding.higher_is_riskier {
        let mut start = (scale.low, 0usize);
        for (value, rank) in cuts.drain(..) {
            segments.push((start.0, value, start.1));
            start = (value, rank);
        }
        segments.push((start.0, scale.high, start.1));
    } else {
        // Lower is riskier: the lowest tier sits on the right.
        let mut end = (scale.high, 0usize);
        for (value, rank) in cuts.drain(..) {
            segments.push((value, end.0, end.1));
            end = (value, rank);
        }
        segments.push((scale.low, end.0, end.1));
    }
    for (from, to, rank) in segments {
        let (x0, x1) = (scale.x(from), scale.x(to));
        if x1 > x0 {
            let _ = write!(
                svg,
                r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                y + 3.0,
                x1 - x0,
                ROW_H - 6.0,
                tier_colour(rank, tiers.len(), true)
            );
        }
    }
}

fn whisker(svg: &mut String, scale: &Scale, finding: &Finding, y: f64, colour: &str) {
    let mid = y + ROW_H / 2.0;
    let (x0, x1, xv) = (
        scale.x(finding.ci_low),
        scale.x(finding.ci_high),
        scale.x(finding.value),
    );
    let _ = write!(
        svg,
        r#"<line x1="{x0:.1}" y1="{mid:.1}" x2="{x1:.1}" y2="{mid:.1}" stroke="{colour}" stroke-width="2"/>"#
    );
    for x in [x0, x1] {
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"/>"#,
            mid - 5.0,
            mid + 5.0
        );
    }
    let _ = write!(
        svg,
        r##"<circle cx="{xv:.1}" cy="{mid:.1}" r="4.5" fill="{colour}" stroke="#fff" stroke-width="1"/>"##
    );
}

/// One model's findings: a row per finding with its tier bands, the estimate,
/// its 95% interval, and the tier reached.
pub(crate) fn findings_chart(model: &ModelAssessment, tiers: &[String]) -> Option<String> {
    let rows: Vec<(&str, Option<&Finding>)> = model
        .areas
        .iter()
        .filter(|a| !a.findings.is_empty())
        .flat_map(|a| {
            std::iter::once((a.name.as_str(), None)).chain(a.findings.iter().map(|f| ("", Some(f))))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let scale = Scale::for_values(
        rows.iter()
            .filter_map(|(_, f)| *f)
            .flat_map(|f| [&f.ci_low, &f.ci_high]),
    );
    let height = TOP + rows.len() as f64 * ROW_H + 24.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" font-family="system-ui, sans-serif"><title>{} results per risk area: estimate, 95% interval and tier bands</title>"##,
        escape(&model.model)
    );
    let _ = write!(
        svg,
        r##"<text x="{LABEL_W}" y="16" font-size="11" fill="#4a5568">background: tier bands per indicator · dot: estimate · bar: 95% interval</text>"##
    );
    let mut y = TOP;
    for (heading, finding) in &rows {
        match finding {
            None => {
                let _ = write!(
                    svg,
                    r##"<text x="4" y="{:.1}" font-size="12" font-weight="700" fill="#1a202c">{}</text>"##,
                    y + 17.0,
                    escape(heading)
                );
            }
            Some(f) => {
                let rank = tiers.iter().position(|t| *t == f.tier).unwrap_or(0);
                bands(&mut svg, &scale, f, tiers, y);
                let mut label = f.task.clone();
                if let Some(group) = &f.group {
                    label.push_str(&format!(" · {group}"));
                }
                label.push_str(&format!(
                    " · {}",
                    f.metric.split('/').next_back().unwrap_or("")
                ));
                let _ = write!(
                    svg,
                    r##"<text x="14" y="{:.1}" font-size="11" fill="#2d3748">{}</text>"##,
                    y + 17.0,
                    escape(&label)
                );
                whisker(&mut svg, &scale, f, y, "#1a202c");
                let colour = tier_colour(rank, tiers.len(), false);
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" font-size="11" fill="{colour}" font-weight="700">{:.2} {}</text>"#,
                    WIDTH - VALUE_W + 8.0,
                    y + 17.0,
                    f.value,
                    escape(&f.tier)
                );
            }
        }
        y += ROW_H;
    }
    scale.axis(&mut svg, TOP, y);
    svg.push_str("</svg>");
    Some(svg)
}

/// Several models side by side: a row per (task, metric, category), one
/// coloured estimate and interval per model.
pub(crate) fn models_chart(models: &[ModelAssessment]) -> Option<String> {
    if models.len() < 2 {
        return None;
    }
    let mut keys: Vec<(String, String)> = Vec::new();
    for model in models {
        for finding in model.areas.iter().flat_map(|a| &a.findings) {
            let key = (
                finding.task.clone(),
                format!(
                    "{}{}",
                    finding.metric,
                    finding
                        .group
                        .as_ref()
                        .map(|g| format!(" · {g}"))
                        .unwrap_or_default()
                ),
            );
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    if keys.is_empty() {
        return None;
    }
    let all: Vec<&Finding> = models
        .iter()
        .flat_map(|m| m.areas.iter().flat_map(|a| &a.findings))
        .collect();
    let scale = Scale::for_values(all.iter().flat_map(|f| [&f.ci_low, &f.ci_high]));
    let row_h = ROW_H.max(10.0 * models.len() as f64 + 8.0);
    let legend_h = 18.0 * models.len().div_ceil(3) as f64;
    let height = TOP + legend_h + keys.len() as f64 * row_h + 24.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" font-family="system-ui, sans-serif"><title>Models side by side: estimate and 95% interval per result</title>"##
    );
    for (i, model) in models.iter().enumerate() {
        let (x, y) = (
            LABEL_W + (i % 3) as f64 * 160.0,
            14.0 + (i / 3) as f64 * 18.0,
        );
        let colour = MODEL_COLOURS[i % MODEL_COLOURS.len()];
        let _ = write!(
            svg,
            r#"<circle cx="{x:.1}" cy="{:.1}" r="5" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            y - 4.0,
            x + 9.0,
            y,
            escape(&model.model)
        );
    }
    let top = TOP + legend_h;
    for (k, (task, metric)) in keys.iter().enumerate() {
        let y = top + k as f64 * row_h;
        if k % 2 == 0 {
            let _ = write!(
                svg,
                r##"<rect x="0" y="{y:.1}" width="{WIDTH}" height="{row_h:.1}" fill="#f7fafc"/>"##
            );
        }
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" font-size="11" fill="#2d3748">{} · {}</text>"##,
            y + row_h / 2.0 + 4.0,
            escape(task),
            escape(metric)
        );
        for (i, model) in models.iter().enumerate() {
            let found = model.areas.iter().flat_map(|a| &a.findings).find(|f| {
                &f.task == task
                    && format!(
                        "{}{}",
                        f.metric,
                        f.group
                            .as_ref()
                            .map(|g| format!(" · {g}"))
                            .unwrap_or_default()
                    ) == *metric
            });
            if let Some(f) = found {
                let offset = y + 4.0 + i as f64 * 10.0 - ROW_H / 2.0 + 5.0;
                whisker(
                    &mut svg,
                    &scale,
                    f,
                    offset,
                    MODEL_COLOURS[i % MODEL_COLOURS.len()],
                );
            }
        }
    }
    scale.axis(&mut svg, top, top + keys.len() as f64 * row_h);
    svg.push_str("</svg>");
    Some(svg)
}

/// A task × category heat map, darker for higher values, each cell labelled.
pub(crate) fn heatmap(map: &Heatmap) -> String {
    let (label_w, cell_w, cell_h, head_h) = (
        170.0,
        ((WIDTH - 170.0) / map.columns.len().max(1) as f64).min(110.0),
        24.0,
        36.0,
    );
    let height = head_h + map.rows.len() as f64 * cell_h + 30.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" font-family="system-ui, sans-serif"><title>{} {}: {} per task and category</title>"##,
        escape(&map.model),
        escape(&map.family),
        escape(&map.scorer)
    );
    for (c, column) in map.columns.iter().enumerate() {
        let x = label_w + c as f64 * cell_w + cell_w / 2.0;
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#2d3748">{}</text>"##,
            head_h - 10.0,
            escape(column)
        );
    }
    for (r, row) in map.rows.iter().enumerate() {
        let y = head_h + r as f64 * cell_h;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#2d3748">{}</text>"##,
            label_w - 8.0,
            y + 16.0,
            escape(row)
        );
        for (c, cell) in map.cells[r].iter().enumerate() {
            let x = label_w + c as f64 * cell_w;
            let (fill, text, ink) = match cell {
                Some(v) => {
                    let v = v.clamp(0.0, 1.0);
                    // White to deep red.
                    let (red, green, blue) =
                        (255.0 - v * 58.0, 255.0 - v * 207.0, 255.0 - v * 207.0);
                    (
                        format!("rgb({red:.0},{green:.0},{blue:.0})"),
                        format!("{v:.2}"),
                        if v > 0.55 { "#fff" } else { "#1a202c" },
                    )
                }
                None => ("#edf2f7".to_string(), "–".to_string(), "#718096"),
            };
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="#fff"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="{ink}">{text}</text>"##,
                cell_w,
                cell_h,
                x + cell_w / 2.0,
                y + 16.0
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="{label_w}" y="{:.1}" font-size="10" fill="#4a5568">cell: {} (share of samples), white 0 → red 1; – no samples in that category</text>"##,
        head_h + map.rows.len() as f64 * cell_h + 18.0,
        escape(&map.scorer)
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_colours_keep_both_ends_for_any_number_of_tiers() {
        assert_eq!(tier_colour(0, 4, false), TIER_SOLID[0]);
        assert_eq!(tier_colour(3, 4, false), TIER_SOLID[3]);
        assert_eq!(tier_colour(0, 2, true), TIER_LIGHT[0]);
        assert_eq!(tier_colour(1, 2, true), TIER_LIGHT[3]);
        assert_eq!(tier_colour(2, 5, false), TIER_SOLID[2]);
    }

    #[test]
    fn heatmap_cells_show_values_and_gaps() {
        let map = Heatmap {
            model: "m".into(),
            scorer: "attack_success".into(),
            family: "jailbreak".into(),
            rows: vec!["none".into(), "base64".into()],
            columns: vec!["cyber".into(), "fraud".into()],
            cells: vec![vec![Some(0.25), None], vec![Some(1.0), Some(0.5)]],
        };
        let svg = heatmap(&map);
        assert!(svg.contains(">0.25<") && svg.contains(">1.00<") && svg.contains(">–<"));
        assert!(svg.contains("rgb(197,48,48)"), "1.0 is the darkest red");
        assert_eq!(svg.matches("<rect").count(), 4);
    }
}
