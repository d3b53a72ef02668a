//! vigie's verifiable records. A finished log carries a manifest (hashes of
//! its header, every record and its footer, and a Merkle root); this crate
//! signs that manifest with an Ed25519 key, signs reports, checks both byte
//! for byte, and packs logs and a report into one bundle that another
//! institute verifies and re-renders on its own machine.
//!
//! What a signature covers is always a domain-separated message —
//! `vigie/<what>/v1`, the SHA-256 of the signed bytes, and the signing time —
//! so a log signature can never be replayed as a report signature.
#![deny(missing_docs)]

mod against;
mod bundle;
mod inputs;
mod keys;
mod log;
mod report;

pub use against::{files_to_sign, verify_report_against_logs, ReportVerification};
pub use bundle::{
    cross_check, open_bundle, verify_bundle, write_bundle, Bundle, BundleCheck, BUNDLE_EXTENSION,
};
pub use inputs::{gather, is_bundle, is_log, Inputs};
pub use keys::{
    generate_key, load_public_key, load_secret_key, write_key_pair, KeyPair, PublicKey,
};
pub use log::{check_seal, sign_log, verify_log, LogCheck, Problem, SealCheck};
pub use report::{
    embed_sources, read_sources, sign_report, verify_report, ReportCheck, ReportFormat,
    ReportSource,
};
pub use vigie_log::Signature;

/// Why a record could not be signed, checked or bundled.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A key file is not a vigie key.
    #[error("{path}: {reason}")]
    BadKey {
        /// The key file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] vigie_log::LogError),
    /// The log cannot be signed as it is.
    #[error("{path}: {reason}")]
    NotSignable {
        /// The log.
        path: String,
        /// Why.
        reason: String,
    },
    /// A report or bundle is not in the shape vigie writes.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// What was given cannot be used (a folder without logs, a missing file).
    #[error("{0}")]
    Input(String),
}

fn io_error(path: &std::path::Path) -> impl Fn(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How one signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The key's short id.
    pub key_id: String,
    /// When it was signed.
    pub signed_at: String,
    /// The signature is valid for the key it names and the bytes it covers.
    pub valid: bool,
    /// Why it is not, when it is not.
    pub reason: Option<String>,
}

/// The message an Ed25519 signature covers.
fn signed_message(domain: &str, digest_hex: &str, signed_at: &str) -> Vec<u8> {
    format!("vigie/{domain}/v1\n{digest_hex}\n{signed_at}\n").into_bytes()
}

fn sign_digest(key: &KeyPair, domain: &str, digest_hex: &str) -> Signature {
    use ed25519_dalek::Signer;
    let signed_at = vigie_log::now_rfc3339();
    let signature = key
        .signing
        .sign(&signed_message(domain, digest_hex, &signed_at));
    let public = key.public();
    Signature {
        algorithm: "ed25519".into(),
        key_id: public.key_id(),
        public_key: public.hex(),
        signed_at,
        signed_sha256: digest_hex.to_string(),
        signature: hex::encode(signature.to_bytes()),
    }
}

/// Checks one signature over `digest_hex` in `domain`.
fn check_signature(signature: &Signature, domain: &str, digest_hex: &str) -> SignatureCheck {
    let mut check = SignatureCheck {
        key_id: signature.key_id.clone(),
        signed_at: signature.signed_at.clone(),
        valid: false,
        reason: None,
    };
    let outcome = (|| {
        if signature.algorithm != "ed25519" {
            return Err(format!("unknown algorithm {:?}", signature.algorithm));
        }
        let public =
            PublicKey::from_hex(&signature.public_key).map_err(|e| format!("public key: {e}"))?;
        if public.key_id() != signature.key_id {
            return Err("the key id does not belong to the public key".into());
        }
        if signature.signed_sha256 != digest_hex {
            return Err("it signs other content than this".into());
        }
        let bytes = hex::decode(&signature.signature)
            .ok()
            .filter(|b| b.len() == 64)
            .ok_or("the signature is not 64 bytes of hex")?;
        let sig = ed25519_dalek::Signature::from_slice(&bytes).map_err(|e| e.to_string())?;
        public
            .verifying
            .verify_strict(
                &signed_message(domain, digest_hex, &signature.signed_at),
                &sig,
            )
            .map_err(|_| "the signature does not match the content and key".to_string())
    })();
    match outcome {
        Ok(()) => check.valid = true,
        Err(reason) => check.reason = Some(reason),
    }
    check
}
