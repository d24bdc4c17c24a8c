//! The 法治体检 report as an A4 PDF (issue 17): the same facts, dimension table and findings
//! as the report page, laid out in blocks that are never split across pages. A block that
//! does not fit on what is left of a page moves to the next; a table longer than a page
//! continues with its header row repeated; a heading stays with what follows it. Every page
//! ends with "第 x 页 / 共 y 页".

use super::{fill, width, wrap, PdfError, Renderer, A4_H, A4_W, BLACK, BRAND, GREY};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

/// How a level is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    High,
    Medium,
    Low,
    Neutral,
}

impl Tone {
    fn color(self) -> (u8, u8, u8) {
        match self {
            Tone::High => BRAND,
            Tone::Medium => (0x8a, 0x4b, 0x00),
            Tone::Low => (0x25, 0x62, 0x38),
            Tone::Neutral => GREY,
        }
    }
}

/// What the report PDF says: the report page's facts, already worded.
pub struct CheckupDoc {
    pub company: String,
    pub site_name: String,
    pub chamber_name: String,
    /// The head: (企业, 示例…), (统一社会信用代码, …), (体检时间, …), (问卷版本, …), …
    pub facts: Vec<(String, String)>,
    /// 高/中/低.
    pub overall: (String, Tone),
    /// "共发现 12 项风险点（高 2 项、中 3 项）…" (none without findings).
    pub summary: Option<String>,
    /// The red-line or major-risk warning.
    pub alert: Option<String>,
    pub dimensions: Vec<DimensionLine>,
    /// The note when the previous report used another questionnaire.
    pub compare_note: Option<String>,
    pub findings_heading: String,
    /// Shown under the heading when there is nothing (or nothing at 中/高) to list.
    pub findings_note: Option<String>,
    pub findings: Vec<FindingDoc>,
    /// "附录：其他风险点（n 项）" when there is an appendix.
    pub appendix_heading: Option<String>,
    pub appendix: Vec<FindingDoc>,
    pub disclaimer: String,
}

/// One row of the dimension table.
pub struct DimensionLine {
    pub name: String,
    pub score: String,
    pub level: String,
    pub tone: Tone,
    /// The most severe finding, or 未发现风险点 / 均不适用，不计分.
    pub note: String,
}

/// One finding block.
pub struct FindingDoc {
    pub level: String,
    pub tone: Tone,
    /// 红线, 需律师核实.
    pub tags: Vec<String>,
    pub title: String,
    /// "劳动用工 · 行政责任 · 问：… 答：…".
    pub meta: String,
    /// (法律依据, …), (可能后果, …), (整改建议, …), in the page's order.
    pub details: Vec<(String, String)>,
}

const TOP: f32 = 54.0;
const BOTTOM: f32 = A4_H - 66.0;
const LEFT: f32 = 50.0;
const RIGHT: f32 = A4_W - 50.0;
const RULE: (u8, u8, u8) = (0xc9, 0xce, 0xd4);
const SHADE: (u8, u8, u8) = (0xee, 0xf0, 0xf2);

/// Something drawn, relative to the top of its piece.
#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        /// The baseline.
        y: f32,
        size: f32,
        text: String,
        color: (u8, u8, u8),
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: (u8, u8, u8),
    },
}

/// A horizontal strip (a line of text, a table row) that is never cut.
#[derive(Debug, Clone, Default)]
struct Piece {
    height: f32,
    ops: Vec<Op>,
}

impl Piece {
    fn gap(height: f32) -> Piece {
        Piece {
            height,
            ops: Vec::new(),
        }
    }
}

enum Block {
    /// Pieces kept on one page (split only when taller than a page); `with_next`: not left
    /// at the bottom of a page without the start of the next block (a heading).
    Keep { pieces: Vec<Piece>, with_next: bool },
    /// A table: on one page when it fits on one, else continued with `header` repeated.
    Table { header: Piece, rows: Vec<Piece> },
    /// Vertical space, dropped at the top of a page.
    Gap(f32),
}

impl Block {
    fn keep(pieces: Vec<Piece>) -> Block {
        Block::Keep {
            pieces,
            with_next: false,
        }
    }

