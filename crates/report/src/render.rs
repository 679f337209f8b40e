//! Lays the report out on A4 pages and writes the PDF. No IO.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::jpeg;
use crate::winansi::{Font, encode, width, wrap};
use crate::{PhotoRole, ReportInput, TimelineKind};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const TOP: f32 = PAGE_H - MARGIN;
/// Room kept at the bottom for the footer.
const BOTTOM: f32 = MARGIN + 28.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;

const BODY: f32 = 9.5;
const LEADING: f32 = 12.5;
const SMALL: f32 = 8.0;

type Rgb = (f32, f32, f32);
const BLACK: Rgb = (0.0, 0.0, 0.0);
const GREY: Rgb = (0.35, 0.35, 0.35);
const RED: Rgb = (0.70, 0.10, 0.05);
const ACCENT: Rgb = (0.106, 0.431, 0.541);
/// Distinguishable colours for chart series (with their own marker shapes,
/// so colour is never the only cue).
const SERIES: [Rgb; 9] = [
    (0.106, 0.431, 0.541),
    (0.690, 0.263, 0.110),
    (0.290, 0.478, 0.122),
    (0.420, 0.290, 0.620),
    (0.541, 0.427, 0.0),
    (0.631, 0.165, 0.369),
    (0.184, 0.365, 0.314),
    (0.353, 0.353, 0.353),
    (0.141, 0.251, 0.478),
];

/// One page under construction.
struct PageBuf {
    content: Content,
    /// Indices into the document's images.
    images: Vec<usize>,
}

/// A JPEG to embed, and its frame header.
struct Image<'a> {
    bytes: &'a [u8],
    info: jpeg::JpegInfo,
}

/// The layout state: pages so far and where the next line goes.
struct Doc<'a> {
    pages: Vec<PageBuf>,
    images: Vec<Image<'a>>,
    y: f32,
    /// The section title repeated at the top of continuation pages.
    continued: Option<String>,
}

