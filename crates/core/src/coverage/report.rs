//! The entry point for the CLI and the guided-session page: one request in,
//! one serialisable report out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::zone::{Sex, Zone};

use super::analytic::{DepthSafety, KappaBand, Pace};
use super::error::{CoverageError, check_positive, check_range};
use super::face::{AreaSource, FaceModel, ZoneGeometry};
use super::geometry::Device;
use super::montecarlo::{
    Raster, SimulationInput, SimulationSettings, SimulationSummary, derive_seed, simulate,
};
use super::planner::{
    self, DEFAULT_TARGET_PER_CM2, DeviceWarningInput, FixedTimeDose, PlanContext, Warning,
    ZoneMethod,
};

/// Which zones to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every zone, in the order a guided session walks them.
    #[default]
    WholeFace,
    /// One zone.
    Zone(Zone),
}

impl Scope {
    /// The zones in scope.
    pub fn zones(self) -> Vec<Zone> {
        match self {
            Scope::WholeFace => Zone::ALL.to_vec(),
            Scope::Zone(z) => vec![z],
        }
    }
}

/// A coverage request. Every field has a default, so `{}` in JSON or an
/// empty TOML table is a valid request (the 192-needle roller with 0.25 mm
/// needles, the whole face, 250 /cm², 3 cm/s with 0.5 s lifts, 15 s per
/// section, κ 0.2–0.8, r = 0.5 mm, 50 µm channels, sex `other`, no
/// simulation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoverageRequest {
    pub device: Device,
    /// Selects the skin-thickness column; `other` uses the thinner one.
    pub sex: Sex,
    pub scope: Scope,
    /// Target mean density, punctures per cm². No source sets a home-use
    /// target; 250 is the literature's figure (Doddaballapur 2009; PRIME
    /// International 2015: 250–300).
    pub target_density_per_cm2: f64,
    pub pace: Pace,
    /// The "N seconds per section" to convert into a density per zone.
    pub seconds_per_section: f64,
    pub kappa: KappaBand,
    /// Coverage ("influence") radius r, mm. No validated biological value.
    pub influence_radius_mm: f64,
    /// Channel surface radius a, mm (Kalluri et al. 2011 measured channels
    /// about 71 µm across; 50 µm is used for 100 µm channels).
    pub channel_radius_mm: f64,
    /// The user's measured zone areas, cm², overriding the defaults.
    pub measured_areas_cm2: BTreeMap<Zone, f64>,
    /// Run the Monte Carlo simulator for each zone (rollers only).
    pub simulation: Option<SimulationSettings>,
}

impl Default for CoverageRequest {
    fn default() -> Self {
        Self {
            device: Device::default(),
            sex: Sex::Other,
            scope: Scope::WholeFace,
            target_density_per_cm2: DEFAULT_TARGET_PER_CM2,
            pace: Pace::default(),
            seconds_per_section: 15.0,
            kappa: KappaBand::default(),
            influence_radius_mm: 0.5,
            channel_radius_mm: 0.05,
            measured_areas_cm2: BTreeMap::new(),
            simulation: None,
        }
    }
}

impl CoverageRequest {
    /// Checks every field, naming the first that is wrong.
    pub fn validate(&self) -> Result<(), CoverageError> {
        self.device.validate()?;
        check_positive(
            "target_density_per_cm2",
            self.target_density_per_cm2,
            100_000.0,
            "/cm²",
        )?;
        self.pace.validate()?;
        check_range(
            "seconds_per_section",
            self.seconds_per_section,
            0.0,
            3_600.0,
            "s",
        )?;
        self.kappa.validate()?;
        check_range(
            "influence_radius_mm",
            self.influence_radius_mm,
            0.0,
            10.0,
            "mm",
        )?;
        check_range("channel_radius_mm", self.channel_radius_mm, 0.0, 1.0, "mm")?;
        if let Some(sim) = &self.simulation {
            sim.validate()?;
            if matches!(self.device, Device::Pen(_)) {
                return Err(CoverageError::SimulationNeedsRoller);
            }
        }
        // Area overrides are checked when the face model is built.
        FaceModel::with_measured_areas(&self.measured_areas_cm2).map(|_| ())
    }