    /// What must fit below a heading for the heading to stay on the page.
    fn lead_height(&self) -> f32 {
        match self {
            Block::Keep { pieces, .. } => pieces
                .iter()
                .map(|p| p.height)
                .sum::<f32>()
                .min(BOTTOM - TOP),
            Block::Table { header, rows } => {
                // a table that fits on a page moves whole, so all of it must fit
                let total = header.height + rows.iter().map(|r| r.height).sum::<f32>();
                if total <= BOTTOM - TOP {
                    total
                } else {
                    header.height + rows.first().map(|r| r.height).unwrap_or(0.0)
                }
            }
            Block::Gap(_) => 0.0,
        }
    }
}

/// Lines of `text` wrapped to `max` points, one piece each, at `x`.
fn lines(x: f32, max: f32, size: f32, leading: f32, text: &str, color: (u8, u8, u8)) -> Vec<Piece> {
    wrap(text, size, max)
        .into_iter()
        .map(|line| Piece {
            height: size * leading,
            ops: vec![Op::Text {
                x,
                y: baseline(size, leading),
                size,
                text: line,
                color,
            }],
        })
        .collect()
}

/// The baseline of a line of `size` in a strip `size * leading` high.
fn baseline(size: f32, leading: f32) -> f32 {
    size * leading / 2.0 + size * 0.36
}

fn heading(text: &str) -> Block {
    let mut pieces = vec![Piece::gap(10.0)];
    pieces.extend(lines(LEFT, RIGHT - LEFT, 14.0, 1.6, text, BRAND));
    pieces.push(Piece {
        height: 6.0,
        ops: vec![Op::Rect {
            x: LEFT,
            y: 0.0,
            w: RIGHT - LEFT,
            h: 0.8,
            color: BRAND,
        }],
    });
    Block::Keep {
        pieces,
        with_next: true,
    }
}

fn paragraph(text: &str, size: f32, color: (u8, u8, u8)) -> Block {
    Block::keep(lines(LEFT, RIGHT - LEFT, size, 1.7, text, color))
}

/// A table row: each cell `(text, color)` wrapped in its column (`columns`: widths summing to
/// the text width); a rule under it, shaded when `shade`.
fn row(columns: &[f32], cells: &[(&str, (u8, u8, u8))], size: f32, shade: bool) -> Piece {
    const PAD: f32 = 5.0;
    let leading = 1.5;
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .zip(columns)
        .map(|((text, _), w)| wrap(text, size, w - 2.0 * PAD))
        .collect();
    let n = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let height = n as f32 * size * leading + 2.0 * PAD;
    let mut ops = Vec::new();
    if shade {
        ops.push(Op::Rect {
            x: LEFT,
            y: 0.0,
            w: RIGHT - LEFT,
            h: height,
            color: SHADE,
        });
    }
    let mut x = LEFT;
    for ((cell_lines, (_, color)), w) in wrapped.iter().zip(cells).zip(columns) {
        for (i, line) in cell_lines.iter().enumerate() {
            ops.push(Op::Text {
                x: x + PAD,
                y: PAD + i as f32 * size * leading + baseline(size, leading),
                size,
                text: line.clone(),
                color: *color,
            });
        }
        x += w;
    }
    ops.push(Op::Rect {
        x: LEFT,
        y: height - 0.6,
        w: RIGHT - LEFT,
        h: 0.6,
        color: RULE,
    });
    Piece { height, ops }
}

/// A finding: its level and tags, title, question and answer, then each detail with its
/// label; a bar in the level's colour down its left side.
fn finding(number: usize, f: &FindingDoc) -> Block {
    let x = LEFT + 12.0;
    let label_w = 56.0;
    let mut pieces = vec![Piece::gap(4.0)];
    let mut tag = format!("风险点 {number} · {}风险", f.level);
    for t in &f.tags {
        tag.push_str(" · ");
        tag.push_str(t);
    }
    pieces.extend(lines(x, RIGHT - x, 9.5, 1.6, &tag, f.tone.color()));
    pieces.extend(lines(x, RIGHT - x, 12.5, 1.5, &f.title, BLACK));
    pieces.extend(lines(x, RIGHT - x, 9.0, 1.6, &f.meta, GREY));
    for (label, text) in &f.details {
        let mut detail = lines(x + label_w, RIGHT - x - label_w, 10.0, 1.6, text, BLACK);
        if let Some(first) = detail.first_mut() {
            first.ops.push(Op::Text {
                x,
                y: baseline(10.0, 1.6),
                size: 9.5,
                text: label.clone(),
                color: GREY,
            });
        }
        pieces.push(Piece::gap(2.0));
        pieces.extend(detail);
    }
    pieces.push(Piece::gap(4.0));
    for p in &mut pieces {
        p.ops.push(Op::Rect {
            x: LEFT,
            y: 0.0,
            w: 3.0,
            h: p.height,
            color: f.tone.color(),
        });
    }
    Block::keep(pieces)
}

