//! A pure SVG heatmap of a simulated density raster.
//!
//! The raster is summed into square blocks (at most `max_cells` along each
//! side, and at least `min_block_mm` wide, because a 0.1 mm cell holds a
//! puncture only now and then), each block's density is binned into a few
//! colour levels, and every level is drawn as one `<path>` made of
//! horizontal runs. The output stays a few tens of kilobytes even for a
//! whole neck.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::analytic::MM2_PER_CM2;
use super::montecarlo::Raster;

/// Options of [`render_svg`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SvgOptions {
    /// Title printed above the map.
    pub title: String,
    /// Most blocks along either side.
    pub max_cells: usize,
    /// Smallest block side, mm.
    pub min_block_mm: f64,
    /// Top of the colour scale, per cm²; `None` means twice the mean, the
    /// over-treatment threshold.
    pub scale_max_per_cm2: Option<f64>,
    /// A target density to mark on the legend, per cm².
    pub target_per_cm2: Option<f64>,
    /// Colour levels, 2 to 16.
    pub levels: u8,
    /// Width of the map in pixels.
    pub map_width_px: u32,
}

impl Default for SvgOptions {
    fn default() -> Self {
        Self {
            title: "Puncture density".to_owned(),
            max_cells: 120,
            min_block_mm: 2.0,
            scale_max_per_cm2: None,
            target_per_cm2: None,
            levels: 8,
            map_width_px: 480,
        }
    }
}

/// Viridis at five stops (perceptually uniform, colour-blind safe).
const STOPS: [(f64, f64, f64); 5] = [
    (68.0, 1.0, 84.0),
    (59.0, 82.0, 139.0),
    (33.0, 145.0, 140.0),
    (94.0, 201.0, 98.0),
    (253.0, 231.0, 37.0),
];

