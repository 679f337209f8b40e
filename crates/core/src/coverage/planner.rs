//! The per-zone planner: strokes, directions and time for a target density,
//! what a fixed number of seconds per section really delivers, and the
//! warnings that go with both.
//!
//! No source sets a density target for home use. The default of
//! 250 punctures/cm² is the figure attached to a 0.2 mm cosmetic roller by
//! Doddaballapur 2009 and the target PRIME International 2015 gives for
//! rollers and pens (250–300 /cm²). It is a parameter, not a
//! recommendation.

use std::fmt;

use serde::Serialize;

use crate::zone::{Sex, Zone};

use super::analytic::{
    self, DepthSafety, HOME_MAX_NEEDLE_LENGTH_MM, KappaBand, Pace, StrokePlan, depth_safety,
};
use super::face::ZoneGeometry;
use super::geometry::{Pen, Roller};
use super::montecarlo::{Direction, SimulationSummary};

/// The default target density, punctures per cm² (see the module docs).
pub const DEFAULT_TARGET_PER_CM2: f64 = 250.0;

/// Ratio to the target below which a dose counts as under-treatment.
pub const UNDER_TREATMENT_RATIO: f64 = 0.5;
/// Ratio to the target above which a dose counts as over-treatment.
pub const OVER_TREATMENT_RATIO: f64 = 2.0;
/// A plan that lands this far above its target gets a warning.
pub const OVERSHOOT_RATIO: f64 = 1.25;
/// Share of analysis cells under- or over-treated that triggers a warning.
pub const UNEVEN_SHARE: f64 = 0.05;

/// The inputs the planner shares across zones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanContext {
    pub sex: Sex,
    pub target_per_cm2: f64,
    pub pace: Pace,
    /// The "N seconds per section" to convert into a density.
    pub seconds_per_section: f64,
    pub kappa: KappaBand,
    /// Coverage ("influence") radius r, mm.
    pub influence_radius_mm: f64,
    /// Channel surface radius a, mm.
    pub channel_radius_mm: f64,
    /// Side of the cells for the Poisson CV bound, mm.
    pub analysis_cell_mm: f64,
}

/// One direction of a roller plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DirectionStep {
    pub direction: Direction,
    /// Full sweeps of the zone in this direction.
    pub layers: u32,
    /// Strokes of the zone's stroke length in this direction.
    pub strokes: u32,
}

/// A roller plan for one zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollerZonePlan {
    /// ρ_t / ρ₁: passes per point the target needs, unrounded.
    pub passes_exact: f64,
    /// m* = ⌈ρ_t / ρ₁⌉: whole sweeps of the zone.
    pub passes_per_point: u32,
    /// n = ρ_t·A·π·D / (η·N·L), unrounded.
    pub strokes_for_target_exact: f64,
    /// ⌈m*·A / (W·L)⌉ strokes, the count to meter the session by.
    pub strokes: u32,
    pub stroke_length_cm: f64,
    /// A / (W·L): strokes per sweep of the zone.
    pub strokes_per_layer: f64,
    pub directions: Vec<DirectionStep>,
    /// Lateral step between neighbouring strokes of one sweep (= W), mm.
    pub stroke_spacing_mm: f64,
    /// Sideways shift between successive sweeps of one direction, mm:
    /// s divided by the sweeps in that direction, so ring tracks interleave
    /// instead of retracing (a random shift works as well).
    pub layer_shift_mm: f64,
    /// Mean density of the planned strokes, per cm².
    pub planned_density_per_cm2: f64,
    /// Seconds at the stated pace: strokes × (L/v + t_r).
    pub seconds: f64,
    /// P_cov(r) with random offsets at m* passes.
    pub coverage_random_offsets: f64,
    /// Whether that formula is exact for this roller and radius.
    pub coverage_formula_exact: bool,
    /// The ceiling if every sweep of a direction retraces the same track.
    pub coverage_if_retraced: f64,
    pub perforated_fraction: f64,
    pub overlap_probability: f64,
    /// Poisson CV bound for the planned density on the analysis cells.
    pub poisson_cv_bound: f64,
}

/// A pen plan for one zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PenZonePlan {
    /// Seconds of stamping to reach the target over the zone.
    pub seconds: f64,
    /// Strikes per cm² in one glide at the stated speed.
    pub strikes_per_cm2_per_pass: f64,
    /// Glides over each point needed, unrounded.
    pub passes_exact: f64,
    /// Glide speed below which stamps of one needle overlap, cm/s.
    pub min_speed_for_distinct_sites_cm_per_s: f64,
}

