//! Charts drawn as SVG on the server, like the check-up radar (issue 17: "where people would
//! rather look than read"): horizontal bars, stacked horizontal bars with a legend, and a line
//! (or area) over time or over a 0–100 % axis.
//!
//! Every chart is a `viewBox` picture that scales to its container (`svg.plot` in the
//! stylesheet), is an image with a name for screen readers (`role="img"`, `aria-label` and a
//! `<title>`), prints in black and white (series differ by pattern — solid, hatched, dotted,
//! light — not by colour alone, and every figure is written as text on the chart) and is
//! never the only place a figure is: each page puts a table beside it. All text is escaped.
//! The pictures are 400 units wide with 13-unit text, so that on a 390 px phone the text is
//! still about 12 px high.

use std::fmt::Write;

/// The width of every chart's `viewBox`.
pub const WIDTH: f64 = 400.0;
const FONT: f64 = 13.0;
const INK: &str = "#1f2328";
const MUTED: &str = "#57606a";
const TRACK: &str = "#eef1f4";

/// Escape text for SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// About how wide `s` is at `size`: CJK and other wide characters one em, the rest a little
/// over half an em. Good enough to keep a label off its neighbour.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| if (c as u32) < 0x2E80 { 0.6 } else { 1.0 })
        .sum::<f64>()
        * size
}

/// `s` cut to fit `width` at `size`, with an ellipsis when cut (the table beside the chart
/// has the full text).
fn fit(s: &str, width: f64, size: f64) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        let mut next = out.clone();
        next.push(c);
        next.push('…');
        if text_width(&next, size) > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn open(svg: &mut String, id: &str, title: &str, height: f64) {
    let _ = write!(
        svg,
        r#"<svg class="plot" id="{}" viewBox="0 0 {WIDTH:.0} {height:.0}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(id),
        esc(title),
        esc(title)
    );
}

/// Text with a white halo, readable over any fill and in black and white.
fn halo_text(svg: &mut String, x: f64, y: f64, anchor: &str, text: &str) {
    let _ = write!(
        svg,
        r##"<text x="{x:.1}" y="{y:.1}" font-size="{FONT}" text-anchor="{anchor}" fill="{INK}" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text>"##,
        esc(text)
    );
}

fn plain_text(svg: &mut String, x: f64, y: f64, anchor: &str, fill: &str, text: &str) {
    let _ = write!(
        svg,
        r#"<text x="{x:.1}" y="{y:.1}" font-size="{FONT}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
        esc(text)
    );
}

/// How a series is painted; the four stay apart when printed in black and white.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// The colour, solid (prints dark).
    Solid,
    /// Diagonal lines of the colour on white.
    Hatch,
    /// Dots of the colour on white.
    Dots,
    /// A pale tint of the colour (prints light).
    Light,
}

/// A series of a stacked chart: its name in the legend, colour and pattern.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// A `#rrggbb` colour (not user input).
    pub color: &'static str,
    pub fill: Fill,
}

impl Series {
    pub fn new(name: &str, color: &'static str, fill: Fill) -> Series {
        Series {
            name: name.to_string(),
            color,
            fill,
        }
    }
}

/// `<defs>` with a pattern per hatched or dotted series; ids are `{chart}-s{n}`.
fn patterns(svg: &mut String, id: &str, series: &[Series]) {
    svg.push_str("<defs>");
    for (i, s) in series.iter().enumerate() {
        let pid = format!("{}-s{i}", esc(id));
        match s.fill {
            Fill::Hatch => {
                let _ = write!(
                    svg,
                    r##"<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><rect width="2.5" height="6" fill="{}"/></pattern>"##,
                    s.color
                );
            }
            Fill::Dots => {
                let _ = write!(
                    svg,
                    r##"<pattern id="{pid}" patternUnits="userSpaceOnUse" width="5" height="5"><rect width="5" height="5" fill="#fff"/><circle cx="2.5" cy="2.5" r="1.3" fill="{}"/></pattern>"##,
                    s.color
                );
            }
            Fill::Solid | Fill::Light => {}
        }
    }
    svg.push_str("</defs>");
}

