//! The analytic model: densities, passes, strokes, coverage, uniformity and
//! depth safety, as closed-form functions.
//!
//! All formulas are \[derived\] from plain geometry unless a source is named;
//! `docs/coverage.md` collects them. Symbols: N needles, R rings,
//! D drum diameter, C = π·D, W drum width, s = W/R ring spacing,
//! p = C/(N/R) pitch along the track, ρ₁ single-pass density, m passes per
//! point, L stroke length, A section area, η perforation efficiency.
//!
//! # The "250 holes per cm²" figure
//!
//! Doddaballapur 2009 (J Cutan Aesthet Surg 2:110) writes that rolling a
//! 192-needle roller 15 times over an area gives about 250 holes/cm², with
//! no primary study behind it. The geometry of the documented 2 × 2 cm,
//! 192-needle drum gives ρ₁ = 15.28 /cm², so 15 passes give 229 /cm² and
//! 250 /cm² needs about 16.4 passes (17 whole passes, 260 /cm²). The figure
//! holds only if every "time" is a one-way pass over the whole spot, every
//! needle perforates and coincident holes are counted twice.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::zone::{Sex, Zone};

use super::error::{CoverageError, check_positive, check_range};
use super::geometry::Roller;

/// Square millimetres in a square centimetre.
pub const MM2_PER_CM2: f64 = 100.0;

/// Converts a length in mm to cm.
pub fn mm_to_cm(mm: f64) -> f64 {
    mm / 10.0
}

/// Converts a length in cm to mm.
pub fn cm_to_mm(cm: f64) -> f64 {
    cm * 10.0
}

/// Area of a disc of radius `r_mm`, in cm².
pub fn disc_area_cm2(r_mm: f64) -> f64 {
    PI * mm_to_cm(r_mm) * mm_to_cm(r_mm)
}

// ---------------------------------------------------------------------------
// Density from strokes or time
// ---------------------------------------------------------------------------

/// A stroke plan for one section: `strokes` one-way strokes of
/// `stroke_length_cm` each over a section of `area_cm2`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrokePlan {
    /// Number of one-way strokes (may be fractional when it comes from a
    /// time budget).
    pub strokes: f64,
    /// Length of each stroke, in cm.
    pub stroke_length_cm: f64,
    /// Area of the section, in cm².
    pub area_cm2: f64,
}

impl StrokePlan {
    /// Checks the plan's fields.
    pub fn validate(&self) -> Result<(), CoverageError> {
        check_range("strokes", self.strokes, 0.0, 1.0e6, "strokes")?;
        check_positive("stroke_length_cm", self.stroke_length_cm, 100.0, "cm")?;
        check_positive("area_cm2", self.area_cm2, 10_000.0, "cm²")?;
        Ok(())
    }
}

/// Passes per point, m̄ = W·ΣL / A: the swept area over the section area.
pub fn passes_per_point(roller: &Roller, plan: &StrokePlan) -> f64 {
    if plan.area_cm2 <= 0.0 {
        return 0.0;
    }
    roller.drum_width_cm() * plan.strokes * plan.stroke_length_cm / plan.area_cm2
}

/// Section-mean density, ρ̄ = η·N·ΣL / (C·A), in punctures per cm². The
/// drum width cancels: it is drum turns × N over the area.
pub fn mean_density_per_cm2(roller: &Roller, plan: &StrokePlan) -> f64 {
    if plan.area_cm2 <= 0.0 {
        return 0.0;
    }
    roller.punctures_per_stroke(plan.strokes * plan.stroke_length_cm) / plan.area_cm2
}

/// Pacing of a timed session: rolling speed and the time lost per stroke to
/// lifting and repositioning the roller.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pace {
    /// Rolling speed while the drum is on the skin, in cm/s.
    pub rolling_speed_cm_per_s: f64,
    /// Lift, turn-around and reposition time per stroke, in s.
    pub turnaround_s: f64,
}

impl Default for Pace {
    /// 3 cm/s and 0.5 s per stroke: assumed working values \[derived\]. No
    /// published measurement of real rolling speeds or lift times exists.
    fn default() -> Self {
        Self {
            rolling_speed_cm_per_s: 3.0,
            turnaround_s: 0.5,
        }
    }
}

