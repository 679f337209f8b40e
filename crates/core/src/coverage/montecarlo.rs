//! A seeded Monte Carlo simulator of roller strokes over a zone.
//!
//! Model (\[derived\]; see `docs/coverage.md`):
//! - the zone is a rectangle of the zone's area (see [`super::face`]);
//! - a session is `passes` *layers*; each layer tiles the whole rectangle
//!   once with side-by-side strokes W apart, so every point is swept once
//!   per layer and the expected density is `passes × ρ₁`;
//! - layers are spread round-robin over up to four directions
//!   (horizontal, vertical, and the two diagonals), each with an optional
//!   angular jitter;
//! - one stroke lays its punctures on R parallel lines s = W/R apart, p = C/n
//!   apart along each line, with a random phase (the drum's angle at
//!   touch-down); the rings are assumed aligned (no stagger);
//! - the lateral position of each layer is uniform at random
//!   ([`OffsetMode::Random`], "lift and re-place somewhere new"), Gaussian
//!   around a per-direction track ([`OffsetMode::Jitter`]), or identical
//!   within a direction ([`OffsetMode::Retrace`]);
//! - with η < 1, each contact perforates with probability η.
//!
//! Punctures are counted straight into a flat `Vec<u32>` raster; a second,
//! coarse raster collects the counts per analysis cell, and a byte mask
//! marks the cells within the coverage radius of a puncture. Punctures are
//! also generated in a margin of one coverage radius around the rectangle so
//! that coverage near the border is not underestimated; only those inside
//! are counted as density.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

use serde::{Deserialize, Serialize};

use super::analytic::{MM2_PER_CM2, coverage_random_offsets, coverage_retraced, poisson_cv_bound};
use super::error::{CoverageError, check_positive, check_range};
use super::geometry::Roller;
use super::rng::{Rng, splitmix64};

/// The largest raster the simulator allocates: 40 million cells
/// (160 MB of counts). A whole face at 0.1 mm is under 4 million.
pub const MAX_CELLS: u64 = 40_000_000;

/// Under-treated: an analysis cell below this share of the mean.
pub const UNDER_TREATED_SHARE: f64 = 0.5;
/// Over-treated: an analysis cell above this multiple of the mean.
pub const OVER_TREATED_MULTIPLE: f64 = 2.0;

/// A rolling direction, as the user sees the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Left to right (0°).
    Horizontal,
    /// Up and down (90°).
    Vertical,
    /// Lower left to upper right (45°).
    DiagonalRising,
    /// Upper left to lower right (135°).
    DiagonalFalling,
}

impl Direction {
    /// The order in which directions are added: two perpendicular, then the
    /// two diagonals (0°, 90°, 45°, 135°).
    pub const ORDER: [Direction; 4] = [
        Direction::Horizontal,
        Direction::Vertical,
        Direction::DiagonalRising,
        Direction::DiagonalFalling,
    ];

    /// Angle from the horizontal, in radians.
    pub fn angle_rad(self) -> f64 {
        match self {
            Direction::Horizontal => 0.0,
            Direction::Vertical => FRAC_PI_2,
            Direction::DiagonalRising => FRAC_PI_4,
            Direction::DiagonalFalling => 3.0 * FRAC_PI_4,
        }
    }

    /// The first `k` directions of [`Direction::ORDER`] (1 to 4).
    pub fn first(k: u32) -> &'static [Direction] {
        let k = usize::try_from(k.clamp(1, 4)).unwrap_or(4);
        &Self::ORDER[..k]
    }
}

/// How the lateral position of successive layers is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum OffsetMode {
    /// Uniform at random for every layer (the user lifts and re-places the
    /// roller somewhere new).
    Random,
    /// Gaussian with standard deviation `sigma_mm` around one track per
    /// direction.
    Jitter { sigma_mm: f64 },
    /// The same track for every layer of a direction.
    Retrace,
}

/// Settings of one simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulationSettings {
    /// The seed: the same seed gives the same raster.
    pub seed: u64,
    /// Raster cell side, in mm.
    pub cell_mm: f64,
    /// Side of the square cells over which CV and under/over-treatment are
    /// computed, in mm (2 mm by default: at 250 /cm² a cell then holds about 10 punctures).
    pub analysis_cell_mm: f64,
    /// Coverage radius r ("influence radius"), in mm; 0 turns coverage off.
    /// No validated biological radius exists; 0.5 mm is a product default.
    pub coverage_radius_mm: f64,
    pub offset_mode: OffsetMode,
    /// Largest angular error of a stroke direction, in radians (uniform in
    /// ±this). 0.1 rad by default.
    pub direction_jitter_rad: f64,
}

