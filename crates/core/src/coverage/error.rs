//! The one error type of the coverage module. Every variant names the field
//! that was wrong, so a form or the CLI can point at it.

/// An input the coverage model cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoverageError {
    /// A number that must be finite was NaN or infinite.
    #[error("{field} must be a finite number, got {value}")]
    NotFinite { field: &'static str, value: f64 },
    /// A number outside its accepted range.
    #[error("{field} must be between {min} and {max} {unit}, got {value}")]
    OutOfRange {
        field: &'static str,
        value: f64,
        min: f64,
        max: f64,
        unit: &'static str,
    },
    /// A count outside its accepted range.
    #[error("{field} must be between {min} and {max}, got {value}")]
    CountOutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    /// The model spreads needles evenly over the rings, so the rings must
    /// hold the same whole number of needles each.
    #[error(
        "needles ({needles}) must be a whole multiple of rings ({rings}): the model assumes every ring holds the same number of needles"
    )]
    NeedlesNotMultipleOfRings { needles: u32, rings: u32 },
    /// The needle is as wide as the gap between neighbouring needles.
    #[error(
        "needle_diameter_mm ({needle_diameter_mm} mm) must be smaller than the needle pitch ({pitch_mm:.3} mm along the track, {ring_spacing_mm:.3} mm between rings)"
    )]
    NeedleWiderThanPitch {
        needle_diameter_mm: f64,
        pitch_mm: f64,
        ring_spacing_mm: f64,
    },
    /// The lower end of a band is above its upper end.
    #[error("{field}: the minimum ({min}) must not exceed the maximum ({max})")]
    InvertedBand {
        field: &'static str,
        min: f64,
        max: f64,
    },
    /// A simulation raster would be too large to hold.
    #[error(
        "the simulation raster would have {cells} cells; at most {max_cells} are allowed (use a coarser cell_mm or a smaller area)"
    )]
    RasterTooLarge { cells: u64, max_cells: u64 },
    /// The Monte Carlo simulator models rollers only.
    #[error("the Monte Carlo simulator models rollers only; pens are planned analytically")]
    SimulationNeedsRoller,
}

/// Checks that `value` is finite and within `[min, max]`.
pub(crate) fn check_range(
    field: &'static str,
    value: f64,
    min: f64,
    max: f64,
    unit: &'static str,
) -> Result<f64, CoverageError> {
    if !value.is_finite() {
        return Err(CoverageError::NotFinite { field, value });
    }
    if value < min || value > max {
        return Err(CoverageError::OutOfRange {
            field,
            value,
            min,
            max,
            unit,
        });
    }
    Ok(value)
}

/// Checks that `value` is finite, strictly positive and at most `max`.
pub(crate) fn check_positive(
    field: &'static str,
    value: f64,
    max: f64,
    unit: &'static str,
) -> Result<f64, CoverageError> {
    let v = check_range(field, value, 0.0, max, unit)?;
    if v <= 0.0 {
        return Err(CoverageError::OutOfRange {
            field,
            value,
            min: 0.0,
            max,
            unit,
        });
    }
    Ok(v)
}

/// Checks an integer count.
pub(crate) fn check_count(
    field: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<u64, CoverageError> {
    if value < min || value > max {
        return Err(CoverageError::CountOutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(value)
}