/// The report's blocks, in the page's order.
fn blocks(doc: &CheckupDoc) -> Vec<Block> {
    let mut out = Vec::new();
    let mut title = lines(LEFT, RIGHT - LEFT, 22.0, 1.6, "法治体检报告", BRAND);
    title.push(Piece::gap(6.0));
    out.push(Block::keep(title));
    let facts = doc
        .facts
        .iter()
        .map(|(k, v)| {
            row(
                &[110.0, RIGHT - LEFT - 110.0],
                &[(k, GREY), (v, BLACK)],
                10.5,
                false,
            )
        })
        .collect();
    out.push(Block::keep(facts));
    out.push(Block::Gap(10.0));
    let mut overall = Piece {
        height: 28.0,
        ops: vec![Op::Text {
            x: LEFT,
            y: baseline(15.0, 1.8),
            size: 15.0,
            text: "总体风险等级：".into(),
            color: BLACK,
        }],
    };
    overall.ops.push(Op::Text {
        x: LEFT + width("总体风险等级：", 15.0),
        y: baseline(15.0, 1.8),
        size: 15.0,
        text: doc.overall.0.clone(),
        color: doc.overall.1.color(),
    });
    let mut head = vec![overall];
    if let Some(s) = &doc.summary {
        head.extend(lines(LEFT, RIGHT - LEFT, 10.5, 1.7, s, BLACK));
    }
    if let Some(a) = &doc.alert {
        head.extend(lines(LEFT, RIGHT - LEFT, 10.5, 1.7, a, BRAND));
    }
    out.push(Block::keep(head));

    out.push(heading("各维度得分"));
    let columns = [120.0, 44.0, 44.0, RIGHT - LEFT - 208.0];
    let header = row(
        &columns,
        &[
            ("维度", BLACK),
            ("得分", BLACK),
            ("风险", BLACK),
            ("最严重的风险点", BLACK),
        ],
        10.0,
        true,
    );
    let rows = doc
        .dimensions
        .iter()
        .map(|d| {
            row(
                &columns,
                &[
                    (&d.name, BLACK),
                    (&d.score, BLACK),
                    (&d.level, d.tone.color()),
                    (&d.note, BLACK),
                ],
                10.0,
                false,
            )
        })
        .collect();
    out.push(Block::Table { header, rows });
    if let Some(n) = &doc.compare_note {
        out.push(Block::Gap(6.0));
        out.push(paragraph(n, 9.0, GREY));
    }

    out.push(heading(&doc.findings_heading));
    if let Some(n) = &doc.findings_note {
        out.push(paragraph(n, 10.5, BLACK));
    }
    for (i, f) in doc.findings.iter().enumerate() {
        out.push(finding(i + 1, f));
        out.push(Block::Gap(8.0));
    }
    if let Some(h) = &doc.appendix_heading {
        out.push(heading(h));
        for (i, f) in doc.appendix.iter().enumerate() {
            out.push(finding(doc.findings.len() + i + 1, f));
            out.push(Block::Gap(8.0));
        }
    }
    out.push(Block::Gap(10.0));
    out.push(paragraph(&doc.disclaimer, 9.0, GREY));
    out
}