impl Default for SimulationSettings {
    fn default() -> Self {
        Self {
            seed: 0x6e65_6564_6c65, // "needle"
            cell_mm: 0.1,
            analysis_cell_mm: 2.0,
            coverage_radius_mm: 0.5,
            offset_mode: OffsetMode::Random,
            direction_jitter_rad: 0.1,
        }
    }
}

impl SimulationSettings {
    /// Checks the settings' fields.
    pub fn validate(&self) -> Result<(), CoverageError> {
        check_range("cell_mm", self.cell_mm, 0.01, 5.0, "mm")?;
        check_range(
            "analysis_cell_mm",
            self.analysis_cell_mm,
            self.cell_mm,
            100.0,
            "mm",
        )?;
        // At most 100 cells across the radius keeps the disc table small.
        check_range(
            "coverage_radius_mm",
            self.coverage_radius_mm,
            0.0,
            (100.0 * self.cell_mm).min(10.0),
            "mm",
        )?;
        check_range(
            "direction_jitter_rad",
            self.direction_jitter_rad,
            0.0,
            FRAC_PI_4,
            "rad",
        )?;
        if let OffsetMode::Jitter { sigma_mm } = self.offset_mode {
            check_range("offset_mode.sigma_mm", sigma_mm, 0.0, 100.0, "mm")?;
        }
        Ok(())
    }
}

/// A density raster: puncture counts per square cell, row-major, row 0 at
/// the top of the zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    width_cells: usize,
    height_cells: usize,
    cell_mm: f64,
    counts: Vec<u32>,
}

impl Raster {
    /// An empty raster.
    pub fn new(
        width_cells: usize,
        height_cells: usize,
        cell_mm: f64,
    ) -> Result<Self, CoverageError> {
        check_range("cell_mm", cell_mm, 0.001, 100.0, "mm")?;
        let cells = cell_count(width_cells, height_cells)?;
        Ok(Self {
            width_cells: width_cells.max(1),
            height_cells: height_cells.max(1),
            cell_mm,
            counts: vec![0; cells],
        })
    }

    /// A raster from existing counts (row-major).
    pub fn from_counts(
        width_cells: usize,
        height_cells: usize,
        cell_mm: f64,
        counts: Vec<u32>,
    ) -> Result<Self, CoverageError> {
        check_range("cell_mm", cell_mm, 0.001, 100.0, "mm")?;
        let cells = cell_count(width_cells, height_cells)?;
        if counts.len() != cells {
            return Err(CoverageError::CountOutOfRange {
                field: "counts.len",
                value: u64::try_from(counts.len()).unwrap_or(u64::MAX),
                min: cells as u64,
                max: cells as u64,
            });
        }
        Ok(Self {
            width_cells,
            height_cells,
            cell_mm,
            counts,
        })
    }

    pub fn width_cells(&self) -> usize {
        self.width_cells
    }

    pub fn height_cells(&self) -> usize {
        self.height_cells
    }

    /// Cell side, in mm.
    pub fn cell_mm(&self) -> f64 {
        self.cell_mm
    }

    /// Width of the raster, in mm.
    pub fn width_mm(&self) -> f64 {
        self.width_cells as f64 * self.cell_mm
    }

    /// Height of the raster, in mm.
    pub fn height_mm(&self) -> f64 {
        self.height_cells as f64 * self.cell_mm
    }

    /// Area of the raster, in cm².
    pub fn area_cm2(&self) -> f64 {
        self.width_mm() * self.height_mm() / MM2_PER_CM2
    }

    /// The counts, row-major.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// The count of one cell, or `None` outside the raster.
    pub fn count(&self, x: usize, y: usize) -> Option<u32> {
        if x < self.width_cells && y < self.height_cells {
            self.counts.get(y * self.width_cells + x).copied()
        } else {
            None
        }
    }

    /// All punctures in the raster.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// Mean density over the raster, per cm².
    pub fn mean_density_per_cm2(&self) -> f64 {
        let area = self.area_cm2();
        if area > 0.0 {
            self.total() as f64 / area
        } else {
            0.0
        }
    }
}

fn cell_count(width_cells: usize, height_cells: usize) -> Result<usize, CoverageError> {
    let cells = (width_cells as u64).saturating_mul(height_cells as u64);
    if cells == 0 || cells > MAX_CELLS {
        return Err(CoverageError::RasterTooLarge {
            cells,
            max_cells: MAX_CELLS,
        });
    }
    usize::try_from(cells).map_err(|_| CoverageError::RasterTooLarge {
        cells,
        max_cells: MAX_CELLS,
    })
}

/// What one simulation asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulationInput<'a> {
    pub roller: &'a Roller,
    /// Width and height of the zone's rectangle, in mm.
    pub width_mm: f64,
    pub height_mm: f64,
    /// Layers (passes per point), at least 1.
    pub passes: u32,
    /// Directions used, 1 to 4, in [`Direction::ORDER`].
    pub directions: u32,
    pub settings: &'a SimulationSettings,
}

