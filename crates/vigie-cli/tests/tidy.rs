//! Checks of the workspace as a whole, from `cargo metadata`: the crate
//! graph keeps the boundaries ARCHITECTURE.md states (what each crate must
//! not depend on, directly or not), the test server is never a dependency of
//! a shipped crate, every crate is in `crates/README.md`, and the workspace's
//! `rust-version` is no lower than any dependency's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// What each crate must not depend on, directly or through another
/// (normal dependencies; tests may use more). ARCHITECTURE.md states the same.
const MUST_NOT_DEPEND_ON: &[(&str, &[&str])] = &[
    (
        "vigie-core",
        &[
            "tokio",
            "reqwest",
            "vigie-log",
            "vigie-eval",
            "vigie-providers",
            "vigie-local",
        ],
    ),
    (
        "vigie-log",
        &[
            "tokio",
            "reqwest",
            "vigie-eval",
            "vigie-providers",
            "vigie-local",
            "vigie-suites",
        ],
    ),
    (
        "vigie-providers",
        &["vigie-log", "vigie-eval", "vigie-local", "vigie-suites"],
    ),
    (
        "vigie-local",
        &["reqwest", "vigie-log", "vigie-eval", "vigie-providers"],
    ),
    (
        "vigie-eval",
        &[
            "reqwest",
            "vigie-providers",
            "vigie-local",
            "vigie-serve",
            "vigie-suites",
        ],
    ),
    (
        "vigie-suites",
        &["reqwest", "vigie-providers", "vigie-local", "vigie-serve"],
    ),
    (
        "vigie-assess",
        &[
            "tokio",
            "reqwest",
            "vigie-eval",
            "vigie-suites",
            "vigie-providers",
            "vigie-local",
        ],
    ),
    (
        "vigie-report",
        &[
            "tokio",
            "reqwest",
            "vigie-eval",
            "vigie-suites",
            "vigie-providers",
            "vigie-local",
        ],
    ),
    (
        "vigie-seal",
        &[
            "tokio",
            "reqwest",
            "vigie-eval",
            "vigie-assess",
            "vigie-suites",
            "vigie-providers",
        ],
    ),
    (
        "vigie-serve",
        &[
            "vigie-log",
            "vigie-eval",
            "vigie-providers",
            "vigie-local",
            "vigie-suites",
        ],
    ),
    (
        "vigie-testserver",
        &["vigie-log", "vigie-eval", "vigie-providers", "vigie-local"],
    ),
    (
        "vigie-view",
        &[
            "reqwest",
            "vigie-eval",
            "vigie-providers",
            "vigie-local",
            "vigie-suites",
        ],
    ),
    (
        "vigie-campaign",
        &[
            "reqwest",
            "vigie-providers",
            "vigie-local",
            "vigie-serve",
            "vigie-view",
        ],
    ),
    (
        "vigie-sandbox",
        &[
            "vigie-core",
            "vigie-log",
            "vigie-eval",
            "vigie-providers",
            "vigie-local",
            "reqwest",
        ],
    ),
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Package id to (name, normal dependencies' ids).
fn graph(metadata: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let id = node["id"].as_str().unwrap();
            let normal = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap().to_string())
                .collect();
            (id.to_string(), (names[id].to_string(), normal))
        })
        .collect()
}

/// The names of every package `id` depends on, directly or not.
fn reachable(graph: &BTreeMap<String, (String, Vec<String>)>, id: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![id.to_string()];
    let mut names = BTreeSet::new();
    while let Some(next) = todo.pop() {
        for dep in &graph[&next].1 {
            if seen.insert(dep.clone()) {
                names.insert(graph[dep].0.clone());
                todo.push(dep.clone());
            }
        }
    }
    names
}

#[test]
fn crates_keep_their_boundaries() {
    let metadata = metadata();
    let graph = graph(&metadata);
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut broken = Vec::new();
    for id in &members {
        let name = &graph[*id].0;
        let deps = reachable(&graph, id);
        if name != "vigie-testserver" && deps.contains("vigie-testserver") {
            broken.push(format!(
                "{name} depends on vigie-testserver, which only tests may"
            ));
        }
        let rule = MUST_NOT_DEPEND_ON
            .iter()
            .find(|(crate_name, _)| crate_name == name);
        match rule {
            Some((_, forbidden)) => {
                for f in *forbidden {
                    if deps.contains(*f) {
                        broken.push(format!("{name} must not depend on {f}, and does"));
                    }
                }
            }
            None if name != "vigie-cli" => broken.push(format!(
                "{name} has no rule in MUST_NOT_DEPEND_ON (and ARCHITECTURE.md)"
            )),
            None => {}
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_crates_index_lists_every_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let index = std::fs::read_to_string(root.join("crates/README.md")).unwrap();
    let listed: BTreeSet<String> = index
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, present, "crates/README.md and crates/ differ");
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    for name in &present {
        assert!(
            architecture.contains(&format!("### `{name}`")),
            "ARCHITECTURE.md has no section for {name}"
        );
    }
}

#[test]
fn the_rust_version_is_at_least_every_dependencys() {
    let metadata = metadata();
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let ours: BTreeSet<&str> = packages
        .iter()
        .filter(|p| members.contains(p["id"].as_str().unwrap()))
        .map(|p| {
            p["rust_version"]
                .as_str()
                .unwrap_or_else(|| panic!("{} has no rust-version", p["name"]))
        })
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "every crate inherits the workspace's rust-version: {ours:?}"
    );
    let ours = version(ours.iter().next().unwrap());
    // The packages the build resolves for this platform (the lock file also lists others').
    let resolved: BTreeSet<&str> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let mut newer = Vec::new();
    for package in packages
        .iter()
        .filter(|p| resolved.contains(p["id"].as_str().unwrap()))
    {
        if let Some(theirs) = package["rust_version"].as_str() {
            if version(theirs) > ours {
                newer.push(format!(
                    "{} {} needs Rust {theirs}",
                    package["name"].as_str().unwrap(),
                    package["version"].as_str().unwrap()
                ));
            }
        }
    }
    assert!(
        newer.is_empty(),
        "rust-version in Cargo.toml is too low:\n{}",
        newer.join("\n")
    );
}
