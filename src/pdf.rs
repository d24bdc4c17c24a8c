//! PDF documents rendered on the server (issue 17): the 学习证明 as an A4 page with its
//! verification code and QR code, and the 法治体检 report over as many pages as it takes
//! (`checkup`), written with `krilla` (pure Rust; the CJK font is subset
//! into the file, and text stays text: `pdftotext` reads it back).
//!
//! The font is a TrueType file or collection on the server (`--pdf-font`; Debian's
//! `fonts-wqy-zenhei` by default), read once on first use. Without it the PDF answers are
//! refused with a clear message and the printable HTML pages still work.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use std::path::PathBuf;
use std::sync::OnceLock;

mod checkup;
pub use checkup::{CheckupDoc, DimensionLine, FindingDoc, Tone};

/// The default font: WenQuanYi Zen Hei from Debian's `fonts-wqy-zenhei` (also used by the
/// browser tests' screenshots).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc";

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The font file is missing or unreadable (an operator's fix; the message says which).
    #[error("PDF font unavailable: {0}")]
    NoFont(String),
    #[error("PDF rendering failed: {0}")]
    Render(String),
}

/// Renders documents with the configured font, loaded once.
pub struct Renderer {
    path: PathBuf,
    font: OnceLock<Result<Font, String>>,
}

impl Renderer {
    pub fn new(path: PathBuf) -> Renderer {
        Renderer {
            path,
            font: OnceLock::new(),
        }
    }

    fn font(&self) -> Result<Font, PdfError> {
        self.font
            .get_or_init(|| {
                let data = std::fs::read(&self.path)
                    .map_err(|e| format!("{}: {e}", self.path.display()))?;
                Font::new(data.into(), 0)
                    .ok_or_else(|| format!("{}: not a TrueType/OpenType font", self.path.display()))
            })
            .clone()
            .map_err(PdfError::NoFont)
    }

