//! The Kubernetes manifests of a campaign: an Indexed Job with one
//! completion per shard (each pod's `JOB_COMPLETION_INDEX` is its shard,
//! retried per index with `backoffLimitPerIndex`), the campaign folder on a
//! shared volume, API keys taken from a Secret by reference (never a key in
//! the manifest), and, for a split by sample, a merge Job to apply once the
//! shards have completed. The manifests are checked against the Job API's
//! field rules before they are written ([`check_job`]).
//!
//! YAML is written here from a JSON value (block style, strings quoted as
//! JSON when they are not plain words): the structure is fixed and small,
//! and the maintained YAML crates are either unmaintained or far larger
//! than this writer.

use std::fmt::Write;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::definition::{Campaign, Split};
use crate::slurm::{job_name, JobError};

/// How the Job is asked of Kubernetes.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Shards: the Job's completions.
    pub shards: u32,
    /// Pods at once (default: every shard).
    pub parallelism: Option<u32>,
    /// The container image holding `vigie`.
    pub image: String,
    /// The PersistentVolumeClaim (ReadWriteMany) holding the campaign folder.
    pub claim: String,
    /// Where the volume is mounted in the pods.
    pub mount_path: String,
    /// The campaign folder's path inside the volume.
    pub folder_in_volume: String,
    /// The Secret holding the API keys, one key per environment variable.
    pub secret: String,
    /// The namespace, when not the current one.
    pub namespace: Option<String>,
    /// Failed pods tolerated per index before the index fails.
    pub backoff_limit_per_index: u32,
    /// CPU request of each pod (`2`, `500m`).
    pub cpu: Option<String>,
    /// Memory request and limit of each pod (`8Gi`).
    pub memory: Option<String>,
    /// The credential environment variables the campaign's models read.
    pub credentials: Vec<String>,
}

/// The manifests of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeManifests {
    /// The Indexed Job of the shards.
    pub shards: Value,
    /// The merge Job, for a split by sample.
    pub merge: Option<Value>,
}

fn pod_spec(options: &KubeOptions, command: Vec<String>, container: &str) -> Value {
    let env: Vec<Value> = std::iter::once(json!({
        "name": "VIGIE_HOME",
        "value": format!("{}/.vigie", options.mount_path),
    }))
    .chain(options.credentials.iter().map(|var| {
        json!({
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": options.secret, "key": var, "optional": true}},
        })
    }))
    .collect();
    let mut container_spec = json!({
        "name": container,
        "image": options.image,
        "command": command,
        "env": env,
        "volumeMounts": [{"name": "campaign", "mountPath": options.mount_path}],
    });
    let mut resources = Map::new();
    let mut requests = Map::new();
    if let Some(cpu) = &options.cpu {
        requests.insert("cpu".into(), json!(cpu));
    }
    if let Some(memory) = &options.memory {
        requests.insert("memory".into(), json!(memory));
        resources.insert("limits".into(), json!({"memory": memory}));
    }
    if !requests.is_empty() {
        resources.insert("requests".into(), Value::Object(requests));
    }
    if !resources.is_empty() {
        container_spec["resources"] = Value::Object(resources);
    }
    json!({
        "restartPolicy": "Never",
        "containers": [container_spec],
        "volumes": [{"name": "campaign", "persistentVolumeClaim": {"claimName": options.claim}}],
    })
}

