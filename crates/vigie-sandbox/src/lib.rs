//! A sandbox for the commands an agent's tools run, built on Linux
//! namespaces by vigie itself: no daemon, no image to pull, and it works
//! unprivileged where the kernel allows user namespaces. Each [`Sandbox`]
//! is a work folder on the host; each [`Sandbox::exec`] runs one command in
//! fresh namespaces ([`inside`]): the host's system folders read-only, none
//! of its private state (no home folders, no vigie cache or keys, no host
//! `/proc`), a network namespace with nothing in it, the work folder at
//! `/work` as the working directory, a private `/tmp`, and only the
//! environment the task sets. A timeout kills the command and everything it
//! started. Output is kept while it streams up to a cap ([`Captured`]).
//!
//! The helper that builds the namespaces is the vigie binary itself, run as
//! `vigie __sandbox-init` ([`inside::HELPER_ARG`]): its `main` hands such a
//! run to [`inside::helper_main`] before anything else starts a thread.
//!
//! Where namespaces cannot be made, [`Sandbox::exec`] fails with why; it
//! never runs a command unsandboxed.

pub mod inside;
mod limits;
mod local;
pub mod rootfs;

pub use limits::{Limits, ResourceUse};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Bytes of a command's output kept (its start and its end) while it streams.
pub const DEFAULT_OUTPUT_CAP: usize = 10 * 1024 * 1024;

/// The `PATH` a command gets when the task sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The task's environment, plus `PATH`, `HOME` and `LANG` when it sets none.
fn default_env(request: &ExecRequest) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = request
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in [
        ("PATH", DEFAULT_PATH),
        ("HOME", "/work"),
        ("LANG", "C.UTF-8"),
    ] {
        if !request.env.contains_key(key) {
            env.push((key.to_string(), value.to_string()));
        }
    }
    env
}

/// Why a sandbox could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The host refused something (a folder, a process).
    // The host's error is part of the message, not a separate source: the
    // binary prints an error's chain, which would say it twice.
    #[error("sandbox: {what}: {cause}")]
    Io {
        /// What was being done.
        what: String,
        /// The host's error.
        cause: std::io::Error,
    },
    /// The namespaces could not be made: the command did not run.
    #[error("sandbox: cannot isolate the command: {0}")]
    Unavailable(String),
    /// A path given for the work folder leads out of it.
    #[error("sandbox: `{0}` is not inside the work folder")]
    OutsideWork(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
    let what = what.into();
    move |cause| SandboxError::Io { what, cause }
}

/// Where sandboxes are made and which program builds them.
#[derive(Debug, Clone)]
pub struct SandboxHost {
    /// The vigie binary (it runs as the helper with [`inside::HELPER_ARG`]).
    pub helper: PathBuf,
    /// The folder the sandboxes' folders go in.
    pub base: PathBuf,
}

/// What a sandbox is made of, decided by the task: plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// How commands are isolated.
    pub isolation: Isolation,
    /// A root filesystem folder the task names (see [`rootfs::prepare`] for
    /// tarballs), instead of the host's system folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<PathBuf>,
    /// The host's network instead of an empty network namespace.
    #[serde(default)]
    pub network: bool,
}

/// How a sandbox's commands are kept from the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Fresh Linux namespaces per command ([`inside`]).
    #[default]
    Namespaces,
    /// None: the command runs on the host in the work folder, with only the
    /// task's environment and its timeout. Only behind an explicit flag.
    Local,
}

impl Isolation {
    /// The name logs and flags use.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces",
            Isolation::Local => "local",
        }
    }
}

/// One command to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// A shell command line (run by `/bin/sh -c`).
    pub command: String,
    /// What the command reads on standard input.
    pub stdin: Vec<u8>,
    /// Its working directory inside (default `/work`).
    pub cwd: Option<String>,
    /// Its environment: this, plus `PATH` and `HOME` when not given; nothing of vigie's.
    pub env: BTreeMap<String, String>,
    /// How long it may run before it and everything it started are killed.
    pub timeout: Duration,
    /// Bytes of each output stream kept ([`DEFAULT_OUTPUT_CAP`]).
    pub output_cap: usize,
    /// What it may use.
    pub limits: Limits,
}