    /// The certificate as a one-page A4 PDF.
    pub fn certificate(&self, c: &CertificateDoc) -> Result<Vec<u8>, PdfError> {
        let font = self.font()?;
        let mut document = Document::new();
        document.set_metadata(
            Metadata::new()
                .title(format!("学习证明 · {} · {}", c.company, c.lecture_title))
                .language("zh-CN".into())
                .creator(c.site_name.clone()),
        );
        let settings = PageSettings::from_wh(A4_W, A4_H)
            .ok_or_else(|| PdfError::Render("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut s = page.surface();
        let mut w = Writer {
            font,
            surface: &mut s,
        };
        w.frame();
        w.centered(150.0, 34.0, "学习证明", BRAND);
        let mut y = 220.0;
        y = w.paragraph(
            y,
            15.0,
            &format!(
                "{}（统一社会信用代码 {}）参加了线上普法课程",
                c.company, c.uscc
            ),
        );
        y += 14.0;
        w.centered(y + 8.0, 20.0, &format!("《{}》", c.lecture_title), BLACK);
        y += 46.0;
        y = w.paragraph(
            y,
            15.0,
            &format!(
                "主讲：{}（{}）；课程时长 {}，累计观看 {}，完成 {}%，达到学习要求。",
                c.lecturer, c.lecturer_firm, c.length, c.watched, c.percent
            ),
        );
        y = w.paragraph(
            y + 6.0,
            15.0,
            &format!("学习日期：{}。特此证明。", c.attended_on),
        );
        let sign_y = y.max(470.0) + 50.0;
        w.right(
            sign_y,
            15.0,
            &format!("{} · {}平台", c.chamber_name, c.site_name),
        );
        w.right(sign_y + 26.0, 15.0, &c.attended_on);
        // the verification block: QR code and the code, bottom left
        let qr_y = A4_H - MARGIN - 150.0;
        w.qr(MARGIN + 30.0, qr_y, 110.0, &c.verify_url);
        let text_x = MARGIN + 160.0;
        w.text(
            text_x,
            qr_y + 40.0,
            13.0,
            &format!("证明编号 {}", c.code),
            BLACK,
        );
        w.text(
            text_x,
            qr_y + 64.0,
            11.0,
            "扫描二维码或访问以下地址核验：",
            GREY,
        );
        w.text(text_x, qr_y + 84.0, 10.0, &c.verify_url, GREY);
        s.finish();
        page.finish();
        document
            .finish()
            .map_err(|e| PdfError::Render(format!("{e:?}")))
    }
}

/// What a certificate says (the same facts as its HTML page).
pub struct CertificateDoc {
    pub company: String,
    pub uscc: String,
    pub lecture_title: String,
    pub lecturer: String,
    pub lecturer_firm: String,
    pub length: String,
    pub watched: String,
    pub percent: u32,
    /// "2026年12月2日".
    pub attended_on: String,
    pub chamber_name: String,
    pub site_name: String,
    pub code: String,
    pub verify_url: String,
}

const A4_W: f32 = 595.0;
const A4_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// Text runs between these (inside the frame, with room).
const LEFT: f32 = MARGIN + 44.0;
const RIGHT: f32 = A4_W - MARGIN - 44.0;
const BRAND: (u8, u8, u8) = (0xa8, 0x20, 0x1a);
const BLACK: (u8, u8, u8) = (0x1f, 0x23, 0x28);
const GREY: (u8, u8, u8) = (0x59, 0x63, 0x6e);

/// The advance of `c` at size 1 in a CJK font: full width for CJK, about half for Latin.
fn advance(c: char) -> f32 {
    if c.is_ascii() {
        0.5
    } else {
        1.0
    }
}

fn width(text: &str, size: f32) -> f32 {
    text.chars().map(advance).sum::<f32>() * size
}

/// `text` broken into lines of at most `max` points at `size`: between CJK characters, never
/// inside a run of Latin letters and digits (a credit code, a URL).
pub fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for c in text.chars() {
        match tokens.last_mut() {
            Some(t)
                if c.is_ascii_alphanumeric() && t.chars().all(|x| x.is_ascii_alphanumeric()) =>
            {
                t.push(c)
            }
            _ => tokens.push(c.to_string()),
        }
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    for t in tokens {
        if !line.is_empty() && width(&line, size) + width(&t, size) > max {
            lines.push(std::mem::take(&mut line));
            if t == " " {
                continue;
            }
        }
        line.push_str(&t);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Writer<'a, 'b> {
    font: Font,
    surface: &'a mut Surface<'b>,
}

fn fill(color: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        ..Default::default()
    }
}

impl Writer<'_, '_> {
    fn text(&mut self, x: f32, y: f32, size: f32, text: &str, color: (u8, u8, u8)) {
        self.surface.set_fill(Some(fill(color)));
        self.surface.draw_text(
            Point::from_xy(x, y),
            self.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    fn centered(&mut self, y: f32, size: f32, text: &str, color: (u8, u8, u8)) {
        for (i, line) in wrap(text, size, RIGHT - LEFT).iter().enumerate() {
            let x = (A4_W - width(line, size)) / 2.0;
            self.text(x, y + i as f32 * size * 1.6, size, line, color);
        }
    }

    fn right(&mut self, y: f32, size: f32, text: &str) {
        self.text(RIGHT - width(text, size), y, size, text, BLACK);
    }

    /// A paragraph from `y` (its first baseline), first line indented two characters;
    /// returns the baseline after it.
    fn paragraph(&mut self, y: f32, size: f32, text: &str) -> f32 {
        let indented = format!("\u{3000}\u{3000}{text}");
        let mut y = y;
        for line in wrap(&indented, size, RIGHT - LEFT) {
            self.text(LEFT, y, size, &line, BLACK);
            y += size * 1.8;
        }
        y
    }

    /// The double frame of the certificate.
    fn frame(&mut self) {
        self.surface.set_fill(None);
        for (inset, width) in [(0.0, 2.5), (6.0, 0.8)] {
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(BRAND.0, BRAND.1, BRAND.2).into(),
                width,
                ..Default::default()
            }));
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(
                MARGIN + inset,
                MARGIN + inset,
                A4_W - 2.0 * (MARGIN + inset),
                A4_H - 2.0 * (MARGIN + inset),
            ) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                self.surface.draw_path(&path);
            }
        }
        self.surface.set_stroke(None);
    }

    /// A QR code of `text`, `size` points wide, its top left corner at (`x`, `y`).
    fn qr(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let Ok(code) =
            qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        else {
            return;
        };
        let n = code.width();
        let colors = code.to_colors();
        let module = size / n as f32;
        let mut pb = PathBuilder::new();
        for (i, c) in colors.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (row, col) = (i / n, i % n);
                if let Some(r) = Rect::from_xywh(
                    x + col as f32 * module,
                    y + row as f32 * module,
                    module,
                    module,
                ) {
                    pb.push_rect(r);
                }
            }
        }
        self.surface.set_fill(Some(fill((0, 0, 0))));
        if let Some(path) = pb.finish() {
            self.surface.draw_path(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_latin_runs_whole() {
        let lines = wrap(
            "示例企业（统一社会信用代码 91350100771234569D）参加了课程",
            15.0,
            200.0,
        );
        assert!(lines.len() > 1);
        assert!(
            lines.iter().any(|l| l.contains("91350100771234569D")),
            "{lines:?}"
        );
        assert!(lines
            .iter()
            .all(|l| width(l, 15.0) <= 200.0 || l.chars().all(|c| c.is_ascii_alphanumeric())));
        // a space at a break is dropped, nothing else
        assert_eq!(
            lines.concat(),
            "示例企业（统一社会信用代码91350100771234569D）参加了课程"
        );
    }

    /// Renders a sample to `PUFA_PDF_SAMPLE` when set (to look at the layout).
    #[test]
    fn sample_certificate() {
        let Ok(out) = std::env::var("PUFA_PDF_SAMPLE") else {
            return;
        };
        let r = Renderer::new(PathBuf::from(DEFAULT_FONT));
        let doc = CertificateDoc {
            company: "示例科技有限公司".into(),
            uscc: "91350100771234569D".into(),
            lecture_title: "劳动合同签订与试用期管理".into(),
            lecturer: "示例律师丁".into(),
            lecturer_firm: "示例第二律师事务所".into(),
            length: "45分钟".into(),
            watched: "44分钟".into(),
            percent: 98,
            attended_on: "2026年12月2日".into(),
            chamber_name: "市工商联".into(),
            site_name: "精准普法".into(),
            code: "XXSM-3ES7-E4EJ-BH6D".into(),
            verify_url: "https://pufa.example.cn/certificates/XXSM-3ES7-E4EJ-BH6D".into(),
        };
        std::fs::write(out, r.certificate(&doc).expect("pdf")).expect("write");
    }

    #[test]
    fn a_missing_font_is_a_clear_error() {
        let r = Renderer::new(PathBuf::from("/nonexistent/font.ttc"));
        let doc = CertificateDoc {
            company: "示例".into(),
            uscc: "X".into(),
            lecture_title: "课".into(),
            lecturer: "律师".into(),
            lecturer_firm: "所".into(),
            length: "1分钟".into(),
            watched: "1分钟".into(),
            percent: 100,
            attended_on: "2026年12月2日".into(),
            chamber_name: "市工商联".into(),
            site_name: "精准普法".into(),
            code: "ABCD-EFGH-JKMN-PQRS".into(),
            verify_url: "https://pufa.example.cn/certificates/ABCD-EFGH-JKMN-PQRS".into(),
        };
        match r.certificate(&doc) {
            Err(PdfError::NoFont(m)) => assert!(m.contains("/nonexistent/font.ttc")),
            other => panic!("{:?}", other.map(|b| b.len())),
        }
    }
}
