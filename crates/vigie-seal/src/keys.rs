//! Ed25519 key files. A key pair is two small text files: `NAME.key` (the
//! 32-byte secret seed, readable by its owner only) and `NAME.pub` (the public
//! key, to hand to whoever verifies). Each is a comment line and one hex line.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::{io_error, SealError};

const SECRET_LABEL: &str = "# vigie ed25519 secret key: keep private";
const PUBLIC_LABEL: &str = "# vigie ed25519 public key";

/// A signing key.
pub struct KeyPair {
    pub(crate) signing: SigningKey,
}

/// A public key, as signatures name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub(crate) verifying: VerifyingKey,
}

impl KeyPair {
    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            verifying: self.signing.verifying_key(),
        }
    }
}

impl PublicKey {
    /// The key in hex.
    pub fn hex(&self) -> String {
        hex::encode(self.verifying.as_bytes())
    }

    /// A short id: the first 16 hex digits of the key's SHA-256.
    pub fn key_id(&self) -> String {
        hex::encode(vigie_log::manifest::sha256(self.verifying.as_bytes()))[..16].to_string()
    }

    /// Parses a key from hex.
    pub fn from_hex(text: &str) -> Result<PublicKey, String> {
        let bytes: [u8; 32] = hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("not 32 bytes of hex")?;
        VerifyingKey::from_bytes(&bytes)
            .map(|verifying| PublicKey { verifying })
            .map_err(|_| "not a valid Ed25519 point".to_string())
    }
}

/// A new key from the operating system's random source.
pub fn generate_key() -> Result<KeyPair, SealError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| SealError::Io {
        path: "the system random source".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(KeyPair {
        signing: SigningKey::from_bytes(&seed),
    })
}

/// Writes `NAME.key` and `NAME.pub` beside `name`; refuses to overwrite either.
/// Returns the two paths.
pub fn write_key_pair(name: &Path, key: &KeyPair) -> Result<(PathBuf, PathBuf), SealError> {
    let secret_path = with_suffix(name, "key");
    let public_path = with_suffix(name, "pub");
    for path in [&secret_path, &public_path] {
        if path.exists() {
            return Err(SealError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "already exists; not overwritten",
                ),
            });
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&secret_path).map_err(io_error(&secret_path))?;
    writeln!(
        file,
        "{SECRET_LABEL}\n{}",
        hex::encode(key.signing.as_bytes())
    )
    .map_err(io_error(&secret_path))?;
    let public = key.public();
    std::fs::write(
        &public_path,
        format!("{PUBLIC_LABEL} {}\n{}\n", public.key_id(), public.hex()),
    )
    .map_err(io_error(&public_path))?;
    Ok((secret_path, public_path))
}

fn with_suffix(name: &Path, suffix: &str) -> PathBuf {
    let mut os = name.as_os_str().to_owned();
    os.push(".");
    os.push(suffix);
    PathBuf::from(os)
}

/// Reads a secret key file written by [`write_key_pair`].
pub fn load_secret_key(path: &Path) -> Result<KeyPair, SealError> {
    let (label, body) = read_key_file(path)?;
    if label.starts_with(PUBLIC_LABEL) {
        return Err(bad_key(
            path,
            "this is a public key; signing needs the .key file",
        ));
    }
    if !label.starts_with(SECRET_LABEL) {
        return Err(bad_key(
            path,
            "not a vigie secret key (expected the line written by `vigie keygen`)",
        ));
    }
    let seed: [u8; 32] = hex::decode(&body)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad_key(path, "line 2: not 32 bytes of hex"))?;
    Ok(KeyPair {
        signing: SigningKey::from_bytes(&seed),
    })
}

/// Reads a public key file written by [`write_key_pair`] (or a secret key
/// file, whose public half it takes).
pub fn load_public_key(path: &Path) -> Result<PublicKey, SealError> {
    let (label, body) = read_key_file(path)?;
    if label.starts_with(SECRET_LABEL) {
        return Ok(load_secret_key(path)?.public());
    }
    if !label.starts_with(PUBLIC_LABEL) {
        return Err(bad_key(
            path,
            "not a vigie public key (expected the line written by `vigie keygen`)",
        ));
    }
    PublicKey::from_hex(&body).map_err(|reason| bad_key(path, &format!("line 2: {reason}")))
}

fn read_key_file(path: &Path) -> Result<(String, String), SealError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut lines = text.lines();
    let label = lines.next().unwrap_or_default().trim().to_string();
    let body = lines.next().unwrap_or_default().trim().to_string();
    Ok((label, body))
}

fn bad_key(path: &Path, reason: &str) -> SealError {
    SealError::BadKey {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("institute");
        let key = generate_key().unwrap();
        let (secret, public) = write_key_pair(&name, &key).unwrap();
        assert_eq!(secret, dir.path().join("institute.key"));
        assert_eq!(load_secret_key(&secret).unwrap().public(), key.public());
        assert_eq!(load_public_key(&public).unwrap(), key.public());
        assert_eq!(load_public_key(&secret).unwrap(), key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(write_key_pair(&name, &generate_key().unwrap()).is_err());
        assert_eq!(
            load_public_key(&public).unwrap(),
            key.public(),
            "the first key is untouched"
        );
        let err = load_secret_key(&public).err().unwrap().to_string();
        assert!(err.contains("this is a public key"), "{err}");
        std::fs::write(&secret, format!("{SECRET_LABEL}\nzz\n")).unwrap();
        let err = load_secret_key(&secret).err().unwrap().to_string();
        assert!(err.contains("line 2: not 32 bytes of hex"), "{err}");
        assert_ne!(
            generate_key().unwrap().public(),
            generate_key().unwrap().public()
        );
    }
}