impl ExecRequest {
    /// `command` with no input, the default environment and `timeout`.
    pub fn new(command: impl Into<String>, timeout: Duration) -> ExecRequest {
        ExecRequest {
            command: command.into(),
            stdin: Vec::new(),
            cwd: None,
            env: BTreeMap::new(),
            timeout,
            output_cap: DEFAULT_OUTPUT_CAP,
            limits: Limits::default(),
        }
    }
}

/// An output stream as kept: all of it up to the cap, else its first and
/// last halves of the cap and how much was between.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes (all of them when nothing was cut).
    pub head: Vec<u8>,
    /// The last bytes, when the stream was longer than the cap.
    pub tail: Vec<u8>,
    /// Bytes the stream had in all.
    pub total: u64,
}

impl Captured {
    /// Whether bytes were left out.
    pub fn cut(&self) -> bool {
        self.total > (self.head.len() + self.tail.len()) as u64
    }

    /// The stream as text, with a marker saying how much was left out.
    pub fn text(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        if !self.cut() && self.tail.is_empty() {
            return head.into_owned();
        }
        let cut = self.total - (self.head.len() + self.tail.len()) as u64;
        format!(
            "{head}\n[... {cut} bytes cut ...]\n{}",
            String::from_utf8_lossy(&self.tail)
        )
    }
}

/// Keeps the start of a stream and a ring of its end, `cap` bytes in all,
/// so that a command printing gigabytes costs at most `cap` of memory.
struct Keeper {
    cap: usize,
    head: Vec<u8>,
    ring: std::collections::VecDeque<u8>,
    total: u64,
}