impl<'a> Doc<'a> {
    fn new() -> Doc<'a> {
        let mut d = Doc {
            pages: Vec::new(),
            images: Vec::new(),
            y: TOP,
            continued: None,
        };
        d.new_page();
        d
    }

    fn page(&mut self) -> &mut PageBuf {
        if self.pages.is_empty() {
            self.pages.push(PageBuf {
                content: Content::new(),
                images: Vec::new(),
            });
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(PageBuf {
            content: Content::new(),
            images: Vec::new(),
        });
        self.y = TOP;
        if let Some(title) = self.continued.clone() {
            self.text(
                MARGIN,
                self.y - SMALL,
                Font::Regular,
                SMALL,
                GREY,
                &format!("{title} (continued)"),
            );
            self.y -= SMALL + 8.0;
        }
    }

    /// Starts a new page unless `h` points still fit.
    fn ensure(&mut self, h: f32) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    /// One line of text whose baseline is at `y`.
    fn text(&mut self, x: f32, y: f32, font: Font, size: f32, colour: Rgb, text: &str) {
        let bytes = encode(text);
        self.raw_text(x, y, font, size, colour, &bytes);
    }

    fn raw_text(&mut self, x: f32, y: f32, font: Font, size: f32, colour: Rgb, bytes: &[u8]) {
        let c = &mut self.page().content;
        c.set_fill_rgb(colour.0, colour.1, colour.2);
        c.begin_text();
        c.set_font(font_name(font), size);
        c.next_line(x, y);
        c.show(Str(bytes));
        c.end_text();
    }

    /// A wrapped paragraph at `x`, `w` wide, flowing onto new pages.
    fn para(&mut self, x: f32, w: f32, font: Font, size: f32, colour: Rgb, text: &str) {
        let leading = size * 1.3;
        for line in wrap(font, size, text, w) {
            self.ensure(leading);
            self.y -= leading;
            self.raw_text(
                x,
                self.y + (leading - size) * 0.5,
                font,
                size,
                colour,
                &line,
            );
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// A section title; keeps at least `keep` points of content with it.
    fn heading(&mut self, title: &str, keep: f32) {
        self.continued = None;
        self.ensure(40.0 + keep);
        self.gap(10.0);
        self.y -= 14.0;
        self.text(MARGIN, self.y, Font::Bold, 13.0, ACCENT, title);
        self.y -= 5.0;
        let y = self.y;
        let c = &mut self.page().content;
        c.set_stroke_rgb(ACCENT.0, ACCENT.1, ACCENT.2);
        c.set_line_width(0.8);
        c.move_to(MARGIN, y);
        c.line_to(PAGE_W - MARGIN, y);
        c.stroke();
        self.y -= 6.0;
        self.continued = Some(title.to_owned());
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, colour: Rgb) {
        let c = &mut self.page().content;
        c.set_fill_rgb(colour.0, colour.1, colour.2);
        c.rect(x, y, w, h);
        c.fill_nonzero();
    }
}

fn font_name(font: Font) -> Name<'static> {
    match font {
        Font::Regular => Name(b"F1"),
        Font::Bold => Name(b"F2"),
    }
}

fn local(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn mm(v: f64) -> String {
    format!("{v:.2} mm")
}

/// Renders the report. Pure: the same input gives the same bytes.
pub fn render_pdf(input: &ReportInput) -> Vec<u8> {
    let mut doc = Doc::new();
    header(&mut doc, input);
    screening(&mut doc, input);
    devices(&mut doc, input);
    sessions(&mut doc, input);
    timeline(&mut doc, input);
    charts(&mut doc, input);
    photos(&mut doc, input);
    if !input.notes.is_empty() {
        doc.heading("Notes", LEADING);
        for n in &input.notes {
            doc.para(MARGIN, TEXT_W, Font::Regular, BODY, BLACK, n);
        }
    }
    finish(doc, input)
}

fn header(doc: &mut Doc<'_>, input: &ReportInput) {
    doc.y -= 20.0;
    doc.text(
        MARGIN,
        doc.y,
        Font::Bold,
        18.0,
        BLACK,
        "needlewise: home microneedling report",
    );
    doc.y -= 6.0;
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Regular,
        11.0,
        ACCENT,
        "Prepared for your facial plastic surgeon",
    );
    doc.gap(4.0);
    let rows = [
        ("Person", input.profile_name.clone()),
        (
            "Generated",
            format!(
                "{} ({}, {})",
                input.generated_on,
                local(input.generated_at, &input.tz),
                input.tz.iana_name().unwrap_or("local time")
            ),
        ),
        (
            "Records",
            format!(
                "{} session{}, {} device{}, {} check-in and red-flag entr{}, {} photo{} shown",
                input.sessions.len(),
                plural(input.sessions.len()),
                input.devices.len(),
                plural(input.devices.len()),
                input.timeline.len(),
                if input.timeline.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                input.photos.len(),
                plural(input.photos.len()),
            ),
        ),
    ];
    for (k, v) in rows {
        doc.ensure(LEADING);
        doc.y -= LEADING;
        doc.text(MARGIN, doc.y, Font::Bold, BODY, BLACK, k);
        let lines = wrap(Font::Regular, BODY, &v, TEXT_W - 80.0);
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                doc.y -= LEADING;
            }
            doc.raw_text(MARGIN + 80.0, doc.y, Font::Regular, BODY, BLACK, l);
        }
    }
    doc.gap(8.0);
    // The disclaimer, in a box.
    let text = "Decision support, not a diagnosis. Everything here was recorded by the person at home: answers, sessions, symptoms and self-ratings. The screening and triage outcomes come from needlewise's published rules (each with its id, evidence grade and sources) and are not a medical assessment.";
    let lines = wrap(Font::Regular, BODY, text, TEXT_W - 16.0);
    let h = lines.len() as f32 * LEADING + 10.0;
    doc.ensure(h);
    let top = doc.y;
    doc.fill_rect(MARGIN, top - h, TEXT_W, h, (0.93, 0.96, 0.97));
    doc.y -= 4.0;
    for l in &lines {
        doc.y -= LEADING;
        doc.raw_text(MARGIN + 8.0, doc.y + 2.0, Font::Regular, BODY, BLACK, l);
    }
    doc.y = top - h;
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn screening(doc: &mut Doc<'_>, input: &ReportInput) {
    doc.heading("Screening", 3.0 * LEADING);
    let Some(s) = &input.screening else {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No screening has been taken yet.",
        );
        return;
    };
    let colour = if s.verdict.allows_home_sessions() {
        BLACK
    } else {
        RED
    };
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Bold,
        11.0,
        colour,
        &format!("Verdict: {} ({})", s.verdict.id(), s.headline),
    );
    let mut facts = vec![format!("Taken {}", local(s.taken_at, &input.tz))];
    if let Some(n) = s.needle_length_mm {
        facts.push(format!("needle screened {}", mm(n)));
    }
    if let Some(d) = s.eligible_from {
        facts.push(format!("eligible from {d}"));
    }
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Regular,
        BODY,
        BLACK,
        &facts.join("; "),
    );
    if !s.zones.is_empty() {
        let z: Vec<&str> = s.zones.iter().map(|z| z.label()).collect();
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            &format!("Zones that may be treated: {}", z.join(", ")),
        );
    }
    if !s.excluded_zones.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            &format!("Zones left out: {}", s.excluded_zones.join("; ")),
        );
    }
    doc.gap(4.0);
    if s.reasons.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No rule fired: nothing in the answers called for caution.",
        );
    }
    for r in &s.reasons {
        doc.ensure(3.0 * LEADING);
        doc.gap(3.0);
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Bold,
            BODY,
            BLACK,
            &format!("[{}] {} ({})", r.rule_id, r.title, r.outcome),
        );
        doc.para(
            MARGIN + 12.0,
            TEXT_W - 12.0,
            Font::Regular,
            BODY,
            BLACK,
            &r.explanation,
        );
        let grade = if r.grade_meaning.is_empty() {
            format!("Evidence grade {}", r.grade)
        } else {
            format!("Evidence grade {}: {}", r.grade, r.grade_meaning)
        };
        doc.para(
            MARGIN + 12.0,
            TEXT_W - 12.0,
            Font::Regular,
            SMALL,
            GREY,
            &grade,
        );
        for src in &r.sources {
            doc.para(
                MARGIN + 12.0,
                TEXT_W - 12.0,
                Font::Regular,
                SMALL,
                GREY,
                &format!("Source: {src}"),
            );
        }
    }
}

