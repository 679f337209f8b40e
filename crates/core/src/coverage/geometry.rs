//! Device geometry: rollers and pens, with validation.
//!
//! Lengths of needles and drums are in millimetres (`_mm`), as printed on
//! the packaging; areas and densities are in square centimetres (`_cm2`,
//! `_per_cm2`), as in the literature.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::error::{CoverageError, check_count, check_positive};

/// Longest needle the model accepts. Fernandes's first rollers went to
/// 3 mm (Fernandes account, clinic reproduction); nothing longer is used.
pub const MAX_NEEDLE_LENGTH_MM: f64 = 3.0;

/// A dermaroller: a drum carrying `rings` rings of needles.
///
/// Assumptions, stated once here and repeated in the report:
/// - the needles are spread evenly, `needles / rings` per ring, at equal
///   angles around the drum;
/// - the drum rolls without slipping, so one turn advances it by one
///   circumference, π·D;
/// - `drum_diameter_mm` is the *effective* rolling diameter. If the needles
///   do not sink in fully the drum rides on the tips and the effective
///   diameter grows towards D + 2ℓ, which lowers the single-pass density
///   by at most 2ℓ/D \[derived\];
/// - every contact perforates unless `perforation_efficiency` (η) says
///   otherwise. η = 1 is the theoretical value; a paper-and-ink test can
///   calibrate it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Roller {
    /// Total number of needles, N.
    pub needles: u32,
    /// Rings (rows) of needles around the drum, R.
    pub rings: u32,
    /// Effective rolling diameter D, in mm.
    pub drum_diameter_mm: f64,
    /// Working width W of the needled part of the drum, in mm.
    pub drum_width_mm: f64,
    /// Needle length ℓ, in mm.
    pub needle_length_mm: f64,
    /// Needle shaft diameter, in mm.
    pub needle_diameter_mm: f64,
    /// η: the fraction of contacts that perforate, in (0, 1].
    #[serde(default = "one")]
    pub perforation_efficiency: f64,
}

fn one() -> f64 {
    1.0
}

impl Roller {
    /// The documented 192-needle roller: 8 rings of 24 needles on a drum
    /// 2 cm across and 2 cm wide, needles 0.25 mm thick (Schwarz & Laaff
    /// 2011, Plast Reconstr Surg, describing the Dermaroller MF8; the same
    /// 2 × 2 cm, 8-row, 24-array drum in Singh & Yadav 2016, Indian Dermatol
    /// Online J). The MF8 carries 1.5 mm needles; home rollers of the same
    /// drum are sold with shorter ones, so the length is a parameter.
    pub const fn standard_192(needle_length_mm: f64) -> Self {
        Self {
            needles: 192,
            rings: 8,
            drum_diameter_mm: 20.0,
            drum_width_mm: 20.0,
            needle_length_mm,
            needle_diameter_mm: 0.25,
            perforation_efficiency: 1.0,
        }
    }

    /// Checks every field, naming the first that is wrong.
    pub fn validate(&self) -> Result<(), CoverageError> {
        check_count("needles", u64::from(self.needles), 1, 10_000)?;
        check_count("rings", u64::from(self.rings), 1, 500)?;
        if self.needles % self.rings != 0 {
            return Err(CoverageError::NeedlesNotMultipleOfRings {
                needles: self.needles,
                rings: self.rings,
            });
        }
        check_positive("drum_diameter_mm", self.drum_diameter_mm, 200.0, "mm")?;
        check_positive("drum_width_mm", self.drum_width_mm, 300.0, "mm")?;
        check_positive(
            "needle_length_mm",
            self.needle_length_mm,
            MAX_NEEDLE_LENGTH_MM,
            "mm",
        )?;
        check_positive("needle_diameter_mm", self.needle_diameter_mm, 1.0, "mm")?;
        check_positive(
            "perforation_efficiency",
            self.perforation_efficiency,
            1.0,
            "(fraction)",
        )?;
        let pitch_mm = self.along_track_pitch_mm();
        let ring_spacing_mm = self.ring_spacing_mm();
        if self.needle_diameter_mm >= pitch_mm.min(ring_spacing_mm) {
            return Err(CoverageError::NeedleWiderThanPitch {
                needle_diameter_mm: self.needle_diameter_mm,
                pitch_mm,
                ring_spacing_mm,
            });
        }
        Ok(())
    }

    /// Needles per ring, n = N / R.
    pub fn needles_per_ring(&self) -> u32 {
        self.needles.checked_div(self.rings).unwrap_or(0)
    }

    /// Drum circumference C = π·D, in cm.
    pub fn circumference_cm(&self) -> f64 {
        PI * self.drum_diameter_mm / 10.0
    }

