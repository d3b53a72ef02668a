//! For this crate's tests: scripted models handed to the planner by name.

use std::sync::Arc;

use vigie_core::ModelApi;
use vigie_testserver::ScriptedModel;

use crate::plan::{ModelRole, ModelSource, ResolvedModel};

/// Scripted models, found by their names; any other name is an unknown
/// provider, as the binary's registry says.
pub(crate) struct Models(pub(crate) Vec<Arc<ScriptedModel>>);

impl ModelSource for Models {
    fn resolve(
        &self,
        _: ModelRole,
        name: &str,
        base_url: Option<&str>,
    ) -> Result<ResolvedModel, String> {
        let model = self
            .0
            .iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| format!("unknown model provider in `{name}`"))?;
        Ok(ResolvedModel {
            api: model.clone(),
            reference: vigie_log::ModelRef {
                name: name.into(),
                base_url: base_url.map(str::to_string),
                profile: None,
            },
        })
    }
}