impl Pace {
    /// Checks the pace's fields.
    pub fn validate(&self) -> Result<(), CoverageError> {
        check_positive(
            "rolling_speed_cm_per_s",
            self.rolling_speed_cm_per_s,
            100.0,
            "cm/s",
        )?;
        check_range("turnaround_s", self.turnaround_s, 0.0, 60.0, "s")?;
        Ok(())
    }

    /// Time for one stroke of `stroke_length_cm`: L/v + t_r, in s.
    pub fn seconds_per_stroke(&self, stroke_length_cm: f64) -> f64 {
        if self.rolling_speed_cm_per_s <= 0.0 {
            return f64::INFINITY;
        }
        stroke_length_cm / self.rolling_speed_cm_per_s + self.turnaround_s
    }

    /// Effective progress speed v_eff = L / (L/v + t_r), in cm/s.
    pub fn effective_speed_cm_per_s(&self, stroke_length_cm: f64) -> f64 {
        let t = self.seconds_per_stroke(stroke_length_cm);
        if t > 0.0 && t.is_finite() {
            stroke_length_cm / t
        } else {
            0.0
        }
    }

    /// Strokes that fit into `seconds` (fractional).
    pub fn strokes_in(&self, seconds: f64, stroke_length_cm: f64) -> f64 {
        let t = self.seconds_per_stroke(stroke_length_cm);
        if t > 0.0 && t.is_finite() {
            seconds.max(0.0) / t
        } else {
            0.0
        }
    }
}

/// The stroke plan a fixed time budget gives: T / (L/v + t_r) strokes of
/// length L over the section.
pub fn plan_from_time(
    pace: &Pace,
    seconds: f64,
    stroke_length_cm: f64,
    area_cm2: f64,
) -> StrokePlan {
    StrokePlan {
        strokes: pace.strokes_in(seconds, stroke_length_cm),
        stroke_length_cm,
        area_cm2,
    }
}

/// Mean density after `seconds` of rolling: ρ̄(T) = η·N·v_eff·T / (π·D·A).
///
/// With the 192-needle roller at 3 cm/s and 0.5 s per stroke, 15 s gives
/// about 17 /cm² on a 65 cm² forehead (6 cm strokes) and about 115 /cm² on
/// an 8 cm² periorbital patch (3 cm strokes): seven times more on the
/// thinnest skin \[derived\].
pub fn density_after_seconds_per_cm2(
    roller: &Roller,
    pace: &Pace,
    seconds: f64,
    stroke_length_cm: f64,
    area_cm2: f64,
) -> f64 {
    mean_density_per_cm2(
        roller,
        &plan_from_time(pace, seconds, stroke_length_cm, area_cm2),
    )
}

/// Strokes of length L needed to reach `target_per_cm2` on average over
/// `area_cm2`: n = ρ_t·A·π·D / (η·N·L). Fractional; round up to plan.
pub fn strokes_for_target(
    roller: &Roller,
    target_per_cm2: f64,
    stroke_length_cm: f64,
    area_cm2: f64,
) -> f64 {
    let per_stroke = roller.punctures_per_stroke(stroke_length_cm);
    if per_stroke <= 0.0 {
        return 0.0;
    }
    target_per_cm2.max(0.0) * area_cm2.max(0.0) / per_stroke
}

/// Passes per point needed for a target: ρ_t / ρ₁ (fractional). For the
/// 192-needle drum and 250 /cm² this is 16.4.
pub fn passes_for_target(roller: &Roller, target_per_cm2: f64) -> f64 {
    let rho1 = roller.single_pass_density_per_cm2();
    if rho1 <= 0.0 {
        return 0.0;
    }
    target_per_cm2.max(0.0) / rho1
}