    /// Drum width W, in cm.
    pub fn drum_width_cm(&self) -> f64 {
        self.drum_width_mm / 10.0
    }

    /// Distance between neighbouring rings, s = W / R, in mm.
    pub fn ring_spacing_mm(&self) -> f64 {
        self.drum_width_mm / f64::from(self.rings.max(1))
    }

    /// Distance between successive punctures of one ring along the track,
    /// p = π·D / n, in mm.
    pub fn along_track_pitch_mm(&self) -> f64 {
        PI * self.drum_diameter_mm / f64::from(self.needles_per_ring().max(1))
    }

    /// Single-pass density ρ₁ = η·N / (π·D·W), in punctures per cm².
    ///
    /// It does not depend on how the needles are arranged: one turn of the
    /// drum puts N holes on a C × W patch \[derived\]. For the 192-needle,
    /// 2 × 2 cm drum this is 15.28 /cm².
    pub fn single_pass_density_per_cm2(&self) -> f64 {
        self.perforation_efficiency * f64::from(self.needles)
            / (self.circumference_cm() * self.drum_width_cm())
    }

    /// The single-pass density when the drum rides on the needle tips, with
    /// an effective diameter D + 2ℓ: the lower end of the band
    /// [ρ₁(D + 2ℓ), ρ₁(D)] \[derived\].
    pub fn single_pass_density_on_tips_per_cm2(&self) -> f64 {
        let d_cm = (self.drum_diameter_mm + 2.0 * self.needle_length_mm) / 10.0;
        self.perforation_efficiency * f64::from(self.needles) / (PI * d_cm * self.drum_width_cm())
    }

    /// Punctures laid down by one one-way stroke of length `stroke_length_cm`:
    /// η·N·L / C.
    pub fn punctures_per_stroke(&self, stroke_length_cm: f64) -> f64 {
        self.perforation_efficiency * f64::from(self.needles) * stroke_length_cm
            / self.circumference_cm()
    }
}

/// A microneedling pen (stamp device): a cartridge of needles driven up and
/// down at a fixed frequency while the user glides it over the skin.
///
/// No source gives punctures per cm² per pass for a pen; the model counts
/// strikes (The Aesthetic Guide 2012; PRIME International 2015) and treats
/// distinct sites as an upper bound only when the pen moves fast enough
/// (see [`Pen::min_speed_for_distinct_sites_cm_per_s`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pen {
    /// Needles in the cartridge, N_c.
    pub needles_per_cartridge: u32,
    /// Stamps per second, f.
    pub stroke_frequency_hz: f64,
    /// Width of the needle array perpendicular to the glide, w, in mm.
    pub footprint_width_mm: f64,
    /// Needle length (depth setting), in mm.
    pub needle_length_mm: f64,
    /// Needle shaft diameter, in mm.
    pub needle_diameter_mm: f64,
}

impl Pen {
    /// An 11-needle pen at 90 Hz ("almost 1,000 microwounds per second",
    /// Wilson 2012, The Aesthetic Guide). The 4 mm footprint and 0.3 mm
    /// needles are assumptions (PRIME 2015 gives 0.2–0.4 mm needles).
    pub const fn eleven_needle_90hz(needle_length_mm: f64) -> Self {
        Self {
            needles_per_cartridge: 11,
            stroke_frequency_hz: 90.0,
            footprint_width_mm: 4.0,
            needle_length_mm,
            needle_diameter_mm: 0.3,
        }
    }

    /// Checks every field, naming the first that is wrong.
    pub fn validate(&self) -> Result<(), CoverageError> {
        check_count(
            "needles_per_cartridge",
            u64::from(self.needles_per_cartridge),
            1,
            200,
        )?;
        check_positive("stroke_frequency_hz", self.stroke_frequency_hz, 500.0, "Hz")?;
        check_positive("footprint_width_mm", self.footprint_width_mm, 50.0, "mm")?;
        check_positive(
            "needle_length_mm",
            self.needle_length_mm,
            MAX_NEEDLE_LENGTH_MM,
            "mm",
        )?;
        check_positive("needle_diameter_mm", self.needle_diameter_mm, 2.0, "mm")?;
        Ok(())
    }

    /// Strikes per second, N_c·f.
    pub fn strikes_per_second(&self) -> f64 {
        f64::from(self.needles_per_cartridge) * self.stroke_frequency_hz
    }

    /// Strikes per cm² in one glide at `speed_cm_per_s`: N_c·f / (v·w)
    /// \[derived\]. Returns 0 for a non-positive speed.
    pub fn strikes_per_cm2_per_pass(&self, speed_cm_per_s: f64) -> f64 {
        let w_cm = self.footprint_width_mm / 10.0;
        if speed_cm_per_s <= 0.0 || w_cm <= 0.0 {
            return 0.0;
        }
        self.strikes_per_second() / (speed_cm_per_s * w_cm)
    }

