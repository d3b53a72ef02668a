//! A task's `[sandbox]` table and the sandbox each of its samples gets:
//! the policy (root filesystem, network), the limits and environment of its
//! commands, the files copied in (the task's, then the sample's `files`
//! field) and the setup scripts run before the first solver (the task's,
//! then the sample's `setup` field). The sandbox lives from before the first
//! solver to after the last scorer, and is removed whatever happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use vigie_log::SampleErrorKind;
use vigie_sandbox::{ExecRequest, Isolation, Limits, Policy, Sandbox, SandboxHost};

use crate::dataset::Sample;
use crate::solver::SolveError;

/// `[sandbox]` as written in a task file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SandboxSpec {
    #[serde(default)]
    rootfs: Option<String>,
    #[serde(default)]
    network: bool,
    #[serde(default)]
    setup: Option<String>,
    #[serde(default)]
    setup_timeout: Option<f64>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    derived_flag: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    memory_mb: Option<u64>,
    #[serde(default)]
    processes: Option<u64>,
    #[serde(default)]
    cpu_seconds: Option<u64>,
    #[serde(default)]
    file_size_mb: Option<u64>,
    #[serde(default)]
    open_files: Option<u64>,
}

/// A task's sandbox, compiled.
#[derive(Debug, Clone)]
pub struct SandboxPlan {
    /// The root filesystem the task names (a folder or tarball, relative to
    /// the task file), when not the host's system folders.
    pub rootfs: Option<String>,
    /// Whether the task asks for the host's network.
    pub network: bool,
    setup: Option<String>,
    setup_timeout: Duration,
    files: BTreeMap<String, String>,
    /// File and folder names never copied in (a challenge's `solution/`).
    exclude: Vec<String>,
    /// Each sample's target is a flag derived from the run's secret,
    /// given to its setup scripts (and to nothing the agent runs) as `$FLAG`.
    pub derived_flag: bool,
    env: BTreeMap<String, String>,
    limits: Limits,
}

impl Default for SandboxPlan {
    fn default() -> Self {
        SandboxPlan::compile(&SandboxSpec::default()).expect("the default sandbox compiles")
    }
}

impl SandboxPlan {
    pub(crate) fn compile(spec: &SandboxSpec) -> Result<SandboxPlan, String> {
        let mut limits = Limits::default();
        let mb = |n: u64| n.saturating_mul(1 << 20);
        if let Some(n) = spec.memory_mb {
            limits.memory_bytes = Some(mb(n));
        }
        if let Some(n) = spec.processes {
            limits.processes = Some(n);
        }
        if spec.cpu_seconds.is_some() {
            limits.cpu_seconds = spec.cpu_seconds;
        }
        if let Some(n) = spec.file_size_mb {
            limits.file_size_bytes = Some(mb(n));
        }
        if let Some(n) = spec.open_files {
            limits.open_files = Some(n);
        }
        for (name, value) in [
            ("memory_mb", spec.memory_mb),
            ("processes", spec.processes),
            ("cpu_seconds", spec.cpu_seconds),
            ("file_size_mb", spec.file_size_mb),
            ("open_files", spec.open_files),
        ] {
            if value == Some(0) {
                return Err(format!("field `sandbox.{name}`: must be at least 1"));
            }
        }
        let setup_timeout = match spec.setup_timeout {
            Some(t) if !(t > 0.0 && t.is_finite()) => {
                return Err("field `sandbox.setup_timeout`: must be positive".into())
            }
            t => Duration::from_secs_f64(t.unwrap_or(300.0)),
        };
        for inside in spec.files.keys() {
            check_destination(inside).map_err(|m| format!("field `sandbox.files`: {m}"))?;
        }
        Ok(SandboxPlan {
            rootfs: spec.rootfs.clone(),
            network: spec.network,
            setup: spec.setup.clone(),
            setup_timeout,
            files: spec.files.clone(),
            exclude: spec.exclude.clone(),
            derived_flag: spec.derived_flag,
            env: spec.env.clone(),
            limits,
        })
    }

    /// What of `sample`'s files (the task's, by source under `base`, and its
    /// own, under `own`) is missing, in words; `None` when everything is there.
    pub(crate) fn missing_files(&self, base: &Path, own: &Path, sample: &Sample) -> Option<String> {
        let mut sources: Vec<(&Path, String)> =
            self.files.values().map(|s| (base, s.clone())).collect();
        if let Some(Value::Object(map)) = sample.metadata.get("files") {
            sources.extend(
                map.values()
                    .filter_map(Value::as_str)
                    .map(|s| (own, s.to_string())),
            );
        }
        for (base, source) in sources.iter().filter(|(_, s)| !s.starts_with("data:")) {
            let path = base.join(source);
            if !path.exists() {
                return Some(format!("{source} is not there"));
            }
            if path.is_dir() && !holds_a_file(&path, &self.exclude) {
                return Some(format!("{source} holds no file besides the excluded ones"));
            }
        }
        None
    }