/// Figures from one simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationSummary {
    /// The seed this simulation used. In a report each zone runs on a seed
    /// derived from the request's seed and the zone ([`derive_seed`]).
    pub seed: u64,
    pub cell_mm: f64,
    pub width_mm: f64,
    pub height_mm: f64,
    pub passes: u32,
    pub directions: Vec<Direction>,
    pub offset_mode: OffsetMode,
    /// Punctures inside the rectangle.
    pub punctures: u64,
    pub mean_density_per_cm2: f64,
    /// passes × ρ₁: the analytic expectation.
    pub analytic_density_per_cm2: f64,
    pub analysis_cell_mm: f64,
    /// Coefficient of variation of counts per analysis cell (only whole
    /// analysis cells inside the rectangle are used).
    pub cv: f64,
    /// The Poisson bound 1/√(ρ·a_c) at the simulated mean.
    pub poisson_cv_bound: f64,
    /// Share of analysis cells below 0.5 × the mean.
    pub under_treated_fraction: f64,
    /// Share of analysis cells above 2 × the mean.
    pub over_treated_fraction: f64,
    pub coverage_radius_mm: f64,
    /// Share of raster cells whose centre lies within the coverage radius of
    /// a puncture (`None` when the radius is 0).
    pub coverage_fraction: Option<f64>,
    /// 1 − (1 − ρ₁πr²)^m, the random-offset formula.
    pub analytic_coverage_random: f64,
    /// 1 − (1 − 2r/s)^k, the retrace asymptote.
    pub analytic_coverage_retraced: f64,
    /// Side of the largest axis-aligned square of raster cells with no
    /// puncture, in mm: the "largest gap". The largest empty disc has a
    /// radius between half this side and this side over √2.
    pub largest_gap_square_mm: f64,
}

/// A simulated raster and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub raster: Raster,
    pub summary: SimulationSummary,
}

/// Derives an independent seed for sub-simulation `index` (e.g. a zone).
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut s = seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    splitmix64(&mut s)
}

/// Runs one simulation.
pub fn simulate(input: &SimulationInput<'_>) -> Result<Simulation, CoverageError> {
    let roller = input.roller;
    let settings = input.settings;
    roller.validate()?;
    settings.validate()?;
    check_positive("width_mm", input.width_mm, 10_000.0, "mm")?;
    check_positive("height_mm", input.height_mm, 10_000.0, "mm")?;
    super::error::check_count("passes", u64::from(input.passes), 1, 10_000)?;
    super::error::check_count("directions", u64::from(input.directions), 1, 4)?;

    let cell = settings.cell_mm;
    let w = cells_along(input.width_mm, cell);
    let h = cells_along(input.height_mm, cell);
    let cells = cell_count(w, h)?;
    let ac = settings.analysis_cell_mm;
    let width_mm = w as f64 * cell;
    let height_mm = h as f64 * cell;
    let cw = (width_mm / ac + 1e-9).floor().max(0.0) as usize;
    let ch = (height_mm / ac + 1e-9).floor().max(0.0) as usize;

    let mut acc = Accumulator {
        w,
        h,
        inv_cell: 1.0 / cell,
        counts: vec![0u32; cells],
        coarse_w: cw,
        coarse_h: ch,
        inv_ac: 1.0 / ac,
        coarse: vec![0u32; cw.saturating_mul(ch)],
        disc: DiscTable::new(settings.coverage_radius_mm, cell),
        words_per_row: w.div_ceil(64),
        covered: if settings.coverage_radius_mm > 0.0 {
            vec![0u64; w.div_ceil(64).saturating_mul(h)]
        } else {
            Vec::new()
        },
        punctures: 0,
    };

    let directions = Direction::first(input.directions);
    let mut rng = Rng::new(settings.seed);
    let drum_w = roller.drum_width_mm;
    let tracks: Vec<(f64, f64)> = directions
        .iter()
        .map(|_| {
            (
                rng.uniform(0.0, drum_w),
                rng.uniform(
                    -settings.direction_jitter_rad,
                    settings.direction_jitter_rad,
                ),
            )
        })
        .collect();
    let margin = settings.coverage_radius_mm;
    let bounds = Bounds {
        x0: -margin,
        y0: -margin,
        x1: width_mm + margin,
        y1: height_mm + margin,
    };
    let eta = roller.perforation_efficiency;

    for layer in 0..input.passes {
        let d = (layer as usize) % directions.len();
        let (track, track_angle) = tracks.get(d).copied().unwrap_or((0.0, 0.0));
        let base = directions.get(d).map_or(0.0, |dir| dir.angle_rad());
        let (offset, angle) = match settings.offset_mode {
            OffsetMode::Random => (
                rng.uniform(0.0, drum_w),
                base + rng.uniform(
                    -settings.direction_jitter_rad,
                    settings.direction_jitter_rad,
                ),
            ),
            OffsetMode::Jitter { sigma_mm } => (
                (track + sigma_mm * rng.normal()).rem_euclid(drum_w),
                base + track_angle,
            ),
            OffsetMode::Retrace => (track, base + track_angle),
        };
        lay_layer(roller, &bounds, angle, offset, eta, &mut rng, &mut acc);
    }

    Ok(summarise(input, acc, width_mm, height_mm, directions))
}