/// Whole passes per point for a target, m* = ⌈ρ_t / ρ₁⌉, at least 1.
/// 17 for the 192-needle drum at 250 /cm², 6 for a 540-needle 2 × 2 cm drum.
pub fn whole_passes_for_target(roller: &Roller, target_per_cm2: f64) -> u32 {
    // A tiny tolerance keeps exact multiples (e.g. 15 × ρ₁) from rounding up.
    let m = (passes_for_target(roller, target_per_cm2) - 1e-9).ceil();
    if m.is_finite() && m >= 1.0 {
        // Float-to-int casts saturate; targets are validated far below.
        m.min(f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

/// Seconds to reach a target when pacing by time:
/// T = ρ_t·A·π·D / (η·N·v_eff).
pub fn seconds_for_target(
    roller: &Roller,
    pace: &Pace,
    target_per_cm2: f64,
    stroke_length_cm: f64,
    area_cm2: f64,
) -> f64 {
    strokes_for_target(roller, target_per_cm2, stroke_length_cm, area_cm2)
        * pace.seconds_per_stroke(stroke_length_cm)
}

// ---------------------------------------------------------------------------
// Coverage, perforation, overlap, uniformity
// ---------------------------------------------------------------------------

/// Probability that one randomly placed pass puts a puncture within `r_mm`
/// of a given point: ρ₁·π·r², capped at 1.
fn per_pass_hit_probability(rho1_per_cm2: f64, r_mm: f64) -> f64 {
    (rho1_per_cm2.max(0.0) * disc_area_cm2(r_mm)).clamp(0.0, 1.0)
}

/// Fraction of the area with at least one puncture within `r_mm`, after `m`
/// passes with independent random lateral offsets and phases:
/// P_cov = 1 − (1 − ρ₁·π·r²)^m.
///
/// Exact for r < min(p, s)/2 (discs from one pass never overlap); tends to
/// the Boolean-model value 1 − exp(−ρ·π·r²) (Chiu, Stoyan, Kendall & Mecke
/// 2013). For the 192-needle drum, r = 0.5 mm and m = 15 it is 0.85.
pub fn coverage_random_offsets(rho1_per_cm2: f64, r_mm: f64, m: f64) -> f64 {
    let q = per_pass_hit_probability(rho1_per_cm2, r_mm);
    1.0 - (1.0 - q).powf(m.max(0.0))
}

/// Whether [`coverage_random_offsets`] is exact for this roller and radius:
/// r < min(p, s)/2.
pub fn random_offset_formula_is_exact(roller: &Roller, r_mm: f64) -> bool {
    r_mm < roller.along_track_pitch_mm().min(roller.ring_spacing_mm()) / 2.0
}

/// Coverage within `r_mm` when every stroke in a direction retraces the same
/// lateral track: the rings keep hitting the same lines, so each direction
/// covers at most a band of 2r around each ring line, 2r/s of the area, and
/// k independent directions give 1 − (1 − 2r/s)^k. For the 192-needle drum
/// (s = 2.5 mm) and r = 0.5 mm: 0.40, 0.64, 0.78, 0.87 for k = 1…4.
pub fn coverage_retraced(r_mm: f64, ring_spacing_mm: f64, directions: u32) -> f64 {
    if ring_spacing_mm <= 0.0 {
        return 1.0;
    }
    let band = (2.0 * r_mm.max(0.0) / ring_spacing_mm).clamp(0.0, 1.0);
    1.0 - (1.0 - band).powf(f64::from(directions))
}

/// Passes per point for a coverage goal with random offsets:
/// m = ln(1 − P) / ln(1 − ρ₁·π·r²). `None` when the goal is not in (0, 1)
/// or one pass cannot reach any point.
pub fn passes_for_coverage(rho1_per_cm2: f64, r_mm: f64, goal: f64) -> Option<f64> {
    let q = per_pass_hit_probability(rho1_per_cm2, r_mm);
    if !(0.0 < goal && goal < 1.0) || q <= 0.0 {
        return None;
    }
    if q >= 1.0 {
        return Some(1.0);
    }
    Some((1.0 - goal).ln() / (1.0 - q).ln())
}

/// Fraction of the skin surface opened by channels of radius `a_mm` after
/// `m` passes: f_perf = 1 − (1 − ρ₁·π·a²)^m. Kalluri et al. 2011 (AAPS J)
/// measured channels about 71 µm across (a ≈ 0.035 mm) after 770 µm needles.
pub fn perforated_fraction(rho1_per_cm2: f64, a_mm: f64, m: f64) -> f64 {
    coverage_random_offsets(rho1_per_cm2, a_mm, m)
}

/// Probability that the last puncture lands within 2a of an earlier one, so
/// that the channels touch or merge: P_ov = 1 − (1 − ρ₁·π·(2a)²)^(m−1).
pub fn overlap_probability(rho1_per_cm2: f64, a_mm: f64, m: f64) -> f64 {
    coverage_random_offsets(rho1_per_cm2, 2.0 * a_mm, (m - 1.0).max(0.0))
}

/// The Poisson bound on the coefficient of variation of puncture counts in
/// square cells of side `cell_side_mm`: CV ≤ 1/√(ρ·a_c). Superposed, randomly
/// shifted lattices stay below it. At 250 /cm² and 2 mm cells it is 0.32.
pub fn poisson_cv_bound(density_per_cm2: f64, cell_side_mm: f64) -> f64 {
    let expected = density_per_cm2 * mm_to_cm(cell_side_mm).powi(2);
    if expected > 0.0 {
        1.0 / expected.sqrt()
    } else {
        f64::INFINITY
    }
}

// ---------------------------------------------------------------------------
// Depth safety
// ---------------------------------------------------------------------------

/// A measuring site of Meng et al. 2022 (BMC Med Imaging 22:113, Table 2):
/// high-frequency ultrasound in 118 healthy adults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThicknessSite {
    Forehead,
    Glabella,
    Temple,
    Eyelid,
    NasalDorsum,
    Zygoma,
    Submandibular,
    Neck,
}

impl ThicknessSite {
    /// Every site of the table.
    pub const ALL: [ThicknessSite; 8] = [
        ThicknessSite::Forehead,
        ThicknessSite::Glabella,
        ThicknessSite::Temple,
        ThicknessSite::Eyelid,
        ThicknessSite::NasalDorsum,
        ThicknessSite::Zygoma,
        ThicknessSite::Submandibular,
        ThicknessSite::Neck,
    ];

    /// (epidermis, dermis) in mm, male then female, from Meng et al. 2022.
    /// Ultrasound "epidermis" includes the entry echo, so it reads thicker
    /// than histology.
    fn table_mm(self) -> [(f64, f64); 2] {
        match self {
            ThicknessSite::Forehead => [(0.22, 1.17), (0.20, 0.86)],
            ThicknessSite::Glabella => [(0.21, 1.14), (0.19, 0.90)],
            ThicknessSite::Temple => [(0.19, 1.06), (0.18, 0.80)],
            ThicknessSite::Eyelid => [(0.18, 0.67), (0.17, 0.58)],
            ThicknessSite::NasalDorsum => [(0.20, 1.03), (0.19, 0.93)],
            ThicknessSite::Zygoma => [(0.19, 1.14), (0.20, 0.87)],
            ThicknessSite::Submandibular => [(0.21, 1.02), (0.18, 0.91)],
            ThicknessSite::Neck => [(0.19, 0.98), (0.17, 0.99)],
        }
    }

    /// Epidermis and dermis at this site for `sex`. `Sex::Other` uses the
    /// female column, the thinner one at every site.
    pub fn thickness(self, sex: Sex) -> SkinThickness {
        let [male, female] = self.table_mm();
        let (epidermis_mm, dermis_mm) = match sex {
            Sex::Male => male,
            Sex::Female | Sex::Other => female,
        };
        SkinThickness {
            site: self,
            epidermis_mm,
            dermis_mm,
        }
    }
}

/// Epidermis and dermis thickness at one site, in mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkinThickness {
    /// The table row used.
    pub site: ThicknessSite,
    pub epidermis_mm: f64,
    pub dermis_mm: f64,
}

impl SkinThickness {
    /// Epidermis + dermis, in mm: the depth at which the subcutis begins.
    pub fn total_mm(&self) -> f64 {
        self.epidermis_mm + self.dermis_mm
    }
}

/// The skin thickness used for a zone.
///
/// Mapping to the Meng 2022 sites: forehead → forehead; nose → nasal
/// dorsum; cheeks → zygoma (upper cheek); chin → submandibular (the table
/// has no chin site; submandibular is the nearest lower-face site);
/// periorbital → eyelid; neck → neck. The table has no upper-lip site, so
/// the upper lip takes the thinnest non-eyelid site for that sex (temple for
/// women, 0.98 mm; neck for men, 1.17 mm): a conservative choice, since
/// cadaver histology puts the upper lip among the thicker sites (Chopra et
/// al. 2015, Aesthet Surg J).
pub fn zone_skin_thickness(zone: Zone, sex: Sex) -> SkinThickness {
    let site = match zone {
        Zone::Forehead => ThicknessSite::Forehead,
        Zone::Nose => ThicknessSite::NasalDorsum,
        Zone::LeftCheek | Zone::RightCheek => ThicknessSite::Zygoma,
        Zone::Chin => ThicknessSite::Submandibular,
        Zone::PeriorbitalLeft | Zone::PeriorbitalRight => ThicknessSite::Eyelid,
        Zone::Neck => ThicknessSite::Neck,
        Zone::UpperLip => return thinnest_non_eyelid(sex),
    };
    site.thickness(sex)
}

fn thinnest_non_eyelid(sex: Sex) -> SkinThickness {
    let mut best = ThicknessSite::Temple.thickness(sex);
    for site in ThicknessSite::ALL {
        let t = site.thickness(sex);
        if site != ThicknessSite::Eyelid && t.total_mm() < best.total_mm() {
            best = t;
        }
    }
    best
}

/// The depth fraction κ: actual channel depth over needle length.
///
/// Kalluri et al. 2011 measured about 20% in hairless rat (770 µm needles,
/// 152 µm channels); OCT in human skin showed about 77% of a 600 µm
/// polymer needle inserted. The default band is 0.2–0.8 \[derived\]; it
/// depends on device, pressure and site, so it is an uncertainty
/// band, not a promise of depth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KappaBand {
    pub min: f64,
    pub max: f64,
}

