//! The response cache: one JSON file per request, named by the SHA-256 of
//! the model, the endpoint and the full request body, written to a temporary
//! name and renamed, so a crash never leaves a half-written entry.

use std::path::{Path, PathBuf};

use sha2::Digest;
use vigie_core::ModelOutput;

/// An on-disk response cache.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

impl ResponseCache {
    /// A cache under `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> ResponseCache {
        ResponseCache { dir: dir.into() }
    }

    /// The cache's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of a request.
    pub fn key(model: &str, endpoint: &str, body: &[u8]) -> String {
        let mut hasher = sha2::Sha256::new();
        hasher.update(model.as_bytes());
        hasher.update(b"\n");
        hasher.update(endpoint.as_bytes());
        hasher.update(b"\n");
        hasher.update(body);
        hex::encode(hasher.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The cached answer, if any; an unreadable entry counts as a miss.
    pub fn get(&self, key: &str) -> Option<ModelOutput> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores an answer.
    pub fn put(&self, key: &str, output: &ModelOutput) -> std::io::Result<()> {
        let path = self.path(key);
        let parent = path.parent().expect("entries live in a subfolder");
        std::fs::create_dir_all(parent)?;
        let stored = ModelOutput {
            retries: 0,
            cached: false,
            ..output.clone()
        };
        let tmp = parent.join(format!(".{key}.{}.tmp", std::process::id()));
        std::fs::write(
            &tmp,
            serde_json::to_vec(&stored).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_core::Usage;

    #[test]
    fn round_trip_and_distinct_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path());
        let a = ResponseCache::key("openai/x", "http://h/v1", b"{\"messages\":[1]}");
        let b = ResponseCache::key("openai/x", "http://h/v1", b"{\"messages\":[2]}");
        let c = ResponseCache::key("openai/y", "http://h/v1", b"{\"messages\":[1]}");
        assert!(a != b && a != c);
        assert!(cache.get(&a).is_none());
        let output = ModelOutput {
            text: "4".into(),
            stop_reason: "stop".into(),
            usage: Usage {
                input_tokens: 1,
                output_tokens: 1,
                total_tokens: 2,
                ..Usage::default()
            },
            retries: 3,
            cached: false,
            ..ModelOutput::default()
        };
        cache.put(&a, &output).unwrap();
        let got = cache.get(&a).unwrap();
        assert_eq!(got.text, "4");
        assert_eq!(
            got.retries, 0,
            "retries of the original call are not replayed"
        );
        assert!(cache.get(&b).is_none());
    }
}