    /// The environment of the sandbox's commands.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
}

fn check_destination(inside: &str) -> Result<(), String> {
    if inside == "/work" || inside == "." {
        return Ok(());
    }
    let relative = inside
        .strip_prefix("/work/")
        .or_else(|| (!inside.starts_with('/')).then_some(inside));
    match relative {
        Some(r) if !r.is_empty() && !r.split('/').any(|p| p == ".." || p.is_empty()) => Ok(()),
        _ => Err(format!(
            "`{inside}`: a file goes under /work (a relative path is relative to it; `/work` itself takes a folder's contents)"
        )),
    }
}

/// Where a run's sandboxes are made, and how they are isolated: decided by
/// the binary (the helper, the folder) and the user (`--sandbox local`).
#[derive(Debug, Clone)]
pub struct SandboxSetup {
    /// The helper and the folder.
    pub host: SandboxHost,
    /// How commands are isolated.
    pub isolation: Isolation,
    /// The task's root filesystem, unpacked ([`vigie_sandbox::rootfs::prepare`]).
    pub rootfs: Option<PathBuf>,
}

/// Where the binary makes sandboxes, and how the user wants them isolated
/// (`--sandbox`).
#[derive(Debug, Clone)]
pub struct SandboxChoice {
    /// The helper and the folder.
    pub host: SandboxHost,
    /// How commands are isolated.
    pub isolation: Isolation,
}

impl SandboxChoice {
    /// The setup of `task`'s sandboxes, its root filesystem unpacked (once,
    /// into the sandbox folder); `None` for a task without a sandbox.
    pub fn setup_for(&self, task: &crate::Task) -> Result<Option<SandboxSetup>, String> {
        let Some(plan) = &task.sandbox else {
            return Ok(None);
        };
        let rootfs = match &plan.rootfs {
            None => None,
            Some(rootfs) => {
                let path = match &task.base_dir {
                    Some(base) => base.join(rootfs),
                    None => PathBuf::from(rootfs),
                };
                Some(
                    vigie_sandbox::rootfs::prepare(&path, &self.host.base).map_err(|e| {
                        format!("task `{}`: field `sandbox.rootfs`: {e}", task.name)
                    })?,
                )
            }
        };
        Ok(Some(SandboxSetup {
            host: self.host.clone(),
            isolation: self.isolation,
            rootfs,
        }))
    }
}

impl SandboxSetup {
    /// Runs `true` in a sandbox like the samples' will be, so that a machine
    /// that cannot make one is found before the first sample, not by each.
    pub async fn probe(&self, network: bool) -> Result<(), String> {
        let policy = Policy {
            isolation: self.isolation,
            rootfs: self.rootfs.clone(),
            network,
        };
        let sandbox = Sandbox::create(&self.host, &policy).map_err(|e| e.to_string())?;
        let output = sandbox
            .exec(&ExecRequest::new("true", Duration::from_secs(30)))
            .await
            .map_err(|e| e.to_string())?;
        if output.exit_code != 0 {
            return Err(format!(
                "sandbox: `true` exited with {} in it: {}",
                output.exit_code,
                output.stderr.text().trim()
            ));
        }
        Ok(())
    }
}

/// The flag of `sample_id` in a run whose secret is `secret` (its run id):
/// `vigie{` and 24 hex digits of SHA-256 over both, `}`. In no file of the
/// repository, different in every run, the same when the run is resumed.
pub fn derived_flag(secret: &str, sample_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("vigie-flag\0{secret}\0{sample_id}").as_bytes());
    format!("vigie{{{}}}", &hex::encode(digest)[..24])
}

/// One sample's sandbox, set up.
#[derive(Debug)]
pub struct SampleSandbox {
    /// The sandbox.
    pub sandbox: Sandbox,
    /// Its commands' environment.
    pub env: BTreeMap<String, String>,
    /// Its commands' limits.
    pub limits: Limits,
}

fn sandbox_error(message: String) -> SolveError {
    SolveError {
        kind: SampleErrorKind::Sandbox,
        message,
    }
}

