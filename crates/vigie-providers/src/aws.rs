//! AWS credentials and request signing for Bedrock: credentials and region
//! from the standard environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
//! `AWS_DEFAULT_REGION`), else from the shared profile files
//! (`~/.aws/credentials`, `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE` /
//! `AWS_CONFIG_FILE`; profile `AWS_PROFILE`, else `default`). Signing is
//! SigV4 by the `aws-sigv4` crate. The profile files are a small INI subset
//! read here: the AWS SDK's config loader would bring its whole runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use crate::ProviderError;

/// Credentials to sign with.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AwsCredentials {
    /// The access key id.
    pub(crate) access_key_id: String,
    /// The secret key.
    pub(crate) secret_access_key: String,
    /// A session token, for temporary credentials.
    pub(crate) session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log or an error message.
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Where credentials and the region come from: the environment, then the files.
#[derive(Debug, Clone)]
pub(crate) struct AwsSources {
    pub(crate) env: HashMap<String, String>,
    pub(crate) home: Option<PathBuf>,
}

impl AwsSources {
    /// This process's environment and home folder.
    pub(crate) fn from_process() -> AwsSources {
        AwsSources {
            env: std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn profile(&self) -> &str {
        self.var("AWS_PROFILE").unwrap_or("default")
    }

    fn file(&self, env: &str, name: &str) -> Option<PathBuf> {
        self.var(env)
            .map(PathBuf::from)
            .or_else(|| self.home.as_ref().map(|h| h.join(".aws").join(name)))
    }

    /// The credentials, from the environment or the profile files.
    pub(crate) fn credentials(&self) -> Result<AwsCredentials, ProviderError> {
        if let (Some(id), Some(secret)) = (
            self.var("AWS_ACCESS_KEY_ID"),
            self.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(AwsCredentials {
                access_key_id: id.to_string(),
                secret_access_key: secret.to_string(),
                session_token: self.var("AWS_SESSION_TOKEN").map(str::to_string),
            });
        }
        let profile = self.profile();
        for (path, section) in [
            (
                self.file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                profile.to_string(),
            ),
            (
                self.file("AWS_CONFIG_FILE", "config"),
                config_section(profile),
            ),
        ] {
            let Some(path) = path else { continue };
            let values = read_section(&path, &section)?;
            if let (Some(id), Some(secret)) = (
                values.get("aws_access_key_id"),
                values.get("aws_secret_access_key"),
            ) {
                return Ok(AwsCredentials {
                    access_key_id: id.clone(),
                    secret_access_key: secret.clone(),
                    session_token: values.get("aws_session_token").cloned(),
                });
            }
        }
        Err(ProviderError::MissingAwsCredentials {
            profile: profile.to_string(),
        })
    }

    /// The region, from the environment or the config file.
    pub(crate) fn region(&self) -> Result<String, ProviderError> {
        if let Some(region) = self.var("AWS_REGION").or(self.var("AWS_DEFAULT_REGION")) {
            return Ok(region.to_string());
        }
        if let Some(path) = self.file("AWS_CONFIG_FILE", "config") {
            if let Some(region) =
                read_section(&path, &config_section(self.profile()))?.remove("region")
            {
                return Ok(region);
            }
        }
        Err(ProviderError::MissingAwsRegion)
    }
}

/// The config file names profiles `[profile NAME]`, except `[default]`.
fn config_section(profile: &str) -> String {
    if profile == "default" {
        "default".into()
    } else {
        format!("profile {profile}")
    }
}

/// The `key = value` pairs of one `[section]` of an INI file; a missing
/// file has none, an unreadable one is an error naming it.
fn read_section(path: &Path, section: &str) -> Result<HashMap<String, String>, ProviderError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => {
            return Err(ProviderError::Client(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let mut values = HashMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
        } else if let (true, Some((key, value))) = (inside, line.split_once('=')) {
            values.insert(key.trim().to_lowercase(), value.trim().to_string());
        }
    }
    Ok(values)
}

/// Signs requests to one AWS service in one region.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub(crate) credentials: AwsCredentials,
    pub(crate) region: String,
    pub(crate) service: &'static str,
}

impl Signer {
    /// The headers that sign a request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` with a session token), at `time`.
    pub(crate) fn headers(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, String> {
        let credentials = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            self.credentials.session_token.clone(),
            None,
            "vigie",
        );
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(env: &[(&str, &str)], home: Option<&Path>) -> AwsSources {
        AwsSources {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: home.map(Path::to_path_buf),
        }
    }

    /// AWS's published SigV4 test suite, `post-vanilla`: the same request,
    /// credentials and time must give the signature AWS publishes.
    #[test]
    fn signatures_match_the_published_sigv4_test_vectors() {
        let signer = Signer {
            credentials: AwsCredentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            service: "service",
        };
        // 2015-08-30T12:36:00Z
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let mut signed = signer
            .headers(
                "POST",
                "https://example.amazonaws.com/",
                &[("host", "example.amazonaws.com")],
                b"",
                time,
            )
            .unwrap();
        signed.sort();
        let authorization = signed
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str())
            .unwrap();
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
        assert!(signed
            .iter()
            .any(|(k, v)| k == "x-amz-date" && v == "20150830T123600Z"));
    }

    #[test]
    fn credentials_come_from_the_environment_then_the_profile_files() {
        let env = sources(
            &[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_REGION", "eu-west-3"),
            ],
            None,
        );
        assert_eq!(env.credentials().unwrap().access_key_id, "AKID");
        assert_eq!(env.region().unwrap(), "eu-west-3");

        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = d\n\n[audit]\n# the institute's\naws_access_key_id=AKAUDIT\naws_secret_access_key=a\naws_session_token = tok\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[default]\nregion = us-west-2\n[profile audit]\nregion = eu-central-1\n",
        )
        .unwrap();
        let files = sources(&[], Some(home.path()));
        assert_eq!(files.credentials().unwrap().access_key_id, "AKDEF");
        assert_eq!(files.region().unwrap(), "us-west-2");
        let audit = sources(&[("AWS_PROFILE", "audit")], Some(home.path()));
        let credentials = audit.credentials().unwrap();
        assert_eq!(
            (
                credentials.access_key_id.as_str(),
                credentials.session_token.as_deref()
            ),
            ("AKAUDIT", Some("tok"))
        );
        assert_eq!(audit.region().unwrap(), "eu-central-1");
        assert!(
            !format!("{credentials:?}").contains("secret"),
            "the secret stays out of Debug"
        );

        let none = sources(&[("AWS_PROFILE", "missing")], Some(home.path()));
        let err = none.credentials().unwrap_err().to_string();
        assert!(
            err.contains("AWS_ACCESS_KEY_ID") && err.contains("`missing`"),
            "{err}"
        );
        assert!(matches!(
            sources(&[], None).region(),
            Err(ProviderError::MissingAwsRegion)
        ));
    }
}