    fn context(&self) -> PlanContext {
        PlanContext {
            sex: self.sex,
            target_per_cm2: self.target_density_per_cm2,
            pace: self.pace,
            seconds_per_section: self.seconds_per_section,
            kappa: self.kappa,
            influence_radius_mm: self.influence_radius_mm,
            channel_radius_mm: self.channel_radius_mm,
            analysis_cell_mm: self.simulation.map_or(2.0, |s| s.analysis_cell_mm),
        }
    }
}

/// Device figures shared by every zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSummary {
    pub device: Device,
    /// ρ₁ (rollers).
    pub single_pass_density_per_cm2: Option<f64>,
    /// ρ₁ if the drum rides on the needle tips (rollers).
    pub single_pass_density_on_tips_per_cm2: Option<f64>,
    pub ring_spacing_mm: Option<f64>,
    pub along_track_pitch_mm: Option<f64>,
    /// ρ_t / ρ₁ (rollers): passes per point the target needs.
    pub passes_for_target_exact: Option<f64>,
    /// Strikes per second (pens).
    pub strikes_per_second: Option<f64>,
}

/// Everything about one zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneReport {
    pub zone: Zone,
    pub label: &'static str,
    pub area_cm2: f64,
    pub area_source: AreaSource,
    pub stroke_length_cm: f64,
    /// The stand-in rectangle used for simulation, mm.
    pub rectangle_mm: [f64; 2],
    pub plan: ZoneMethod,
    /// What the fixed time per section delivers here.
    pub fixed_time: FixedTimeDose,
    pub depth: DepthSafety,
    pub simulation: Option<SimulationSummary>,
    pub warnings: Vec<Warning>,
}

/// Session totals over the zones in scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub area_cm2: f64,
    /// Roller strokes (0 for pens).
    pub strokes: u32,
    /// Seconds at the stated pace.
    pub seconds: f64,
    /// Seconds if every zone got the fixed time instead.
    pub fixed_time_seconds: f64,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageReport {
    pub target_density_per_cm2: f64,
    pub sex: Sex,
    pub pace: Pace,
    pub device: DeviceSummary,
    pub zones: Vec<ZoneReport>,
    pub totals: Totals,
    /// The model's assumptions, in plain words.
    pub assumptions: Vec<&'static str>,
}

/// The assumptions every report carries.
pub const ASSUMPTIONS: [&str; 8] = [
    "Needles are spread evenly over the rings and the drum rolls without slipping; the drum diameter is the effective rolling diameter.",
    "Every needle contact perforates unless a perforation efficiency below 1 is given; holes that coincide are counted separately.",
    "A pass is one one-way roll over a point; a back-and-forth counts as two passes.",
    "Zone areas are estimates (no source gives facial zone areas); measure your own to override them. Zones are simulated as rectangles of the same area.",
    "No source sets a density target for home use; 250 punctures/cm² is the literature's figure for a 0.2 mm cosmetic roller and is a parameter here.",
    "Real channels are shallower than the needle: depth is modelled as κ × needle length with κ in a band, not promised.",
    "Skin thickness is the mean of healthy adults by ultrasound (Meng et al. 2022); individual skin varies.",
    "Rolling speed and lift time are assumed, not measured; pace by stroke count, not by seconds.",
];

/// Builds the report for a request, without rasters.
pub fn report(request: &CoverageRequest) -> Result<CoverageReport, CoverageError> {
    report_with_rasters(request).map(|(report, _)| report)
}