fn ramp(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round().clamp(0.0, 255.0) as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Block densities: (blocks across, blocks down, block side in mm,
/// densities per cm², row-major).
fn block_densities(raster: &Raster, opts: &SvgOptions) -> (usize, usize, f64, Vec<f64>) {
    let w = raster.width_cells().max(1);
    let h = raster.height_cells().max(1);
    let max_cells = opts.max_cells.clamp(1, 2_000);
    let cell = raster.cell_mm();
    let by_size = w.div_ceil(max_cells).max(h.div_ceil(max_cells));
    let min_block = if opts.min_block_mm.is_finite() && opts.min_block_mm > 0.0 && cell > 0.0 {
        (opts.min_block_mm / cell - 1e-9).ceil().clamp(1.0, 1.0e6) as usize
    } else {
        1
    };
    let block = by_size.max(min_block).max(1);
    let bw = w.div_ceil(block);
    let bh = h.div_ceil(block);
    let mut sums = vec![0u64; bw * bh];
    let mut cells = vec![0u32; bw * bh];
    for (y, row) in raster.counts().chunks_exact(w).enumerate() {
        let by = y / block;
        for (x, &c) in row.iter().enumerate() {
            let i = by * bw + x / block;
            if let (Some(s), Some(n)) = (sums.get_mut(i), cells.get_mut(i)) {
                *s += u64::from(c);
                *n += 1;
            }
        }
    }
    let cell_area_cm2 = cell * cell / MM2_PER_CM2;
    let dens = sums
        .iter()
        .zip(&cells)
        .map(|(&s, &n)| {
            if n > 0 {
                s as f64 / (f64::from(n) * cell_area_cm2)
            } else {
                0.0
            }
        })
        .collect();
    (bw, bh, block as f64 * cell, dens)
}

/// Renders `raster` as an SVG heatmap with a legend. Pure: the same inputs
/// give the same string.
pub fn render_svg(raster: &Raster, opts: &SvgOptions) -> String {
    let (bw, bh, block_mm, dens) = block_densities(raster, opts);
    let mean = raster.mean_density_per_cm2();
    let top = match opts.scale_max_per_cm2 {
        Some(v) if v.is_finite() && v > 0.0 => v,
        _ if mean > 0.0 => 2.0 * mean,
        _ => 1.0,
    };
    let levels = usize::from(opts.levels.clamp(2, 16));
    let level_of = |d: f64| ((d / top * levels as f64).floor().max(0.0) as usize).min(levels - 1);
    let colour = |l: usize| ramp((l as f64 + 0.5) / levels as f64);

    // One path per level, made of horizontal runs.
    let mut paths = vec![String::new(); levels];
    for y in 0..bh {
        let mut x = 0;
        while x < bw {
            let l = dens.get(y * bw + x).map_or(0, |&d| level_of(d));
            let mut end = x + 1;
            while end < bw && dens.get(y * bw + end).map_or(0, |&d| level_of(d)) == l {
                end += 1;
            }
            if let Some(p) = paths.get_mut(l) {
                let _ = write!(p, "M{x} {y}h{}v1h-{}z", end - x, end - x);
            }
            x = end;
        }
    }

    let map_w = f64::from(opts.map_width_px.clamp(60, 4000));
    let scale = map_w / bw.max(bh) as f64;
    let (pw, ph) = (bw as f64 * scale, bh as f64 * scale);
    let margin = 16.0;
    let top_y = 48.0;
    let legend_x = margin + pw + 24.0;
    let total_w = legend_x + 150.0;
    let legend_h = ph.max(160.0);
    let total_h = top_y + legend_h + 40.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w:.0}\" height=\"{total_h:.0}\" viewBox=\"0 0 {total_w:.0} {total_h:.0}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{margin}\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        escape(&opts.title)
    );
    let _ = writeln!(
        s,
        "<text x=\"{margin}\" y=\"38\" fill=\"#444\">{:.0} × {:.0} mm, mean {:.0} punctures/cm², {:.1} mm blocks</text>",
        raster.width_mm(),
        raster.height_mm(),
        mean,
        block_mm
    );
    let _ = writeln!(
        s,
        "<g transform=\"translate({margin} {top_y}) scale({scale:.4})\" shape-rendering=\"crispEdges\">"
    );
    for (l, p) in paths.iter().enumerate() {
        if !p.is_empty() {
            let _ = writeln!(s, "<path fill=\"{}\" d=\"{p}\"/>", colour(l));
        }
    }
    let _ = writeln!(s, "</g>");
    let _ = writeln!(
        s,
        "<rect x=\"{margin}\" y=\"{top_y}\" width=\"{pw:.2}\" height=\"{ph:.2}\" fill=\"none\" stroke=\"#333\"/>"
    );

    // Legend: one swatch per level, highest at the top.
    let sw_h = legend_h / levels as f64;
    let _ = writeln!(
        s,
        "<text x=\"{legend_x:.1}\" y=\"{:.1}\">per cm²</text>",
        top_y - 6.0
    );
    for l in 0..levels {
        let y = top_y + (levels - 1 - l) as f64 * sw_h;
        let _ = writeln!(
            s,
            "<rect x=\"{legend_x:.1}\" y=\"{y:.1}\" width=\"18\" height=\"{sw_h:.1}\" fill=\"{}\"/>",
            colour(l)
        );
    }
    let value_y = |v: f64| top_y + legend_h * (1.0 - (v / top).clamp(0.0, 1.0));
    let ticks = [
        (0.0, "0".to_owned()),
        (top / 2.0, format!("{:.0}", top / 2.0)),
        (top, format!("≥ {top:.0}")),
    ];
    for (v, label) in ticks {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
            legend_x + 24.0,
            value_y(v) + 4.0
        );
    }
    let mut mark = |v: f64, name: &str| {
        if v.is_finite() && v > 0.0 {
            let y = value_y(v);
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#d62728\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">{name} {v:.0}</text>",
                legend_x - 4.0,
                legend_x + 22.0,
                legend_x + 60.0,
                y + 4.0
            );
        }
    };
    if let Some(t) = opts.target_per_cm2 {
        mark(t, "target");
    }
    mark(mean, "mean");
    let _ = writeln!(
        s,
        "<text x=\"{margin}\" y=\"{:.1}\" fill=\"#444\">Under-treated: below {:.0}/cm² (half the mean). Over-treated: above {:.0}/cm² (twice the mean).</text>",
        top_y + legend_h + 24.0,
        mean * 0.5,
        mean * 2.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ramp_ends() {
        assert_eq!(ramp(0.0), "#440154");
        assert_eq!(ramp(1.0), "#fde725");
        assert_eq!(ramp(f64::NAN), "#440154");
    }

    #[test]
    fn renders_small_raster() {
        let counts: Vec<u32> = (0..400).map(|i| u32::from(i % 7 == 0)).collect();
        let r = Raster::from_counts(20, 20, 0.5, counts).unwrap();
        let opts = SvgOptions {
            title: "a <b> & c".into(),
            target_per_cm2: Some(250.0),
            ..Default::default()
        };
        let svg = render_svg(&r, &opts);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert!(svg.contains("target 250"));
        assert_eq!(svg, render_svg(&r, &opts));
    }

    #[test]
    fn downsamples_large_rasters() {
        let r = Raster::new(3000, 1000, 0.1).unwrap();
        let (bw, bh, block_mm, _) = block_densities(
            &r,
            &SvgOptions {
                min_block_mm: 0.0,
                ..Default::default()
            },
        );
        assert!(bw <= 120 && bh <= 120);
        assert!((block_mm - 2.5).abs() < 1e-9);
        // An empty raster renders without dividing by zero.
        let svg = render_svg(&r, &SvgOptions::default());
        assert!(!svg.contains("NaN"));
    }
}