/// Blocks placed on pages: each page's ops at absolute positions.
fn paginate(blocks: &[Block]) -> Vec<Vec<Op>> {
    let mut pages: Vec<Vec<Op>> = vec![Vec::new()];
    let mut y = TOP;
    let page_h = BOTTOM - TOP;
    fn place(pages: &mut [Vec<Op>], piece: &Piece, y: f32) {
        if let Some(page) = pages.last_mut() {
            page.extend(piece.ops.iter().cloned().map(|op| match op {
                Op::Text {
                    x,
                    y: dy,
                    size,
                    text,
                    color,
                } => Op::Text {
                    x,
                    y: y + dy,
                    size,
                    text,
                    color,
                },
                Op::Rect {
                    x,
                    y: dy,
                    w,
                    h,
                    color,
                } => Op::Rect {
                    x,
                    y: y + dy,
                    w,
                    h,
                    color,
                },
            }));
        }
    }
    let new_page = |pages: &mut Vec<Vec<Op>>, y: &mut f32| {
        pages.push(Vec::new());
        *y = TOP;
    };
    for (i, block) in blocks.iter().enumerate() {
        match block {
            Block::Gap(g) => {
                if y > TOP {
                    y += g;
                }
            }
            Block::Keep { pieces, with_next } => {
                let own: f32 = pieces.iter().map(|p| p.height).sum();
                let mut need = own;
                if *with_next {
                    need += blocks
                        .get(i + 1..)
                        .unwrap_or_default()
                        .iter()
                        .find(|b| !matches!(b, Block::Gap(_)))
                        .map(Block::lead_height)
                        .unwrap_or(0.0);
                }
                if y > TOP && y + need.min(page_h) > BOTTOM {
                    new_page(&mut pages, &mut y);
                }
                for p in pieces {
                    // only a block taller than a page is cut, between its lines
                    if y > TOP && y + p.height > BOTTOM {
                        new_page(&mut pages, &mut y);
                    }
                    place(&mut pages, p, y);
                    y += p.height;
                }
            }
            Block::Table { header, rows } => {
                let total = header.height + rows.iter().map(|r| r.height).sum::<f32>();
                let first = header.height + rows.first().map(|r| r.height).unwrap_or(0.0);
                if y > TOP && y + total > BOTTOM && (total <= page_h || y + first > BOTTOM) {
                    new_page(&mut pages, &mut y);
                }
                place(&mut pages, header, y);
                y += header.height;
                for r in rows {
                    if y + r.height > BOTTOM {
                        new_page(&mut pages, &mut y);
                        place(&mut pages, header, y);
                        y += header.height;
                    }
                    place(&mut pages, r, y);
                    y += r.height;
                }
            }
        }
    }
    pages
}

fn draw(surface: &mut Surface<'_>, font: &Font, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            text,
            color,
        } => {
            surface.set_fill(Some(fill(*color)));
            surface.draw_text(
                Point::from_xy(*x, *y),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        Op::Rect { x, y, w, h, color } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(Some(fill(*color)));
                surface.draw_path(&path);
            }
        }
    }
}