fn metadata(name: &str, component: &str, namespace: Option<&str>) -> Value {
    let mut meta = json!({
        "name": name,
        "labels": {
            "app.kubernetes.io/name": "vigie",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/instance": name,
        },
    });
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

/// The manifests of the campaign in the folder `dir` (named as the folder).
pub fn kube_manifests(
    dir: &Path,
    campaign: &Campaign,
    options: &KubeOptions,
) -> Result<KubeManifests, JobError> {
    let name = job_name(dir).to_ascii_lowercase().replace(['_', '.'], "-");
    let folder = format!(
        "{}/{}",
        options.mount_path.trim_end_matches('/'),
        options.folder_in_volume.trim_matches('/')
    );
    let shards = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(&name, "campaign-shard", options.namespace.as_deref()),
        "spec": {
            "completionMode": "Indexed",
            "completions": options.shards,
            "parallelism": options.parallelism.unwrap_or(options.shards),
            "backoffLimitPerIndex": options.backoff_limit_per_index,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "vigie", "app.kubernetes.io/instance": name}},
                "spec": pod_spec(
                    options,
                    ["vigie", "campaign", "run", &folder, "--shards", &options.shards.to_string(), "--no-progress"]
                        .map(str::to_string)
                        .to_vec(),
                    "shard",
                ),
            },
        },
    });
    let merge = (campaign.split == Split::Sample).then(|| {
        let merge_name = format!("{name}-merge");
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(&merge_name, "campaign-merge", options.namespace.as_deref()),
            "spec": {
                "completions": 1,
                "backoffLimit": 2,
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "vigie", "app.kubernetes.io/instance": merge_name}},
                    "spec": pod_spec(
                        options,
                        ["vigie", "campaign", "merge", &folder].map(str::to_string).to_vec(),
                        "merge",
                    ),
                },
            },
        })
    });
    let manifests = KubeManifests { shards, merge };
    for job in std::iter::once(&manifests.shards).chain(&manifests.merge) {
        check_job(job).map_err(|problems| JobError::Invalid(problems.join("; ")))?;
    }
    Ok(manifests)
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b"-._".contains(&b))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

fn is_secret_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// The credential variables a manifest must never hold in clear.
fn looks_like_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| upper.contains(w))
}

