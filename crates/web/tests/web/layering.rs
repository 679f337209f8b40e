//! The crate's modules form no cycle (ARCHITECTURE.md, "the web crate's
//! modules form no cycle"): read from the sources, `crate::…` paths and
//! `use crate::{…}` groups outside comments, per top-level module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first identifier of each comma-separated item of a `{…}` group.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    let mut current = String::new();
    for c in group.chars() {
        match c {
            '{' => {
                depth += 1;
                item_start = false;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if !current.is_empty() {
                    heads.push(std::mem::take(&mut current));
                }
                item_start = true;
            }
            c if item_start && (c.is_ascii_alphanumeric() || c == '_') => current.push(c),
            c if item_start && !current.is_empty() && !c.is_whitespace() => {
                heads.push(std::mem::take(&mut current));
                item_start = false;
            }
            _ => {}
        }
    }
    if !current.is_empty() {
        heads.push(current);
    }
    heads
}

/// The crate modules a piece of source names through `crate::`.
fn named_modules(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            found.extend(group_heads(&group[..end]));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn the_web_crates_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let top = |p: &Path| -> String {
        let rel = p.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files.iter().map(|p| top(p)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = top(f);
        if from == "lib" {
            continue;
        }
        let source = std::fs::read_to_string(f).unwrap();
        for to in named_modules(&source) {
            if modules.contains(&to) && to != from && to != "lib" {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // The layering ARCHITECTURE.md states.
    assert_eq!(
        edges.get("views"),
        None,
        "views imports nothing of the crate"
    );
    for (module, allowed) in [
        ("error", &["views"][..]),
        ("auth", &["error", "views"]),
        ("forms", &["error", "views"]),
        ("clinic_ctx", &["auth", "error", "views"]),
    ] {
        let got: Vec<&str> = edges
            .get(module)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default();
        assert!(
            got.iter().all(|m| allowed.contains(m)),
            "{module} imports {got:?}; only {allowed:?} may be"
        );
    }
    for (module, to) in &edges {
        assert!(
            !to.contains("pages") || module == "api",
            "{module} imports pages"
        );
    }
    // And no cycle at all: a depth-first search finds no back edge.
    fn visit<'a>(
        m: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| *p == m) {
            panic!("a module cycle: {:?} -> {m}", &path[i..]);
        }
        path.push(m);
        for to in edges.get(m).into_iter().flatten() {
            visit(to, edges, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in &modules {
        visit(m, &edges, &mut Vec::new(), &mut done);
    }
    assert!(
        edges.contains_key("pages") && edges.contains_key("api"),
        "{edges:?}"
    );
}