impl Keeper {
    fn new(cap: usize) -> Keeper {
        Keeper {
            cap,
            head: Vec::new(),
            ring: std::collections::VecDeque::new(),
            total: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_cap = self.cap / 2;
        if self.head.len() < head_cap {
            let take = bytes.len().min(head_cap - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        let tail_cap = self.cap - head_cap;
        if bytes.len() >= tail_cap {
            self.ring.clear();
            self.ring.extend(&bytes[bytes.len() - tail_cap..]);
        } else {
            let overflow = (self.ring.len() + bytes.len()).saturating_sub(tail_cap);
            self.ring.drain(..overflow);
            self.ring.extend(bytes);
        }
    }

    fn finish(self) -> Captured {
        Captured {
            head: self.head,
            tail: self.ring.into_iter().collect(),
            total: self.total,
        }
    }
}

async fn keep(mut stream: impl AsyncRead + Unpin, cap: usize) -> Captured {
    let mut keeper = Keeper::new(cap);
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        keeper.push(&buffer[..n]);
    }
    keeper.finish()
}

/// What a command left when it ended.
pub(crate) struct Finished {
    pub(crate) exit_code: i32,
    pub(crate) timed_out: bool,
    pub(crate) stdout: Captured,
    pub(crate) stderr: Captured,
}

/// Feeds a started command its input, keeps its output as it streams, and
/// waits for it up to the request's timeout, when `kill` ends it and all it
/// started. The exit status is 128 + the signal when a signal ended it.
pub(crate) async fn supervise(
    mut child: tokio::process::Child,
    request: &ExecRequest,
    kill: impl FnOnce(&mut tokio::process::Child),
) -> Result<Finished, SandboxError> {
    let mut stdin = child.stdin.take().expect("piped");
    let input = request.stdin.clone();
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let out = tokio::spawn(keep(
        child.stdout.take().expect("piped"),
        request.output_cap,
    ));
    let err = tokio::spawn(keep(
        child.stderr.take().expect("piped"),
        request.output_cap,
    ));
    let (status, timed_out) = match tokio::time::timeout(request.timeout, child.wait()).await {
        Ok(status) => (status.map_err(io("wait for the command"))?, false),
        Err(_) => {
            kill(&mut child);
            (
                child
                    .wait()
                    .await
                    .map_err(io("wait for the killed command"))?,
                true,
            )
        }
    };
    feed.abort();
    let exit_code = {
        use std::os::unix::process::ExitStatusExt;
        status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
    };
    Ok(Finished {
        exit_code,
        timed_out,
        stdout: out.await.unwrap_or_default(),
        stderr: err.await.unwrap_or_default(),
    })
}

/// How one command ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    /// Its exit status (128 + the signal that ended it, as shells say).
    pub exit_code: i32,
    /// It ran past its timeout and was killed with all it had started.
    pub timed_out: bool,
    /// What it wrote on standard output.
    pub stdout: Captured,
    /// What it wrote on standard error.
    pub stderr: Captured,
    /// How long it ran.
    pub duration: Duration,
    /// The limits that were in force, in words (`cgroup v1 pids.max 256`,
    /// `rlimit open_files 1024`): the machine decides which kinds it offers.
    pub limits: Vec<String>,
    /// What it used, where a cgroup measured it.
    pub usage: ResourceUse,
}

/// A sandbox: a work folder on the host, given to each command at `/work`.
#[derive(Debug)]
pub struct Sandbox {
    host: SandboxHost,
    policy: Policy,
    /// `<base>/<vigie pid>-<n>`: removed on destroy, or by the next run if
    /// this vigie is killed first.
    dir: PathBuf,
    work: PathBuf,
    root: PathBuf,
    tmp: PathBuf,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Sandbox {
    /// A new sandbox with an empty work folder; first removes the folders
    /// of sandboxes whose vigie is no longer running.
    pub fn create(host: &SandboxHost, policy: &Policy) -> Result<Sandbox, SandboxError> {
        if let Some(rootfs) = &policy.rootfs {
            if !rootfs.join("bin/sh").exists() {
                return Err(SandboxError::Unavailable(format!(
                    "the root filesystem {} has no /bin/sh",
                    rootfs.display()
                )));
            }
        }
        std::fs::create_dir_all(&host.base)
            .map_err(io(format!("create {}", host.base.display())))?;
        sweep(&host.base);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = host.base.join(format!("{}-{n}", std::process::id()));
        let (work, root, tmp) = (dir.join("work"), dir.join("root"), dir.join("tmp"));
        for folder in [&work, &root, &tmp] {
            std::fs::create_dir_all(folder).map_err(io(format!("create {}", folder.display())))?;
        }
        // The sandbox's /tmp, kept across its commands, writable by any of its users.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
            .map_err(io(format!("chmod {}", tmp.display())))?;
        Ok(Sandbox {
            host: host.clone(),
            policy: policy.clone(),
            dir,
            work,
            root,
            tmp,
        })
    }

    /// What the sandbox was made of.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The host path of the work folder.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The host folder and path of `inside` (a path under `/work` or
    /// `/tmp`, or relative to `/work`), refused if it leads out of them.
    fn host_path(&self, inside: &str) -> Result<(&Path, PathBuf), SandboxError> {
        let under = |absolute: &str, folder: &str| {
            absolute
                .strip_prefix(folder)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|rest| rest.trim_start_matches('/').to_string())
        };
        let (base, relative) = match inside.strip_prefix('/') {
            Some(absolute) => match (under(absolute, "work"), under(absolute, "tmp")) {
                (Some(rest), _) => (self.work.as_path(), rest),
                (_, Some(rest)) => (self.tmp.as_path(), rest),
                _ => return Err(SandboxError::OutsideWork(inside.to_string())),
            },
            None => (self.work.as_path(), inside.to_string()),
        };
        let path = Path::new(&relative);
        if path.is_absolute()
            || path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(SandboxError::OutsideWork(inside.to_string()));
        }
        Ok((base, base.join(path)))
    }

    /// `path` once symlinks are followed, refused unless it stays in `base`:
    /// a symlink a command made must not lead the host out of the sandbox.
    fn resolved(inside: &str, base: &Path, path: &Path) -> Result<PathBuf, SandboxError> {
        let real = std::fs::canonicalize(path).map_err(io(format!("open {inside}")))?;
        let base = std::fs::canonicalize(base).map_err(io("the sandbox's folder"))?;
        if real.starts_with(&base) {
            Ok(real)
        } else {
            Err(SandboxError::OutsideWork(inside.to_string()))
        }
    }