fn devices(doc: &mut Doc<'_>, input: &ReportInput) {
    doc.heading("Devices", 2.0 * LEADING);
    if input.devices.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No devices recorded.",
        );
        return;
    }
    let cols = [
        Column::new("Name", 150.0),
        Column::new("Kind", 130.0),
        Column::new("Needle", 55.0),
        Column::new("Uses", 40.0),
        Column::new("State", TEXT_W - 375.0),
    ];
    let rows: Vec<Vec<String>> = input
        .devices
        .iter()
        .map(|d| {
            let mut state = d.state.clone();
            if d.damaged {
                state.push_str(", reported damaged");
            }
            vec![
                d.name.clone(),
                d.kind.clone(),
                mm(d.needle_length_mm),
                d.uses.to_string(),
                state,
            ]
        })
        .collect();
    table(doc, &cols, &rows);
}

fn sessions(doc: &mut Doc<'_>, input: &ReportInput) {
    doc.heading("Sessions", 3.0 * LEADING);
    if input.sessions.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No sessions recorded.",
        );
        return;
    }
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Regular,
        SMALL,
        GREY,
        &format!(
            "{} session{}, oldest first. Products as applied during or after the session.",
            input.sessions.len(),
            plural(input.sessions.len())
        ),
    );
    doc.gap(3.0);
    let cols = [
        Column::new("Date", 62.0),
        Column::new("Zones", 150.0),
        Column::new("Needle", 50.0),
        Column::new("Device", 85.0),
        Column::new("Products", TEXT_W - 347.0),
    ];
    let rows: Vec<Vec<String>> = input
        .sessions
        .iter()
        .map(|s| {
            vec![
                s.date.to_string(),
                s.zones.join(", "),
                mm(s.needle_length_mm),
                s.device.clone().unwrap_or_else(|| "-".into()),
                if s.products.is_empty() {
                    "-".into()
                } else {
                    s.products.join("; ")
                },
            ]
        })
        .collect();
    table(doc, &cols, &rows);
}

struct Column {
    title: &'static str,
    width: f32,
}

impl Column {
    fn new(title: &'static str, width: f32) -> Column {
        Column { title, width }
    }
}