/// The plan itself, by device.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "device", rename_all = "snake_case")]
pub enum ZoneMethod {
    Roller(RollerZonePlan),
    Pen(PenZonePlan),
}

/// What a fixed time per section delivers on this zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FixedTimeDose {
    pub seconds: f64,
    /// Strokes that fit in that time (rollers; 0 for pens).
    pub strokes: f64,
    pub density_per_cm2: f64,
    /// Passes per point (rollers; glides for pens at the stated speed).
    pub passes_per_point: f64,
    /// density / target.
    pub ratio_to_target: f64,
}

/// A warning attached to a zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WarningKind {
    /// A single pass already exceeds the target.
    TargetBelowOnePass {
        single_pass_per_cm2: f64,
        target_per_cm2: f64,
    },
    /// Whole passes overshoot the target noticeably.
    PlanOvershootsTarget {
        planned_per_cm2: f64,
        target_per_cm2: f64,
    },
    /// The fixed time per section gives less than half the target.
    FixedTimeUnderTreats {
        seconds: f64,
        density_per_cm2: f64,
        target_per_cm2: f64,
    },
    /// The fixed time per section gives more than twice the target.
    FixedTimeOverTreats {
        seconds: f64,
        density_per_cm2: f64,
        target_per_cm2: f64,
    },
    /// κ_max·ℓ exceeds half the local skin thickness.
    DepthNearDermisLimit {
        needle_length_mm: f64,
        depth_max_mm: f64,
        skin_thickness_mm: f64,
    },
    /// κ_max·ℓ reaches the subcutis.
    DepthMayReachSubcutis {
        needle_length_mm: f64,
        depth_max_mm: f64,
        skin_thickness_mm: f64,
    },
    /// Longer than the manufacturer chart's thin-skin cap for the zone.
    ExceedsZoneCap { needle_length_mm: f64, cap_mm: f64 },
    /// Longer than the 1.0 mm home maximum of the same chart.
    ExceedsHomeMaximum { needle_length_mm: f64, max_mm: f64 },
    /// The zone's short side is narrower than the drum.
    DrumWiderThanZone {
        drum_width_mm: f64,
        zone_short_side_mm: f64,
    },
    /// The simulated dose is uneven.
    UnevenDose {
        under_treated_fraction: f64,
        over_treated_fraction: f64,
    },
    /// The pen glides too slowly for distinct punctures.
    PenStampsOverlap {
        speed_cm_per_s: f64,
        min_speed_cm_per_s: f64,
    },
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WarningKind::TargetBelowOnePass {
                single_pass_per_cm2,
                target_per_cm2,
            } => write!(
                f,
                "one pass of this roller already gives {single_pass_per_cm2:.0} punctures/cm², above the target of {target_per_cm2:.0}"
            ),
            WarningKind::PlanOvershootsTarget {
                planned_per_cm2,
                target_per_cm2,
            } => write!(
                f,
                "whole passes give {planned_per_cm2:.0} punctures/cm², well above the target of {target_per_cm2:.0}"
            ),
            WarningKind::FixedTimeUnderTreats {
                seconds,
                density_per_cm2,
                target_per_cm2,
            } => write!(
                f,
                "{seconds:.0} s here gives only about {density_per_cm2:.0} punctures/cm², under half the target of {target_per_cm2:.0}: count strokes instead"
            ),
            WarningKind::FixedTimeOverTreats {
                seconds,
                density_per_cm2,
                target_per_cm2,
            } => write!(
                f,
                "{seconds:.0} s here gives about {density_per_cm2:.0} punctures/cm², over twice the target of {target_per_cm2:.0}: count strokes instead"
            ),
            WarningKind::DepthNearDermisLimit {
                needle_length_mm,
                depth_max_mm,
                skin_thickness_mm,
            } => write!(
                f,
                "a {needle_length_mm} mm needle may reach {depth_max_mm:.2} mm, over half of the {skin_thickness_mm:.2} mm of skin here"
            ),
            WarningKind::DepthMayReachSubcutis {
                needle_length_mm,
                depth_max_mm,
                skin_thickness_mm,
            } => write!(
                f,
                "a {needle_length_mm} mm needle may reach {depth_max_mm:.2} mm, through the {skin_thickness_mm:.2} mm of skin here"
            ),
            WarningKind::ExceedsZoneCap {
                needle_length_mm,
                cap_mm,
            } => write!(
                f,
                "{needle_length_mm} mm is longer than the {cap_mm} mm a manufacturer chart suggests for thin skin here"
            ),
            WarningKind::ExceedsHomeMaximum {
                needle_length_mm,
                max_mm,
            } => write!(
                f,
                "{needle_length_mm} mm is longer than the {max_mm} mm suggested for home use"
            ),
            WarningKind::DrumWiderThanZone {
                drum_width_mm,
                zone_short_side_mm,
            } => write!(
                f,
                "the {drum_width_mm:.0} mm drum is wider than this zone ({zone_short_side_mm:.0} mm): contact is partial, roll along the zone's length"
            ),
            WarningKind::UnevenDose {
                under_treated_fraction,
                over_treated_fraction,
            } => write!(
                f,
                "the simulated dose is uneven: {:.0}% of the zone under half the mean, {:.0}% over twice the mean",
                under_treated_fraction * 100.0,
                over_treated_fraction * 100.0
            ),
            WarningKind::PenStampsOverlap {
                speed_cm_per_s,
                min_speed_cm_per_s,
            } => write!(
                f,
                "at {speed_cm_per_s} cm/s the pen's stamps overlap into furrows; distinct punctures need over {min_speed_cm_per_s:.1} cm/s"
            ),
        }
    }
}

