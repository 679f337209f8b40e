//! Generated documentation stays in step with the code.

use std::path::Path;

/// `docs/coverage-heatmap.svg` is `documentation_heatmap()`'s output. A
/// local run rewrites a stale file (commit it); under CI a stale file fails.
#[test]
fn the_coverage_heatmap_example_is_current() {
    let svg = needlewise_core::coverage::documentation_heatmap().unwrap();
    assert!(svg.len() < 150_000, "heatmap is {} bytes", svg.len());
    assert!(svg.starts_with("<svg") && svg.contains("per cm²"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/coverage-heatmap.svg");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != svg {
        assert!(
            std::env::var_os("CI").is_none(),
            "docs/coverage-heatmap.svg is stale: run `cargo test -p needlewise-core` locally and commit it"
        );
        std::fs::write(&path, &svg).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
}