    /// Writes a file into the work folder or `/tmp` (creating its folders).
    /// Neither the folders on the way nor the file may be symlinks: written
    /// through, a link a command made could point anywhere on the host.
    pub fn write_file(&self, inside: &str, bytes: &[u8]) -> Result<(), SandboxError> {
        let (base, path) = self.host_path(inside)?;
        let relative = path.strip_prefix(base).unwrap_or(&path);
        let mut at = base.to_path_buf();
        let parts: Vec<_> = relative.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            match at.symlink_metadata() {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(SandboxError::OutsideWork(inside.to_string()))
                }
                Ok(_) => {}
                Err(_) if i + 1 < parts.len() => {
                    std::fs::create_dir(&at).map_err(io(format!("create {}", at.display())))?
                }
                Err(_) => {}
            }
        }
        std::fs::write(&path, bytes).map_err(io(format!("write {inside}")))
    }

    /// Reads a file of the work folder or `/tmp`.
    pub fn read_file(&self, inside: &str) -> Result<Vec<u8>, SandboxError> {
        let (base, path) = self.host_path(inside)?;
        let real = Self::resolved(inside, base, &path)?;
        std::fs::read(&real).map_err(io(format!("read {inside}")))
    }

    /// Runs one command in fresh namespaces over this sandbox's work folder.
    pub async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, SandboxError> {
        if self.policy.isolation == Isolation::Local {
            return local::exec(&self.work, request, default_env(request)).await;
        }
        let env = default_env(request);
        let name = self
            .dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let cgroups = limits::Cgroups::create(
            &format!("vigie-{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
            &request.limits,
        );
        // Root's processes escape RLIMIT_NPROC (the kernel exempts them):
        // as root, only a pids cgroup bounds a fork bomb, so without one the
        // command does not run.
        if request.limits.processes.is_some()
            && nix::unistd::getuid().is_root()
            && !cgroups.holds_pids()
        {
            cgroups.remove().await;
            return Err(SandboxError::Unavailable(
                "vigie runs as root and no pids cgroup could be made, so nothing would bound the command's processes (run vigie as another user, or give it a cgroup it can create children in)".into(),
            ));
        }
        let address_space = !cgroups.holds_memory();
        let mut in_force = cgroups.in_force.clone();
        in_force.extend(limits::rlimit_words(&request.limits, address_space));
        let launch = inside::Launch {
            root: self.root.clone(),
            work: self.work.clone(),
            tmp: self.tmp.clone(),
            rootfs: self.policy.rootfs.clone(),
            network: self.policy.network,
            command: request.command.clone(),
            cwd: request.cwd.clone().unwrap_or_else(|| "/work".into()),
            env,
            limits: request.limits,
            cgroups: cgroups.procs.clone(),
            address_space,
            parent: std::process::id(),
        };
        let result = self.run(&launch, request).await;
        let usage = cgroups.usage();
        cgroups.remove().await;
        let mut output = result?;
        output.limits = in_force;
        output.usage = usage;
        Ok(output)
    }

    async fn run(
        &self,
        launch: &inside::Launch,
        request: &ExecRequest,
    ) -> Result<ExecOutput, SandboxError> {
        let json = serde_json::to_string(launch).expect("a launch serializes");
        let started = Instant::now();
        let child = tokio::process::Command::new(&self.host.helper)
            .args([inside::HELPER_ARG, "stage1", &json])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io(format!(
                "start the sandbox helper {}",
                self.host.helper.display()
            )))?;
        // Killing the helper kills PID 1 of the namespace (its parent-death
        // signal), and with it every process there.
        let Finished {
            exit_code,
            timed_out,
            stdout,
            stderr,
        } = supervise(child, request, |child| {
            let _ = child.start_kill();
        })
        .await?;
        if exit_code == 125 && !timed_out {
            let said = String::from_utf8_lossy(&stderr.head);
            if let Some(why) = said.lines().find_map(|l| l.strip_prefix("vigie sandbox: ")) {
                return Err(SandboxError::Unavailable(why.to_string()));
            }
        }
        Ok(ExecOutput {
            exit_code,
            timed_out,
            stdout,
            stderr,
            duration: started.elapsed(),
            limits: Vec::new(),
            usage: ResourceUse::default(),
        })
    }

    /// Removes the sandbox's folders.
    pub fn destroy(self) -> Result<(), SandboxError> {
        remove(&self.dir)
    }
}

