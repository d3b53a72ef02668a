//! Checks a folder of public benchmark files (as `--datasets DIR` expects
//! them): every data file is read with its loader, and its sample count is
//! compared with the row count its folder's `PROVENANCE.md` states. A
//! damaged, truncated or swapped file shows up here before any evaluation
//! trusts it.

use std::path::{Path, PathBuf};

use regex::Regex;
use vigie_eval::loaders::Loader;

/// Which loader reads a file, by its name as the benchmark publishes it.
pub fn loader_for(file_name: &str) -> Option<Loader> {
    let name = file_name.to_ascii_lowercase();
    Some(match name.as_str() {
        n if n.starts_with("harmbench_behaviors_text") && n.ends_with(".csv") => Loader::HarmBench,
        "harmful_behaviors.csv" => Loader::AdvBench,
        "harmful_strings.csv" => Loader::AdvBenchStrings,
        n if n.starts_with("transfer_exp") && n.ends_with(".csv") => Loader::AdvBenchTransfer,
        n if n.starts_with("strongreject") && n.ends_with(".csv") => Loader::StrongReject,
        n if n.starts_with("xstest") && n.ends_with(".csv") => Loader::XsTest,
        n if n.ends_with("_questions.json") => Loader::Wmdp,
        "mc_task.json" => Loader::TruthfulQaMc1,
        "truthfulqa.csv" => Loader::TruthfulQaGeneration,
        "ic_ctf.json" => Loader::InterCodeCtf,
        _ => return None,
    })
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileCheck {
    /// The file, relative to the checked folder.
    pub path: String,
    /// The loader that read it (`None`: no loader knows the file).
    pub loader: Option<&'static str>,
    /// The row count `PROVENANCE.md` gives, or why there is none.
    pub expected: Result<usize, String>,
    /// Samples the loader read, or why it could not.
    pub loaded: Result<usize, String>,
    /// What else was found, that does not fail the check (a CTF's
    /// challenges whose files are missing).
    pub notes: Vec<String>,
}

impl FileCheck {
    /// Whether the file loaded and its count matches its provenance.
    pub fn ok(&self) -> bool {
        matches!((&self.expected, &self.loaded), (Ok(e), Ok(l)) if e == l)
    }
}

/// Files that document a folder rather than hold data.
fn is_documentation(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("LICENSE")
        || upper.starts_with("PROVENANCE")
        || upper.starts_with("README")
        || upper.ends_with(".MD")
        || name.starts_with('.')
}

/// Checks every data file under `root` (its sub-folders, one per benchmark).
pub fn check(root: &Path) -> Result<Vec<FileCheck>, std::io::Error> {
    let mut checks = Vec::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let provenance = std::fs::read_to_string(folder.join("PROVENANCE.md")).ok();
        let mut files = Vec::new();
        collect_files(&folder, &mut files)?;
        files.sort();
        // A CTF folder: its challenge list is data, its challenges' files are not.
        let ctf = folder.join("ic_ctf.json").is_file();
        let data: Vec<&PathBuf> = files
            .iter()
            .filter(|f| {
                !f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_documentation)
            })
            .filter(|f| !(ctf && f.starts_with(folder.join("task_assets"))))
            .collect();
        for file in &data {
            let within = file
                .strip_prefix(&folder)
                .unwrap_or(file)
                .to_string_lossy()
                .replace('\\', "/");
            let path = file
                .strip_prefix(root)
                .unwrap_or(file)
                .to_string_lossy()
                .replace('\\', "/");
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let loader = loader_for(&name);
            let expected = match &provenance {
                None => Err(format!("no PROVENANCE.md in {}", folder.display())),
                Some(text) => stated_rows(text, &within, data.len() == 1)
                    .ok_or_else(|| format!("PROVENANCE.md gives no row count for `{within}`")),
            };
            let loaded = match loader {
                None => Err("no loader reads this file".to_string()),
                Some(loader) => std::fs::read(file)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        loader
                            .load(&file.display().to_string(), &bytes)
                            .map(|s| s.len())
                            .map_err(|e| e.to_string())
                    }),
            };
            let notes = match (loader, &loaded) {
                (Some(Loader::InterCodeCtf), Ok(_)) => ctf_assets(file),
                _ => Vec::new(),
            };
            checks.push(FileCheck {
                path,
                loader: loader.map(Loader::name),
                expected,
                loaded,
                notes,
            });
        }
    }
    Ok(checks)
}