fn cells_along(length_mm: f64, cell_mm: f64) -> usize {
    let n = (length_mm / cell_mm).round();
    if n.is_finite() && n >= 1.0 {
        // Saturating cast; the cell-count check rejects huge rasters.
        n as usize
    } else {
        1
    }
}

/// The rectangle in which punctures are generated (the raster plus a
/// margin), in mm.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

struct Accumulator {
    w: usize,
    h: usize,
    inv_cell: f64,
    counts: Vec<u32>,
    coarse_w: usize,
    coarse_h: usize,
    inv_ac: f64,
    coarse: Vec<u32>,
    disc: DiscTable,
    /// One bit per raster cell, rows padded to whole 64-bit words.
    words_per_row: usize,
    covered: Vec<u64>,
    punctures: u64,
}

impl Accumulator {
    #[inline]
    fn hit(&mut self, x: f64, y: f64) {
        if x >= 0.0 && y >= 0.0 {
            let ix = (x * self.inv_cell) as usize;
            let iy = (y * self.inv_cell) as usize;
            if ix < self.w && iy < self.h {
                if let Some(c) = self.counts.get_mut(iy * self.w + ix) {
                    *c += 1;
                    self.punctures += 1;
                }
                let bx = (x * self.inv_ac) as usize;
                let by = (y * self.inv_ac) as usize;
                if bx < self.coarse_w && by < self.coarse_h {
                    if let Some(c) = self.coarse.get_mut(by * self.coarse_w + bx) {
                        *c += 1;
                    }
                }
            }
        }
        if !self.covered.is_empty() {
            self.stamp(x, y);
        }
    }

    /// Marks every cell whose centre lies within `radius` of (x, y), using
    /// the precomputed disc spans for the puncture's sub-cell position.
    #[inline]
    fn stamp(&mut self, x: f64, y: f64) {
        let u = x * self.inv_cell;
        let v = y * self.inv_cell;
        let (cx, cy) = (floor_i64(u), floor_i64(v));
        let qx = sub_index(u - cx as f64);
        let qy = sub_index(v - cy as f64);
        let Some(spans) = self.disc.spans.get(qy * DISC_SUB + qx) else {
            return;
        };
        let (w, h) = (self.w as i64, self.h as i64);
        for &(dy, dc0, dc1) in spans {
            let row = cy + i64::from(dy);
            if row < 0 || row >= h {
                continue;
            }
            let c0 = (cx + i64::from(dc0)).max(0);
            let c1 = (cx + i64::from(dc1)).min(w - 1);
            if c0 <= c1 {
                // All three are within the raster here, so the casts are exact.
                set_bits(
                    &mut self.covered,
                    row as usize * self.words_per_row,
                    c0 as usize,
                    c1 as usize,
                );
            }
        }
    }
}

/// Sub-cell positions per axis in the disc table: a puncture is placed at
/// the centre of its 1/16-cell sub-square, an error of at most 1/32 cell
/// (0.003 mm on a 0.1 mm raster) that does not bias coverage.
const DISC_SUB: usize = 16;

#[inline]
fn sub_index(frac: f64) -> usize {
    ((frac * DISC_SUB as f64) as usize).min(DISC_SUB - 1)
}

/// For each sub-cell position of a puncture, the rows and column spans of
/// the cells whose centres lie within the radius, relative to the
/// puncture's cell: (row offset, first column offset, last column offset).
struct DiscTable {
    spans: Vec<Vec<(i32, i32, i32)>>,
}

