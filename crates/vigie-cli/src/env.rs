//! Every environment variable vigie reads, in one place, and the folders they decide.

use std::path::PathBuf;

/// Where `vigie eval` writes logs (default: `./logs`).
pub(crate) const VIGIE_LOG_DIR: &str = "VIGIE_LOG_DIR";

/// The folder of public benchmark files that suite tasks read (`--datasets`).
pub(crate) const VIGIE_DATASETS: &str = "VIGIE_DATASETS";

/// The Python interpreter `vigie model pull` runs pip with (default: `python3`).
pub(crate) const VIGIE_PYTHON: &str = "VIGIE_PYTHON";

/// A file of the user's own model profiles, consulted before the built-in ones (`--profiles`).
pub(crate) const VIGIE_PROFILES: &str = "VIGIE_PROFILES";

/// The model profiles: the user's file (`--profiles`, else `VIGIE_PROFILES`) first.
pub(crate) fn profiles(
    flag: Option<&std::path::Path>,
) -> Result<std::sync::Arc<vigie_providers::Profiles>, crate::UsageError> {
    let file = flag
        .map(PathBuf::from)
        .or_else(|| var(VIGIE_PROFILES).map(PathBuf::from));
    let profiles = match file {
        Some(file) => vigie_providers::Profiles::with_user_file(&file)
            .map_err(|e| crate::UsageError(e.to_string()))?,
        None => vigie_providers::Profiles::builtin(),
    };
    Ok(std::sync::Arc::new(profiles))
}

/// The Python interpreter for pip.
pub(crate) fn python() -> String {
    var(VIGIE_PYTHON).unwrap_or_else(|| "python3".to_string())
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// vigie's home folder, for models and the response cache: `VIGIE_HOME`,
/// else `$XDG_CACHE_HOME/vigie`, else `~/.cache/vigie` (the rule lives in
/// vigie-local, which needs it too).
pub(crate) fn home() -> PathBuf {
    vigie_local::default_home()
}

/// The response cache folder.
pub(crate) fn response_cache_dir() -> PathBuf {
    home().join("responses")
}

/// The default log folder.
pub(crate) fn log_dir() -> PathBuf {
    var(VIGIE_LOG_DIR).map_or_else(|| PathBuf::from("logs"), PathBuf::from)
}
