//! What a sandboxed command may use. Resource limits (rlimits) are set on
//! the sandbox's first process and inherited by everything it starts: CPU
//! seconds, file size, open files, and processes (counted per user
//! namespace; the kernel exempts a host root's processes, which is why
//! cgroups come first). Memory and process counts are also held by cgroups
//! where the machine offers them, v1 or v2, found at run time: a child group
//! of vigie's own for each command, joined by the helper before it leaves
//! the host's namespaces. Each run says which limits were in force.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Limits of one command (`None`: no limit of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU seconds (then SIGXCPU, then SIGKILL).
    pub cpu_seconds: Option<u64>,
    /// Memory in bytes (a cgroup's, else the address space).
    pub memory_bytes: Option<u64>,
    /// Processes and threads at once.
    pub processes: Option<u64>,
    /// The largest file it may write, in bytes.
    pub file_size_bytes: Option<u64>,
    /// Open files at once.
    pub open_files: Option<u64>,
}

impl Default for Limits {
    /// 2 GiB of memory, 256 processes, 1 GiB files, 1,024 open files; CPU
    /// time is bounded by the command's timeout.
    fn default() -> Self {
        Limits {
            cpu_seconds: None,
            memory_bytes: Some(2 << 30),
            processes: Some(256),
            file_size_bytes: Some(1 << 30),
            open_files: Some(1024),
        }
    }
}

/// What one command used, as its cgroups measured it (`None` where the
/// machine offers no such measure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUse {
    /// CPU seconds of all its processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// The most memory it held at once, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_peak_bytes: Option<u64>,
}

/// The cgroups made for one command: the folders to remove afterwards, the
/// `cgroup.procs` files the helper joins, and what they hold, in words.
#[derive(Debug, Default)]
pub(crate) struct Cgroups {
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) procs: Vec<PathBuf>,
    pub(crate) in_force: Vec<String>,
    /// Files that measure what the command used.
    cpu_file: Option<(PathBuf, CpuUnit)>,
    memory_peak_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
enum CpuUnit {
    /// v1 `cpuacct.usage`: nanoseconds.
    Nanoseconds,
    /// v2 `cpu.stat`: the `usage_usec` line.
    StatMicroseconds,
}

/// vigie's own group in each hierarchy (`/proc/self/cgroup`): v1 lines are
/// `N:controller:/path`, the v2 line `0::/path`.
fn own_group(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
        names
            .split(',')
            .any(|n| n == controller)
            .then(|| path.to_string())
    })
}

fn write(path: &Path, value: &str) -> bool {
    std::fs::write(path, value).is_ok()
}

impl Cgroups {
    /// Makes the groups `limits` asks for, named `name`, where the machine
    /// lets vigie; what it cannot make is left to the rlimits.
    pub(crate) fn create(name: &str, limits: &Limits) -> Cgroups {
        let mut made = Cgroups::default();
        let root = Path::new("/sys/fs/cgroup");
        if root.join("cgroup.controllers").exists() {
            made.create_v2(root, name, limits);
        } else {
            made.create_v1(root, name, limits);
        }
        made
    }

