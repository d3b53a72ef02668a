//! Every environment variable vigie reads, in one place, and the folders they decide.

use std::path::PathBuf;

/// Where vigie keeps its cache and models (default: `$XDG_CACHE_HOME/vigie`, else `~/.cache/vigie`).
pub(crate) const VIGIE_HOME: &str = "VIGIE_HOME";
/// Where `vigie eval` writes logs (default: `./logs`).
pub(crate) const VIGIE_LOG_DIR: &str = "VIGIE_LOG_DIR";

/// The Python interpreter `vigie model pull` runs pip with (default: `python3`).
pub(crate) const VIGIE_PYTHON: &str = "VIGIE_PYTHON";

/// The Python interpreter for pip.
pub(crate) fn python() -> String {
    var(VIGIE_PYTHON).unwrap_or_else(|| "python3".to_string())
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// vigie's home folder.
pub(crate) fn home() -> PathBuf {
    if let Some(home) = var(VIGIE_HOME) {
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

/// The response cache folder.
pub(crate) fn response_cache_dir() -> PathBuf {
    home().join("responses")
}

/// The default log folder.
pub(crate) fn log_dir() -> PathBuf {
    var(VIGIE_LOG_DIR).map_or_else(|| PathBuf::from("logs"), PathBuf::from)
}