impl Default for KappaBand {
    fn default() -> Self {
        Self { min: 0.2, max: 0.8 }
    }
}

impl KappaBand {
    /// Checks 0 < min ≤ max ≤ 1.
    pub fn validate(&self) -> Result<(), CoverageError> {
        check_positive("kappa.min", self.min, 1.0, "(fraction)")?;
        check_positive("kappa.max", self.max, 1.0, "(fraction)")?;
        if self.min > self.max {
            return Err(CoverageError::InvertedBand {
                field: "kappa",
                min: self.min,
                max: self.max,
            });
        }
        Ok(())
    }
}

/// Share of the local skin thickness above which the depth is flagged.
pub const DEPTH_FLAG_FRACTION: f64 = 0.5;

/// Depth safety of one needle length on one zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DepthSafety {
    pub zone: Zone,
    pub thickness: SkinThickness,
    /// Epidermis + dermis, in mm.
    pub skin_thickness_mm: f64,
    pub needle_length_mm: f64,
    /// Effective depth band κ·ℓ, in mm.
    pub depth_min_mm: f64,
    pub depth_max_mm: f64,
    /// r = κ·ℓ / (epidermis + dermis), at κ_min and κ_max.
    pub ratio_min: f64,
    pub ratio_max: f64,
    /// κ_max·ℓ exceeds half the local skin thickness.
    pub flagged: bool,
    /// κ_max·ℓ reaches the subcutis (r ≥ 1).
    pub may_reach_subcutis: bool,
    /// The manufacturer's thin-skin cap for this zone, if it has one.
    pub manufacturer_cap_mm: Option<f64>,
    /// The needle is longer than that cap.
    pub exceeds_manufacturer_cap: bool,
}