/// A warning with its plain-language message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    #[serde(flatten)]
    pub kind: WarningKind,
    pub message: String,
}

impl From<WarningKind> for Warning {
    fn from(kind: WarningKind) -> Self {
        Self {
            message: kind.to_string(),
            kind,
        }
    }
}

/// A roller plan for one zone (inputs assumed validated).
pub fn plan_roller_zone(roller: &Roller, geo: &ZoneGeometry, ctx: &PlanContext) -> RollerZonePlan {
    let rho1 = roller.single_pass_density_per_cm2();
    let m = analytic::whole_passes_for_target(roller, ctx.target_per_cm2);
    let w_cm = roller.drum_width_cm();
    let l_cm = geo.stroke_length_cm;
    let strokes_per_layer = if w_cm * l_cm > 0.0 {
        geo.area_cm2 / (w_cm * l_cm)
    } else {
        0.0
    };
    let strokes = ceil_u32(f64::from(m) * strokes_per_layer);
    let k = m.min(4);
    let directions = split_directions(m, k, strokes);
    let max_layers = directions
        .iter()
        .map(|d| d.layers)
        .max()
        .unwrap_or(1)
        .max(1);
    let mf = f64::from(m);
    let plan = StrokePlan {
        strokes: f64::from(strokes),
        stroke_length_cm: l_cm,
        area_cm2: geo.area_cm2,
    };
    RollerZonePlan {
        passes_exact: analytic::passes_for_target(roller, ctx.target_per_cm2),
        passes_per_point: m,
        strokes_for_target_exact: analytic::strokes_for_target(
            roller,
            ctx.target_per_cm2,
            l_cm,
            geo.area_cm2,
        ),
        strokes,
        stroke_length_cm: l_cm,
        strokes_per_layer,
        directions,
        stroke_spacing_mm: roller.drum_width_mm,
        layer_shift_mm: roller.ring_spacing_mm() / f64::from(max_layers),
        planned_density_per_cm2: analytic::mean_density_per_cm2(roller, &plan),
        seconds: f64::from(strokes) * ctx.pace.seconds_per_stroke(l_cm),
        coverage_random_offsets: analytic::coverage_random_offsets(
            rho1,
            ctx.influence_radius_mm,
            mf,
        ),
        coverage_formula_exact: analytic::random_offset_formula_is_exact(
            roller,
            ctx.influence_radius_mm,
        ),
        coverage_if_retraced: analytic::coverage_retraced(
            ctx.influence_radius_mm,
            roller.ring_spacing_mm(),
            k,
        ),
        perforated_fraction: analytic::perforated_fraction(rho1, ctx.channel_radius_mm, mf),
        overlap_probability: analytic::overlap_probability(rho1, ctx.channel_radius_mm, mf),
        poisson_cv_bound: analytic::poisson_cv_bound(mf * rho1, ctx.analysis_cell_mm),
    }
}

