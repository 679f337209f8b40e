//! The guided session's plan for one zone: a section per direction, with
//! the strokes the coverage model asks for and the time the pace gives.

use serde::Serialize;

use crate::coverage::planner::ZoneMethod;
use crate::coverage::{self, CoverageRequest, Direction, Scope};
use crate::hygiene::DeviceKind;
use crate::zone::Zone;

/// Seconds per section when no stroke plan applies (pens): the common
/// "about 15 seconds per section".
pub const DEFAULT_SECTION_SECONDS: u32 = 15;

/// One direction of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Section {
    /// A stable id: `horizontal`, `vertical`, `diagonal_rising`, `diagonal_falling`.
    pub dir: &'static str,
    /// Plain words for the prompt.
    pub label: &'static str,
    /// Strokes from the coverage model (rollers); `None` for pens.
    pub strokes: Option<u32>,
    pub seconds: u32,
}

const DIRECTIONS: [Direction; 4] = [
    Direction::Horizontal,
    Direction::Vertical,
    Direction::DiagonalRising,
    Direction::DiagonalFalling,
];

fn words(d: Direction) -> (&'static str, &'static str) {
    match d {
        Direction::Horizontal => ("horizontal", "horizontally (side to side)"),
        Direction::Vertical => ("vertical", "vertically (up and down)"),
        Direction::DiagonalRising => ("diagonal_rising", "diagonally (lower left to upper right)"),
        Direction::DiagonalFalling => {
            ("diagonal_falling", "diagonally (upper left to lower right)")
        }
    }
}

/// The sections of a zone for this device. Rollers get the coverage plan's
/// strokes per direction and its pace (5 to 300 s a section); pens, or a
/// roller the model cannot plan, get 15 s a direction. `fixed_seconds`
/// overrides the time per section.
pub fn sections(kind: &DeviceKind, zone: Zone, fixed_seconds: Option<u32>) -> Vec<Section> {
    sections_at(kind, zone, fixed_seconds, None)
}

/// [`sections`] for a target density (needle channels per cm²) other than
/// the evidence default, such as a clinician's protocol prescribes.
pub fn sections_at(
    kind: &DeviceKind,
    zone: Zone,
    fixed_seconds: Option<u32>,
    target_density_per_cm2: Option<f64>,
) -> Vec<Section> {
    let plan = match kind {
        DeviceKind::Roller(r) => {
            let mut roller = coverage::Roller::standard_192(r.needle_length_mm);
            roller.needles = r.needle_count;
            roller.rings = r.rings;
            roller.drum_diameter_mm = r.drum_diameter_mm;
            roller.drum_width_mm = r.drum_width_mm;
            let defaults = CoverageRequest::default();
            let request = CoverageRequest {
                device: coverage::Device::Roller(roller),
                scope: Scope::Zone(zone),
                target_density_per_cm2: target_density_per_cm2
                    .unwrap_or(defaults.target_density_per_cm2),
                ..defaults
            };
            coverage::report(&request)
                .ok()
                .and_then(|r| r.zones.into_iter().next())
        }
        DeviceKind::Pen(_) => None,
    };
    match plan.map(|z| z.plan) {
        Some(ZoneMethod::Roller(p)) if !p.directions.is_empty() => {
            let per = (p.seconds / p.directions.len() as f64)
                .round()
                .clamp(5.0, 300.0) as u32;
            p.directions
                .iter()
                .map(|step| {
                    let (dir, label) = words(step.direction);
                    Section {
                        dir,
                        label,
                        strokes: Some(step.strokes),
                        seconds: fixed_seconds.unwrap_or(per),
                    }
                })
                .collect()
        }
        _ => DIRECTIONS
            .into_iter()
            .map(|d| {
                let (dir, label) = words(d);
                Section {
                    dir,
                    label,
                    strokes: None,
                    seconds: fixed_seconds.unwrap_or(DEFAULT_SECTION_SECONDS),
                }
            })
            .collect(),
    }
}