/// A table with wrapped cells; the header row repeats on every page.
fn table(doc: &mut Doc<'_>, cols: &[Column], rows: &[Vec<String>]) {
    const PAD: f32 = 3.0;
    let size = SMALL + 0.5;
    let leading = size * 1.25;
    let header = |doc: &mut Doc<'_>| {
        let h = leading + 2.0 * PAD;
        doc.fill_rect(MARGIN, doc.y - h, TEXT_W, h, (0.85, 0.91, 0.93));
        let mut x = MARGIN;
        for c in cols {
            doc.text(
                x + PAD,
                doc.y - PAD - size,
                Font::Bold,
                size,
                BLACK,
                c.title,
            );
            x += c.width;
        }
        doc.y -= h;
    };
    doc.ensure(2.0 * (leading + 2.0 * PAD));
    header(doc);
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<Vec<Vec<u8>>> = row
            .iter()
            .zip(cols)
            .map(|(text, c)| wrap(Font::Regular, size, text, c.width - 2.0 * PAD))
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let h = lines as f32 * leading + 2.0 * PAD;
        if doc.y - h < BOTTOM {
            doc.new_page();
            header(doc);
        }
        if i % 2 == 1 {
            doc.fill_rect(MARGIN, doc.y - h, TEXT_W, h, (0.96, 0.96, 0.96));
        }
        let mut x = MARGIN;
        for (cell, c) in cells.iter().zip(cols) {
            for (j, line) in cell.iter().enumerate() {
                let y = doc.y - PAD - size - j as f32 * leading;
                doc.raw_text(x + PAD, y, Font::Regular, size, BLACK, line);
            }
            x += c.width;
        }
        doc.y -= h;
    }
}

fn timeline(doc: &mut Doc<'_>, input: &ReportInput) {
    doc.heading("Check-ins and red flags", 3.0 * LEADING);
    if input.timeline.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No check-ins recorded.",
        );
        return;
    }
    let open = input
        .timeline
        .iter()
        .filter(|t| t.kind == TimelineKind::RedFlagOpened { open: true })
        .count();
    let raised = input
        .timeline
        .iter()
        .filter(|t| matches!(t.kind, TimelineKind::RedFlagOpened { .. }))
        .count();
    let summary = format!(
        "{raised} red flag{} raised, {open} still open{}. Levels: expected, watch, contact_surgeon (locks new sessions), urgent_care.",
        plural(raised),
        if open > 0 {
            ": new sessions are locked until it is resolved"
        } else {
            ""
        }
    );
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Regular,
        BODY,
        if open > 0 { RED } else { BLACK },
        &summary,
    );
    doc.gap(3.0);
    for t in &input.timeline {
        let (label, colour) = match t.kind {
            TimelineKind::Checkin => (
                format!("Check-in: {}", t.level.id()),
                if t.level.locks_sessions() { RED } else { BLACK },
            ),
            TimelineKind::RedFlagOpened { open: true } => {
                (format!("RED FLAG raised ({}), OPEN", t.level.id()), RED)
            }
            TimelineKind::RedFlagOpened { open: false } => (
                format!("RED FLAG raised ({}), since resolved", t.level.id()),
                RED,
            ),
            TimelineKind::RedFlagResolved => {
                (format!("Red flag resolved ({})", t.level.id()), BLACK)
            }
        };
        let detail = match (t.kind, t.detail.is_empty()) {
            (_, true) => String::new(),
            (TimelineKind::RedFlagResolved, false) => format!(": {}", t.detail),
            (_, false) => format!(" (rules: {})", t.detail),
        };
        let when = local(t.at, &input.tz);
        let lines = wrap(
            Font::Regular,
            BODY,
            &format!("{label}{detail}"),
            TEXT_W - 90.0,
        );
        doc.ensure(lines.len() as f32 * LEADING);
        for (i, l) in lines.iter().enumerate() {
            doc.y -= LEADING;
            if i == 0 {
                doc.text(MARGIN, doc.y, Font::Regular, BODY, GREY, &when);
            }
            doc.raw_text(MARGIN + 90.0, doc.y, Font::Regular, BODY, colour, l);
        }
    }
}