/// Depth-safety ratio r = κ·ℓ / (epidermis + dermis) over the κ band, with
/// a flag when κ_max·ℓ > 0.5 × thickness \[derived\]. Example:
/// 0.5 mm on a woman's eyelid skin (0.75 mm) at κ = 0.8 gives r ≈ 0.53.
pub fn depth_safety(zone: Zone, sex: Sex, needle_length_mm: f64, kappa: KappaBand) -> DepthSafety {
    let thickness = zone_skin_thickness(zone, sex);
    let total = thickness.total_mm();
    let depth_min_mm = kappa.min * needle_length_mm;
    let depth_max_mm = kappa.max * needle_length_mm;
    let cap = manufacturer_cap_mm(zone);
    DepthSafety {
        zone,
        thickness,
        skin_thickness_mm: total,
        needle_length_mm,
        depth_min_mm,
        depth_max_mm,
        ratio_min: depth_min_mm / total,
        ratio_max: depth_max_mm / total,
        flagged: depth_max_mm > DEPTH_FLAG_FRACTION * total,
        may_reach_subcutis: depth_max_mm >= total,
        manufacturer_cap_mm: cap,
        exceeds_manufacturer_cap: cap.is_some_and(|c| needle_length_mm > c + 1e-9),
    }
}

/// Thin-skin needle-length caps from a manufacturer's depth chart (Dr. Pen
/// needle depth guide; not peer reviewed): forehead 0.5 mm, nose 0.25 mm,
/// around the eyes 0.25 mm, cheeks and chin 1.0 mm, upper lip 0.25 mm. The
/// chart has no neck entry. The same page keeps home use at or below
/// 1.0 mm, which [`HOME_MAX_NEEDLE_LENGTH_MM`] encodes.
pub fn manufacturer_cap_mm(zone: Zone) -> Option<f64> {
    match zone {
        Zone::Forehead => Some(0.5),
        Zone::Nose | Zone::UpperLip | Zone::PeriorbitalLeft | Zone::PeriorbitalRight => Some(0.25),
        Zone::LeftCheek | Zone::RightCheek | Zone::Chin => Some(1.0),
        Zone::Neck => None,
    }
}

