//! A campaign's definition: the tasks, the models and the settings every run
//! of it shares, kept in `campaign.toml` in the campaign's folder. The file
//! is written once, when the campaign starts, and read by every later run
//! and every shard, so that all of them run the same campaign wherever they
//! are started. API keys are never part of it: they come from each
//! machine's environment (or a Kubernetes Secret).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The name of the definition file in a campaign's folder.
pub const CAMPAIGN_FILE: &str = "campaign.toml";

/// A model of the campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignModel {
    /// `provider/name`, as `vigie eval --model` takes it.
    pub name: String,
    /// The API's base URL, when not the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// How shards divide a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Every run is split: each shard runs its part of every task's
    /// (sample, epoch) pairs, and the parts are merged afterwards.
    #[default]
    Sample,
    /// Runs are dealt out whole: shard I runs the campaign's runs I, I+N, …
    Task,
}

impl Split {
    /// The word the file and the command line use.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Sample => "sample",
            Split::Task => "task",
        }
    }
}

fn default_connections() -> usize {
    10
}
fn default_timeout() -> f64 {
    120.0
}
fn default_retries() -> u32 {
    6
}

/// A campaign: every task against every model, with one set of settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Task files (a relative path is relative to the campaign folder),
    /// `suite:NAME`, `suite:NAME/TASK`, or `framework` (every
    /// built-in task the built-in framework's indicators read) or
    /// `framework:FILE` (those a framework file's indicators read).
    pub tasks: Vec<String>,
    /// The evaluated models.
    #[serde(rename = "model")]
    pub models: Vec<CampaignModel>,
    /// The folder of public benchmark files, for the tasks that read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<PathBuf>,
    /// The judge model of model-graded scorers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_model: Option<CampaignModel>,
    /// The attacker model of attack tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker_model: Option<CampaignModel>,
    /// `KEY=VALUE` generation settings over every task's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generate: Vec<String>,
    /// Samples kept from the start of each task's run order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Epochs, over each task's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// How epochs reduce (`mean`, `mode`, `max`, `at_least_<k>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs_reducer: Option<String>,
    /// Seed for shuffles, generation and the bootstrap.
    #[serde(default)]
    pub seed: u64,
    /// Requests in flight to each model, for the whole campaign: every task
    /// using a model shares its limit, and shards divide it between them.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// Retries per request.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Failed records that stop a run: a fraction when below 1, else a count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_error: Option<f64>,
    /// How shards divide the campaign.
    #[serde(default)]
    pub split: Split,
}

/// Why a campaign's definition cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a campaign.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, and where (line and column).
        message: String,
    },
    /// A setting that cannot work.
    #[error("{path}: {message}")]
    Invalid {
        /// The file, or the command line.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The command line defines a campaign other than the folder's.
    #[error("{path} defines this folder's campaign, and `{field}` there is {in_file}, not {given}: run `vigie campaign run` on the folder without the campaign's settings to carry it on, or choose another folder for another campaign")]
    Conflict {
        /// The definition file.
        path: String,
        /// The setting.
        field: String,
        /// Its value in the file.
        in_file: String,
        /// The value given.
        given: String,
    },
}