/// The `fill` (and `fill-opacity`) attributes of series `i`.
fn paint(id: &str, i: usize, s: &Series) -> String {
    match s.fill {
        Fill::Solid => format!(r#"fill="{}""#, s.color),
        Fill::Light => format!(r#"fill="{}" fill-opacity="0.25""#, s.color),
        Fill::Hatch | Fill::Dots => format!(r#"fill="url(#{}-s{i})""#, esc(id)),
    }
}

/// One bar of [`bar_chart`]: its label, value and the figure written beside it
/// (e.g. "12" or "18/30 座（60%）").
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

/// One row of a chart: the label on the left above the bar, the figure on the right.
const ROW: f64 = 42.0;
const BAR_Y: f64 = 19.0;
const BAR_H: f64 = 16.0;

fn row_head(svg: &mut String, y: f64, label: &str, text: &str) {
    // the figure ends a little inside the edge: glyphs overhang their advance
    let right = WIDTH - 4.0;
    let room = right - text_width(text, FONT) - 10.0;
    plain_text(svg, 0.0, y + 14.0, "start", INK, &fit(label, room, FONT));
    let _ = write!(
        svg,
        r#"<text x="{right:.0}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="{INK}" font-weight="600">{}</text>"#,
        y + 14.0,
        esc(text)
    );
}

/// Horizontal bars, one per entry, scaled to `max` (or to the largest value). Each bar has its
/// label above it and its figure at the right, so the chart reads without colour.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar], max: Option<f64>) -> String {
    let max = max
        .unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(f64::MIN_POSITIVE);
    let height = (ROW * bars.len() as f64).max(ROW) + 4.0;
    let mut svg = String::new();
    open(&mut svg, id, title, height);
    if bars.is_empty() {
        plain_text(&mut svg, 0.0, 24.0, "start", MUTED, "暂无数据");
    }
    for (i, b) in bars.iter().enumerate() {
        let y = ROW * i as f64;
        row_head(&mut svg, y, &b.label, &b.text);
        let w = if b.value.is_finite() {
            (WIDTH * b.value / max).clamp(0.0, WIDTH)
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r##"<rect x="0" y="{:.1}" width="{WIDTH:.0}" height="{BAR_H}" fill="{TRACK}" stroke="#8c959f" stroke-width="0.5"/><rect x="0" y="{:.1}" width="{w:.1}" height="{BAR_H}" fill="#0969da"/>"##,
            y + BAR_Y,
            y + BAR_Y,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One row of [`stacked_bars`]: a value per series and the figure written at the right.
#[derive(Debug, Clone)]
pub struct Stack {
    pub label: String,
    pub values: Vec<f64>,
    pub text: String,
}

/// How the rows of [`stacked_bars`] are scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Every row to the same total: the largest row's, or the given one.
    Absolute(Option<f64>),
    /// Every row to its own total (shares: each bar is full width).
    Share,
}

/// Stacked horizontal bars with a legend on top; every segment wide enough carries its value
/// (with a halo, readable over the pattern), and each row its figure at the right.
pub fn stacked_bars(
    id: &str,
    title: &str,
    series: &[Series],
    rows: &[Stack],
    scale: Scale,
) -> String {
    // the legend, wrapped onto as many lines as it needs
    let mut legend: Vec<(f64, f64, usize)> = Vec::new();
    let (mut x, mut line) = (0.0_f64, 0.0_f64);
    for (i, s) in series.iter().enumerate() {
        let w = 14.0 + 6.0 + text_width(&s.name, FONT) + 16.0;
        if x > 0.0 && x + w > WIDTH {
            x = 0.0;
            line += 1.0;
        }
        legend.push((x, line * 22.0, i));
        x += w;
    }
    let top = if series.is_empty() {
        0.0
    } else {
        (line + 1.0) * 22.0 + 6.0
    };
    let height = top + (ROW * rows.len() as f64).max(ROW) + 4.0;
    let mut svg = String::new();
    open(&mut svg, id, title, height);
    patterns(&mut svg, id, series);
    for (x, y, i) in legend {
        let s = &series[i];
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{:.1}" width="14" height="14" {} stroke="{INK}" stroke-width="0.75"/>"##,
            y + 3.0,
            paint(id, i, s)
        );
        plain_text(&mut svg, x + 20.0, y + 15.0, "start", INK, &s.name);
    }
    let absolute = match scale {
        Scale::Absolute(Some(m)) => m,
        _ => rows
            .iter()
            .map(|r| r.values.iter().sum::<f64>())
            .fold(0.0, f64::max),
    }
    .max(f64::MIN_POSITIVE);
    if rows.is_empty() {
        plain_text(&mut svg, 0.0, top + 24.0, "start", MUTED, "暂无数据");
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + ROW * r as f64;
        row_head(&mut svg, y, &row.label, &row.text);
        let total: f64 = row.values.iter().filter(|v| v.is_finite()).sum();
        let full = match scale {
            Scale::Share => total.max(f64::MIN_POSITIVE),
            Scale::Absolute(_) => absolute,
        };
        if let Scale::Absolute(_) = scale {
            let _ = write!(
                svg,
                r##"<rect x="0" y="{:.1}" width="{WIDTH:.0}" height="{BAR_H}" fill="{TRACK}" stroke="#8c959f" stroke-width="0.5"/>"##,
                y + BAR_Y
            );
        }
        let mut x = 0.0_f64;
        for (i, v) in row.values.iter().enumerate() {
            let Some(s) = series.get(i) else { break };
            if !v.is_finite() || *v <= 0.0 {
                continue;
            }
            let w = (WIDTH * v / full).clamp(0.0, WIDTH - x);
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{BAR_H}" {} stroke="{INK}" stroke-width="0.75"/>"##,
                y + BAR_Y,
                paint(id, i, s)
            );
            let figure = format_value(*v);
            if text_width(&figure, FONT) + 6.0 <= w {
                halo_text(&mut svg, x + w / 2.0, y + BAR_Y + 12.5, "middle", &figure);
            }
            x += w;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A value as written on a chart: whole numbers without decimals.
fn format_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An axis of [`line_chart`]: its range, the ticks (value and label) and its name.
#[derive(Debug, Clone)]
pub struct Axis {
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// 0–100 % with a tick every 25 %.
    pub fn percent(name: &str) -> Axis {
        Axis {
            name: name.to_string(),
            min: 0.0,
            max: 100.0,
            ticks: (0..=4)
                .map(|i| (i as f64 * 25.0, format!("{}%", i * 25)))
                .collect(),
        }
    }

    /// 0 to a round number at least `max`, with about four ticks of whole numbers.
    pub fn count(name: &str, max: f64) -> Axis {
        let max = if max.is_finite() { max.max(1.0) } else { 1.0 };
        let step = [
            1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0,
        ]
        .into_iter()
        .find(|s| max / s <= 4.0)
        .unwrap_or_else(|| (max / 4.0).ceil());
        let top = (max / step).ceil() * step;
        let n = (top / step).round() as usize;
        Axis {
            name: name.to_string(),
            min: 0.0,
            max: top,
            ticks: (0..=n)
                .map(|i| (i as f64 * step, format_value(i as f64 * step)))
                .collect(),
        }
    }

    fn span(&self) -> f64 {
        (self.max - self.min).max(f64::MIN_POSITIVE)
    }
}

/// A point of [`line_chart`]; a labelled one gets a dot and its label written beside it.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

/// A line over `x` (time, or a 0–100 % timeline), filled down to the axis when `area`. The
/// y axis' name is written above the plot, the x axis' below it.
pub fn line_chart(
    id: &str,
    title: &str,
    x: &Axis,
    y: &Axis,
    points: &[Point],
    area: bool,
) -> String {
    let (left, right, top, bottom) = (44.0_f64, WIDTH - 14.0, 30.0_f64, 196.0_f64);
    let height = 240.0;
    let px = |v: f64| left + (right - left) * ((v - x.min) / x.span()).clamp(0.0, 1.0);
    let py = |v: f64| bottom - (bottom - top) * ((v - y.min) / y.span()).clamp(0.0, 1.0);
    let mut svg = String::new();
    open(&mut svg, id, title, height);
    plain_text(&mut svg, 0.0, 14.0, "start", MUTED, &y.name);
    for (v, label) in &y.ticks {
        let ty = py(*v);
        let _ = write!(
            svg,
            r##"<line x1="{left:.1}" y1="{ty:.1}" x2="{right:.1}" y2="{ty:.1}" stroke="#d0d7de" stroke-width="1" stroke-dasharray="3 3"/>"##
        );
        plain_text(&mut svg, left - 6.0, ty + 4.5, "end", MUTED, label);
    }
    let _ = write!(
        svg,
        r##"<line x1="{left:.1}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="{INK}" stroke-width="1"/><line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="{INK}" stroke-width="1"/>"##
    );
    let last = x.ticks.len().saturating_sub(1);
    for (i, (v, label)) in x.ticks.iter().enumerate() {
        let tx = px(*v);
        let anchor = if x.ticks.len() > 1 && i == last && tx > right - 20.0 {
            "end"
        } else if i == 0 && tx < left + 20.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{bottom:.1}" x2="{tx:.1}" y2="{:.1}" stroke="{INK}" stroke-width="1"/>"##,
            bottom + 4.0
        );
        plain_text(&mut svg, tx, bottom + 18.0, anchor, MUTED, label);
    }
    plain_text(
        &mut svg,
        (left + right) / 2.0,
        height - 6.0,
        "middle",
        MUTED,
        &x.name,
    );
    let finite: Vec<&Point> = points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .collect();
    if finite.is_empty() {
        plain_text(
            &mut svg,
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            MUTED,
            "暂无数据",
        );
    } else {
        let line: Vec<String> = finite
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.y)))
            .collect();
        if area {
            let _ = write!(
                svg,
                r##"<polygon points="{:.1},{bottom:.1} {} {:.1},{bottom:.1}" fill="#0969da" fill-opacity="0.15"/>"##,
                px(finite[0].x),
                line.join(" "),
                px(finite[finite.len() - 1].x),
            );
        }
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#0969da" stroke-width="2.5" stroke-linejoin="round"/>"##,
            line.join(" ")
        );
        for p in &finite {
            if let Some(label) = &p.label {
                let (cx, cy) = (px(p.x), py(p.y));
                let _ = write!(
                    svg,
                    r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="#fff" stroke="#0969da" stroke-width="2"/>"##
                );
                let anchor = if cx > right - 24.0 {
                    "end"
                } else if cx < left + 24.0 {
                    "start"
                } else {
                    "middle"
                };
                // above the dot, or below it when the dot is at the top
                let ly = if cy - 8.0 < top { cy + 17.0 } else { cy - 8.0 };
                halo_text(&mut svg, cx, ly, anchor, label);
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg class=\"plot\"") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#));
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }

    #[test]
    fn bars_write_their_figures_and_escape_text() {
        let svg = bar_chart(
            "b",
            "人数 <按行业>",
            &[
                Bar {
                    label: "E 建筑业 & 施工".into(),
                    value: 10.0,
                    text: "10".into(),
                },
                Bar {
                    label: "C 制造业".into(),
                    value: 5.0,
                    text: "5 家\"".into(),
                },
            ],
            None,
        );
        well_formed(&svg);
        assert!(svg.contains(r#"aria-label="人数 &lt;按行业&gt;""#));
        assert!(svg.contains("<title>人数 &lt;按行业&gt;</title>"));
        assert!(svg.contains(">E 建筑业 &amp; 施工<") && svg.contains(">5 家&quot;<"));
        // the largest bar fills the width, the other half of it
        assert!(svg.contains(r##"width="400.0" height="16" fill="#0969da""##));
        assert!(svg.contains(r##"width="200.0" height="16" fill="#0969da""##));
        assert!(bar_chart("e", "空", &[], None).contains("暂无数据"));
    }

    #[test]
    fn long_labels_are_cut_to_leave_room_for_the_figure() {
        let label = "很长的标签".repeat(10);
        let svg = bar_chart(
            "b",
            "t",
            &[Bar {
                label: label.clone(),
                value: 1.0,
                text: "1/30 座（3%）".into(),
            }],
            Some(30.0),
        );
        assert!(!svg.contains(&label));
        assert!(svg.contains("…<") && svg.contains(">1/30 座（3%）<"));
        assert!(svg.contains(r#"width="13.3""#), "1 of 30 at 400 units");
    }

    #[test]
    fn stacked_bars_have_a_legend_patterns_and_segment_figures() {
        let series = [
            Series::new("高", "#cf222e", Fill::Solid),
            Series::new("中", "#bf8700", Fill::Hatch),
            Series::new("低", "#1a7f37", Fill::Dots),
        ];
        let rows = [
            Stack {
                label: "E".into(),
                values: vec![3.0, 1.0, 0.0],
                text: "4 家".into(),
            },
            Stack {
                label: "C".into(),
                values: vec![0.0, 0.0, 2.0],
                text: "2 家".into(),
            },
        ];
        let svg = stacked_bars("lv", "风险等级", &series, &rows, Scale::Share);
        well_formed(&svg);
        for name in ["高", "中", "低"] {
            assert!(svg.contains(&format!(">{name}</text>")), "legend {name}");
        }
        assert!(svg.contains(r#"<pattern id="lv-s1""#) && svg.contains(r#"<pattern id="lv-s2""#));
        assert!(svg.contains(r#"fill="url(#lv-s1)""#));
        // shares: 3 of 4 is 300 units, the single segment of C the whole width
        assert!(svg.contains(r##"width="300.0" height="16" fill="#cf222e""##));
        assert!(svg.contains(r#"width="400.0" height="16" fill="url(#lv-s2)""#));
        // segment figures with a halo, zero segments not drawn
        assert!(svg.contains(r#"paint-order="stroke">3</text>"#));
        assert!(svg.contains(r#"paint-order="stroke">2</text>"#));
        assert_eq!(svg.matches(r#"height="16""#).count(), 3);
        // absolute: the largest total fills the width, with a track behind
        let abs = stacked_bars("a", "t", &series, &rows, Scale::Absolute(Some(8.0)));
        assert!(abs.contains(r##"width="150.0" height="16" fill="#cf222e""##));
        assert!(abs.contains(TRACK));
    }

    #[test]
    fn lines_scale_to_their_axes_and_label_marked_points() {
        let x = Axis::percent("课程进度");
        let y = Axis::count("人数", 7.0);
        assert_eq!(y.max, 8.0);
        assert_eq!(y.ticks.last().map(|t| t.1.as_str()), Some("8"));
        let points = [
            Point {
                x: 0.0,
                y: 8.0,
                label: Some("8 人".into()),
            },
            Point {
                x: 100.0,
                y: 2.0,
                label: None,
            },
        ];
        let svg = line_chart("r", "留存曲线", &x, &y, &points, true);
        well_formed(&svg);
        // (0, 8) is the plot's top-left corner, (100, 2) three quarters down its right edge
        assert!(svg.contains(r#"<polyline points="44.0,30.0 386.0,154.5""#));
        assert!(svg.contains("<polygon points=\"44.0,196.0 44.0,30.0 386.0,154.5 386.0,196.0\""));
        assert!(svg.contains(">8 人</text>") && svg.contains(">课程进度</text>"));
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(line_chart("n", "t", &x, &y, &[], false).contains("暂无数据"));
    }

    #[test]
    fn count_axes_are_round() {
        assert_eq!(Axis::count("n", 0.0).max, 1.0);
        assert_eq!(Axis::count("n", 37.0).max, 40.0);
        assert_eq!(Axis::count("n", 3000.0).max, 3000.0);
        assert_eq!(Axis::count("n", f64::NAN).max, 1.0);
    }
}
