//! Root filesystems a task names: a folder is used as it is; a tarball
//! (`.tar`, `.tar.gz`, `.tgz`) is unpacked once into a folder named by its
//! SHA-256 and reused by every sandbox after. Device nodes and pipes in the
//! archive are skipped (an unprivileged user cannot make them, and the
//! sandbox brings its own `/dev`).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::SandboxError;

/// The folder to use as the root filesystem for `source`, unpacking a
/// tarball into `cache` the first time.
pub fn prepare(source: &Path, cache: &Path) -> Result<PathBuf, SandboxError> {
    let meta = std::fs::metadata(source).map_err(|cause| SandboxError::Io {
        what: format!("the root filesystem {}", source.display()),
        cause,
    })?;
    if meta.is_dir() {
        return std::fs::canonicalize(source).map_err(crate::io(format!(
            "the root filesystem {}",
            source.display()
        )));
    }
    let name = source.to_string_lossy();
    let gzip = name.ends_with(".tar.gz") || name.ends_with(".tgz");
    if !gzip && !name.ends_with(".tar") {
        return Err(SandboxError::Unavailable(format!(
            "the root filesystem {} is neither a folder nor a .tar, .tar.gz or .tgz file",
            source.display()
        )));
    }
    let digest = sha256_of(source)?;
    let folder = cache.join(format!("rootfs-{}", &digest[..16]));
    if folder.join(".vigie-unpacked").exists() {
        return Ok(folder);
    }
    std::fs::create_dir_all(cache).map_err(crate::io(format!("create {}", cache.display())))?;
    // Unpacked beside, then renamed: a half-unpacked folder is never used.
    let partial = cache.join(format!(".rootfs-{}-{}", &digest[..16], std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .map_err(crate::io(format!("create {}", partial.display())))?;
    let file =
        std::fs::File::open(source).map_err(crate::io(format!("open {}", source.display())))?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    unpack(reader, &partial).map_err(|e| {
        let _ = std::fs::remove_dir_all(&partial);
        SandboxError::Io {
            what: format!("unpack the root filesystem {}", source.display()),
            cause: e,
        }
    })?;
    std::fs::write(partial.join(".vigie-unpacked"), digest.as_bytes())
        .map_err(crate::io("mark the root filesystem unpacked"))?;
    match std::fs::rename(&partial, &folder) {
        Ok(()) => Ok(folder),
        // Another vigie unpacked the same archive first: use its folder.
        Err(_) if folder.join(".vigie-unpacked").exists() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(folder)
        }
        Err(cause) => Err(SandboxError::Io {
            what: format!("move the unpacked root filesystem to {}", folder.display()),
            cause,
        }),
    }
}

fn unpack(reader: impl Read, into: &Path) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            continue;
        }
        // `unpack_in` refuses paths that leave the folder.
        entry.unpack_in(into)?;
    }
    Ok(())
}

fn sha256_of(path: &Path) -> Result<String, SandboxError> {
    let mut file =
        std::fs::File::open(path).map_err(crate::io(format!("open {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(crate::io(format!("read {}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tarball_is_unpacked_once_and_a_folder_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("bin")).unwrap();
        std::fs::write(tree.join("bin/tool"), "#!/bin/sh\n").unwrap();
        let tarball = dir.path().join("root.tar.gz");
        {
            let file = std::fs::File::create(&tarball).unwrap();
            let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            ));
            builder.append_dir_all(".", &tree).unwrap();
            builder.into_inner().unwrap().finish().unwrap();
        }
        let cache = dir.path().join("cache");
        let first = prepare(&tarball, &cache).unwrap();
        assert_eq!(
            std::fs::read_to_string(first.join("bin/tool")).unwrap(),
            "#!/bin/sh\n"
        );
        std::fs::write(first.join("marker"), "kept").unwrap();
        let second = prepare(&tarball, &cache).unwrap();
        assert_eq!(first, second);
        assert!(second.join("marker").exists(), "reused, not unpacked again");
        assert_eq!(
            prepare(&tree, &cache).unwrap(),
            std::fs::canonicalize(&tree).unwrap()
        );
        let err = prepare(&dir.path().join("root.zip"), &cache).unwrap_err();
        assert!(err.to_string().contains("root.zip"), "{err}");
        std::fs::write(dir.path().join("root.zip"), "x").unwrap();
        let err = prepare(&dir.path().join("root.zip"), &cache).unwrap_err();
        assert!(err.to_string().contains("neither a folder nor"), "{err}");
    }
}