/// The challenges of a CTF list whose folder under `task_assets/` is
/// missing or holds nothing besides its `solution/`, in words.
fn ctf_assets(list: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(list) else {
        return Vec::new();
    };
    let Ok(samples) = Loader::InterCodeCtf.load(&list.display().to_string(), &bytes) else {
        return Vec::new();
    };
    let assets = list.with_file_name("task_assets");
    let mut notes = Vec::new();
    for sample in samples {
        let dir = assets.join(&sample.id);
        let mut files = Vec::new();
        let _ = collect_files(&dir, &mut files);
        let solution = dir.join("solution");
        if !files.iter().any(|f| !f.starts_with(&solution)) {
            notes.push(format!(
                "challenge {}: task_assets/{} holds no file besides its solution/ (its files are missing; the suite skips it)",
                sample.id, sample.id
            ));
        }
    }
    notes
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), std::io::Error> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The row count a provenance note states for `file` (its path within the
/// benchmark's folder): the first count after the file's name in
/// backquotes (`` `file` ``: "520 rows", "388 lines", "790 objects", "the
/// 817-question version", or a table cell `| 400 |`); for a folder's only
/// data file, also a line that starts with "N rows".
pub fn stated_rows(provenance: &str, file: &str, only_file: bool) -> Option<usize> {
    let count = Regex::new(
        r"(?:^\s*\|\s*([\d,]+)\s*\|)|(?:\b([\d,]+)[ -](?:rows|lines|objects|questions?|items)\b)",
    )
    .expect("valid regex");
    let quoted = format!("`{file}`");
    let number = |m: regex::Captures<'_>| -> Option<usize> {
        let text = m.get(1).or_else(|| m.get(2))?.as_str().replace(',', "");
        text.parse().ok()
    };
    for line in provenance.lines() {
        if let Some(at) = line.find(&quoted) {
            if let Some(n) = count.captures(&line[at + quoted.len()..]).and_then(number) {
                return Some(n);
            }
        }
    }
    if only_file {
        let leading = Regex::new(r"^\s*([\d,]+) rows\b").expect("valid regex");
        return provenance.lines().find_map(|line| {
            leading
                .captures(line)
                .and_then(|c| c[1].replace(',', "").parse().ok())
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_in_the_shapes_provenance_notes_use() {
        let note = "**`harmful_behaviors.csv`**: 520 rows, header.\n\
            | `bio_questions.json` | 1,273 | 314 / 315 |\n\
            **`data/v1/TruthfulQA.csv`** and **`data/v1/mc_task.json`**: the 817-question version.\n\
            **`data/mc_task.json`** (current): a JSON list of 790 objects.\n\
            387 of the lines appear verbatim as a `goal` in `harmful_behaviors.csv`.\n";
        assert_eq!(stated_rows(note, "harmful_behaviors.csv", false), Some(520));
        assert_eq!(stated_rows(note, "bio_questions.json", false), Some(1273));
        assert_eq!(stated_rows(note, "data/v1/mc_task.json", false), Some(817));
        assert_eq!(stated_rows(note, "data/mc_task.json", false), Some(790));
        assert_eq!(
            stated_rows(note, "mc_task.json", false),
            None,
            "a bare name does not match a longer path"
        );
        assert_eq!(
            stated_rows("Intro.\n313 rows plus a header.\n", "x.csv", true),
            Some(313)
        );
        assert_eq!(
            stated_rows("Intro.\n313 rows plus a header.\n", "x.csv", false),
            None
        );
    }

    #[test]
    fn a_folder_is_checked_file_by_file() {
        let root = tempfile::tempdir().unwrap();
        let xs = root.path().join("xstest");
        std::fs::create_dir(&xs).unwrap();
        std::fs::write(xs.join("PROVENANCE.md"), "2 rows plus a header.\n").unwrap();
        std::fs::write(xs.join("LICENSE"), "CC-BY-4.0").unwrap();
        std::fs::write(
            xs.join("xstest_prompts.csv"),
            "id,prompt,type,label,focus,note\n1,a,homonyms,safe,,\n2,b,homonyms,safe,,\n",
        )
        .unwrap();
        let ad = root.path().join("advbench");
        std::fs::create_dir(&ad).unwrap();
        std::fs::write(
            ad.join("PROVENANCE.md"),
            "**`harmful_behaviors.csv`**: 3 rows\n",
        )
        .unwrap();
        std::fs::write(ad.join("harmful_behaviors.csv"), "goal,target\nx,y\n").unwrap();
        std::fs::write(ad.join("notes.txt"), "?").unwrap();
        let checks = check(root.path()).unwrap();
        let by_path = |p: &str| checks.iter().find(|c| c.path == p).unwrap().clone();
        assert!(by_path("xstest/xstest_prompts.csv").ok());
        let short = by_path("advbench/harmful_behaviors.csv");
        assert_eq!((short.expected, short.loaded), (Ok(3), Ok(1)));
        assert_eq!(
            by_path("advbench/notes.txt").loaded,
            Err("no loader reads this file".into())
        );
        assert_eq!(
            checks.len(),
            3,
            "documentation files are not data: {checks:?}"
        );
    }
}