/// Checks a Job manifest against the Job API's field rules (those the API
/// server would refuse it for, and vigie's own: no credential in clear);
/// every problem found, each naming its field.
pub fn check_job(job: &Value) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, why: &str| problems.push(format!("{field}: {why}"));
    if job["apiVersion"] != "batch/v1" || job["kind"] != "Job" {
        problem("apiVersion/kind", "must be batch/v1 Job");
    }
    let name = job["metadata"]["name"].as_str().unwrap_or("");
    let spec = &job["spec"];
    let indexed = spec["completionMode"] == "Indexed";
    // An Indexed Job's pods are named and addressed by the Job's name, so it must be a DNS label.
    if !(if indexed {
        is_dns_label(name)
    } else {
        is_dns_subdomain(name)
    }) {
        problem(
            "metadata.name",
            "must be a lower-case DNS label of at most 63 characters",
        );
    }
    if let Some(ns) = job["metadata"]["namespace"].as_str() {
        if !is_dns_label(ns) {
            problem("metadata.namespace", "must be a DNS label");
        }
    }
    match spec["completionMode"].as_str() {
        None | Some("NonIndexed") | Some("Indexed") => {}
        Some(_) => problem("spec.completionMode", "must be NonIndexed or Indexed"),
    }
    let completions = spec["completions"].as_i64();
    if indexed {
        match completions {
            None => problem(
                "spec.completions",
                "is required when completionMode is Indexed",
            ),
            Some(c) if !(1..=100_000).contains(&c) => problem(
                "spec.completions",
                "must be between 1 and 100000 for an Indexed Job",
            ),
            _ => {}
        }
    }
    if let Some(p) = spec.get("parallelism") {
        if p.as_i64().is_none_or(|p| p < 0) {
            problem("spec.parallelism", "must be a non-negative integer");
        }
    }
    let restart = spec["template"]["spec"]["restartPolicy"].as_str();
    if !matches!(restart, Some("Never") | Some("OnFailure")) {
        problem(
            "spec.template.spec.restartPolicy",
            "must be Never or OnFailure for a Job",
        );
    }
    if let Some(b) = spec.get("backoffLimitPerIndex") {
        if !indexed {
            problem(
                "spec.backoffLimitPerIndex",
                "can only be set when completionMode is Indexed",
            );
        }
        if restart != Some("Never") {
            problem(
                "spec.backoffLimitPerIndex",
                "requires the pods' restartPolicy to be Never",
            );
        }
        if b.as_i64().is_none_or(|b| b < 0) {
            problem(
                "spec.backoffLimitPerIndex",
                "must be a non-negative integer",
            );
        }
    }
    if let Some(m) = spec.get("maxFailedIndexes") {
        if spec.get("backoffLimitPerIndex").is_none() {
            problem("spec.maxFailedIndexes", "requires backoffLimitPerIndex");
        }
        if m.as_i64()
            .is_none_or(|m| m < 0 || completions.is_some_and(|c| m > c))
        {
            problem("spec.maxFailedIndexes", "must be between 0 and completions");
        }
    }
    let pod = &spec["template"]["spec"];
    let volumes: Vec<&str> = pod["volumes"]
        .as_array()
        .map(|v| v.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default();
    for (i, container) in pod["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("spec.template.spec.containers[{i}]");
        if !is_dns_label(container["name"].as_str().unwrap_or("")) {
            problem(&format!("{at}.name"), "must be a DNS label");
        }
        if container["image"].as_str().is_none_or(str::is_empty) {
            problem(&format!("{at}.image"), "is required");
        }
        for (j, env) in container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let var = env["name"].as_str().unwrap_or("");
            if !is_env_name(var) {
                problem(
                    &format!("{at}.env[{j}].name"),
                    "is not a valid variable name",
                );
            }
            if env.get("value").is_some() && looks_like_credential(var) {
                problem(
                    &format!("{at}.env[{j}]"),
                    "a credential must come from a Secret (valueFrom.secretKeyRef), never a value in the manifest",
                );
            }
            if let Some(secret) = env.get("valueFrom").and_then(|v| v.get("secretKeyRef")) {
                if !is_dns_subdomain(secret["name"].as_str().unwrap_or("")) {
                    problem(
                        &format!("{at}.env[{j}].valueFrom.secretKeyRef.name"),
                        "must be a DNS subdomain",
                    );
                }
                if !is_secret_key(secret["key"].as_str().unwrap_or("")) {
                    problem(
                        &format!("{at}.env[{j}].valueFrom.secretKeyRef.key"),
                        "is not a valid Secret key",
                    );
                }
            }
        }
        for (j, mount) in container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if !volumes.contains(&mount["name"].as_str().unwrap_or("")) {
                problem(
                    &format!("{at}.volumeMounts[{j}].name"),
                    "names no volume of the pod",
                );
            }
            if !mount["mountPath"]
                .as_str()
                .is_some_and(|p| p.starts_with('/'))
            {
                problem(
                    &format!("{at}.volumeMounts[{j}].mountPath"),
                    "must be an absolute path",
                );
            }
        }
    }
    for (i, volume) in pod["volumes"].as_array().into_iter().flatten().enumerate() {
        if !is_dns_label(volume["name"].as_str().unwrap_or("")) {
            problem(
                &format!("spec.template.spec.volumes[{i}].name"),
                "must be a DNS label",
            );
        }
        if let Some(pvc) = volume.get("persistentVolumeClaim") {
            if !is_dns_subdomain(pvc["claimName"].as_str().unwrap_or("")) {
                problem(
                    &format!("spec.template.spec.volumes[{i}].persistentVolumeClaim.claimName"),
                    "must be a DNS subdomain",
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A string as a YAML scalar: plain when it is a word YAML reads as that
/// string, JSON-quoted (a YAML double-quoted scalar) otherwise.
fn scalar(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c))
        && !s.ends_with(':')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn inline(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(scalar(s)),
        Value::Object(m) if m.is_empty() => Some("{}".into()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(_) | Value::Array(_) => None,
        other => Some(other.to_string()),
    }
}

fn write_yaml(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match inline(v) {
                    Some(text) => {
                        let _ = writeln!(out, "{pad}{}: {text}", scalar(key));
                    }
                    None => {
                        let _ = writeln!(out, "{pad}{}:", scalar(key));
                        // Sequences sit at their key's indent, as kubectl writes them.
                        let inner = if v.is_array() { indent } else { indent + 2 };
                        write_yaml(out, v, inner);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match inline(item) {
                    Some(text) => {
                        let _ = writeln!(out, "{pad}- {text}");
                    }
                    None => {
                        let mut nested = String::new();
                        write_yaml(&mut nested, item, indent + 2);
                        // The first line of the item goes after the dash.
                        let _ = write!(out, "{pad}- {}", &nested[indent + 2..]);
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", inline(other).unwrap_or_default());
        }
    }
}

/// A manifest as YAML, with a comment at its top.
pub fn to_yaml(value: &Value, comment: &str) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        let _ = writeln!(out, "# {line}");
    }
    write_yaml(&mut out, value, 0);
    out
}

#[cfg(test)]
mod tests;
