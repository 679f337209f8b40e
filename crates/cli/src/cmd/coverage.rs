//! `needlewise coverage`: punctures per cm², coverage and a stroke plan per
//! zone, with an optional simulated heatmap.

use std::path::PathBuf;

use needlewise_core::coverage::planner::ZoneMethod;
use needlewise_core::coverage::{
    self, CoverageRequest, Roller, Scope, SimulationSettings, SvgOptions, render_svg,
    report_with_rasters,
};
use needlewise_core::zone::{Sex, Zone};

use crate::app::{App, Exit, Failure, bad, read_json};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One zone (e.g. left_cheek); the whole face by default.
    #[arg(long)]
    zone: Option<String>,
    /// Needle length in mm.
    #[arg(long, default_value_t = 0.25)]
    needle_mm: f64,
    /// Needles on the drum.
    #[arg(long, default_value_t = 192)]
    needles: u32,
    #[arg(long, default_value_t = 8)]
    rings: u32,
    #[arg(long, default_value_t = 20.0)]
    drum_diameter_mm: f64,
    #[arg(long, default_value_t = 20.0)]
    drum_width_mm: f64,
    /// Target punctures per cm² (no source sets a home target; 250 is the
    /// literature's figure).
    #[arg(long, default_value_t = 250.0)]
    target: f64,
    /// The "seconds per section" to convert into the density it gives.
    #[arg(long, default_value_t = 15.0)]
    seconds_per_section: f64,
    /// Skin-thickness table.
    #[arg(long, value_parser = ["female", "male", "other"], default_value = "other")]
    sex: String,
    /// A full request as JSON (every field optional), instead of the flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["needles", "rings", "needle_mm", "target"])]
    request: Option<PathBuf>,
    /// Simulate the strokes (seeded) and report uniformity.
    #[arg(long)]
    simulate: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write a heatmap of the simulated density (implies --simulate; needs --zone).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

pub fn run(app: &App, args: Args) -> Result<Exit, Failure> {
    let mut request = match &args.request {
        Some(path) => serde_json::from_value::<CoverageRequest>(read_json(path)?)
            .map_err(|e| bad(format!("{}: {e}", path.display())))?,
        None => {
            let mut r = CoverageRequest::default();
            let mut roller = Roller::standard_192(args.needle_mm);
            roller.needles = args.needles;
            roller.rings = args.rings;
            roller.drum_diameter_mm = args.drum_diameter_mm;
            roller.drum_width_mm = args.drum_width_mm;
            r.device = coverage::Device::Roller(roller);
            r.target_density_per_cm2 = args.target;
            r.seconds_per_section = args.seconds_per_section;
            r.sex = match args.sex.as_str() {
                "female" => Sex::Female,
                "male" => Sex::Male,
                _ => Sex::Other,
            };
            r
        }
    };
    if let Some(z) = &args.zone {
        let zone: Zone = z.parse().map_err(|e| bad(format!("--zone: {e}")))?;
        request.scope = Scope::Zone(zone);
    }
    if args.svg.is_some() && args.zone.is_none() {
        return Err(bad("--svg draws one zone: add --zone"));
    }
    if args.simulate || args.svg.is_some() {
        request.simulation = Some(SimulationSettings {
            seed: args.seed,
            ..request.simulation.unwrap_or_default()
        });
    }
    request.validate().map_err(|e| bad(e.to_string()))?;
    let (report, rasters) = report_with_rasters(&request).map_err(|e| bad(e.to_string()))?;
    if let (Some(path), Some((zone, raster))) = (&args.svg, rasters.first()) {
        let svg = render_svg(
            raster,
            &SvgOptions {
                title: format!("{} — simulated punctures per cm²", zone.label()),
                target_per_cm2: Some(request.target_density_per_cm2),
                ..SvgOptions::default()
            },
        );
        std::fs::write(path, svg).map_err(|e| {
            Failure::Other(anyhow::anyhow!("{}: cannot write it: {e}", path.display()))
        })?;
    }
    if app.json {
        output::json(&report)?;
        return Ok(Exit::Ok);
    }
    if let Some(rho) = report.device.single_pass_density_per_cm2 {
        println!("One pass of this roller leaves {rho:.2} punctures per cm².");
    }
    println!("Target: {} per cm².\n", report.target_density_per_cm2);
    println!(
        "{:<22} {:>7} {:>9} {:>12} {:>14}",
        "zone", "cm²", "strokes", "time (s)", "15 s gives"
    );
    for z in &report.zones {
        let (strokes, seconds) = match &z.plan {
            ZoneMethod::Roller(p) => (p.strokes.to_string(), p.seconds),
            ZoneMethod::Pen(p) => ("—".to_owned(), p.seconds),
        };
        println!(
            "{:<22} {:>7.0} {:>9} {:>12.0} {:>10.0}/cm²",
            z.label, z.area_cm2, strokes, seconds, z.fixed_time.density_per_cm2
        );
        for w in &z.warnings {
            println!("    ! {}", w.message);
        }
    }
    if let Some(path) = &args.svg {
        println!("\nHeatmap written to {}.", path.display());
    }
    println!(
        "\nPace by stroke count, not by seconds. The figures rest on stated assumptions (--json lists them)."
    );
    Ok(Exit::Ok)
}
