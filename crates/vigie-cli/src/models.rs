//! The binary's model registry: a name becomes the embedded model
//! (`local/...`) or an HTTP provider (`vigie_providers`), and the engine's
//! planner asks for models through it. A model asked for again is the same
//! model (one connection limit per model however many tasks use it, one
//! embedded-model worker). The providers' request counters are kept for the
//! progress display.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use vigie_core::ModelApi;
use vigie_eval::plan::{ModelRole, ModelSource, ResolvedModel};
use vigie_log::ModelRef;
use vigie_providers::{Profiles, ProviderOptions, ProviderStats, ResponseCache, RetryPolicy};

use crate::UsageError;

/// The model used when `--model` is not given: the embedded one.
pub(crate) const DEFAULT_MODEL: &str = "local/smollm2";

/// Connection settings shared by the evaluated, judge and attacker models.
pub(crate) struct Connection {
    pub(crate) max_connections: usize,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) cache: Option<ResponseCache>,
    /// The model profiles, the user's first.
    pub(crate) profiles: Arc<Profiles>,
}

/// Builds models by name for one command.
pub(crate) struct Registry {
    connection: Connection,
    /// The key given on the command line, for the evaluated model only.
    api_key: Option<String>,
    stats: Mutex<Vec<Arc<ProviderStats>>>,
    /// Models built so far, by name, base URL and key.
    built: Mutex<HashMap<ModelKey, ResolvedModel>>,
}

type ModelKey = (String, Option<String>, Option<String>);

impl Registry {
    pub(crate) fn new(connection: Connection, api_key: Option<String>) -> Registry {
        Registry {
            connection,
            api_key,
            stats: Mutex::new(Vec::new()),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The request counters of every model built so far.
    pub(crate) fn stats(&self) -> Vec<Arc<ProviderStats>> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A model by name: `local/...` loads the embedded runtime, anything else
    /// goes through a provider; built once per name, base URL and key.
    pub(crate) fn build(
        &self,
        name: &str,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<ResolvedModel> {
        let key: ModelKey = (
            name.to_string(),
            base_url.map(str::to_string),
            api_key.map(str::to_string),
        );
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(model) = built.get(&key) {
            return Ok(model.clone());
        }
        let model = self.build_new(name, base_url, api_key)?;
        built.insert(key, model.clone());
        Ok(model)
    }

    fn build_new(
        &self,
        name: &str,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<ResolvedModel> {
        let reference = |base_url| ModelRef {
            name: name.to_string(),
            base_url,
            profile: None,
        };
        if let Some(spec) = name.strip_prefix("local/") {
            let path = vigie_local::resolve(&crate::env::home(), spec)
                .map_err(|e| UsageError(e.to_string()))?;
            let model = vigie_local::LocalModel::load(name, &path)
                .map_err(|e| UsageError(e.to_string()))?;
            return Ok(ResolvedModel {
                api: Arc::new(model),
                reference: reference(None),
            });
        }
        let options = ProviderOptions {
            base_url: base_url.map(str::to_string),
            api_key: api_key.map(str::to_string),
            max_connections: self.connection.max_connections,
            timeout: self.connection.timeout,
            retry: self.connection.retry,
            cache: self.connection.cache.clone(),
            profiles: self.connection.profiles.clone(),
        };
        let (model, stats) =
            vigie_providers::resolve(name, &options).map_err(|e| UsageError(e.to_string()))?;
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(stats);
        let api: Arc<dyn ModelApi> = model;
        Ok(ResolvedModel {
            api,
            reference: reference(vigie_providers::base_url_for(name, base_url)),
        })
    }
}

impl ModelSource for Registry {
    fn resolve(
        &self,
        role: ModelRole,
        name: &str,
        base_url: Option<&str>,
    ) -> Result<ResolvedModel, String> {
        let api_key = if role == ModelRole::Evaluated {
            self.api_key.as_deref()
        } else {
            None
        };
        self.build(name, base_url, api_key)
            .map_err(|e| e.to_string())
    }
}