    fn create_v1(&mut self, root: &Path, name: &str, limits: &Limits) {
        let wanted = [
            ("pids", "pids.max", limits.processes.map(|n| n.to_string())),
            (
                "memory",
                "memory.limit_in_bytes",
                limits.memory_bytes.map(|n| n.to_string()),
            ),
        ];
        for (controller, file, value) in wanted {
            let (Some(value), Some(own)) = (value, own_group(controller)) else {
                continue;
            };
            let dir = root
                .join(controller)
                .join(own.trim_start_matches('/'))
                .join(name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            if write(&dir.join(file), &value) {
                if controller == "memory" {
                    // No swapping past the limit, where the kernel offers the knob.
                    let _ = write(&dir.join("memory.memsw.limit_in_bytes"), &value);
                }
                self.procs.push(dir.join("cgroup.procs"));
                self.in_force.push(format!("cgroup v1 {file} {value}"));
                self.dirs.push(dir);
            } else {
                let _ = std::fs::remove_dir(&dir);
            }
        }
        if let Some(memory) = self
            .dirs
            .iter()
            .find(|d| d.starts_with(root.join("memory")))
        {
            self.memory_peak_file = Some(memory.join("memory.max_usage_in_bytes"));
        }
        // CPU is only measured, not limited, by a cgroup (the rlimit and the
        // timeout bound it).
        if let Some(own) = own_group("cpuacct") {
            let dir = root
                .join("cpuacct")
                .join(own.trim_start_matches('/'))
                .join(name);
            if std::fs::create_dir(&dir).is_ok() {
                self.procs.push(dir.join("cgroup.procs"));
                self.cpu_file = Some((dir.join("cpuacct.usage"), CpuUnit::Nanoseconds));
                self.dirs.push(dir);
            }
        }
    }

    fn create_v2(&mut self, root: &Path, name: &str, limits: &Limits) {
        let Some(own) = own_group("") else { return };
        let parent = root.join(own.trim_start_matches('/'));
        let dir = parent.join(name);
        if std::fs::create_dir(&dir).is_err() {
            return;
        }
        let mut any = false;
        for (file, value) in [
            ("pids.max", limits.processes),
            ("memory.max", limits.memory_bytes),
        ] {
            if let Some(value) = value {
                if write(&dir.join(file), &value.to_string()) {
                    self.in_force.push(format!("cgroup v2 {file} {value}"));
                    any = true;
                }
            }
        }
        if limits.memory_bytes.is_some() {
            let _ = write(&dir.join("memory.swap.max"), "0");
        }
        if any {
            self.procs.push(dir.join("cgroup.procs"));
            self.cpu_file = Some((dir.join("cpu.stat"), CpuUnit::StatMicroseconds));
            if limits.memory_bytes.is_some() {
                // `memory.peak` is there from Linux 5.19.
                self.memory_peak_file = Some(dir.join("memory.peak"));
            }
            self.dirs.push(dir);
        } else {
            let _ = std::fs::remove_dir(&dir);
        }
    }

    /// Whether a cgroup holds the process count.
    pub(crate) fn holds_pids(&self) -> bool {
        self.in_force.iter().any(|l| l.contains("pids.max"))
    }

    /// Whether a cgroup holds memory (then no address-space rlimit is set,
    /// which would break programs that reserve more than they use).
    pub(crate) fn holds_memory(&self) -> bool {
        self.in_force.iter().any(|l| l.contains("memory"))
    }

    /// What the command used, read before the groups are removed.
    pub(crate) fn usage(&self) -> ResourceUse {
        let read = |path: &Path| std::fs::read_to_string(path).ok();
        let cpu_seconds = self.cpu_file.as_ref().and_then(|(path, unit)| {
            let text = read(path)?;
            match unit {
                CpuUnit::Nanoseconds => text.trim().parse::<u64>().ok().map(|n| n as f64 / 1e9),
                CpuUnit::StatMicroseconds => text
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .map(|n| n as f64 / 1e6),
            }
        });
        let memory_peak_bytes = self
            .memory_peak_file
            .as_deref()
            .and_then(read)
            .and_then(|t| t.trim().parse().ok());
        ResourceUse {
            cpu_seconds,
            memory_peak_bytes,
        }
    }

    /// Removes the groups once their processes are gone.
    /// A group whose last process is still being torn down refuses removal
    /// for a moment: wait (without holding up the runtime's thread) and retry.
    pub(crate) async fn remove(&self) {
        for dir in &self.dirs {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// The rlimits `limits` asks for: each resource, its name in words, its value.
fn rlimits(
    limits: &Limits,
    address_space: bool,
) -> Vec<(nix::sys::resource::Resource, &'static str, u64)> {
    use nix::sys::resource::Resource;
    [
        (Resource::RLIMIT_CPU, "cpu_seconds", limits.cpu_seconds),
        (
            Resource::RLIMIT_FSIZE,
            "file_size_bytes",
            limits.file_size_bytes,
        ),
        (Resource::RLIMIT_NOFILE, "open_files", limits.open_files),
        (Resource::RLIMIT_NPROC, "processes", limits.processes),
        (
            Resource::RLIMIT_AS,
            "address_space_bytes",
            limits.memory_bytes.filter(|_| address_space),
        ),
    ]
    .into_iter()
    .filter_map(|(resource, what, value)| value.map(|v| (resource, what, v)))
    .collect()
}

/// The rlimits [`set_rlimits`] sets, in words (`rlimit open_files 1024`).
pub(crate) fn rlimit_words(limits: &Limits, address_space: bool) -> Vec<String> {
    rlimits(limits, address_space)
        .into_iter()
        .map(|(_, what, value)| format!("rlimit {what} {value}"))
        .collect()
}

/// Sets the rlimits of `limits` on this process (the sandbox's first), for
/// what it starts to inherit.
pub(crate) fn set_rlimits(limits: &Limits, address_space: bool) -> Result<(), String> {
    for (resource, what, value) in rlimits(limits, address_space) {
        nix::sys::resource::setrlimit(resource, value, value)
            .map_err(|e| format!("rlimit {what}: {e}"))?;
    }
    Ok(())
}
