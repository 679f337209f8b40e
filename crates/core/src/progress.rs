//! Progress: self-ratings of skin concerns, their trends and the charts that
//! draw them, and the record of a progress photo.
//!
//! Ratings are self-reported on a 0–4 scale with a plain anchor per level.
//! They record how a person sees their own skin; they are not a diagnosis
//! and the trends drawn from them are not a measurement of treatment effect.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::ids::{PhotoId, ProfileId, RatingId};
use crate::zone::Zone;

/// A skin concern a person may choose to follow over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    LinesAndWrinkles,
    AcneScars,
    HyperpigmentationAndBrownSpots,
    Laxity,
    ToneAndTexture,
}

impl Concern {
    pub const ALL: [Concern; 5] = [
        Concern::LinesAndWrinkles,
        Concern::AcneScars,
        Concern::HyperpigmentationAndBrownSpots,
        Concern::Laxity,
        Concern::ToneAndTexture,
    ];

    /// The stable id, as used in forms and the store.
    pub fn id(self) -> &'static str {
        match self {
            Concern::LinesAndWrinkles => "lines_and_wrinkles",
            Concern::AcneScars => "acne_scars",
            Concern::HyperpigmentationAndBrownSpots => "hyperpigmentation_and_brown_spots",
            Concern::Laxity => "laxity",
            Concern::ToneAndTexture => "tone_and_texture",
        }
    }

    /// A plain-language label.
    pub fn label(self) -> &'static str {
        match self {
            Concern::LinesAndWrinkles => "Lines and wrinkles",
            Concern::AcneScars => "Acne scars",
            Concern::HyperpigmentationAndBrownSpots => "Dark patches and brown spots",
            Concern::Laxity => "Firmness (laxity)",
            Concern::ToneAndTexture => "Tone and texture",
        }
    }

    /// What each level of the 0–4 scale means for this concern, as the
    /// person sees it in a mirror in good light. Index = score.
    pub fn anchors(self) -> [&'static str; 5] {
        match self {
            Concern::LinesAndWrinkles => [
                "None: I see no lines, even when I make expressions.",
                "Very mild: faint lines only when I make expressions.",
                "Mild: a few fine lines that stay when my face is at rest.",
                "Moderate: clear lines at rest, some of them deeper.",
                "Marked: deep lines or folds that are easy to see at rest.",
            ],
            Concern::AcneScars => [
                "None: I see no scars.",
                "Very mild: a few small marks, only visible up close.",
                "Mild: some shallow scars I can see at a normal distance.",
                "Moderate: many scars or some deeper ones, easy to see.",
                "Marked: many deep scars over much of this area.",
            ],
            Concern::HyperpigmentationAndBrownSpots => [
                "None: my colour looks even.",
                "Very mild: one or two faint spots, only visible up close.",
                "Mild: a few spots or a light patch I can see at a normal distance.",
                "Moderate: several spots or patches that are easy to see.",
                "Marked: large or dark patches over much of this area.",
            ],
            Concern::Laxity => [
                "None: the skin feels firm and springs back at once.",
                "Very mild: slightly softer than it was, only I would notice.",
                "Mild: some softness or slight sagging at rest.",
                "Moderate: sagging I can clearly see at rest.",
                "Marked: loose skin or folds that are easy to see.",
            ],
            Concern::ToneAndTexture => [
                "None: smooth and even to look at and to touch.",
                "Very mild: slightly uneven up close.",
                "Mild: some roughness, enlarged pores or dullness.",
                "Moderate: clearly uneven or rough over much of this area.",
                "Marked: very uneven or rough over all of this area.",
            ],
        }
    }
}

impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Concern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Concern::ALL
            .into_iter()
            .find(|c| c.id() == s)
            .ok_or_else(|| {
                format!(
                    "unknown concern {s:?}; expected one of lines_and_wrinkles, acne_scars, hyperpigmentation_and_brown_spots, laxity, tone_and_texture"
                )
            })
    }
}

/// A self-rated score, 0 (none) to 4 (marked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Score(u8);

impl Score {
    pub const MAX: u8 = 4;

    pub fn new(value: u8) -> Result<Score, String> {
        if value <= Self::MAX {
            Ok(Score(value))
        } else {
            Err(format!("a score is 0 to 4, not {value}"))
        }
    }

    pub fn value(self) -> u8 {
        self.0
    }

    /// The anchor text of this level for a concern.
    pub fn anchor(self, concern: Concern) -> &'static str {
        concern.anchors()[usize::from(self.0)]
    }
}

impl TryFrom<u8> for Score {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Score::new(value)
    }
}