    /// Mean strike density after `seconds` spread over `area_cm2`:
    /// N_c·f·T / A \[derived\]. 990 strikes/s for 15 s over 50 cm² gives
    /// about 300 /cm².
    pub fn density_after_seconds_per_cm2(&self, seconds: f64, area_cm2: f64) -> f64 {
        if area_cm2 <= 0.0 {
            return 0.0;
        }
        self.strikes_per_second() * seconds.max(0.0) / area_cm2
    }

    /// Seconds to reach `target_per_cm2` over `area_cm2`: ρ_t·A / (N_c·f).
    pub fn seconds_for_target(&self, target_per_cm2: f64, area_cm2: f64) -> f64 {
        let rate = self.strikes_per_second();
        if rate <= 0.0 {
            return 0.0;
        }
        target_per_cm2.max(0.0) * area_cm2.max(0.0) / rate
    }

    /// Gliding slower than f·d makes successive stamps of one needle overlap
    /// into furrows; distinct punctures need v > f·d \[derived\]. In cm/s.
    pub fn min_speed_for_distinct_sites_cm_per_s(&self) -> f64 {
        self.stroke_frequency_hz * self.needle_diameter_mm / 10.0
    }
}

/// Either kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Device {
    Roller(Roller),
    Pen(Pen),
}

impl Device {
    /// Checks the device's fields.
    pub fn validate(&self) -> Result<(), CoverageError> {
        match self {
            Device::Roller(r) => r.validate(),
            Device::Pen(p) => p.validate(),
        }
    }

    /// Needle length, in mm.
    pub fn needle_length_mm(&self) -> f64 {
        match self {
            Device::Roller(r) => r.needle_length_mm,
            Device::Pen(p) => p.needle_length_mm,
        }
    }
}

impl Default for Device {
    /// The 192-needle, 2 × 2 cm roller with 0.25 mm needles.
    fn default() -> Self {
        Device::Roller(Roller::standard_192(0.25))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn standard_192_geometry() {
        let r = Roller::standard_192(0.5);
        r.validate().unwrap();
        assert_eq!(r.needles_per_ring(), 24);
        assert!((r.ring_spacing_mm() - 2.5).abs() < 1e-12);
        assert!((r.along_track_pitch_mm() - 2.618).abs() < 1e-3);
        let rho1 = r.single_pass_density_per_cm2();
        assert!((rho1 - 15.28).abs() < 0.05, "rho1 = {rho1}");
        assert!(r.single_pass_density_on_tips_per_cm2() < rho1);
    }

    #[test]
    fn validation_names_the_field() {
        let mut r = Roller::standard_192(0.5);
        r.rings = 7;
        assert_eq!(
            r.validate(),
            Err(CoverageError::NeedlesNotMultipleOfRings {
                needles: 192,
                rings: 7
            })
        );
        let mut r = Roller::standard_192(0.5);
        r.drum_diameter_mm = f64::NAN;
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("drum_diameter_mm")
        );
        let mut r = Roller::standard_192(0.5);
        r.needle_length_mm = 0.0;
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("needle_length_mm")
        );
        let mut r = Roller::standard_192(0.5);
        r.needle_length_mm = 4.0;
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("needle_length_mm")
        );
        let mut r = Roller::standard_192(0.5);
        r.rings = 96; // 0.21 mm between rings, narrower than the needle
        r.needle_diameter_mm = 0.25;
        assert!(matches!(
            r.validate(),
            Err(CoverageError::NeedleWiderThanPitch { .. })
        ));
        let mut r = Roller::standard_192(0.5);
        r.rings = 0;
        assert!(r.validate().unwrap_err().to_string().contains("rings"));
        let mut p = Pen::eleven_needle_90hz(0.5);
        p.validate().unwrap();
        p.stroke_frequency_hz = -1.0;
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("stroke_frequency_hz")
        );
    }

    #[test]
    fn pen_figures() {
        let p = Pen::eleven_needle_90hz(0.5);
        assert!((p.strikes_per_second() - 990.0).abs() < 1e-9);
        let rho = p.density_after_seconds_per_cm2(15.0, 50.0);
        assert!((rho - 297.0).abs() < 1.0);
        assert!((p.seconds_for_target(rho, 50.0) - 15.0).abs() < 1e-9);
        // 90 Hz × 0.3 mm = 2.7 cm/s.
        assert!((p.min_speed_for_distinct_sites_cm_per_s() - 2.7).abs() < 1e-9);
    }

    #[test]
    fn device_json_roundtrip() {
        let d = Device::default();
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains("\"kind\":\"roller\""));
        let back: Device = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }
}