impl DiscTable {
    fn new(radius_mm: f64, cell_mm: f64) -> Self {
        if radius_mm <= 0.0 || cell_mm <= 0.0 {
            return Self { spans: Vec::new() };
        }
        let rc = radius_mm / cell_mm;
        let reach = rc.ceil() as i32 + 1;
        let mut spans = Vec::with_capacity(DISC_SUB * DISC_SUB);
        for qy in 0..DISC_SUB {
            for qx in 0..DISC_SUB {
                let fy = (qy as f64 + 0.5) / DISC_SUB as f64;
                let fx = (qx as f64 + 0.5) / DISC_SUB as f64;
                let mut rows = Vec::new();
                for dy in -reach..=reach {
                    let vy = f64::from(dy) + 0.5 - fy;
                    let rest = rc * rc - vy * vy;
                    if rest < 0.0 {
                        continue;
                    }
                    let half = rest.sqrt();
                    let c0 = ceil_i64(fx - half - 0.5);
                    let c1 = floor_i64(fx + half - 0.5);
                    if c0 <= c1 {
                        rows.push((dy, c0 as i32, c1 as i32));
                    }
                }
                spans.push(rows);
            }
        }
        Self { spans }
    }
}

/// Sets bits `c0..=c1` of the bit row starting at word `base`.
#[inline]
fn set_bits(words: &mut [u64], base: usize, c0: usize, c1: usize) {
    let (w0, w1) = (c0 / 64, c1 / 64);
    let lo = u64::MAX << (c0 % 64);
    let hi = u64::MAX >> (63 - c1 % 64);
    if w0 == w1 {
        if let Some(word) = words.get_mut(base + w0) {
            *word |= lo & hi;
        }
        return;
    }
    if let Some(word) = words.get_mut(base + w0) {
        *word |= lo;
    }
    for i in w0 + 1..w1 {
        if let Some(word) = words.get_mut(base + i) {
            *word = u64::MAX;
        }
    }
    if let Some(word) = words.get_mut(base + w1) {
        *word |= hi;
    }
}

/// ⌊v⌋ as an integer, without a libm call; saturates for huge values.
#[inline]
fn floor_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v { t - 1 } else { t }
}

/// ⌈v⌉ as an integer, without a libm call; saturates for huge values.
#[inline]
fn ceil_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) < v { t + 1 } else { t }
}

/// The parameter range [t0, t1] for which o + t·e stays inside `b`.
fn clip_line(ox: f64, oy: f64, ex: f64, ey: f64, b: &Bounds) -> Option<(f64, f64)> {
    let mut t0 = f64::NEG_INFINITY;
    let mut t1 = f64::INFINITY;
    for (o, e, lo, hi) in [(ox, ex, b.x0, b.x1), (oy, ey, b.y0, b.y1)] {
        if e.abs() < 1e-12 {
            if o < lo || o > hi {
                return None;
            }
        } else {
            let a = (lo - o) / e;
            let c = (hi - o) / e;
            t0 = t0.max(a.min(c));
            t1 = t1.min(a.max(c));
        }
    }
    (t0 <= t1).then_some((t0, t1))
}

/// One layer: strokes W apart tiling the bounds in direction `angle`, the
/// first band starting `offset_mm` before the lowest lateral coordinate.
fn lay_layer(
    roller: &Roller,
    b: &Bounds,
    angle: f64,
    offset_mm: f64,
    eta: f64,
    rng: &mut Rng,
    acc: &mut Accumulator,
) {
    let (sin, cos) = angle.sin_cos();
    let (ex, ey) = (cos, sin);
    let (nx, ny) = (-sin, cos);
    let corners = [(b.x0, b.y0), (b.x1, b.y0), (b.x0, b.y1), (b.x1, b.y1)];
    let mut n_lo = f64::INFINITY;
    let mut n_hi = f64::NEG_INFINITY;
    let mut e_lo = f64::INFINITY;
    for (cx, cy) in corners {
        let n = cx * nx + cy * ny;
        n_lo = n_lo.min(n);
        n_hi = n_hi.max(n);
        e_lo = e_lo.min(cx * ex + cy * ey);
    }
    let drum_w = roller.drum_width_mm;
    let s = roller.ring_spacing_mm();
    let p = roller.along_track_pitch_mm();
    let rings = roller.rings;
    let first_band = n_lo - offset_mm;
    let bands = ((n_hi - first_band) / drum_w).ceil().max(0.0) as u64;
    for band in 0..bands {
        let phase = rng.uniform(0.0, p);
        let band_lo = first_band + band as f64 * drum_w;
        for ring in 0..rings {
            let lateral = band_lo + (f64::from(ring) + 0.5) * s;
            if lateral < n_lo || lateral > n_hi {
                continue;
            }
            let (ox, oy) = (lateral * nx, lateral * ny);
            let Some((t0, t1)) = clip_line(ox, oy, ex, ey, b) else {
                continue;
            };
            let start = e_lo + phase;
            let k0 = ((t0 - start) / p).ceil();
            let k1 = ((t1 - start) / p).floor();
            if k0 > k1 {
                continue;
            }
            let mut t = start + k0 * p;
            let steps = (k1 - k0) as u64 + 1;
            for _ in 0..steps {
                if eta >= 1.0 || rng.next_f64() < eta {
                    acc.hit(ox + t * ex, oy + t * ey);
                }
                t += p;
            }
        }
    }
}