/// Makes `sample`'s sandbox: copies the task's and the sample's files in
/// (sources relative to `base`, the task file's folder; `data:,TEXT` is the
/// text itself) and runs the setup scripts. Any failure is the sample's
/// `sandbox` error; the sandbox is removed with it.
pub(crate) async fn prepare(
    plan: &SandboxPlan,
    setup: &SandboxSetup,
    (base, own): (Option<&Path>, Option<&Path>),
    sample: &Sample,
    flag: Option<&str>,
) -> Result<SampleSandbox, SolveError> {
    let policy = Policy {
        isolation: setup.isolation,
        rootfs: setup.rootfs.clone(),
        network: plan.network,
    };
    let sandbox =
        Sandbox::create(&setup.host, &policy).map_err(|e| sandbox_error(e.to_string()))?;
    let own = own.or(base);
    let mut files: Vec<(String, String, Option<&Path>)> = plan
        .files
        .iter()
        .map(|(k, v)| (k.clone(), v.clone(), base))
        .collect();
    match sample.metadata.get("files") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (inside, source) in map {
                let Value::String(source) = source else {
                    return Err(sandbox_error(format!(
                        "sample {}: field `files.{inside}` must be a string (a path, or data:,TEXT)",
                        sample.id
                    )));
                };
                check_destination(inside).map_err(|m| {
                    sandbox_error(format!("sample {}: field `files`: {m}", sample.id))
                })?;
                files.push((inside.clone(), source.clone(), own));
            }
        }
        Some(_) => {
            return Err(sandbox_error(format!(
                "sample {}: field `files` must be an object of sandbox path to source",
                sample.id
            )))
        }
    }
    for (inside, source, base) in &files {
        copy_in(&sandbox, inside, source, *base, &plan.exclude).map_err(sandbox_error)?;
    }
    let sample_setup = match sample.metadata.get("setup") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(sandbox_error(format!(
                "sample {}: field `setup` must be a string (a shell script)",
                sample.id
            )))
        }
    };
    for (whose, script) in [
        ("the task's", plan.setup.clone()),
        ("the sample's", sample_setup),
    ] {
        let Some(script) = script else { continue };
        let mut request = ExecRequest::new(script, plan.setup_timeout);
        request.env = plan.env.clone();
        if let Some(flag) = flag {
            request.env.insert("FLAG".into(), flag.to_string());
        }
        request.limits = plan.limits;
        let output = sandbox
            .exec(&request)
            .await
            .map_err(|e| sandbox_error(e.to_string()))?;
        if output.timed_out || output.exit_code != 0 {
            let said = output.stderr.text();
            let tail: String = said
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(sandbox_error(format!(
                "{whose} setup script {}: {}",
                if output.timed_out {
                    format!("ran past {}s", plan.setup_timeout.as_secs_f64())
                } else {
                    format!("exited with {}", output.exit_code)
                },
                tail.trim()
            )));
        }
    }
    Ok(SampleSandbox {
        sandbox,
        env: plan.env.clone(),
        limits: plan.limits,
    })
}

fn holds_a_file(dir: &Path, exclude: &[String]) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !exclude.contains(&name)
                && (e.path().is_file() || (e.path().is_dir() && holds_a_file(&e.path(), exclude)))
        })
    })
}

/// Copies one file or folder into the sandbox, leaving out excluded names.
fn copy_in(
    sandbox: &Sandbox,
    inside: &str,
    source: &str,
    base: Option<&Path>,
    exclude: &[String],
) -> Result<(), String> {
    if let Some(text) = source.strip_prefix("data:,") {
        return sandbox
            .write_file(inside, text.as_bytes())
            .map_err(|e| e.to_string());
    }
    if let Some(encoded) = source.strip_prefix("data:;base64,") {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("file {inside}: bad base64: {e}"))?;
        return sandbox
            .write_file(inside, &bytes)
            .map_err(|e| e.to_string());
    }
    let Some(base) = base else {
        return Err(format!(
            "file {inside}: `{source}` is a path, and a built-in task has no folder to find it in (use data:,TEXT)"
        ));
    };
    let path = base.join(source);
    let inside = if inside == "." { "/work" } else { inside };
    copy_path(sandbox, inside, &path, exclude)
        .map_err(|e| format!("file {inside}: {}: {e}", path.display()))
}

fn copy_path(
    sandbox: &Sandbox,
    inside: &str,
    path: &Path,
    exclude: &[String],
) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| e.to_string())?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if exclude.iter().any(|x| *x == name) {
                continue;
            }
            copy_path(
                sandbox,
                &format!("{}/{name}", inside.trim_end_matches('/')),
                &entry.path(),
                exclude,
            )?;
        }
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    sandbox
        .write_file(inside, &bytes)
        .map_err(|e| e.to_string())?;
    // An executable stays executable (a challenge's binary, a tool's script).
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 != 0 {
        let host = sandbox
            .work_dir()
            .join(inside.trim_start_matches("/work/").trim_start_matches('/'));
        let _ = std::fs::set_permissions(host, std::fs::Permissions::from_mode(0o755));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_under_work_and_limits_must_be_positive() {
        assert!(check_destination("a/b.txt").is_ok());
        assert!(check_destination("/work/a").is_ok());
        for bad in ["/etc/passwd", "../x", "/work/../x", "", "/work/"] {
            assert!(check_destination(bad).is_err(), "{bad}");
        }
        let spec: SandboxSpec = toml::from_str("memory_mb = 0").unwrap();
        assert!(SandboxPlan::compile(&spec)
            .unwrap_err()
            .contains("sandbox.memory_mb"));
        let spec: SandboxSpec = toml::from_str("memory_mb = 512\nprocesses = 32").unwrap();
        let plan = SandboxPlan::compile(&spec).unwrap();
        assert_eq!(plan.limits.memory_bytes, Some(512 << 20));
        assert_eq!(plan.limits.processes, Some(32));
    }
}