/// Splits `passes` sweeps round-robin over `k` directions and shares the
/// strokes in proportion (largest remainder).
fn split_directions(passes: u32, k: u32, strokes: u32) -> Vec<DirectionStep> {
    let dirs = Direction::first(k);
    let kk = u32::try_from(dirs.len()).unwrap_or(1).max(1);
    let mut steps: Vec<DirectionStep> = dirs
        .iter()
        .zip(0u32..)
        .map(|(&direction, i)| DirectionStep {
            direction,
            layers: passes / kk + u32::from(i < passes % kk),
            strokes: 0,
        })
        .collect();
    let total_layers = f64::from(passes.max(1));
    let mut given = 0u32;
    for step in &mut steps {
        step.strokes = (f64::from(strokes) * f64::from(step.layers) / total_layers).floor() as u32;
        given += step.strokes;
    }
    // Hand out the remainder one by one, first direction first.
    let rest = strokes.saturating_sub(given);
    let n = steps.len().max(1);
    for i in 0..usize::try_from(rest).unwrap_or(0) {
        if let Some(step) = steps.get_mut(i % n) {
            step.strokes += 1;
        }
    }
    steps
}

fn ceil_u32(x: f64) -> u32 {
    let c = (x - 1e-9).ceil();
    if c.is_finite() && c > 0.0 {
        c.min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// A pen plan for one zone (inputs assumed validated). The glide speed is
/// the pace's rolling speed.
pub fn plan_pen_zone(pen: &Pen, geo: &ZoneGeometry, ctx: &PlanContext) -> PenZonePlan {
    let per_pass = pen.strikes_per_cm2_per_pass(ctx.pace.rolling_speed_cm_per_s);
    PenZonePlan {
        seconds: pen.seconds_for_target(ctx.target_per_cm2, geo.area_cm2),
        strikes_per_cm2_per_pass: per_pass,
        passes_exact: if per_pass > 0.0 {
            ctx.target_per_cm2 / per_pass
        } else {
            0.0
        },
        min_speed_for_distinct_sites_cm_per_s: pen.min_speed_for_distinct_sites_cm_per_s(),
    }
}

/// What `ctx.seconds_per_section` on this zone gives with a roller, at the
/// stated pace (strokes = T / (L/v + t_r)).
pub fn fixed_time_roller(roller: &Roller, geo: &ZoneGeometry, ctx: &PlanContext) -> FixedTimeDose {
    let plan = analytic::plan_from_time(
        &ctx.pace,
        ctx.seconds_per_section,
        geo.stroke_length_cm,
        geo.area_cm2,
    );
    let density = analytic::mean_density_per_cm2(roller, &plan);
    FixedTimeDose {
        seconds: ctx.seconds_per_section,
        strokes: plan.strokes,
        density_per_cm2: density,
        passes_per_point: analytic::passes_per_point(roller, &plan),
        ratio_to_target: ratio(density, ctx.target_per_cm2),
    }
}

/// What `ctx.seconds_per_section` on this zone gives with a pen.
pub fn fixed_time_pen(pen: &Pen, geo: &ZoneGeometry, ctx: &PlanContext) -> FixedTimeDose {
    let density = pen.density_after_seconds_per_cm2(ctx.seconds_per_section, geo.area_cm2);
    let per_pass = pen.strikes_per_cm2_per_pass(ctx.pace.rolling_speed_cm_per_s);
    FixedTimeDose {
        seconds: ctx.seconds_per_section,
        strokes: 0.0,
        density_per_cm2: density,
        passes_per_point: if per_pass > 0.0 {
            density / per_pass
        } else {
            0.0
        },
        ratio_to_target: ratio(density, ctx.target_per_cm2),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Warnings for one zone.
pub fn zone_warnings(
    zone_short_side_mm: f64,
    method: &ZoneMethod,
    fixed: &FixedTimeDose,
    depth: &DepthSafety,
    simulation: Option<&SimulationSummary>,
    device_extra: DeviceWarningInput,
    ctx: &PlanContext,
) -> Vec<Warning> {
    let mut out: Vec<WarningKind> = Vec::new();
    let target = ctx.target_per_cm2;
    match method {
        ZoneMethod::Roller(plan) => {
            if let DeviceWarningInput::Roller {
                single_pass_per_cm2,
                drum_width_mm,
            } = device_extra
            {
                if single_pass_per_cm2 > target {
                    out.push(WarningKind::TargetBelowOnePass {
                        single_pass_per_cm2,
                        target_per_cm2: target,
                    });
                } else if plan.planned_density_per_cm2 > OVERSHOOT_RATIO * target {
                    out.push(WarningKind::PlanOvershootsTarget {
                        planned_per_cm2: plan.planned_density_per_cm2,
                        target_per_cm2: target,
                    });
                }
                if zone_short_side_mm < drum_width_mm {
                    out.push(WarningKind::DrumWiderThanZone {
                        drum_width_mm,
                        zone_short_side_mm,
                    });
                }
            }
        }
        ZoneMethod::Pen(plan) => {
            let v = ctx.pace.rolling_speed_cm_per_s;
            if v <= plan.min_speed_for_distinct_sites_cm_per_s {
                out.push(WarningKind::PenStampsOverlap {
                    speed_cm_per_s: v,
                    min_speed_cm_per_s: plan.min_speed_for_distinct_sites_cm_per_s,
                });
            }
        }
    }
    if fixed.seconds > 0.0 {
        if fixed.ratio_to_target < UNDER_TREATMENT_RATIO {
            out.push(WarningKind::FixedTimeUnderTreats {
                seconds: fixed.seconds,
                density_per_cm2: fixed.density_per_cm2,
                target_per_cm2: target,
            });
        } else if fixed.ratio_to_target > OVER_TREATMENT_RATIO {
            out.push(WarningKind::FixedTimeOverTreats {
                seconds: fixed.seconds,
                density_per_cm2: fixed.density_per_cm2,
                target_per_cm2: target,
            });
        }
    }
    if depth.may_reach_subcutis {
        out.push(WarningKind::DepthMayReachSubcutis {
            needle_length_mm: depth.needle_length_mm,
            depth_max_mm: depth.depth_max_mm,
            skin_thickness_mm: depth.skin_thickness_mm,
        });
    } else if depth.flagged {
        out.push(WarningKind::DepthNearDermisLimit {
            needle_length_mm: depth.needle_length_mm,
            depth_max_mm: depth.depth_max_mm,
            skin_thickness_mm: depth.skin_thickness_mm,
        });
    }
    if let (true, Some(cap_mm)) = (depth.exceeds_manufacturer_cap, depth.manufacturer_cap_mm) {
        out.push(WarningKind::ExceedsZoneCap {
            needle_length_mm: depth.needle_length_mm,
            cap_mm,
        });
    }
    if depth.needle_length_mm > HOME_MAX_NEEDLE_LENGTH_MM + 1e-9 {
        out.push(WarningKind::ExceedsHomeMaximum {
            needle_length_mm: depth.needle_length_mm,
            max_mm: HOME_MAX_NEEDLE_LENGTH_MM,
        });
    }
    if let Some(sim) = simulation {
        if sim.under_treated_fraction > UNEVEN_SHARE || sim.over_treated_fraction > UNEVEN_SHARE {
            out.push(WarningKind::UnevenDose {
                under_treated_fraction: sim.under_treated_fraction,
                over_treated_fraction: sim.over_treated_fraction,
            });
        }
    }
    out.into_iter().map(Warning::from).collect()
}

/// Device facts the warnings need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeviceWarningInput {
    Roller {
        single_pass_per_cm2: f64,
        drum_width_mm: f64,
    },
    Pen,
}

/// Depth safety for a zone with this context.
pub fn zone_depth(zone: Zone, needle_length_mm: f64, ctx: &PlanContext) -> DepthSafety {
    depth_safety(zone, ctx.sex, needle_length_mm, ctx.kappa)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        PlanContext {
            sex: Sex::Female,
            target_per_cm2: DEFAULT_TARGET_PER_CM2,
            pace: Pace::default(),
            seconds_per_section: 15.0,
            kappa: KappaBand::default(),
            influence_radius_mm: 0.5,
            channel_radius_mm: 0.05,
            analysis_cell_mm: 2.0,
        }
    }

    #[test]
    fn fifteen_seconds_per_section_by_zone() {
        // 192 needles, 3 cm/s, 0.5 s lifts (docs/coverage.md, fixed-time table).
        let r = Roller::standard_192(0.25);
        let expected = [
            (Zone::Forehead, 17.0, 1.0),
            (Zone::LeftCheek, 22.0, 1.0),
            (Zone::Nose, 56.0, 1.0),
            (Zone::Chin, 56.0, 1.0),
            (Zone::UpperLip, 102.0, 1.5),
            (Zone::PeriorbitalLeft, 115.0, 1.5),
            (Zone::Neck, 8.0, 0.5),
        ];
        for (zone, want, tol) in expected {
            let dose = fixed_time_roller(&r, &ZoneGeometry::default_for(zone), &ctx());
            assert!(
                (dose.density_per_cm2 - want).abs() <= tol,
                "{zone}: {}",
                dose.density_per_cm2
            );
        }
        let forehead = fixed_time_roller(&r, &ZoneGeometry::default_for(Zone::Forehead), &ctx());
        assert!((forehead.strokes - 6.0).abs() < 1e-9);
        assert!((forehead.passes_per_point - 1.1).abs() < 0.05);
    }

    #[test]
    fn cheek_plan_matches_the_recipe() {
        let r = Roller::standard_192(0.25);
        let plan = plan_roller_zone(&r, &ZoneGeometry::default_for(Zone::LeftCheek), &ctx());
        assert_eq!(plan.passes_per_point, 17);
        assert_eq!(plan.directions.len(), 4);
        assert_eq!(plan.directions.iter().map(|d| d.layers).sum::<u32>(), 17);
        assert_eq!(
            plan.directions.iter().map(|d| d.strokes).sum::<u32>(),
            plan.strokes
        );
        // 17 × 50 / (2 × 6) = 70.8 → 71 strokes, about 177 s.
        assert_eq!(plan.strokes, 71);
        assert!((plan.seconds - 177.5).abs() < 0.01);
        assert!(plan.planned_density_per_cm2 >= 250.0);
        assert!((plan.stroke_spacing_mm - 20.0).abs() < 1e-12);
        assert!((plan.layer_shift_mm - 0.5).abs() < 1e-12); // 2.5 mm / 5 sweeps
    }

    #[test]
    fn split_directions_shares_everything() {
        let steps = split_directions(3, 3, 10);
        assert_eq!(
            steps.iter().map(|s| s.layers).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        assert_eq!(steps.iter().map(|s| s.strokes).sum::<u32>(), 10);
        let one = split_directions(1, 1, 4);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].strokes, 4);
    }

    #[test]
    fn warnings_cover_time_depth_and_shape() {
        let c = ctx();
        let r = Roller::standard_192(0.5);
        let geo = ZoneGeometry::default_for(Zone::PeriorbitalLeft);
        let plan = ZoneMethod::Roller(plan_roller_zone(&r, &geo, &c));
        let fixed = fixed_time_roller(&r, &geo, &c);
        let depth = zone_depth(Zone::PeriorbitalLeft, 0.5, &c);
        let w = zone_warnings(
            17.0, // an upper lip is about 17 mm tall
            &plan,
            &fixed,
            &depth,
            None,
            DeviceWarningInput::Roller {
                single_pass_per_cm2: r.single_pass_density_per_cm2(),
                drum_width_mm: 20.0,
            },
            &c,
        );
        let kinds: Vec<_> = w.iter().map(|w| std::mem::discriminant(&w.kind)).collect();
        assert!(
            w.iter()
                .any(|w| matches!(w.kind, WarningKind::FixedTimeUnderTreats { .. }))
        );
        assert!(
            w.iter()
                .any(|w| matches!(w.kind, WarningKind::DepthNearDermisLimit { .. }))
        );
        assert!(
            w.iter()
                .any(|w| matches!(w.kind, WarningKind::ExceedsZoneCap { .. }))
        );
        assert!(
            w.iter()
                .any(|w| matches!(w.kind, WarningKind::DrumWiderThanZone { .. }))
        );
        assert_eq!(kinds.len(), w.len());
        let json = serde_json::to_value(&w[0]).unwrap();
        assert!(json.get("kind").is_some() && json.get("message").is_some());
        // A 1200-needle roller is above 250/cm² in one pass at low targets.
        let dense = Roller {
            needles: 1200,
            rings: 24,
            drum_width_mm: 20.0,
            drum_diameter_mm: 5.0,
            needle_diameter_mm: 0.1,
            ..r
        };
        let low = PlanContext {
            target_per_cm2: 100.0,
            ..c
        };
        let p = ZoneMethod::Roller(plan_roller_zone(&dense, &geo, &low));
        let w = zone_warnings(
            40.0,
            &p,
            &fixed,
            &depth,
            None,
            DeviceWarningInput::Roller {
                single_pass_per_cm2: dense.single_pass_density_per_cm2(),
                drum_width_mm: 20.0,
            },
            &low,
        );
        assert!(
            w.iter()
                .any(|w| matches!(w.kind, WarningKind::TargetBelowOnePass { .. }))
        );
    }
}