fn summarise(
    input: &SimulationInput<'_>,
    acc: Accumulator,
    width_mm: f64,
    height_mm: f64,
    directions: &[Direction],
) -> Simulation {
    let roller = input.roller;
    let settings = input.settings;
    let area_cm2 = width_mm * height_mm / MM2_PER_CM2;
    let mean_density = acc.punctures as f64 / area_cm2;
    let rho1 = roller.single_pass_density_per_cm2();
    let m = f64::from(input.passes);

    let (cv, under, over) = uniformity(&acc.coarse);
    let coverage_fraction = (!acc.covered.is_empty()).then(|| {
        let set: u64 = acc.covered.iter().map(|w| u64::from(w.count_ones())).sum();
        set as f64 / (acc.w * acc.h) as f64
    });
    let gap_cells = largest_empty_square_cells(&acc.counts, acc.w);
    let r = settings.coverage_radius_mm;

    let summary = SimulationSummary {
        seed: settings.seed,
        cell_mm: settings.cell_mm,
        width_mm,
        height_mm,
        passes: input.passes,
        directions: directions.to_vec(),
        offset_mode: settings.offset_mode,
        punctures: acc.punctures,
        mean_density_per_cm2: mean_density,
        analytic_density_per_cm2: m * rho1,
        analysis_cell_mm: settings.analysis_cell_mm,
        cv,
        poisson_cv_bound: poisson_cv_bound(mean_density, settings.analysis_cell_mm),
        under_treated_fraction: under,
        over_treated_fraction: over,
        coverage_radius_mm: r,
        coverage_fraction,
        analytic_coverage_random: coverage_random_offsets(rho1, r, m),
        analytic_coverage_retraced: coverage_retraced(
            r,
            roller.ring_spacing_mm(),
            u32::try_from(directions.len()).unwrap_or(4),
        ),
        largest_gap_square_mm: gap_cells as f64 * settings.cell_mm,
    };
    let raster = Raster {
        width_cells: acc.w,
        height_cells: acc.h,
        cell_mm: settings.cell_mm,
        counts: acc.counts,
    };
    Simulation { raster, summary }
}

/// CV, under-treated share and over-treated share of a set of cell counts.
fn uniformity(cells: &[u32]) -> (f64, f64, f64) {
    if cells.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = cells.len() as f64;
    let mean = cells.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    if mean <= 0.0 {
        return (0.0, 1.0, 0.0);
    }
    let var = cells
        .iter()
        .map(|&c| (f64::from(c) - mean).powi(2))
        .sum::<f64>()
        / n;
    let under = cells
        .iter()
        .filter(|&&c| f64::from(c) < UNDER_TREATED_SHARE * mean)
        .count() as f64
        / n;
    let over = cells
        .iter()
        .filter(|&&c| f64::from(c) > OVER_TREATED_MULTIPLE * mean)
        .count() as f64
        / n;
    (var.sqrt() / mean, under, over)
}

/// Side, in cells, of the largest axis-aligned square of zero cells.
///
/// Row by row, each column keeps the height of its run of zero cells
/// ending at this row. A square of side S ending at a row implies one of
/// side S − 1 ending at the row above, so the best side grows by at most
/// one per row: each row only has to answer "is there a run of best + 1
/// columns whose heights are all at least best + 1?". That test runs on a
/// packed bit row with shifted ANDs, so the per-cell work is a compare and
/// a bit pack, which the compiler vectorises.
fn largest_empty_square_cells(counts: &[u32], w: usize) -> u32 {
    if w == 0 {
        return 0;
    }
    let words = w.div_ceil(64);
    let mut heights = vec![0u32; w];
    let mut bits = vec![0u64; words];
    let mut tmp = vec![0u64; words];
    let mut best = 0u32;
    for row in counts.chunks_exact(w) {
        for (h, &c) in heights.iter_mut().zip(row) {
            *h = if c == 0 { *h + 1 } else { 0 };
        }
        let want = best + 1;
        for (word, chunk) in bits.iter_mut().zip(heights.chunks(64)) {
            let mut b = 0u64;
            for (i, &h) in chunk.iter().enumerate() {
                b |= u64::from(h >= want) << i;
            }
            *word = b;
        }
        if has_run(
            &mut bits,
            &mut tmp,
            usize::try_from(want).unwrap_or(usize::MAX),
        ) {
            best = want;
        }
    }
    best
}