impl Renderer {
    /// The check-up report as an A4 PDF of as many pages as it takes.
    pub fn checkup_report(&self, doc: &CheckupDoc) -> Result<Vec<u8>, PdfError> {
        let font = self.font()?;
        let pages = paginate(&blocks(doc));
        let total = pages.len();
        let mut document = Document::new();
        document.set_metadata(
            Metadata::new()
                .title(format!("法治体检报告 · {}", doc.company))
                .language("zh-CN".into())
                .creator(doc.site_name.clone()),
        );
        for (n, ops) in pages.iter().enumerate() {
            let settings = PageSettings::from_wh(A4_W, A4_H)
                .ok_or_else(|| PdfError::Render("page size".into()))?;
            let mut page = document.start_page_with(settings);
            let mut s = page.surface();
            for op in ops {
                draw(&mut s, &font, op);
            }
            let footer_y = A4_H - 40.0;
            draw(
                &mut s,
                &font,
                &Op::Rect {
                    x: LEFT,
                    y: footer_y - 14.0,
                    w: RIGHT - LEFT,
                    h: 0.5,
                    color: RULE,
                },
            );
            let left = format!("{} · 法治体检报告 · {}", doc.company, doc.chamber_name);
            draw(
                &mut s,
                &font,
                &Op::Text {
                    x: LEFT,
                    y: footer_y,
                    size: 8.0,
                    text: left,
                    color: GREY,
                },
            );
            let number = format!("第 {} 页 / 共 {} 页", n + 1, total);
            draw(
                &mut s,
                &font,
                &Op::Text {
                    x: RIGHT - width(&number, 8.5),
                    y: footer_y,
                    size: 8.5,
                    text: number,
                    color: GREY,
                },
            );
            s.finish();
            page.finish();
        }
        document
            .finish()
            .map_err(|e| PdfError::Render(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(findings: usize) -> CheckupDoc {
        let finding = |i: usize| {
            FindingDoc {
            level: "高".into(),
            tone: Tone::High,
            tags: vec!["红线".into()],
            title: format!("示例风险点{i}：未与劳动者订立书面劳动合同"),
            meta: "劳动用工 · 行政责任 · 问：是否签订书面劳动合同？ 答：部分没有".into(),
            details: vec![
                ("法律依据".into(), "《中华人民共和国劳动合同法》第十条、第八十二条：建立劳动关系，应当订立书面劳动合同；用人单位自用工之日起超过一个月不满一年未与劳动者订立书面劳动合同的，应当向劳动者每月支付二倍的工资。".into()),
                ("可能后果".into(), "支付二倍工资，劳动仲裁败诉。".into()),
                ("整改建议".into(), format!("示例建议{i}：自用工之日起一个月内订立书面劳动合同，建立合同台账，到期前三十日提醒续订。")),
            ],
        }
        };
        CheckupDoc {
            company: "示例科技有限公司".into(),
            site_name: "精准普法".into(),
            chamber_name: "市工商联".into(),
            facts: vec![
                ("企业".into(), "示例科技有限公司".into()),
                ("统一社会信用代码".into(), "91350100771234569D".into()),
                ("体检时间".into(), "2026年12月2日 周三 14:30".into()),
                ("问卷版本".into(), "2026.2".into()),
            ],
            overall: ("高".into(), Tone::High),
            summary: Some(format!("共发现 {findings} 项风险点。")),
            alert: Some(
                "触及 1 项法律红线（重大且紧急），总体风险等级直接定为“高”，请优先整改。".into(),
            ),
            dimensions: (0..8)
                .map(|i| DimensionLine {
                    name: format!("示例维度{i}"),
                    score: "40".into(),
                    level: "中".into(),
                    tone: Tone::Medium,
                    note: "未订立书面劳动合同（共 3 项）".into(),
                })
                .collect(),
            compare_note: None,
            findings_heading: format!("风险点与整改建议（{findings} 项）"),
            findings_note: None,
            findings: (0..findings).map(finding).collect(),
            appendix_heading: None,
            appendix: Vec::new(),
            disclaimer: "本报告依据企业自行填写的问卷自动生成，仅供自查和普法参考。".into(),
        }
    }

    fn texts(page: &[Op]) -> String {
        page.iter()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn findings_are_never_split_and_stay_inside_the_page() {
        let doc = sample(30);
        let pages = paginate(&blocks(&doc));
        assert!(pages.len() > 3, "{}", pages.len());
        for i in 0..30 {
            let title = format!("示例风险点{i}：");
            let advice = format!("示例建议{i}：");
            let on: Vec<usize> = pages
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    let t = texts(p);
                    t.contains(&title) || t.contains(&advice)
                })
                .map(|(n, _)| n)
                .collect();
            assert_eq!(on.len(), 1, "finding {i} on pages {on:?}");
            assert!(texts(&pages[on[0]]).contains(&advice));
        }
        for page in &pages {
            for op in page {
                let (Op::Text { y, .. } | Op::Rect { y, .. }) = op;
                assert!(*y >= TOP && *y <= BOTTOM, "{y}");
            }
        }
    }

    #[test]
    fn a_long_table_repeats_its_header() {
        let mut doc = sample(0);
        doc.dimensions = (0..80)
            .map(|i| DimensionLine {
                name: format!("维度{i}"),
                score: "100".into(),
                level: "低".into(),
                tone: Tone::Low,
                note: "未发现风险点".into(),
            })
            .collect();
        let pages = paginate(&blocks(&doc));
        let with_header = pages
            .iter()
            .filter(|p| texts(p).contains("最严重的风险点"))
            .count();
        assert!(with_header >= 2, "{with_header} of {}", pages.len());
    }

    #[test]
    fn a_short_table_moves_whole_to_the_next_page() {
        let mut doc = sample(0);
        // facts long enough to leave little room under the dimension heading
        doc.facts = (0..16).map(|i| (format!("项{i}"), "值".into())).collect();
        let pages = paginate(&blocks(&doc));
        let holding: Vec<usize> = pages
            .iter()
            .enumerate()
            .filter(|(_, p)| texts(p).contains("示例维度"))
            .map(|(n, _)| n)
            .collect();
        assert_eq!(holding.len(), 1, "{holding:?}");
        // and its heading went with it
        assert!(texts(&pages[holding[0]]).contains("各维度得分"));
    }

    /// Renders a sample to `PUFA_PDF_REPORT_SAMPLE` when set (to look at the layout).
    #[test]
    fn sample_report() {
        let Ok(out) = std::env::var("PUFA_PDF_REPORT_SAMPLE") else {
            return;
        };
        let r = Renderer::new(std::path::PathBuf::from(super::super::DEFAULT_FONT));
        std::fs::write(out, r.checkup_report(&sample(14)).expect("pdf")).expect("write");
    }
}