impl From<Score> for u8 {
    fn from(s: Score) -> u8 {
        s.0
    }
}

impl FromStr for Score {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: u8 = s
            .trim()
            .parse()
            .map_err(|_| format!("a score is a whole number from 0 to 4, not {s:?}"))?;
        Score::new(n)
    }
}

/// One self-rating: how a person saw one concern in one zone at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub profile_id: ProfileId,
    pub id: RatingId,
    pub zone: Zone,
    pub concern: Concern,
    pub score: Score,
    pub rated_at: Timestamp,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The metadata of a progress photo. The image itself is stored outside the
/// store, under `stored_name`, always re-encoded as JPEG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub profile_id: ProfileId,
    pub id: PhotoId,
    pub taken_at: Timestamp,
    pub zone: Option<Zone>,
    pub width: u32,
    pub height: u32,
    /// Size in bytes of the stored (re-encoded) file.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the stored file.
    pub sha256: String,
    /// The content type of the stored file (`image/jpeg`).
    pub content_type: String,
    /// The file name the web layer stored it under.
    pub stored_name: String,
}

/// One point of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Point {
    pub at: Timestamp,
    pub score: Score,
}

/// The ratings of one concern in one zone, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    pub zone: Zone,
    pub points: Vec<Point>,
}

impl Series {
    /// Last score minus first score (negative: rated lower than at first).
    pub fn change(&self) -> Option<i8> {
        let first = self.points.first()?;
        let last = self.points.last()?;
        let (a, b) = (first.score.value(), last.score.value());
        i8::try_from(b).ok()?.checked_sub(i8::try_from(a).ok()?)
    }
}

/// The series of one concern, one per zone that was rated, in zone order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trend {
    pub concern: Concern,
    pub series: Vec<Series>,
}

/// Groups ratings into trends: per concern (in [`Concern::ALL`] order), per
/// zone (in [`Zone::ALL`] order), points oldest first. Concerns never rated
/// are left out.
pub fn trends(ratings: &[Rating]) -> Vec<Trend> {
    let mut grouped: BTreeMap<(usize, usize), Vec<Point>> = BTreeMap::new();
    for r in ratings {
        let ci = Concern::ALL
            .iter()
            .position(|c| *c == r.concern)
            .unwrap_or(0);
        let zi = Zone::ALL.iter().position(|z| *z == r.zone).unwrap_or(0);
        grouped.entry((ci, zi)).or_default().push(Point {
            at: r.rated_at,
            score: r.score,
        });
    }
    let mut out: Vec<Trend> = Vec::new();
    for ((ci, zi), mut points) in grouped {
        points.sort_by_key(|p| p.at);
        let concern = Concern::ALL[ci];
        let series = Series {
            zone: Zone::ALL[zi],
            points,
        };
        match out.last_mut() {
            Some(t) if t.concern == concern => t.series.push(series),
            _ => out.push(Trend {
                concern,
                series: vec![series],
            }),
        }
    }
    out
}

// Sized for a phone: drawn at about its own size in a 360 px column, so
// its 13-unit text stays at least 12 px tall (the legend goes below the
// plot, not beside it).
const WIDTH: f64 = 340.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;
/// The text size, in the chart's units.
const FONT: f64 = 13.0;
/// A legend row's height.
const ROW: f64 = 22.0;
/// Distinguishable colours; each series also gets its own marker shape and
/// a legend entry, so colour is never the only cue.
const COLOURS: [&str; 9] = [
    "#1b6e8a", "#b0431c", "#4a7a1f", "#6b4a9e", "#8a6d00", "#a12a5e", "#2f5d50", "#5a5a5a",
    "#24407a",
];