/// Longest needle the same manufacturer chart suggests for home use, mm.
pub const HOME_MAX_NEEDLE_LENGTH_MM: f64 = 1.0;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r192() -> Roller {
        Roller::standard_192(0.5)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn rho1_and_fifteen_passes_for_192_needles() {
        let r = r192();
        let rho1 = r.single_pass_density_per_cm2();
        assert!(close(rho1, 15.28, 0.05), "rho1 {rho1}");
        // 15 passes: a section of one drum footprint rolled 15 times.
        let footprint = StrokePlan {
            strokes: 15.0,
            stroke_length_cm: 2.0,
            area_cm2: r.drum_width_cm() * 2.0,
        };
        assert!(close(passes_per_point(&r, &footprint), 15.0, 1e-9));
        let rho15 = mean_density_per_cm2(&r, &footprint);
        assert!(close(rho15, 229.0, 3.0), "15 passes {rho15}");
    }

    #[test]
    fn two_hundred_fifty_needs_about_16_4_passes() {
        let r = r192();
        let m = passes_for_target(&r, 250.0);
        assert!(close(m, 16.4, 0.05), "m {m}");
        assert_eq!(whole_passes_for_target(&r, 250.0), 17);
        // An exact multiple does not round up.
        let rho15 = 15.0 * r.single_pass_density_per_cm2();
        assert_eq!(whole_passes_for_target(&r, rho15), 15);
        // A 540-needle 2 × 2 cm drum (12 × 45, assumed) needs 6.
        let r540 = Roller {
            needles: 540,
            rings: 12,
            ..r
        };
        assert_eq!(whole_passes_for_target(&r540, 250.0), 6);
        assert!(close(r540.single_pass_density_per_cm2(), 43.0, 0.05));
    }

    #[test]
    fn fifteen_seconds_forehead_vs_periorbital() {
        let r = r192();
        let pace = Pace::default();
        let forehead = density_after_seconds_per_cm2(&r, &pace, 15.0, 6.0, 65.0);
        let eye = density_after_seconds_per_cm2(&r, &pace, 15.0, 3.0, 8.0);
        assert!(close(forehead, 17.0, 0.5), "forehead {forehead}");
        assert!(close(eye, 115.0, 1.0), "periorbital {eye}");
        assert!(eye / forehead > 6.5);
        // Time to 250 /cm² on a cheek: about 170 s.
        let t = seconds_for_target(&r, &pace, 250.0, 6.0, 50.0);
        assert!(close(t, 170.0, 2.0), "cheek seconds {t}");
    }

    #[test]
    fn coverage_figures_match_the_notes() {
        let rho1 = r192().single_pass_density_per_cm2();
        assert!(close(coverage_random_offsets(rho1, 0.5, 15.0), 0.85, 0.01));
        assert!(close(coverage_random_offsets(rho1, 0.5, 5.0), 0.47, 0.01));
        assert!(random_offset_formula_is_exact(&r192(), 0.5));
        let s = r192().ring_spacing_mm();
        let expected = [0.40, 0.64, 0.78, 0.87];
        for (k, want) in (1..=4).zip(expected) {
            assert!(close(coverage_retraced(0.5, s, k), want, 0.005));
        }
        let m90 = passes_for_coverage(rho1, 0.5, 0.9).unwrap();
        // The notes' table rounds 18.01 to 18.
        assert!(close(m90, 18.0, 0.1), "m90 {m90}");
        assert!(passes_for_coverage(rho1, 0.5, 1.0).is_none());
        // Perforated 1.8% and overlap 6.5% at m = 15, a = 50 µm.
        assert!(close(perforated_fraction(rho1, 0.05, 15.0), 0.018, 0.001));
        assert!(close(overlap_probability(rho1, 0.05, 15.0), 0.065, 0.002));
        assert!(close(poisson_cv_bound(250.0, 2.0), 0.316, 0.001));
    }

    #[test]
    fn depth_safety_examples() {
        let k = KappaBand::default();
        let eye = depth_safety(Zone::PeriorbitalLeft, Sex::Female, 0.5, k);
        assert!(close(eye.skin_thickness_mm, 0.75, 1e-9));
        assert!(close(eye.ratio_max, 0.533, 0.001));
        assert!(eye.flagged);
        assert!(!eye.may_reach_subcutis);
        assert!(eye.exceeds_manufacturer_cap);
        let eye1 = depth_safety(Zone::PeriorbitalLeft, Sex::Female, 1.0, k);
        assert!(eye1.may_reach_subcutis);
        let forehead = depth_safety(Zone::Forehead, Sex::Male, 0.25, k);
        assert!(!forehead.flagged);
        // Other uses the female column.
        assert_eq!(
            zone_skin_thickness(Zone::Forehead, Sex::Other),
            zone_skin_thickness(Zone::Forehead, Sex::Female)
        );
        // Upper lip: thinnest non-eyelid site.
        assert_eq!(
            zone_skin_thickness(Zone::UpperLip, Sex::Female).site,
            ThicknessSite::Temple
        );
        assert_eq!(
            zone_skin_thickness(Zone::UpperLip, Sex::Male).site,
            ThicknessSite::Neck
        );
        assert_eq!(
            zone_skin_thickness(Zone::Chin, Sex::Male).site,
            ThicknessSite::Submandibular
        );
        assert!(KappaBand { min: 0.9, max: 0.2 }.validate().is_err());
    }

    proptest! {
        /// More strokes never lower the mean density or the passes per point.
        #[test]
        fn more_strokes_never_lower_density(
            strokes in 0.0f64..500.0,
            extra in 0.0f64..100.0,
            length in 0.5f64..20.0,
            area in 1.0f64..300.0,
        ) {
            let r = r192();
            let a = StrokePlan { strokes, stroke_length_cm: length, area_cm2: area };
            let b = StrokePlan { strokes: strokes + extra, ..a };
            prop_assert!(mean_density_per_cm2(&r, &b) >= mean_density_per_cm2(&r, &a));
            prop_assert!(passes_per_point(&r, &b) >= passes_per_point(&r, &a));
        }

        /// More time never lowers the density; more area never raises it.
        #[test]
        fn time_and_area_monotone(
            t in 0.0f64..600.0, dt in 0.0f64..60.0,
            length in 0.5f64..20.0, area in 1.0f64..300.0, da in 0.0f64..50.0,
        ) {
            let r = r192();
            let pace = Pace::default();
            let base = density_after_seconds_per_cm2(&r, &pace, t, length, area);
            prop_assert!(density_after_seconds_per_cm2(&r, &pace, t + dt, length, area) >= base);
            prop_assert!(density_after_seconds_per_cm2(&r, &pace, t, length, area + da) <= base + 1e-12);
        }

        /// Millimetre and centimetre forms of ρ₁ agree: N/(π·D_mm·W_mm) per
        /// mm² × 100 = N/(π·D_cm·W_cm) per cm².
        #[test]
        fn mm_and_cm_agree(
            rings in 1u32..20, per_ring in 3u32..60,
            d_mm in 10.0f64..60.0, w_mm in 10.0f64..60.0,
        ) {
            let r = Roller {
                needles: rings * per_ring, rings,
                drum_diameter_mm: d_mm, drum_width_mm: w_mm,
                ..r192()
            };
            let per_mm2 = f64::from(r.needles) / (PI * d_mm * w_mm);
            prop_assert!((per_mm2 * MM2_PER_CM2 - r.single_pass_density_per_cm2()).abs()
                < 1e-9 * r.single_pass_density_per_cm2());
            prop_assert!((cm_to_mm(mm_to_cm(d_mm)) - d_mm).abs() < 1e-12);
            // ρ₁ = η/(p·s) with p, s in mm, converted to cm².
            let via_pitch = MM2_PER_CM2 / (r.along_track_pitch_mm() * r.ring_spacing_mm());
            prop_assert!((via_pitch - r.single_pass_density_per_cm2()).abs() < 1e-9 * via_pitch);
        }

        /// Scaling invariants: doubling the needles and the drum diameter
        /// keeps ρ₁; scaling strokes and area together keeps the density;
        /// the stroke count for a target inverts the density formula.
        #[test]
        fn scaling_invariants(
            k in 1.0f64..5.0, strokes in 1.0f64..200.0,
            length in 1.0f64..10.0, area in 5.0f64..200.0, target in 10.0f64..600.0,
        ) {
            let r = r192();
            let big = Roller { needles: 2 * r.needles, rings: r.rings, drum_diameter_mm: 2.0 * r.drum_diameter_mm, ..r };
            prop_assert!((big.single_pass_density_per_cm2() - r.single_pass_density_per_cm2()).abs() < 1e-9);
            let a = StrokePlan { strokes, stroke_length_cm: length, area_cm2: area };
            let b = StrokePlan { strokes: strokes * k, stroke_length_cm: length, area_cm2: area * k };
            prop_assert!((mean_density_per_cm2(&r, &a) - mean_density_per_cm2(&r, &b)).abs() < 1e-9 * mean_density_per_cm2(&r, &a).max(1.0));
            let n = strokes_for_target(&r, target, length, area);
            let back = mean_density_per_cm2(&r, &StrokePlan { strokes: n, stroke_length_cm: length, area_cm2: area });
            prop_assert!((back - target).abs() < 1e-9 * target);
        }

        /// Coverage is a probability and never falls with more passes.
        #[test]
        fn coverage_bounded_and_monotone(m in 0.0f64..100.0, dm in 0.0f64..10.0, r_mm in 0.0f64..3.0, k in 0u32..8) {
            let rho1 = r192().single_pass_density_per_cm2();
            let c = coverage_random_offsets(rho1, r_mm, m);
            prop_assert!((0.0..=1.0).contains(&c));
            prop_assert!(coverage_random_offsets(rho1, r_mm, m + dm) >= c);
            let rt = coverage_retraced(r_mm, 2.5, k);
            prop_assert!((0.0..=1.0).contains(&rt));
            prop_assert!(coverage_retraced(r_mm, 2.5, k + 1) >= rt);
        }
    }
}