impl Drop for Sandbox {
    /// A sandbox whose sample failed or was cancelled is removed too.
    fn drop(&mut self) {
        let _ = remove(&self.dir);
    }
}

fn remove(dir: &Path) -> Result<(), SandboxError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SandboxError::Io {
            what: format!("remove {}", dir.display()),
            cause: e,
        }),
        _ => Ok(()),
    }
}

/// Removes the folders of sandboxes whose vigie process has gone.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = pid as u32 == std::process::id()
            || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = remove(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_keeps_its_start_and_end_and_counts_the_rest() {
        let mut keeper = Keeper::new(8);
        for chunk in [&b"abc"[..], b"defghij", b"klmnop", b"qrst"] {
            keeper.push(chunk);
        }
        let kept = keeper.finish();
        assert_eq!(
            (kept.head.as_slice(), kept.tail.as_slice(), kept.total),
            (&b"abcd"[..], &b"qrst"[..], 20)
        );
        assert!(kept.cut());
        assert_eq!(kept.text(), "abcd\n[... 12 bytes cut ...]\nqrst");
        let mut small = Keeper::new(8);
        small.push(b"hi");
        let small = small.finish();
        assert_eq!((small.text(), small.cut()), ("hi".to_string(), false));
    }

    #[test]
    fn paths_that_leave_the_work_folder_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::create(
            &SandboxHost {
                helper: PathBuf::from("/nonexistent"),
                base: base.path().to_path_buf(),
            },
            &Policy::default(),
        )
        .unwrap();
        sandbox.write_file("/work/a/b.txt", b"x").unwrap();
        assert_eq!(sandbox.read_file("a/b.txt").unwrap(), b"x");
        sandbox.write_file("/tmp/t.txt", b"t").unwrap();
        assert_eq!(sandbox.read_file("/tmp/t.txt").unwrap(), b"t");
        for bad in [
            "../x",
            "/work/../x",
            "/etc/passwd",
            "a/../../x",
            "/workx/y",
            "/tmpx",
        ] {
            assert!(
                matches!(
                    sandbox.write_file(bad, b""),
                    Err(SandboxError::OutsideWork(_))
                ),
                "{bad}"
            );
        }
        std::os::unix::fs::symlink("/etc/hostname", sandbox.work_dir().join("link")).unwrap();
        assert!(matches!(
            sandbox.read_file("link"),
            Err(SandboxError::OutsideWork(_))
        ));
        // Neither through a link to a file nor through a link to a folder.
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), sandbox.work_dir().join("dir")).unwrap();
        assert!(matches!(
            sandbox.write_file("dir/x", b"x"),
            Err(SandboxError::OutsideWork(_))
        ));
        std::os::unix::fs::symlink(outside.path().join("f"), sandbox.work_dir().join("f")).unwrap();
        assert!(matches!(
            sandbox.write_file("f", b"x"),
            Err(SandboxError::OutsideWork(_))
        ));
        assert!(!outside.path().join("x").exists() && !outside.path().join("f").exists());
        let dir = sandbox.dir.clone();
        sandbox.destroy().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn folders_of_sandboxes_whose_vigie_died_are_swept() {
        let base = tempfile::tempdir().unwrap();
        // A pid far above any pid_max: no such process.
        let stale = base.path().join("2147483000-0");
        std::fs::create_dir_all(stale.join("work")).unwrap();
        let mine = Sandbox::create(
            &SandboxHost {
                helper: PathBuf::from("/nonexistent"),
                base: base.path().to_path_buf(),
            },
            &Policy::default(),
        )
        .unwrap();
        assert!(!stale.exists(), "swept");
        assert!(mine.work_dir().exists());
    }
}
