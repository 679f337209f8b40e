//! The face model: each zone's area, stroke length and shape.
//!
//! No source gives facial zone areas in cm². The defaults are estimates
//! \[derived\] from linear anthropometry (Korean
//! adult sample, J Korean Assoc Maxillofac Plast Reconstr Surg 2019) and
//! whole-face reference points (565 cm² face in EU SCCS exposure guidance).
//! A user's own measurement (e.g. from a face mesh) overrides them.
//!
//! For simulation each zone is approximated by a rectangle of the same area
//! and a typical aspect ratio ([`ZoneGeometry::aspect_ratio`]); curvature,
//! stretching and partial contact on convex zones are not modelled.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::zone::Zone;

use super::error::{CoverageError, check_positive};

/// Largest zone area accepted from a user, cm².
pub const MAX_ZONE_AREA_CM2: f64 = 1_000.0;

/// Where a zone's area came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaSource {
    /// The default estimate (\[derived\], see [`ZoneGeometry::default_for`]).
    DefaultEstimate,
    /// A value the user measured.
    Measured,
}

/// The geometry of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ZoneGeometry {
    pub zone: Zone,
    /// Area, in cm².
    pub area_cm2: f64,
    pub area_source: AreaSource,
    /// Typical one-way stroke length in this zone, in cm.
    pub stroke_length_cm: f64,
    /// Width over height of the rectangle that stands in for the zone.
    pub aspect_ratio: f64,
}

impl ZoneGeometry {
    /// The default geometry of a zone \[derived\]:
    ///
    /// | zone | area cm² | stroke cm | rectangle |
    /// |---|---|---|---|
    /// | forehead | 65 | 6 | ~11 × 6 cm |
    /// | cheek (each) | 50 | 6 | ~7 × 7 cm |
    /// | nose | 18 | 4 | ~4.2 × 4.2 cm |
    /// | chin | 18 | 4 | ~4.8 × 3.7 cm |
    /// | upper lip | 9 | 3 | ~5.2 × 1.7 cm |
    /// | periorbital (each) | 8 | 3 | ~4 × 2 cm |
    /// | neck | 150 | 8 | ~15 × 10 cm (weakly sourced) |
    pub fn default_for(zone: Zone) -> Self {
        let (area_cm2, stroke_length_cm, aspect_ratio) = match zone {
            Zone::Forehead => (65.0, 6.0, 11.0 / 6.0),
            Zone::LeftCheek | Zone::RightCheek => (50.0, 6.0, 1.0),
            Zone::Nose => (18.0, 4.0, 1.0),
            Zone::Chin => (18.0, 4.0, 1.3),
            Zone::UpperLip => (9.0, 3.0, 3.0),
            Zone::PeriorbitalLeft | Zone::PeriorbitalRight => (8.0, 3.0, 2.0),
            Zone::Neck => (150.0, 8.0, 1.5),
        };
        Self {
            zone,
            area_cm2,
            area_source: AreaSource::DefaultEstimate,
            stroke_length_cm,
            aspect_ratio,
        }
    }

    /// The same zone with a measured area; the shape is kept. The stroke
    /// length is capped at the rectangle's longer side.
    pub fn with_measured_area(self, area_cm2: f64) -> Result<Self, CoverageError> {
        let area_cm2 = check_positive("area_cm2", area_cm2, MAX_ZONE_AREA_CM2, "cm²")?;
        let mut out = Self {
            area_cm2,
            area_source: AreaSource::Measured,
            ..self
        };
        out.stroke_length_cm = out
            .stroke_length_cm
            .min(out.width_cm().max(out.height_cm()));
        Ok(out)
    }

    /// Width of the stand-in rectangle, in cm.
    pub fn width_cm(&self) -> f64 {
        (self.area_cm2 * self.aspect_ratio).sqrt()
    }

    /// Height of the stand-in rectangle, in cm.
    pub fn height_cm(&self) -> f64 {
        (self.area_cm2 / self.aspect_ratio).sqrt()
    }
}

/// Every zone's geometry, with the user's measurements applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceModel {
    pub zones: Vec<ZoneGeometry>,
}

impl Default for FaceModel {
    fn default() -> Self {
        Self {
            zones: Zone::ALL
                .into_iter()
                .map(ZoneGeometry::default_for)
                .collect(),
        }
    }
}

impl FaceModel {
    /// The default model with measured areas (cm²) for some zones.
    pub fn with_measured_areas(measured: &BTreeMap<Zone, f64>) -> Result<Self, CoverageError> {
        let zones = Zone::ALL
            .into_iter()
            .map(|zone| {
                let g = ZoneGeometry::default_for(zone);
                match measured.get(&zone) {
                    Some(&a) => g.with_measured_area(a),
                    None => Ok(g),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { zones })
    }

    /// The geometry of one zone.
    pub fn zone(&self, zone: Zone) -> ZoneGeometry {
        self.zones
            .iter()
            .copied()
            .find(|g| g.zone == zone)
            .unwrap_or_else(|| ZoneGeometry::default_for(zone))
    }

    /// Total area of all zones, in cm².
    pub fn total_area_cm2(&self) -> f64 {
        self.zones.iter().map(|g| g.area_cm2).sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_notes() {
        let face = FaceModel::default();
        assert_eq!(face.zones.len(), 9);
        assert_eq!(face.zone(Zone::Forehead).area_cm2, 65.0);
        assert_eq!(face.zone(Zone::PeriorbitalRight).area_cm2, 8.0);
        assert_eq!(face.zone(Zone::Neck).stroke_length_cm, 8.0);
        // 65 + 2×50 + 18 + 18 + 9 + 2×8 + 150
        assert!((face.total_area_cm2() - 376.0).abs() < 1e-9);
        for g in &face.zones {
            assert!((g.width_cm() * g.height_cm() - g.area_cm2).abs() < 1e-9);
        }
    }

    #[test]
    fn measured_area_overrides() {
        let mut m = BTreeMap::new();
        m.insert(Zone::Forehead, 80.0);
        let face = FaceModel::with_measured_areas(&m).unwrap();
        let f = face.zone(Zone::Forehead);
        assert_eq!(f.area_cm2, 80.0);
        assert_eq!(f.area_source, AreaSource::Measured);
        assert_eq!(
            face.zone(Zone::Nose).area_source,
            AreaSource::DefaultEstimate
        );
        m.insert(Zone::Nose, -1.0);
        let err = FaceModel::with_measured_areas(&m).unwrap_err();
        assert!(err.to_string().contains("area_cm2"));
        // A tiny measured zone caps the stroke length at its longer side.
        let tiny = ZoneGeometry::default_for(Zone::Neck)
            .with_measured_area(4.0)
            .unwrap();
        assert!(tiny.stroke_length_cm <= tiny.width_cm().max(tiny.height_cm()) + 1e-12);
    }
}
