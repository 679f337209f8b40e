//! Coverage and dosing: from roller geometry and strokes to punctures per
//! cm², per face zone.
//!
//! The common advice, "about 15 seconds per section, in all directions",
//! gives very different doses: with the documented 192-needle roller the
//! same 15 s leaves about 17 punctures/cm² on a forehead and about 115 /cm²
//! under an eye. This module computes that and plans each session by
//! strokes, with time only as a pacing cue.
//!
//! - [`geometry`]: rollers and pens, validated ([`Roller::standard_192`] is
//!   the 2 × 2 cm, 8 × 24-needle drum of Schwarz & Laaff 2011).
//! - [`analytic`]: closed-form density, passes, strokes, coverage,
//!   perforation, overlap, Poisson uniformity bound and depth safety.
//! - [`montecarlo`]: a seeded simulator that rasterises strokes into a
//!   density map and measures CV, under/over-treated shares, coverage and
//!   the largest gap.
//! - [`face`]: zone areas and stroke lengths, with measured overrides.
//! - [`planner`]: per-zone strokes, directions, shifts, time and warnings,
//!   and the density a fixed time per section really gives.
//! - [`svg`]: a pure SVG heatmap of a raster.
//! - [`report()`]: one request in, one serialisable report out.
//!
//! The module is pure: no IO, no clock, no operating-system randomness.
//! The formulas and their sources are summarised in `docs/coverage.md`.
//!
//! Key number: ρ₁ = N/(π·D·W) = 15.28 /cm² for the 192-needle drum, so the
//! often-quoted "15 passes ≈ 250 /cm²" (Doddaballapur 2009) is really
//! 229 /cm², and 250 /cm² needs about 16.4 passes \[derived\].

pub mod analytic;
pub mod error;
pub mod face;
pub mod geometry;
pub mod montecarlo;
pub mod planner;
pub mod report;
pub mod rng;
pub mod svg;

pub use error::CoverageError;
pub use face::{FaceModel, ZoneGeometry};
pub use geometry::{Device, Pen, Roller};
pub use montecarlo::{
    Direction, OffsetMode, Raster, Simulation, SimulationInput, SimulationSettings,
    SimulationSummary, simulate,
};
pub use report::{CoverageReport, CoverageRequest, Scope, ZoneReport, report, report_with_rasters};
pub use svg::{SvgOptions, render_svg};

/// The documentation example: a simulated left-cheek session of the
/// 192-needle roller at 250 /cm² (17 passes, four directions, random
/// offsets, seed 2024), rendered as an SVG heatmap. `docs/coverage-heatmap.svg`
/// is this function's output; a unit test keeps the file in step.
pub fn documentation_heatmap() -> Result<String, CoverageError> {
    let request = CoverageRequest {
        scope: Scope::Zone(crate::zone::Zone::LeftCheek),
        simulation: Some(SimulationSettings {
            seed: 2024,
            ..SimulationSettings::default()
        }),
        ..CoverageRequest::default()
    };
    let (report, rasters) = report_with_rasters(&request)?;
    let Some((_, raster)) = rasters.first() else {
        return Err(CoverageError::SimulationNeedsRoller);
    };
    let title = format!(
        "Left cheek, 192-needle roller, {} passes in 4 directions (simulated)",
        report
            .zones
            .first()
            .and_then(|z| z.simulation.as_ref())
            .map_or(0, |s| s.passes)
    );
    Ok(render_svg(
        raster,
        &SvgOptions {
            title,
            target_per_cm2: Some(request.target_density_per_cm2),
            ..SvgOptions::default()
        },
    ))
}