fn charts(doc: &mut Doc<'_>, input: &ReportInput) {
    doc.heading("Self-rating trends", 200.0);
    if input.trends.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No self-ratings recorded.",
        );
        return;
    }
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Regular,
        SMALL,
        GREY,
        "Self-rated scores from 0 (none) to 4 (marked), as the person sees their own skin: not a diagnosis and not a measurement of treatment effect.",
    );
    for trend in &input.trends {
        chart(doc, trend, &input.tz);
    }
}

fn chart(doc: &mut Doc<'_>, trend: &needlewise_core::progress::Trend, tz: &TimeZone) {
    const PLOT_H: f32 = 110.0;
    const LEFT: f32 = 30.0;
    let legend_rows = trend.series.len().div_ceil(3).max(1);
    let total = 18.0 + PLOT_H + 22.0 + legend_rows as f32 * 12.0 + 8.0;
    doc.ensure(total);
    doc.y -= 16.0;
    doc.text(
        MARGIN,
        doc.y,
        Font::Bold,
        10.0,
        BLACK,
        trend.concern.label(),
    );
    doc.y -= 6.0;
    let top = doc.y;
    let bottom = top - PLOT_H;
    let x0 = MARGIN + LEFT;
    let x1 = PAGE_W - MARGIN - 10.0;
    let all: Vec<Timestamp> = trend
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.at))
        .collect();
    let (min, max) = (all.iter().min().copied(), all.iter().max().copied());
    let x_of = |t: Timestamp| -> f32 {
        match (min, max) {
            (Some(a), Some(b)) if b > a => {
                let span = (b.as_second() - a.as_second()) as f32;
                x0 + (x1 - x0) * (t.as_second() - a.as_second()) as f32 / span
            }
            _ => (x0 + x1) / 2.0,
        }
    };
    let y_of = |score: u8| -> f32 { bottom + PLOT_H * f32::from(score) / 4.0 };
    // Grid, axes and labels.
    for level in 0..=4u8 {
        let y = y_of(level);
        let c = &mut doc.page().content;
        c.set_stroke_rgb(0.85, 0.85, 0.85);
        c.set_line_width(0.5);
        c.move_to(x0, y);
        c.line_to(x1, y);
        c.stroke();
        doc.text(
            x0 - 10.0,
            y - 3.0,
            Font::Regular,
            SMALL,
            BLACK,
            &level.to_string(),
        );
    }
    {
        let c = &mut doc.page().content;
        c.set_stroke_rgb(0.2, 0.2, 0.2);
        c.set_line_width(0.8);
        c.move_to(x0, top);
        c.line_to(x0, bottom);
        c.line_to(x1, bottom);
        c.stroke();
    }
    if let (Some(a), Some(b)) = (min, max) {
        let da = a.to_zoned_datetime(tz.clone()).date().to_string();
        doc.text(x0, bottom - 11.0, Font::Regular, SMALL, BLACK, &da);
        if b > a {
            let db = b.to_zoned_datetime(tz.clone()).date().to_string();
            let w = width(Font::Regular, SMALL, &encode(&db));
            doc.text(x1 - w, bottom - 11.0, Font::Regular, SMALL, BLACK, &db);
        }
    }
    let axis = "Date rated; score 0 (none) to 4 (marked)";
    let w = width(Font::Regular, SMALL, &encode(axis));
    doc.text(
        (x0 + x1 - w) / 2.0,
        bottom - 11.0,
        Font::Regular,
        SMALL,
        GREY,
        axis,
    );
    // Series: a line and a marker shape per zone.
    for (i, s) in trend.series.iter().enumerate() {
        let (r, g, b) = SERIES[i % SERIES.len()];
        let c = &mut doc.page().content;
        c.set_stroke_rgb(r, g, b);
        c.set_fill_rgb(r, g, b);
        c.set_line_width(1.5);
        if s.points.len() > 1 {
            for (j, p) in s.points.iter().enumerate() {
                let (x, y) = (x_of(p.at), y_of(p.score.value()));
                if j == 0 {
                    c.move_to(x, y);
                } else {
                    c.line_to(x, y);
                }
            }
            c.stroke();
        }
        for p in &s.points {
            marker(c, i, x_of(p.at), y_of(p.score.value()));
        }
    }
    // Legend.
    doc.y = bottom - 24.0;
    for (i, s) in trend.series.iter().enumerate() {
        let col = i % 3;
        if i > 0 && col == 0 {
            doc.y -= 12.0;
        }
        let x = MARGIN + LEFT + col as f32 * 160.0;
        let (r, g, b) = SERIES[i % SERIES.len()];
        {
            let y = doc.y + 3.0;
            let c = &mut doc.page().content;
            c.set_stroke_rgb(r, g, b);
            c.set_fill_rgb(r, g, b);
            c.set_line_width(1.5);
            c.move_to(x, y);
            c.line_to(x + 16.0, y);
            c.stroke();
            marker(c, i, x + 8.0, y);
        }
        let change = match s.change() {
            Some(d) if d > 0 => format!(" (+{d})"),
            Some(d) => format!(" ({d})"),
            None => String::new(),
        };
        let last = s.points.last().map(|p| p.score.value()).unwrap_or(0);
        doc.text(
            x + 20.0,
            doc.y,
            Font::Regular,
            SMALL,
            BLACK,
            &format!("{}: now {last}{change}", s.zone.label()),
        );
    }
    doc.y -= 10.0;
}