/// Escapes text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders a trend as a small, static, accessible SVG line chart: a
/// `<title>` and a `<desc>` that states every series in words, labelled
/// axes, one line and marker shape per zone and a legend. No script, no
/// inline styles. `id` makes the element ids unique within a page; dates
/// are shown in `tz`.
pub fn render_chart(trend: &Trend, id: &str, tz: &TimeZone) -> String {
    let id = escape(id);
    let date = |t: Timestamp| t.to_zoned_datetime(tz.clone()).date().to_string();
    let all: Vec<Timestamp> = trend
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.at))
        .collect();
    let min = all.iter().min().copied();
    let max = all.iter().max().copied();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |t: Timestamp| -> f64 {
        match (min, max) {
            (Some(a), Some(b)) if b > a => {
                let span = (b.as_millisecond() - a.as_millisecond()) as f64;
                LEFT + plot_w * ((t.as_millisecond() - a.as_millisecond()) as f64) / span
            }
            _ => LEFT + plot_w / 2.0,
        }
    };
    let y_of = |s: Score| -> f64 { TOP + plot_h * (1.0 - f64::from(s.value()) / 4.0) };

    let title = format!("{}: self-rated trend", trend.concern.label());
    let mut desc = format!(
        "Self-rated scores from 0 (none) to 4 (marked) for {}, not a diagnosis.",
        trend.concern.label().to_lowercase()
    );
    for s in &trend.series {
        let scores: Vec<String> = s
            .points
            .iter()
            .map(|p| format!("{} on {}", p.score.value(), date(p.at)))
            .collect();
        let _ = write!(desc, " {}: {}.", s.zone.label(), scores.join(", "));
    }

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{t}</title><desc id="{id}-desc">{d}</desc>"#,
        w = WIDTH,
        h = HEIGHT + 8.0 + ROW * trend.series.len() as f64,
        t = escape(&title),
        d = escape(&desc),
    );
    // Grid and y axis labels.
    for level in 0..=Score::MAX {
        let y = y_of(Score(level));
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="#d8d8d8" stroke-width="1"/><text x="{tx:.1}" y="{ty:.1}" font-size="{FONT}" text-anchor="end" fill="#333">{level}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{yb:.1}" stroke="#333" stroke-width="1"/><line x1="{LEFT}" y1="{yb:.1}" x2="{xr:.1}" y2="{yb:.1}" stroke="#333" stroke-width="1"/>"##,
        yb = HEIGHT - BOTTOM,
        xr = WIDTH - RIGHT,
    );
    let _ = write!(
        svg,
        r##"<text x="12" y="{my:.1}" font-size="{FONT}" fill="#333" transform="rotate(-90 12 {my:.1})" text-anchor="middle">Score (0 none – 4 marked)</text>"##,
        my = TOP + plot_h / 2.0,
    );
    if let (Some(a), Some(b)) = (min, max) {
        let yb = HEIGHT - BOTTOM + 14.0;
        let _ = write!(
            svg,
            r##"<text x="{LEFT}" y="{yb:.1}" font-size="{FONT}" fill="#333">{da}</text>"##,
            da = date(a)
        );
        if b > a {
            let _ = write!(
                svg,
                r##"<text x="{xr:.1}" y="{yb:.1}" font-size="{FONT}" text-anchor="end" fill="#333">{db}</text>"##,
                xr = WIDTH - RIGHT,
                db = date(b)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="{mx:.1}" y="{y:.1}" font-size="{FONT}" text-anchor="middle" fill="#333">Date rated</text>"##,
        mx = LEFT + plot_w / 2.0,
        y = HEIGHT - 6.0,
    );
    // Series.
    for (i, s) in trend.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let coords: Vec<String> = s
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.at), y_of(p.score)))
            .collect();
        if coords.len() > 1 {
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                coords.join(" ")
            );
        }
        for p in &s.points {
            let (x, y) = (x_of(p.at), y_of(p.score));
            let label = escape(&format!(
                "{}, {}: {}",
                s.zone.label(),
                date(p.at),
                p.score.value()
            ));
            svg.push_str(&marker(i, x, y, colour, &label));
        }
        // Legend, below the plot.
        let ly = HEIGHT + 8.0 + ROW * i as f64 + ROW / 2.0;
        svg.push_str(&marker(i, LEFT + 6.0, ly, colour, ""));
        let _ = write!(
            svg,
            r##"<text x="{lx:.1}" y="{ty:.1}" font-size="{FONT}" fill="#333">{}</text>"##,
            escape(s.zone.label()),
            lx = LEFT + 18.0,
            ty = ly + 4.5,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A marker of one of three shapes (circle, square, triangle), cycling.
/// A labelled marker also gets a transparent disc 22 units across that
/// carries the label, so a finger finds it and a long press shows it.
fn marker(i: usize, x: f64, y: f64, colour: &str, label: &str) -> String {
    let shape = match i % 3 {
        0 => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{colour}"/>"#),
        1 => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/>"#,
            x - 5.0,
            y - 5.0
        ),
        _ => format!(
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"#,
            x,
            y - 6.0,
            x - 6.0,
            y + 5.0,
            x + 6.0,
            y + 5.0
        ),
    };
    if label.is_empty() {
        shape
    } else {
        format!(
            r#"<g>{shape}<circle cx="{x:.1}" cy="{y:.1}" r="11" fill="transparent"><title>{label}</title></circle></g>"#
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    fn rating(zone: Zone, concern: Concern, score: u8, at: &str) -> Rating {
        Rating {
            profile_id: ProfileId(Uuid::nil()),
            id: RatingId(Uuid::from_u128(u128::from(score))),
            zone,
            concern,
            score: Score::new(score).unwrap(),
            rated_at: at.parse().unwrap(),
            note: String::new(),
        }
    }

    #[test]
    fn every_concern_has_five_distinct_anchors_and_round_trips() {
        for c in Concern::ALL {
            let a = c.anchors();
            for (i, x) in a.iter().enumerate() {
                assert!(!x.is_empty());
                assert!(a[i + 1..].iter().all(|y| y != x), "{c}: duplicate anchor");
            }
            assert_eq!(c.id().parse::<Concern>().unwrap(), c);
        }
        assert!("freckles".parse::<Concern>().is_err());
    }

    #[test]
    fn scores_are_zero_to_four() {
        assert_eq!("0".parse::<Score>().unwrap().value(), 0);
        assert_eq!("4".parse::<Score>().unwrap().value(), 4);
        assert!("5".parse::<Score>().is_err());
        assert!("-1".parse::<Score>().is_err());
        assert!("two".parse::<Score>().is_err());
        assert!(serde_json::from_str::<Score>("7").is_err());
    }

    #[test]
    fn trends_group_by_concern_and_zone_oldest_first() {
        let ratings = vec![
            rating(Zone::Forehead, Concern::Laxity, 2, "2026-03-01T10:00:00Z"),
            rating(
                Zone::Forehead,
                Concern::LinesAndWrinkles,
                3,
                "2026-03-01T10:00:00Z",
            ),
            rating(
                Zone::Forehead,
                Concern::LinesAndWrinkles,
                2,
                "2026-02-01T10:00:00Z",
            ),
            rating(
                Zone::Neck,
                Concern::LinesAndWrinkles,
                1,
                "2026-02-01T10:00:00Z",
            ),
        ];
        let t = trends(&ratings);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].concern, Concern::LinesAndWrinkles);
        assert_eq!(t[0].series.len(), 2);
        assert_eq!(t[0].series[0].zone, Zone::Forehead);
        let scores: Vec<u8> = t[0].series[0]
            .points
            .iter()
            .map(|p| p.score.value())
            .collect();
        assert_eq!(scores, [2, 3]);
        assert_eq!(t[0].series[0].change(), Some(1));
        assert_eq!(t[0].series[1].zone, Zone::Neck);
        assert_eq!(t[1].concern, Concern::Laxity);
        assert!(trends(&[]).is_empty());
    }

    #[test]
    fn chart_is_accessible_static_svg() {
        let ratings = vec![
            rating(
                Zone::LeftCheek,
                Concern::AcneScars,
                3,
                "2026-01-05T10:00:00Z",
            ),
            rating(
                Zone::LeftCheek,
                Concern::AcneScars,
                2,
                "2026-02-05T10:00:00Z",
            ),
            rating(Zone::Chin, Concern::AcneScars, 1, "2026-02-05T10:00:00Z"),
        ];
        let t = trends(&ratings);
        let svg = render_chart(&t[0], "acne", &TimeZone::UTC);
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"<title id="acne-title">Acne scars: self-rated trend</title>"#));
        assert!(svg.contains("<desc id=\"acne-desc\">"));
        assert!(svg.contains("not a diagnosis"));
        assert!(svg.contains("left cheek: 3 on 2026-01-05, 2 on 2026-02-05."));
        assert!(svg.contains("Date rated"));
        assert!(svg.contains("Score (0 none"));
        assert!(svg.contains("2026-01-05"));
        assert!(svg.contains("<polyline"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("style="));
        assert_eq!(svg.matches("<svg").count(), 1);
        // Issue 19: drawn in a 390 px phone's 358 px column, no text is
        // under 12 px, and each point has a target 22 units across.
        let width: f64 = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let scale = 358.0 / width;
        let sizes: Vec<f64> = svg
            .split("font-size=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(!sizes.is_empty());
        for size in sizes {
            assert!(size * scale >= 12.0, "{size} units at {scale:.2} px each");
        }
        assert_eq!(
            svg.matches(r#"r="11" fill="transparent"><title>"#).count(),
            3
        );
    }

    #[test]
    fn single_point_chart_has_no_line_and_escapes_ids() {
        let t = trends(&[rating(
            Zone::Nose,
            Concern::Laxity,
            0,
            "2026-01-05T10:00:00Z",
        )]);
        let svg = render_chart(&t[0], "a\"b", &TimeZone::UTC);
        assert!(!svg.contains("<polyline"));
        assert!(svg.contains("a&quot;b-title"));
        assert!(svg.contains("<circle"));
    }
}
