//! The workspace's shape, checked (docs/design.md, "Crate map"): which crate may depend on
//! which, what a test suite that depends on `orbtest-machines` pulls in, and no import cycles
//! between sibling modules of any crate.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};

/// Each crate of the workspace and the workspace crates it may use (normal dependencies).
/// A new crate goes here and in docs/design.md's crate map.
const ALLOWED: &[(&str, &[&str])] = &[
    ("orbctl", &[]),
    ("orbtest-process", &[]),
    ("orbtest-machines", &["orbctl", "orbtest-process"]),
    ("orbsim", &["orbctl"]),
    ("orbdock", &["orbctl", "orbtest-process"]),
    (
        "cargo-orbtest",
        &["orbctl", "orbtest-process", "orbtest-machines", "orbsim", "orbdock"],
    ),
    ("orbtest-demo", &["orbtest-machines"]),
];

/// What a suite that depends on `orbtest-machines` must not pull in.
const NOT_FOR_SUITES: &[&str] = &[
    "clap",
    "indicatif",
    "sysinfo",
    "quick-junit",
    "orbsim",
    "orbdock",
    "cargo-orbtest",
];

/// At most this many crates in `cargo tree -p orbtest-machines -e normal` (itself included).
const MACHINES_BUDGET: usize = 50;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn metadata() -> Metadata {
    let mut cmd = MetadataCommand::new();
    cmd.manifest_path(workspace_root().join("Cargo.toml"));
    // Only what builds here: the tree a suite on this host gets.
    cmd.other_options(vec!["--filter-platform".to_string(), host_triple()]);
    cmd.exec().unwrap_or_else(|e| panic!("cargo metadata: {e}"))
}

fn host_triple() -> String {
    let out = std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("rustc -vV: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_else(|| panic!("no host in rustc -vV"))
        .to_string()
}

#[test]
fn each_crate_uses_only_the_crates_the_map_allows() {
    let meta = metadata();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let members: BTreeSet<String> = meta.workspace_packages().iter().map(|p| p.name.to_string()).collect();
    let mut wrong = Vec::new();
    for package in meta.workspace_packages() {
        let name = package.name.as_str();
        let Some(may) = allowed.get(name) else {
            wrong.push(format!(
                "{name} is not in the crate map: add it to docs/design.md and to ALLOWED here"
            ));
            continue;
        };
        for dep in &package.dependencies {
            let internal = members.contains(dep.name.as_str());
            if internal && dep.kind == DependencyKind::Normal && !may.contains(&dep.name.as_str()) {
                wrong.push(format!("{name} depends on {}", dep.name));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_suite_on_orbtest_machines_gets_a_small_tree() {
    let meta = metadata();
    let resolve = meta
        .resolve
        .as_ref()
        .unwrap_or_else(|| panic!("cargo metadata without a resolve"));
    let nodes: HashMap<&PackageId, &cargo_metadata::Node> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let root = meta
        .workspace_packages()
        .into_iter()
        .find(|p| p.name.as_str() == "orbtest-machines")
        .unwrap_or_else(|| panic!("no orbtest-machines in the workspace"));
    // Normal edges only, as `cargo tree -e normal` (build scripts' and proc macros' own normal
    // dependencies are in the tree too).
    let mut seen: BTreeSet<&PackageId> = BTreeSet::new();
    let mut todo = vec![&root.id];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in &nodes[id].deps {
            if dep.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal) {
                todo.push(&dep.pkg);
            }
        }
    }
    let names: BTreeSet<String> = seen.iter().map(|id| meta[*id].name.to_string()).collect();
    let forbidden: Vec<&&str> = NOT_FOR_SUITES.iter().filter(|n| names.contains(**n)).collect();
    assert!(forbidden.is_empty(), "orbtest-machines pulls in {forbidden:?}");
    assert!(
        names.len() <= MACHINES_BUDGET,
        "orbtest-machines' tree has {} crates (budget {MACHINES_BUDGET}): {names:?}",
        names.len()
    );
}

/// Cycles known when this check came, left to the crate's owners: a cycle among these modules
/// of that crate (any of them) is let through; any other fails.
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

#[test]
fn no_crate_has_an_import_cycle_between_sibling_modules() {
    let mut cycles = Vec::new();
    let crates = workspace_root().join("crates");
    let entries = std::fs::read_dir(&crates).unwrap_or_else(|e| panic!("{}: {e}", crates.display()));
    for entry in entries.flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            for cycle in sibling_cycles(&src) {
                let known = |(c, m): &&(&str, &[&str])| *c == name && cycle.iter().all(|x| m.contains(&x.as_str()));
                if KNOWN_CYCLES.iter().any(|k| known(&k)) {
                    continue;
                }
                cycles.push(format!(
                    "{}: {}",
                    entry.file_name().to_string_lossy(),
                    cycle.join(" <-> ")
                ));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

type ModPath = Vec<String>;

/// The library's modules (files), by path from the crate root. Binaries are left out.
fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(src) else { continue };
            let Some(rel) = rel.to_str().and_then(|r| r.strip_suffix(".rs")) else {
                continue;
            };
            let mut parts: ModPath = rel.split('/').map(str::to_string).collect();
            if parts[0] == "bin" || parts == ["main"] {
                continue;
            }
            if parts == ["lib"] || parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            found.insert(parts, path);
        }
    }
    found
}

/// Cycles among sibling modules: an edge A → B for every path in A that names an item of B,
/// lifted to the children of their closest common ancestor (a module using its own parent or
/// child is containment, not an import).
fn sibling_cycles(src: &Path) -> Vec<Vec<String>> {
    let mods = modules(src);
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (here, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for to in references(&code_of(&text), here, &mods) {
            let common = here.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == here.len() || common == to.len() {
                continue;
            }
            edges
                .entry(here[..=common].to_vec())
                .or_default()
                .insert(to[..=common].to_vec());
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.iter().map(|m| m.join("::")).collect())
        .collect()
}

/// The modules `code` (in module `here`) names through `crate::`, `super::` or `self::` paths,
/// grouped imports included.
fn references(code: &str, here: &ModPath, mods: &BTreeMap<ModPath, PathBuf>) -> BTreeSet<ModPath> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let start_ok = i == 0 || !is_ident(bytes[i - 1]);
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| code[i..].starts_with(h));
        let Some(head) = head.filter(|_| start_ok) else {
            i += 1;
            continue;
        };
        let mut base: ModPath = match head {
            "crate::" => Vec::new(),
            "super::" => here[..here.len().saturating_sub(1)].to_vec(),
            _ => here.clone(),
        };
        let mut j = i + head.len();
        while code[j..].starts_with("super::") {
            base.pop();
            j += "super::".len();
        }
        let (end, paths) = use_tree(code, j);
        for path in paths {
            let mut longest = None;
            let mut at = base.clone();
            for segment in path {
                at.push(segment);
                if mods.contains_key(&at) {
                    longest = Some(at.clone());
                } else {
                    break;
                }
            }
            found.extend(longest);
        }
        i = end.max(i + 1);
    }
    found
}