/// A marker shape per series index: square, circle-ish diamond, triangle.
fn marker(c: &mut Content, i: usize, x: f32, y: f32) {
    let r = 2.6;
    match i % 3 {
        0 => {
            c.rect(x - r, y - r, 2.0 * r, 2.0 * r);
        }
        1 => {
            c.move_to(x, y + r * 1.3);
            c.line_to(x + r * 1.3, y);
            c.line_to(x, y - r * 1.3);
            c.line_to(x - r * 1.3, y);
            c.close_path();
        }
        _ => {
            c.move_to(x, y + r * 1.4);
            c.line_to(x + r * 1.3, y - r);
            c.line_to(x - r * 1.3, y - r);
            c.close_path();
        }
    }
    c.fill_nonzero();
}

fn photos<'a>(doc: &mut Doc<'a>, input: &'a ReportInput) {
    doc.heading("Photos: the first beside the latest", 250.0);
    if input.photos.is_empty() {
        doc.para(
            MARGIN,
            TEXT_W,
            Font::Regular,
            BODY,
            BLACK,
            "No progress photos.",
        );
        return;
    }
    doc.para(
        MARGIN,
        TEXT_W,
        Font::Regular,
        SMALL,
        GREY,
        "Taken at home by the person; lighting and angle may differ between photos.",
    );
    const GAP: f32 = 15.0;
    let cell_w = (TEXT_W - GAP) / 2.0;
    let img_h = 230.0;
    let mut col = 0usize;
    let mut row_top = doc.y;
    for p in &input.photos {
        let Some(info) = jpeg::info(&p.jpeg) else {
            continue;
        };
        if col == 0 {
            doc.ensure(img_h + 30.0);
            row_top = doc.y - 6.0;
        }
        let index = doc.images.len();
        doc.images.push(Image {
            bytes: &p.jpeg,
            info,
        });
        doc.page().images.push(index);
        let (iw, ih) = (info.width as f32, info.height as f32);
        let scale = (cell_w / iw).min(img_h / ih);
        let (w, h) = (iw * scale, ih * scale);
        let x = MARGIN + col as f32 * (cell_w + GAP) + (cell_w - w) / 2.0;
        let y = row_top - img_h + (img_h - h) / 2.0;
        let name = format!("Im{index}");
        {
            let c = &mut doc.page().content;
            c.save_state();
            c.transform([w, 0.0, 0.0, h, x, y]);
            c.x_object(Name(name.as_bytes()));
            c.restore_state();
        }
        let role = match p.role {
            PhotoRole::First => "First",
            PhotoRole::Latest => "Latest",
        };
        let mut caption = format!("{role}: {}", local(p.taken_at, &input.tz));
        if let Some(z) = p.zone {
            caption.push_str(&format!(", {}", z.label()));
        }
        doc.text(
            MARGIN + col as f32 * (cell_w + GAP),
            row_top - img_h - 12.0,
            Font::Regular,
            SMALL,
            BLACK,
            &caption,
        );
        col = (col + 1) % 2;
        if col == 0 {
            doc.y = row_top - img_h - 20.0;
        }
    }
    if col == 1 {
        doc.y = row_top - img_h - 20.0;
    }
}