impl Campaign {
    /// Reads `dir/campaign.toml`; `None` when the folder has none.
    pub fn load(dir: &Path) -> Result<Option<Campaign>, DefinitionError> {
        let path = dir.join(CAMPAIGN_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(DefinitionError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let campaign: Campaign = toml::from_str(&text).map_err(|e| DefinitionError::Parse {
            path: path.display().to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        campaign.check(&path.display().to_string())?;
        Ok(Some(campaign))
    }

    /// Checks what the types cannot: at least one task and model, limits that can work.
    pub fn check(&self, source: &str) -> Result<(), DefinitionError> {
        let invalid = |message: &str| DefinitionError::Invalid {
            path: source.to_string(),
            message: message.to_string(),
        };
        if self.tasks.is_empty() {
            return Err(invalid(
                "a campaign needs at least one task (`tasks`, or --task)",
            ));
        }
        if self.models.is_empty() {
            return Err(invalid(
                "a campaign needs at least one model (`[[model]]`, or --model)",
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid("`max_connections` must be at least 1"));
        }
        if self.timeout_s.is_nan() || self.timeout_s <= 0.0 {
            return Err(invalid("`timeout_s` must be positive"));
        }
        if self.epochs == Some(0) {
            return Err(invalid("`epochs` must be at least 1"));
        }
        let mut names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|p| p[0] == p[1]) {
            return Err(invalid(&format!("the model `{}` is listed twice", pair[0])));
        }
        Ok(())
    }

    /// Writes `dir/campaign.toml`, which must not exist yet.
    pub fn save(&self, dir: &Path) -> Result<(), DefinitionError> {
        let path = dir.join(CAMPAIGN_FILE);
        let io = |source| DefinitionError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let body = toml::to_string(self).map_err(|e| DefinitionError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let text = format!(
            "# A vigie campaign: every task against every model, with these settings.\n\
             # Written when the campaign started; every run and every shard of it reads\n\
             # this file. API keys are never kept here: each machine's environment gives them.\n\n{body}"
        );
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        Ok(())
    }

    /// The first setting in which `given` (a campaign from the command line)
    /// differs from this one (the folder's), as a conflict.
    pub fn conflict_with(&self, given: &Campaign, dir: &Path) -> Option<DefinitionError> {
        let a = serde_json::to_value(self).ok()?;
        let b = serde_json::to_value(given).ok()?;
        let (a, b) = (a.as_object()?, b.as_object()?);
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        let null = serde_json::Value::Null;
        let found = keys.into_iter().find_map(|key| {
            let (x, y) = (a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null));
            (x != y).then(|| DefinitionError::Conflict {
                path: dir.join(CAMPAIGN_FILE).display().to_string(),
                field: if key == "models" {
                    "model".into()
                } else {
                    key.clone()
                },
                in_file: x.to_string(),
                given: y.to_string(),
            })
        });
        found
    }
}

/// A campaign for tests: the built-in framework's tasks on two models,
/// split as given.
#[cfg(test)]
pub(crate) fn example(split: Split) -> Campaign {
    Campaign {
        tasks: vec!["framework".into()],
        models: vec![
            CampaignModel {
                name: "openai/gpt-5".into(),
                base_url: None,
            },
            CampaignModel {
                name: "anthropic/claude-sonnet-4-5".into(),
                base_url: None,
            },
        ],
        datasets: None,
        judge_model: None,
        attacker_model: None,
        generate: vec![],
        limit: None,
        epochs: None,
        epochs_reducer: None,
        seed: 0,
        max_connections: 64,
        timeout_s: 120.0,
        max_retries: 6,
        fail_on_error: None,
        split,
    }
}

/// A model's name as a folder name: `openai/gpt-5` → `openai_gpt-5`.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        Campaign {
            tasks: vec!["suite:refusal".into(), "my task.toml".into()],
            models: vec![
                CampaignModel {
                    name: "openai/gpt-5".into(),
                    base_url: None,
                },
                CampaignModel {
                    name: "vllm/guard".into(),
                    base_url: Some("http://10.0.0.5:8000/v1".into()),
                },
            ],
            datasets: None,
            judge_model: None,
            attacker_model: None,
            generate: vec!["temperature=0".into()],
            limit: Some(5),
            epochs: None,
            epochs_reducer: None,
            seed: 3,
            max_connections: 8,
            timeout_s: 120.0,
            max_retries: 6,
            fail_on_error: None,
            split: Split::Sample,
        }
    }

    #[test]
    fn a_definition_is_written_once_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Campaign::load(dir.path()).unwrap().is_none());
        campaign().save(dir.path()).unwrap();
        assert_eq!(Campaign::load(dir.path()).unwrap(), Some(campaign()));
        let err = campaign().save(dir.path()).unwrap_err().to_string();
        assert!(err.contains("campaign.toml"), "{err}");
        let text = std::fs::read_to_string(dir.path().join(CAMPAIGN_FILE)).unwrap();
        assert!(
            text.contains("[[model]]") && !text.contains("api_key"),
            "{text}"
        );
    }

    #[test]
    fn a_bad_definition_names_the_file_and_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join(CAMPAIGN_FILE), text).unwrap();
        write("tasks = [\"suite:refusal\"]\n[[model]]\nname = \"a/b\"\nmax_conections = 3\n");
        let err = Campaign::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("campaign.toml")
                && err.contains("max_conections")
                && err.contains("line 4"),
            "{err}"
        );
        write("tasks = []\n[[model]]\nname = \"a/b\"\n");
        let err = Campaign::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("at least one task"), "{err}");
        write("tasks = [\"x.toml\"]\n[[model]]\nname = \"a/b\"\n[[model]]\nname = \"a/b\"\n");
        let err = Campaign::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("`a/b` is listed twice"), "{err}");
    }

    #[test]
    fn another_campaign_in_the_same_folder_is_named_by_its_first_difference() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = campaign();
        other.seed = 4;
        let err = campaign()
            .conflict_with(&other, dir.path())
            .unwrap()
            .to_string();
        assert!(err.contains("`seed` there is 3, not 4"), "{err}");
        assert!(campaign().conflict_with(&campaign(), dir.path()).is_none());
        assert_eq!(slug("local/models/x.gguf"), "local_models_x.gguf");
    }
}
