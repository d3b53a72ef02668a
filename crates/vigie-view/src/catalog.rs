//! Which logs the viewer may show: those under the paths it was given
//! (folders searched with their sub-folders), each named in URLs by its
//! root's number and its path inside that root. A URL never names a file to
//! open: it names an entry of this catalog, so `..` and absolute paths find
//! nothing, and a symlink that leads out of its root is left out.

use std::path::{Path, PathBuf};

use crate::ViewError;

/// The paths given, as found.
#[derive(Debug, Clone)]
pub struct Catalog {
    roots: Vec<Root>,
}

#[derive(Debug, Clone)]
struct Root {
    /// As the user gave it, for display.
    given: PathBuf,
    /// Canonical: what every log must lie under.
    canonical: PathBuf,
}

/// One log the viewer may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name in URLs: `ROOT/RELATIVE/PATH.vlog`.
    pub id: String,
    /// Its path as displayed: under the root as given.
    pub shown: String,
    /// Its canonical path, the one opened.
    pub path: PathBuf,
}

impl Catalog {
    /// The catalog of `paths` (folders or `.vlog` files), each of which must exist.
    pub fn new(paths: &[PathBuf]) -> Result<Catalog, ViewError> {
        let mut roots = Vec::new();
        for given in paths {
            let canonical = given.canonicalize().map_err(|e| ViewError::Path {
                path: given.display().to_string(),
                message: e.to_string(),
            })?;
            roots.push(Root {
                given: given.clone(),
                canonical,
            });
        }
        Ok(Catalog { roots })
    }

    /// Every log under the roots now (a folder is searched again on each
    /// call, so new runs appear), in root order then path order.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for (n, root) in self.roots.iter().enumerate() {
            let found = if root.canonical.is_dir() {
                vigie_log::find_logs(&root.given).unwrap_or_default()
            } else {
                vec![root.given.clone()]
            };
            for path in found {
                let Ok(canonical) = path.canonicalize() else {
                    continue;
                };
                // A symlink may point anywhere: only what resolves inside the
                // root (or is the root itself, for a file) is served.
                let inside = if root.canonical.is_dir() {
                    canonical.starts_with(&root.canonical)
                } else {
                    canonical == root.canonical
                };
                if !inside || !canonical.is_file() {
                    continue;
                }
                let relative = path
                    .strip_prefix(&root.given)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let relative = if relative.is_empty() {
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    relative
                };
                out.push(Entry {
                    id: format!("{n}/{relative}"),
                    shown: path.display().to_string(),
                    path: canonical,
                });
            }
        }
        out
    }

    /// The entry a URL names, if the catalog has it.
    pub fn find(&self, id: &str) -> Option<Entry> {
        self.entries().into_iter().find(|e| e.id == id)
    }

    /// The roots as given, for the page's heading.
    pub fn roots(&self) -> Vec<String> {
        self.roots
            .iter()
            .map(|r| r.given.display().to_string())
            .collect()
    }
}

/// Whether `path` lies under `root` once both are resolved.
pub fn lies_under(path: &Path, root: &Path) -> bool {
    match (path.canonicalize(), root.canonicalize()) {
        (Ok(p), Ok(r)) => p.starts_with(r),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_out_and_names_outside_are_not_in_the_catalog() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.vlog"), b"x").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/run.vlog"), b"x").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.vlog"),
            root.path().join("escape.vlog"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            root.path().join("sub/run.vlog"),
            root.path().join("alias.vlog"),
        )
        .unwrap();
        let catalog = Catalog::new(&[root.path().to_path_buf()]).unwrap();
        let ids: Vec<String> = catalog.entries().into_iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            ["0/alias.vlog", "0/sub/run.vlog"],
            "the symlink inside stays, the one out goes"
        );
        assert!(catalog.find("0/escape.vlog").is_none());
        assert!(catalog.find("0/../secret.vlog").is_none());
        assert!(catalog
            .find(&format!(
                "0/{}",
                outside.path().join("secret.vlog").display()
            ))
            .is_none());
        assert!(lies_under(&root.path().join("sub/run.vlog"), root.path()));
        assert!(!lies_under(&root.path().join("escape.vlog"), root.path()));
    }

    #[test]
    fn a_path_that_is_not_there_is_named() {
        let err = Catalog::new(&[PathBuf::from("/no/such/logs")]).unwrap_err();
        assert!(err.to_string().contains("/no/such/logs"), "{err}");
    }
}