/// Adds the footer to every page and writes the PDF objects.
fn finish(doc: Doc<'_>, input: &ReportInput) -> Vec<u8> {
    let Doc {
        mut pages, images, ..
    } = doc;
    let n = pages.len();
    for (i, p) in pages.iter_mut().enumerate() {
        let c = &mut p.content;
        c.set_stroke_rgb(0.7, 0.7, 0.7);
        c.set_line_width(0.5);
        c.move_to(MARGIN, MARGIN + 14.0);
        c.line_to(PAGE_W - MARGIN, MARGIN + 14.0);
        c.stroke();
        let left = encode(&format!(
            "needlewise report for {}, {}. Decision support, not a diagnosis.",
            input.profile_name, input.generated_on
        ));
        let left = truncate(Font::Regular, SMALL, left, TEXT_W - 70.0);
        c.set_fill_rgb(GREY.0, GREY.1, GREY.2);
        c.begin_text();
        c.set_font(font_name(Font::Regular), SMALL);
        c.next_line(MARGIN, MARGIN + 4.0);
        c.show(Str(&left));
        c.end_text();
        let right = encode(&format!("Page {} of {n}", i + 1));
        let w = width(Font::Regular, SMALL, &right);
        c.begin_text();
        c.set_font(font_name(Font::Regular), SMALL);
        c.next_line(PAGE_W - MARGIN - w, MARGIN + 4.0);
        c.show(Str(&right));
        c.end_text();
    }

    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = alloc();
    let tree = alloc();
    let regular = alloc();
    let bold = alloc();
    let info = alloc();
    let image_ids: Vec<Ref> = images.iter().map(|_| alloc()).collect();
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(p, _)| *p))
        .count(i32::try_from(n).unwrap_or(i32::MAX));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let title = format!("needlewise report for {}", input.profile_name);
    {
        let mut di = pdf.document_info(info);
        di.title(TextStr(&title));
        di.subject(TextStr(
            "Home microneedling record for a facial plastic surgeon. Decision support, not a diagnosis.",
        ));
        di.creator(TextStr("needlewise"));
        di.producer(TextStr("needlewise-report"));
        let d = input.generated_on;
        if let Ok(year) = u16::try_from(d.year()) {
            let month = u8::try_from(d.month()).unwrap_or(1);
            let day = u8::try_from(d.day()).unwrap_or(1);
            di.creation_date(pdf_writer::Date::new(year).month(month).day(day));
        }
    }
    for (img, id) in images.iter().zip(&image_ids) {
        let mut x = pdf.image_xobject(*id, img.bytes);
        x.filter(Filter::DctDecode);
        x.width(i32::try_from(img.info.width).unwrap_or(1));
        x.height(i32::try_from(img.info.height).unwrap_or(1));
        x.bits_per_component(8);
        match img.info.components {
            1 => {
                x.color_space().device_gray();
            }
            4 => {
                x.color_space().device_cmyk();
                // Adobe's CMYK JPEGs are stored inverted.
                x.decode([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
            }
            _ => {
                x.color_space().device_rgb();
            }
        }
        x.finish();
    }
    for (p, (page_id, content_id)) in pages.into_iter().zip(&page_ids) {
        let bytes = p.content.finish();
        {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            page.parent(tree);
            page.contents(*content_id);
            let mut res = page.resources();
            res.fonts()
                .pair(Name(b"F1"), regular)
                .pair(Name(b"F2"), bold);
            if !p.images.is_empty() {
                let mut xo = res.x_objects();
                for i in &p.images {
                    let name = format!("Im{i}");
                    xo.pair(Name(name.as_bytes()), image_ids[*i]);
                }
            }
        }
        pdf.stream(*content_id, &bytes);
    }
    pdf.finish()
}

/// Cuts encoded text to fit `max` points, ending it with an ellipsis.
fn truncate(font: Font, size: f32, mut text: Vec<u8>, max: f32) -> Vec<u8> {
    if width(font, size, &text) <= max {
        return text;
    }
    let ell = width(font, size, &[0x85]);
    while !text.is_empty() && width(font, size, &text) + ell > max {
        text.pop();
    }
    text.push(0x85);
    text
}
