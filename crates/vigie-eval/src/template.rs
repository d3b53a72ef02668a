//! Prompt templates: minijinja with strict undefined variables, so a
//! misspelt `{{ inptu }}` is an error rather than an empty string.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::dataset::Sample;

/// The compiled prompt templates of a task or a scorer.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// An empty set of templates.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Prompts are text, not HTML.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(true);
        Templates { env }
    }

    /// Adds a template; a syntax error is returned as a message.
    pub(crate) fn add(&mut self, name: String, source: String) -> Result<(), String> {
        self.env
            .add_template_owned(name, source)
            .map_err(|e| format!("template syntax error: {}", describe(&e)))
    }

    pub(crate) fn render(&self, name: &str, context: &Value) -> Result<String, String> {
        let template = self.env.get_template(name).map_err(|e| describe(&e))?;
        template
            .render(context)
            .map_err(|e| format!("template: {}", describe(&e)))
    }
}

fn describe(error: &minijinja::Error) -> String {
    let mut text = error.detail().map_or_else(
        || error.kind().to_string(),
        |d| format!("{}: {d}", error.kind()),
    );
    if let Some(line) = error.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    text
}

/// The variables a template sees for a sample: `input`, `id`, `target`
/// (targets joined by ", "), `targets`, `choices`, `metadata`, and each
/// metadata field by its own name. `extra` adds or overrides.
pub(crate) fn sample_context(
    sample: &Sample,
    choices: &[String],
    target: &[String],
    extra: &[(&str, Value)],
) -> Value {
    let mut map = Map::new();
    for (k, v) in &sample.metadata {
        map.insert(k.clone(), v.clone());
    }
    map.insert("metadata".into(), Value::Object(sample.metadata.clone()));
    map.insert("id".into(), Value::String(sample.id.clone()));
    map.insert("input".into(), Value::String(sample.input.clone()));
    map.insert("target".into(), Value::String(target.join(", ")));
    map.insert(
        "targets".into(),
        Value::Array(target.iter().cloned().map(Value::String).collect()),
    );
    map.insert(
        "choices".into(),
        Value::Array(choices.iter().cloned().map(Value::String).collect()),
    );
    for (k, v) in extra {
        map.insert((*k).to_string(), v.clone());
    }
    Value::Object(map)
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}