/// Whether the bit row holds `len` consecutive set bits. Destroys `bits`.
fn has_run(bits: &mut [u64], tmp: &mut [u64], len: usize) -> bool {
    // Invariant: bit x is set iff bits x .. x + cur were all set.
    let mut cur = 1;
    while cur < len {
        if bits.iter().all(|&b| b == 0) {
            return false;
        }
        let step = cur.min(len - cur);
        shift_down(bits, step, tmp);
        for (b, t) in bits.iter_mut().zip(tmp.iter()) {
            *b &= *t;
        }
        cur += step;
    }
    bits.iter().any(|&b| b != 0)
}

/// `dst` bit x = `src` bit x + k (zero past the end).
fn shift_down(src: &[u64], k: usize, dst: &mut [u64]) {
    let (q, r) = (k / 64, k % 64);
    for (i, d) in dst.iter_mut().enumerate() {
        let lo = src.get(i + q).copied().unwrap_or(0);
        let hi = src.get(i + q + 1).copied().unwrap_or(0);
        *d = if r == 0 {
            lo
        } else {
            (lo >> r) | (hi << (64 - r))
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn run(
        roller: &Roller,
        passes: u32,
        dirs: u32,
        settings: &SimulationSettings,
        side_mm: f64,
    ) -> Simulation {
        simulate(&SimulationInput {
            roller,
            width_mm: side_mm,
            height_mm: side_mm,
            passes,
            directions: dirs,
            settings,
        })
        .unwrap()
    }

    #[test]
    fn density_matches_analytic_mean_within_3_percent() {
        let r = Roller::standard_192(0.5);
        for (passes, dirs, seed) in [(17, 4, 1), (15, 4, 2), (10, 2, 3), (5, 1, 4)] {
            let settings = SimulationSettings {
                seed,
                ..Default::default()
            };
            let sim = run(&r, passes, dirs, &settings, 60.0);
            let s = &sim.summary;
            let rel = (s.mean_density_per_cm2 / s.analytic_density_per_cm2 - 1.0).abs();
            assert!(
                rel < 0.03,
                "passes {passes}: {} vs {}",
                s.mean_density_per_cm2,
                s.analytic_density_per_cm2
            );
            assert_eq!(sim.raster.total(), s.punctures);
            assert!((sim.raster.mean_density_per_cm2() - s.mean_density_per_cm2).abs() < 1e-9);
        }
    }

    #[test]
    fn random_offset_coverage_matches_formula() {
        let r = Roller::standard_192(0.5);
        for (m, seed) in [(5, 11), (10, 12), (15, 13), (20, 14)] {
            let settings = SimulationSettings {
                seed,
                cell_mm: 0.05,
                ..Default::default()
            };
            let sim = run(&r, m, 4, &settings, 30.0);
            let s = &sim.summary;
            let got = s.coverage_fraction.unwrap();
            assert!(
                (got - s.analytic_coverage_random).abs() < 0.05,
                "m {m}: MC {got} vs formula {}",
                s.analytic_coverage_random
            );
        }
    }

    #[test]
    fn retraced_coverage_approaches_asymptote() {
        let r = Roller::standard_192(0.5);
        for k in 1..=4u32 {
            let settings = SimulationSettings {
                seed: 100 + u64::from(k),
                cell_mm: 0.05,
                offset_mode: OffsetMode::Retrace,
                ..Default::default()
            };
            let sim = run(&r, 30 * k, k, &settings, 30.0);
            let s = &sim.summary;
            let got = s.coverage_fraction.unwrap();
            let want = coverage_retraced(0.5, r.ring_spacing_mm(), k);
            assert!(
                (got - want).abs() < 0.06,
                "k {k}: MC {got} vs asymptote {want}"
            );
            // Retracing stays well below the random-offset coverage.
            assert!(got < s.analytic_coverage_random);
        }
    }

    #[test]
    fn retracing_is_less_uniform_than_random_offsets() {
        let r = Roller::standard_192(0.5);
        let random = run(
            &r,
            15,
            4,
            &SimulationSettings {
                seed: 5,
                ..Default::default()
            },
            40.0,
        );
        let retrace = run(
            &r,
            15,
            1,
            &SimulationSettings {
                seed: 5,
                offset_mode: OffsetMode::Retrace,
                direction_jitter_rad: 0.0,
                ..Default::default()
            },
            40.0,
        );
        assert!(
            random.summary.cv < random.summary.poisson_cv_bound,
            "random cv {}",
            random.summary.cv
        );
        assert!(retrace.summary.cv > random.summary.cv);
        assert!(retrace.summary.largest_gap_square_mm > random.summary.largest_gap_square_mm);
        let jitter = run(
            &r,
            15,
            4,
            &SimulationSettings {
                seed: 5,
                offset_mode: OffsetMode::Jitter { sigma_mm: 0.5 },
                ..Default::default()
            },
            40.0,
        );
        assert!(jitter.summary.punctures > 0);
    }

    #[test]
    fn same_seed_same_raster() {
        let r = Roller::standard_192(0.5);
        let settings = SimulationSettings {
            seed: 9,
            cell_mm: 0.2,
            ..Default::default()
        };
        let a = run(&r, 6, 3, &settings, 25.0);
        let b = run(&r, 6, 3, &settings, 25.0);
        assert_eq!(a, b);
        let c = run(
            &r,
            6,
            3,
            &SimulationSettings {
                seed: 10,
                ..settings
            },
            25.0,
        );
        assert_ne!(a.raster, c.raster);
    }

    #[test]
    fn efficiency_thins_the_punctures() {
        let r = Roller {
            perforation_efficiency: 0.5,
            ..Roller::standard_192(0.5)
        };
        let sim = run(&r, 10, 2, &SimulationSettings::default(), 50.0);
        let s = &sim.summary;
        assert!((s.mean_density_per_cm2 / s.analytic_density_per_cm2 - 1.0).abs() < 0.05);
    }

    #[test]
    fn largest_empty_square() {
        let w = 5;
        #[rustfmt::skip]
        let counts = vec![
            1, 0, 0, 0, 1,
            0, 0, 0, 0, 0,
            0, 0, 0, 0, 1,
            1, 0, 0, 0, 0,
        ];
        assert_eq!(largest_empty_square_cells(&counts, w), 3);
        assert_eq!(largest_empty_square_cells(&[1, 1, 1, 1], 2), 0);
        assert_eq!(largest_empty_square_cells(&[0; 12], 4), 3);
        // Cross-check against brute force on random grids, including rows
        // wider than one 64-bit word.
        let mut rng = Rng::new(77);
        for (w, h, p) in [(7, 9, 0.2), (70, 40, 0.05), (130, 90, 0.01), (3, 200, 0.0)] {
            let counts: Vec<u32> = (0..w * h).map(|_| u32::from(rng.next_f64() < p)).collect();
            assert_eq!(
                largest_empty_square_cells(&counts, w),
                brute_force_square(&counts, w, h),
                "{w}x{h}"
            );
        }
    }

    fn brute_force_square(counts: &[u32], w: usize, h: usize) -> u32 {
        let mut best = 0;
        for y in 0..h {
            for x in 0..w {
                let mut s = best + 1;
                while x + s <= w && y + s <= h {
                    let empty = (y..y + s).all(|yy| (x..x + s).all(|xx| counts[yy * w + xx] == 0));
                    if empty {
                        best = s;
                        s += 1;
                    } else {
                        break;
                    }
                }
            }
        }
        u32::try_from(best).unwrap()
    }

    #[test]
    fn bit_helpers() {
        let mut words = vec![0u64; 3];
        set_bits(&mut words, 0, 60, 130);
        assert_eq!(words.iter().map(|w| w.count_ones()).sum::<u32>(), 71);
        assert_eq!(floor_i64(-0.5), -1);
        assert_eq!(ceil_i64(-0.5), 0);
        assert_eq!(floor_i64(2.0), 2);
        assert_eq!(ceil_i64(2.0), 2);
        assert_eq!(ceil_i64(2.1), 3);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let r = Roller::standard_192(0.5);
        let settings = SimulationSettings::default();
        let mut input = SimulationInput {
            roller: &r,
            width_mm: 10.0,
            height_mm: 10.0,
            passes: 1,
            directions: 1,
            settings: &settings,
        };
        input.width_mm = f64::NAN;
        assert!(
            simulate(&input)
                .unwrap_err()
                .to_string()
                .contains("width_mm")
        );
        input.width_mm = 10_000.0;
        input.height_mm = 10_000.0;
        assert!(matches!(
            simulate(&input),
            Err(CoverageError::RasterTooLarge { .. })
        ));
        input.height_mm = 10.0;
        input.width_mm = 10.0;
        input.passes = 0;
        assert!(simulate(&input).unwrap_err().to_string().contains("passes"));
        input.passes = 1;
        input.directions = 5;
        assert!(
            simulate(&input)
                .unwrap_err()
                .to_string()
                .contains("directions")
        );
        let bad = SimulationSettings {
            cell_mm: 0.0,
            ..settings
        };
        input.directions = 1;
        input.settings = &bad;
        assert!(
            simulate(&input)
                .unwrap_err()
                .to_string()
                .contains("cell_mm")
        );
        // A zone smaller than one cell still simulates.
        let tiny = SimulationInput {
            roller: &r,
            width_mm: 0.01,
            height_mm: 0.01,
            passes: 1,
            directions: 1,
            settings: &settings,
        };
        assert!(simulate(&tiny).is_ok());
        assert!(Raster::from_counts(2, 2, 0.1, vec![0; 3]).is_err());
    }
}