/// Builds the report and returns the simulated raster of each zone (empty
/// when the request asks for no simulation), for [`super::render_svg`].
pub fn report_with_rasters(
    request: &CoverageRequest,
) -> Result<(CoverageReport, Vec<(Zone, Raster)>), CoverageError> {
    request.validate()?;
    let face = FaceModel::with_measured_areas(&request.measured_areas_cm2)?;
    let ctx = request.context();
    let mut zones = Vec::new();
    let mut rasters = Vec::new();
    for zone in request.scope.zones() {
        let geo = face.zone(zone);
        let (zone_report, raster) = zone_report(request, &geo, &ctx)?;
        zones.push(zone_report);
        if let Some(r) = raster {
            rasters.push((zone, r));
        }
    }
    let totals = Totals {
        area_cm2: zones.iter().map(|z| z.area_cm2).sum(),
        strokes: zones
            .iter()
            .map(|z| match &z.plan {
                ZoneMethod::Roller(p) => p.strokes,
                ZoneMethod::Pen(_) => 0,
            })
            .fold(0u32, u32::saturating_add),
        seconds: zones
            .iter()
            .map(|z| match &z.plan {
                ZoneMethod::Roller(p) => p.seconds,
                ZoneMethod::Pen(p) => p.seconds,
            })
            .sum(),
        fixed_time_seconds: zones.iter().map(|z| z.fixed_time.seconds).sum(),
    };
    let report = CoverageReport {
        target_density_per_cm2: request.target_density_per_cm2,
        sex: request.sex,
        pace: request.pace,
        device: device_summary(request),
        zones,
        totals,
        assumptions: ASSUMPTIONS.to_vec(),
    };
    Ok((report, rasters))
}

fn device_summary(request: &CoverageRequest) -> DeviceSummary {
    match request.device {
        Device::Roller(r) => DeviceSummary {
            device: request.device,
            single_pass_density_per_cm2: Some(r.single_pass_density_per_cm2()),
            single_pass_density_on_tips_per_cm2: Some(r.single_pass_density_on_tips_per_cm2()),
            ring_spacing_mm: Some(r.ring_spacing_mm()),
            along_track_pitch_mm: Some(r.along_track_pitch_mm()),
            passes_for_target_exact: Some(super::analytic::passes_for_target(
                &r,
                request.target_density_per_cm2,
            )),
            strikes_per_second: None,
        },
        Device::Pen(p) => DeviceSummary {
            device: request.device,
            single_pass_density_per_cm2: None,
            single_pass_density_on_tips_per_cm2: None,
            ring_spacing_mm: None,
            along_track_pitch_mm: None,
            passes_for_target_exact: None,
            strikes_per_second: Some(p.strikes_per_second()),
        },
    }
}

fn zone_report(
    request: &CoverageRequest,
    geo: &ZoneGeometry,
    ctx: &PlanContext,
) -> Result<(ZoneReport, Option<Raster>), CoverageError> {
    let zone = geo.zone;
    let width_mm = geo.width_cm() * 10.0;
    let height_mm = geo.height_cm() * 10.0;
    let depth = planner::zone_depth(zone, request.device.needle_length_mm(), ctx);
    let (plan, fixed, extra, simulation) = match &request.device {
        Device::Roller(roller) => {
            let plan = planner::plan_roller_zone(roller, geo, ctx);
            let fixed = planner::fixed_time_roller(roller, geo, ctx);
            let sim = match &request.simulation {
                Some(settings) => {
                    let settings = SimulationSettings {
                        seed: derive_seed(settings.seed, zone_index(zone)),
                        ..*settings
                    };
                    Some(simulate(&SimulationInput {
                        roller,
                        width_mm,
                        height_mm,
                        passes: plan.passes_per_point,
                        directions: u32::try_from(plan.directions.len()).unwrap_or(4),
                        settings: &settings,
                    })?)
                }
                None => None,
            };
            let extra = DeviceWarningInput::Roller {
                single_pass_per_cm2: roller.single_pass_density_per_cm2(),
                drum_width_mm: roller.drum_width_mm,
            };
            (ZoneMethod::Roller(plan), fixed, extra, sim)
        }
        Device::Pen(pen) => (
            ZoneMethod::Pen(planner::plan_pen_zone(pen, geo, ctx)),
            planner::fixed_time_pen(pen, geo, ctx),
            DeviceWarningInput::Pen,
            None,
        ),
    };
    let summary = simulation.as_ref().map(|s| s.summary.clone());
    let warnings = planner::zone_warnings(
        width_mm.min(height_mm),
        &plan,
        &fixed,
        &depth,
        summary.as_ref(),
        extra,
        ctx,
    );
    let report = ZoneReport {
        zone,
        label: zone.label(),
        area_cm2: geo.area_cm2,
        area_source: geo.area_source,
        stroke_length_cm: geo.stroke_length_cm,
        rectangle_mm: [width_mm, height_mm],
        plan,
        fixed_time: fixed,
        depth,
        simulation: summary,
        warnings,
    };
    Ok((report, simulation.map(|s| s.raster)))
}

