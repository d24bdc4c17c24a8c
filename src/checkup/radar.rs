//! The radar chart of dimension scores, drawn as SVG on the server (no JS, prints well).

use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG radar of `axes` (label, score 0–100); `previous` (same order) is drawn dashed
/// underneath when given.
pub fn radar_svg(axes: &[(String, u32)], previous: Option<&[u32]>) -> String {
    let n = axes.len().max(3);
    let (cx, cy, r) = (260.0_f64, 230.0_f64, 160.0_f64);
    let point = |i: usize, value: f64| {
        let angle = -std::f64::consts::FRAC_PI_2 + 2.0 * std::f64::consts::PI * i as f64 / n as f64;
        (cx + r * value * angle.cos(), cy + r * value * angle.sin())
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="radar" viewBox="0 0 520 460" role="img" aria-label="各维度合规得分雷达图" xmlns="http://www.w3.org/2000/svg">"#
    );
    for ring in 1..=5 {
        let v = ring as f64 / 5.0;
        let pts: Vec<String> = (0..n)
            .map(|i| {
                let (x, y) = point(i, v);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            r##"<polygon points="{}" fill="none" stroke="#d0d7de" stroke-width="1"/>"##,
            pts.join(" ")
        );
    }
    for (i, (label, _)) in axes.iter().enumerate() {
        let (x, y) = point(i, 1.0);
        let _ = write!(
            svg,
            r##"<line x1="{cx}" y1="{cy}" x2="{x:.1}" y2="{y:.1}" stroke="#d0d7de"/>"##
        );
        let (lx, ly) = point(i, 1.17);
        let anchor = if (lx - cx).abs() < 8.0 {
            "middle"
        } else if lx > cx {
            "start"
        } else {
            "end"
        };
        // a long name (产品质量与消费者权益) would run out of the picture: two lines
        let chars: Vec<char> = label.chars().collect();
        let text = if chars.len() > 6 {
            let (first, second) = chars.split_at(chars.len().div_ceil(2));
            let (first, second): (String, String) =
                (first.iter().collect(), second.iter().collect());
            format!(
                r#"<tspan x="{lx:.1}" dy="-8">{}</tspan><tspan x="{lx:.1}" dy="16">{}</tspan>"#,
                esc(&first),
                esc(&second)
            )
        } else {
            esc(label)
        };
        let _ = write!(
            svg,
            r##"<text x="{lx:.1}" y="{:.1}" font-size="14" text-anchor="{anchor}" fill="#1f2328">{text}</text>"##,
            ly + 5.0,
        );
    }
    let polygon = |scores: &mut dyn Iterator<Item = u32>| {
        scores
            .enumerate()
            .map(|(i, s)| {
                let (x, y) = point(i, f64::from(s.min(100)) / 100.0);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    if let Some(prev) = previous {
        let pts = polygon(&mut prev.iter().copied());
        let _ = write!(
            svg,
            r##"<polygon points="{pts}" fill="none" stroke="#57606a" stroke-width="2" stroke-dasharray="6 4"/>"##
        );
    }
    let pts = polygon(&mut axes.iter().map(|(_, s)| *s));
    let _ = write!(
        svg,
        r##"<polygon points="{pts}" fill="rgba(168,32,26,0.18)" stroke="#a8201a" stroke-width="2.5"/>"##
    );
    for (i, (_, s)) in axes.iter().enumerate() {
        let (x, y) = point(i, f64::from((*s).min(100)) / 100.0);
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="#a8201a"/>"##
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radar_has_axes_and_escapes_labels() {
        let axes = vec![
            ("公司治理".to_string(), 100),
            ("合同<管理>".to_string(), 50),
            ("劳动用工".to_string(), 0),
        ];
        let svg = radar_svg(&axes, Some(&[80, 80, 80]));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("合同&lt;管理&gt;"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("stroke-dasharray"));
        let long = radar_svg(&[("产品质量与消费者权益".to_string(), 60)], None);
        assert!(long.contains(">产品质量与</tspan>") && long.contains(">消费者权益</tspan>"));
    }
}
