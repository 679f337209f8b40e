//! Benchmark: a whole-face Monte Carlo plan at 250 punctures/cm² on a
//! 0.1 mm raster (nine zones, 376 cm², about 3.8 million cells), with the
//! 192-needle roller. The budget is 50 ms on one core in release.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use needlewise_core::coverage::{CoverageRequest, Scope, SimulationSettings, report};

fn whole_face_request() -> CoverageRequest {
    CoverageRequest {
        scope: Scope::WholeFace,
        target_density_per_cm2: 250.0,
        simulation: Some(SimulationSettings {
            cell_mm: 0.1,
            ..SimulationSettings::default()
        }),
        ..CoverageRequest::default()
    }
}

fn bench_whole_face(c: &mut Criterion) {
    let request = whole_face_request();
    c.bench_function("coverage/whole_face_plan_250_per_cm2_0.1mm", |b| {
        b.iter(|| report(black_box(&request)))
    });
}

fn bench_analytic(c: &mut Criterion) {
    let request = CoverageRequest::default();
    c.bench_function("coverage/whole_face_plan_analytic_only", |b| {
        b.iter(|| report(black_box(&request)))
    });
}

criterion_group!(benches, bench_whole_face, bench_analytic);
criterion_main!(benches);
