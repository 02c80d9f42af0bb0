//! The layering rule, checked on the sources: imports point one way, from the composition root
//! down to the pure core. A module may use only modules of lower layers; modules of one layer are
//! peers and do not use each other. The binary (`main.rs`) and the crate root (`lib.rs`) are
//! outside the layers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["select", "report", "voting"],
    &["policy"],
    &["config", "clock"],
    &["keys", "telemetry"],
    &["oracle", "openpayments", "chain"],
    &["sources"],
    &["audit", "store"],
    &["app"],
    &["workers", "http"],
    &["server"],
];

const RULE: &str = "imports point one way (composition root → http and workers → use cases (app) \
                    → store, chain, sources, oracle → the pure core)";

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file under `src/`: `src/app/votes/pass.rs` is `["app", "votes", "pass"]`,
/// `src/app/mod.rs` is `["app"]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without comments, so prose and doc links are not taken for imports.
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a file's code names: `crate::x`, `crate::{x, y::z}`, and `super::`
/// chains that climb to the crate root.
fn modules_named(code: &str, path: &[String]) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with('$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && (c.is_alphanumeric() || c == '_') => {
                        named.insert(ident_at(&group[i..]));
                        item_start = false;
                    }
                    c if !c.is_whitespace() => item_start = false,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            named.insert(ident_at(rest));
        }
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && code[..at].ends_with("super::") {
            continue;
        }
        let mut rest = &code[at..];
        let mut climbs = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = next;
        }
        // A file's own module is its path; `super` from a non-`mod.rs` file climbs from there.
        if climbs == path.len() {
            named.insert(ident_at(rest));
        }
    }
    named
}

/// Every import against the layers: (file, its module, the module it names).
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src/");
        if relative == Path::new("main.rs") || relative == Path::new("lib.rs") {
            continue;
        }
        let path = module_path(relative);
        let module = &path[0];
        let Some(own) = layer_of(module) else {
            found.push(format!(
                "src/{} is in module `{module}`, which no layer lists",
                relative.display()
            ));
            continue;
        };
        let code = code_of(&std::fs::read_to_string(&file).expect("a readable source file"));
        for named in modules_named(&code, &path) {
            if &named == module {
                continue;
            }
            match layer_of(&named) {
                Some(layer) if layer < own => {}
                Some(_) => found.push(format!(
                    "src/{} (module `{module}`, layer {own}) imports `crate::{named}`, which is not \
                     below it",
                    relative.display()
                )),
                None => {}
            }
        }
    }
    found
}

#[test]
fn imports_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "layering rule broken, {RULE}:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_check_sees_an_import_that_points_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(
        store.join("mod.rs"),
        "//! crate::http in prose is no import.\nuse crate::{domain, http::AppState};\n",
    )
    .unwrap();
    std::fs::write(store.join("rows.rs"), "use super::super::app::Clock;\n").unwrap();
    let found = violations(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("src/store/mod.rs") && found[0].contains("`crate::http`"));
    assert!(found[1].contains("src/store/rows.rs") && found[1].contains("`crate::app`"));
}