/// The paths of a use tree (or a plain path) starting at `at`: `a::b::C`, `a::{b, c::D}`.
fn use_tree(code: &str, at: usize) -> (usize, Vec<Vec<String>>) {
    let bytes = code.as_bytes();
    let mut i = at;
    let mut prefix: Vec<String> = Vec::new();
    loop {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i > start {
            prefix.push(code[start..i].to_string());
        }
        let group = if code[i..].starts_with("::{") {
            Some(3)
        } else {
            (i == start && code[i..].starts_with('{')).then_some(1)
        };
        if let Some(open) = group {
            i += open;
            let mut paths = Vec::new();
            loop {
                while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] == b'}' {
                    return (i + 1, paths);
                }
                let (end, inner) = use_tree(code, i);
                paths.extend(inner.into_iter().map(|p| [prefix.clone(), p].concat()));
                // Skip what follows the item (`as name`, `*`) up to the next item or the end.
                i = end;
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    i += 1;
                }
            }
        }
        if code[i..].starts_with("::") && i > start {
            i += 2;
            continue;
        }
        return (i, vec![prefix]);
    }
}

/// Source without comments, string and char literals, and without its `#[cfg(test)]` module
/// (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if text[i..].starts_with("/*") {
            i = text[i..].find("*/").map_or(b.len(), |n| i + n + 2);
        } else if let Some(hashes) = raw_string_at(text, i) {
            let open = i + text[i..].find('"').unwrap_or(0) + 1;
            let close = format!("\"{}", "#".repeat(hashes));
            i = text[open..].find(&close).map_or(b.len(), |n| open + n + close.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && char_literal_len(&text[i..]).is_some() {
            i += char_literal_len(&text[i..]).unwrap_or(1);
            out.push_str("' '");
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    match out.find("#[cfg(test)]\nmod ") {
        Some(at) => out[..at].to_string(),
        None => out,
    }
}

/// `r"…"`, `r#"…"#`, `br"…"`: the number of hashes.
fn raw_string_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let rest = text[i..].strip_prefix('b').unwrap_or(&text[i..]);
    let rest = rest.strip_prefix('r')?;
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    rest[hashes..].starts_with('"').then_some(hashes)
}

/// `'a'`, `'\n'`, `'\u{1F600}'` (not a lifetime): its length in bytes.
fn char_literal_len(text: &str) -> Option<usize> {
    let rest = &text[1..];
    if let Some(escaped) = rest.strip_prefix('\\') {
        return escaped.find('\'').map(|n| n + 3);
    }
    let c = rest.chars().next()?;
    rest[c.len_utf8()..].starts_with('\'').then_some(c.len_utf8() + 2)
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: HashMap<&'a ModPath, usize>,
        low: HashMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        components: Vec<Vec<ModPath>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a ModPath) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        components: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.components
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        src.join("b.rs"),
        "use crate::{a::{self, A}};\n// crate::c::C\npub struct B;\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sibling_cycles(src), vec![vec!["b".to_string(), "a".to_string()]]);
    std::fs::write(src.join("b.rs"), "pub struct B; const S: &str = \"crate::a::A\";\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sibling_cycles(src).is_empty());
}