fn zone_index(zone: Zone) -> u64 {
    Zone::ALL
        .iter()
        .position(|&z| z == zone)
        .map_or(0, |i| i as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::coverage::geometry::{Pen, Roller};

    #[test]
    fn empty_json_is_the_default_request() {
        let req: CoverageRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(req, CoverageRequest::default());
        let toml_req: CoverageRequest = toml::from_str("").unwrap();
        assert_eq!(toml_req, CoverageRequest::default());
    }

    #[test]
    fn request_round_trips_with_zone_keys() {
        let mut req = CoverageRequest {
            scope: Scope::Zone(Zone::LeftCheek),
            simulation: Some(SimulationSettings::default()),
            ..Default::default()
        };
        req.measured_areas_cm2.insert(Zone::LeftCheek, 55.0);
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"left_cheek\":55.0"));
        let back: CoverageRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn whole_face_report_without_simulation() {
        let rep = report(&CoverageRequest::default()).unwrap();
        assert_eq!(rep.zones.len(), 9);
        assert!((rep.totals.area_cm2 - 376.0).abs() < 1e-9);
        assert!((rep.totals.fixed_time_seconds - 135.0).abs() < 1e-9);
        let rho1 = rep.device.single_pass_density_per_cm2.unwrap();
        assert!((rho1 - 15.28).abs() < 0.05);
        let forehead = &rep.zones[0];
        assert_eq!(forehead.zone, Zone::Forehead);
        assert!((forehead.fixed_time.density_per_cm2 - 17.0).abs() < 1.0);
        assert!(
            forehead
                .warnings
                .iter()
                .any(|w| w.message.contains("count strokes"))
        );
        let json = serde_json::to_string_pretty(&rep).unwrap();
        assert!(json.contains("\"passes_per_point\": 17"));
        assert!(rep.zones.iter().all(|z| z.simulation.is_none()));
    }

    #[test]
    fn one_zone_with_simulation_and_raster() {
        let req = CoverageRequest {
            scope: Scope::Zone(Zone::PeriorbitalLeft),
            simulation: Some(SimulationSettings::default()),
            ..Default::default()
        };
        let (rep, rasters) = report_with_rasters(&req).unwrap();
        assert_eq!(rep.zones.len(), 1);
        assert_eq!(rasters.len(), 1);
        let sim = rep.zones[0].simulation.as_ref().unwrap();
        assert!((sim.mean_density_per_cm2 / sim.analytic_density_per_cm2 - 1.0).abs() < 0.05);
        assert_eq!(rep, report(&req).unwrap());
    }

    #[test]
    fn pen_report_and_errors() {
        let req = CoverageRequest {
            device: Device::Pen(Pen::eleven_needle_90hz(0.25)),
            ..Default::default()
        };
        let rep = report(&req).unwrap();
        assert_eq!(rep.totals.strokes, 0);
        let cheek = rep
            .zones
            .iter()
            .find(|z| z.zone == Zone::LeftCheek)
            .unwrap();
        // 990 strikes/s × 15 s / 50 cm² ≈ 300 /cm².
        assert!((cheek.fixed_time.density_per_cm2 - 297.0).abs() < 1.0);
        let bad = CoverageRequest {
            simulation: Some(SimulationSettings::default()),
            ..req
        };
        assert_eq!(report(&bad), Err(CoverageError::SimulationNeedsRoller));
        let bad = CoverageRequest {
            target_density_per_cm2: 0.0,
            ..Default::default()
        };
        assert!(
            report(&bad)
                .unwrap_err()
                .to_string()
                .contains("target_density_per_cm2")
        );
        let mut bad = CoverageRequest::default();
        bad.measured_areas_cm2.insert(Zone::Neck, f64::INFINITY);
        assert!(report(&bad).unwrap_err().to_string().contains("area_cm2"));
        let bad = CoverageRequest {
            device: Device::Roller(Roller {
                rings: 5,
                ..Roller::standard_192(0.25)
            }),
            ..Default::default()
        };
        assert!(matches!(
            report(&bad),
            Err(CoverageError::NeedlesNotMultipleOfRings { .. })
        ));
    }
}
