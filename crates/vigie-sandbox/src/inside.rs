//! The sandbox from the inside: what the helper process does before a
//! command runs. Stage one (a fresh, single-threaded process, as
//! `unshare(CLONE_NEWUSER)` requires) leaves every namespace of the host:
//! user, mount, network, PID, IPC and UTS, and maps its own user to root of
//! the new user namespace. Stage two, its child and so PID 1 of the new PID
//! namespace, dies with stage one (`PR_SET_PDEATHSIG`), builds the root
//! filesystem (read-only binds of the host's system folders, a filtered
//! `/etc`, a private `/tmp`, `/dev` of a few devices, a fresh `/proc`, the
//! sample's work folder at `/work`), pivots into it, remounts it read-only,
//! gives up every capability for what it runs, and runs the command with
//! only the task's environment. Stage one dies with the vigie that started
//! it, even one killed outright (`PR_SET_PDEATHSIG`). When PID 1 exits,
//! the kernel kills every process left in the namespace, so nothing a
//! command started outlives it.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::Signal;
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{getgid, getuid, pivot_root, sethostname};
use serde::{Deserialize, Serialize};

/// The argument that makes the vigie binary the sandbox helper.
pub const HELPER_ARG: &str = "__sandbox-init";

/// What the helper is asked to run, passed on its command line as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Launch {
    /// The host folder the root filesystem is built on (empty, owned by us).
    pub root: PathBuf,
    /// The host folder mounted read-write at `/work`.
    pub work: PathBuf,
    /// The host folder mounted read-write at `/tmp` (the sandbox's own,
    /// kept across its commands).
    pub tmp: PathBuf,
    /// A root filesystem folder to use instead of the host's system folders.
    pub rootfs: Option<PathBuf>,
    /// Keep the host's network (the task asked for it).
    pub network: bool,
    /// The command, run by `/bin/sh -c`.
    pub command: String,
    /// The working directory inside (default `/work`).
    pub cwd: String,
    /// The command's whole environment.
    pub env: Vec<(String, String)>,
    /// Its limits.
    pub limits: crate::limits::Limits,
    /// `cgroup.procs` files the helper joins before it leaves the host's namespaces.
    pub cgroups: Vec<PathBuf>,
    /// Hold memory with the address-space rlimit (no memory cgroup).
    pub address_space: bool,
    /// The vigie process that started the helper: if it dies, so does the sandbox.
    pub parent: u32,
}

/// System folders bound read-only from the host (a symlink, as on merged-/usr
/// systems, is made again as the same symlink).
const SYSTEM: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Files of the host's `/etc` that programs need and that hold no secret.
const ETC_FILES: &[&str] = &[
    "ld.so.cache",
    "ld.so.conf",
    "nsswitch.conf",
    "localtime",
    "mime.types",
    "inputrc",
];

/// Folders of the host's `/etc` bound read-only for the same reason.
const ETC_FOLDERS: &[&str] = &[
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "python3",
    "bash.bashrc.d",
];

/// Devices bound from the host's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The helper's entry point: `vigie __sandbox-init STAGE LAUNCH_JSON`.
/// Returns the command's exit status (128 + signal when a signal ended it,
/// 125 when the sandbox itself could not be made, with why on stderr).
pub fn helper_main(args: &[OsString]) -> ExitCode {
    let stage = args.first().and_then(|s| s.to_str()).unwrap_or("");
    let launch: Launch = match args
        .get(1)
        .and_then(|s| s.to_str())
        .map(serde_json::from_str)
    {
        Some(Ok(launch)) => launch,
        _ => return fail("the sandbox helper was started without its launch description"),
    };
    let result = match stage {
        "stage1" => stage_one(&launch),
        "stage2" => stage_two(&launch),
        other => Err(format!("unknown sandbox stage `{other}`")),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(why) => fail(&why),
    }
}

fn fail(why: &str) -> ExitCode {
    eprintln!("vigie sandbox: {why}");
    ExitCode::from(125)
}

fn stage_one(launch: &Launch) -> Result<u8, String> {
    // A vigie killed outright (SIGKILL) takes its sandboxes with it: stage
    // one dies with it, and stage two, PID 1 of the sandbox, with stage one.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("pdeathsig: {e}"))?;
    if nix::unistd::getppid().as_raw() as u32 != launch.parent {
        return Err("vigie exited before its sandbox started".into());
    }
    // Joined here, on the host's side: everything the command starts is counted.
    for procs in &launch.cgroups {
        fs::write(procs, std::process::id().to_string())
            .map_err(|e| format!("join {}: {e}", procs.display()))?;
    }
    let (uid, gid) = (getuid(), getgid());
    let mut namespaces = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if !launch.network {
        namespaces |= CloneFlags::CLONE_NEWNET;
    }
    unshare(namespaces)
    .map_err(|e| format!("cannot create namespaces (unshare: {e}); user namespaces may be disabled on this machine"))?;
    // Our user becomes root of the new namespace, and only our user exists there.
    fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1")).map_err(|e| format!("uid_map: {e}"))?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1")).map_err(|e| format!("gid_map: {e}"))?;
    let json = serde_json::to_string(launch).map_err(|e| e.to_string())?;
    // The child is PID 1 of the new PID namespace.
    let status = Command::new("/proc/self/exe")
        .args([HELPER_ARG, "stage2", &json])
        .env_clear()
        .status()
        .map_err(|e| format!("cannot start the sandbox's first process: {e}"))?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code.clamp(0, 255) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 125,
    }
}

fn stage_two(launch: &Launch) -> Result<u8, String> {
    // If stage one is killed (a timeout), PID 1 dies, and the kernel then
    // kills everything in the namespace.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("pdeathsig: {e}"))?;
    if !launch.network {
        loopback_up()?;
    }
    build_root(launch)?;
    let _ = sethostname("sandbox");
    crate::limits::set_rlimits(&launch.limits, launch.address_space)?;
    drop_privileges()?;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&launch.command)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd);
    let status = command
        .status()
        .map_err(|e| format!("cannot run /bin/sh in the sandbox: {e}"))?;
    Ok(exit_code(status))
}

/// Brings up `lo` of the sandbox's new network namespace (it starts down),
/// so that a service the agent starts on 127.0.0.1 can be reached from
/// inside: one `RTM_NEWLINK` request over a netlink socket, setting
/// `IFF_UP` on interface 1 (a new namespace's loopback), and its
/// acknowledgement read back.
fn loopback_up() -> Result<(), String> {
    use nix::sys::socket::{
        recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
        SockType,
    };
    use std::os::fd::AsRawFd;
    const RTM_NEWLINK: u16 = 16;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const IFF_UP: u32 = 1;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|e| format!("netlink socket: {e}"))?;
    // nlmsghdr (16 bytes), then ifinfomsg (16 bytes).
    let mut message = Vec::with_capacity(32);
    message.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
    message.extend_from_slice(&RTM_NEWLINK.to_ne_bytes()); // nlmsg_type
    message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes()); // nlmsg_flags
    message.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
    message.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    message.push(0); // ifi_family: AF_UNSPEC
    message.push(0); // padding
    message.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    message.extend_from_slice(&1i32.to_ne_bytes()); // ifi_index: lo
    message.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    message.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change
    sendto(
        fd.as_raw_fd(),
        &message,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(|e| format!("bring up lo: {e}"))?;
    let mut reply = [0u8; 256];
    let n = recv(fd.as_raw_fd(), &mut reply, MsgFlags::empty())
        .map_err(|e| format!("bring up lo: {e}"))?;
    // An NLMSG_ERROR (type 2) whose error code is 0 is the acknowledgement.
    if n >= 20 && u16::from_ne_bytes([reply[4], reply[5]]) == 2 {
        let code = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
        if code != 0 {
            return Err(format!(
                "bring up lo: {}",
                std::io::Error::from_raw_os_error(-code)
            ));
        }
    }
    Ok(())
}

/// The command runs as root of the sandbox's user namespace, which is the
/// vigie user outside; it must not keep that namespace's capabilities, or it
/// could remount the read-only folders writable. Emptying the bounding set
/// means the command's `execve` grants it none, and no-new-privileges that
/// nothing it runs gains any.
fn drop_privileges() -> Result<(), String> {
    use caps::CapSet;
    for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Bounding] {
        caps::clear(None, set).map_err(|e| format!("drop capabilities ({set:?}): {e}"))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))
}

fn at(root: &Path, inside: &str) -> PathBuf {
    root.join(inside.trim_start_matches('/'))
}

fn bind(source: &Path, target: &Path, read_only: bool) -> Result<(), String> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("bind {} on {}: {e}", source.display(), target.display()))?;
    if read_only {
        // A remount in a user namespace must keep the flags the host's mount
        // has locked (nosuid, nodev, noexec), or the kernel refuses it.
        let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        if let Ok(stat) = statvfs(source) {
            let host = stat.flags();
            for (fs_flag, ms_flag) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
            ] {
                if host.contains(fs_flag) {
                    flags |= ms_flag;
                }
            }
        }
        mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
            .map_err(|e| format!("remount {} read-only: {e}", target.display()))?;
    }
    Ok(())
}

fn mkdir_in(root: &Path, inside: &str) -> Result<(), String> {
    fs::create_dir_all(at(root, inside)).map_err(|e| format!("mkdir {inside}: {e}"))
}

/// The host's system folders read-only, and a filtered `/etc`.
fn bind_host_system(root: &Path, network: bool) -> Result<(), String> {
    let mkdir = |inside: &str| mkdir_in(root, inside);
    for folder in SYSTEM {
        let host = Path::new("/").join(folder);
        match fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&host).map_err(|e| e.to_string())?;
                symlink(target, at(root, folder)).map_err(|e| format!("symlink {folder}: {e}"))?;
            }
            Ok(meta) if meta.is_dir() => {
                mkdir(folder)?;
                bind(&host, &at(root, folder), true)?;
            }
            _ => {}
        }
    }
    mkdir("etc")?;
    for file in ETC_FILES {
        let host = Path::new("/etc").join(file);
        if host.is_file() {
            let _ = fs::copy(&host, at(root, &format!("etc/{file}")));
        }
    }
    // Names resolve only when the task asked for the network.
    if network {
        let _ = fs::copy("/etc/resolv.conf", at(root, "etc/resolv.conf"));
    }
    for folder in ETC_FOLDERS {
        let host = Path::new("/etc").join(folder);
        if host.is_dir() {
            mkdir(&format!("etc/{folder}"))?;
            bind(&host, &at(root, &format!("etc/{folder}")), true)?;
        }
    }
    // Only the sandbox's own users; no resolv.conf, so no name resolves.
    let etc = |name: &str, text: &str| {
        fs::write(at(root, &format!("etc/{name}")), text).map_err(|e| format!("etc/{name}: {e}"))
    };
    etc("passwd", "root:x:0:0:root:/work:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")?;
    etc("group", "root:x:0:\nnogroup:x:65534:\n")?;
    etc("hostname", "sandbox\n")?;
    etc("hosts", "127.0.0.1 localhost sandbox\n::1 localhost\n")?;
    Ok(())
}

/// The folders the sandbox makes itself, whatever the root filesystem has.
const OWN: &[&str] = &["work", "tmp", "dev", "proc"];

/// A root filesystem the task names: each of its top folders bound
/// read-only (its `/etc` is the task's, so it is bound whole), its
/// top-level symlinks made again.
fn bind_rootfs(rootfs: &Path, root: &Path) -> Result<(), String> {
    let entries = fs::read_dir(rootfs)
        .map_err(|e| format!("read the root filesystem {}: {e}", rootfs.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if OWN.contains(&name) {
            continue;
        }
        match entry.file_type() {
            Ok(kind) if kind.is_symlink() => {
                let target = fs::read_link(entry.path()).map_err(|e| e.to_string())?;
                symlink(target, at(root, name)).map_err(|e| format!("symlink {name}: {e}"))?;
            }
            Ok(kind) if kind.is_dir() => {
                mkdir_in(root, name)?;
                bind(&entry.path(), &at(root, name), true)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn build_root(launch: &Launch) -> Result<(), String> {
    let root = &launch.root;
    // Nothing mounted here reaches the host's mount table.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make mounts private: {e}"))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=0755,size=16m"),
    )
    .map_err(|e| format!("root tmpfs: {e}"))?;
    let mkdir = |inside: &str| {
        fs::create_dir_all(at(root, inside)).map_err(|e| format!("mkdir {inside}: {e}"))
    };
    match &launch.rootfs {
        Some(rootfs) => bind_rootfs(rootfs, root)?,
        None => bind_host_system(root, launch.network)?,
    }
    mkdir("work")?;
    bind(&launch.work, &at(root, "work"), false)?;
    mkdir("tmp")?;
    bind(&launch.tmp, &at(root, "tmp"), false)?;
    mkdir("dev")?;
    for device in DEVICES {
        let host = Path::new("/dev").join(device);
        if host.exists() {
            let target = at(root, &format!("dev/{device}"));
            fs::write(&target, b"").map_err(|e| format!("dev/{device}: {e}"))?;
            bind(&host, &target, false)?;
        }
    }
    mkdir("dev/shm")?;
    mkdir("proc")?;
    // Our own PID namespace's processes only.
    mount(
        Some("proc"),
        &at(root, "proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("/proc: {e}"))?;
    mkdir(".old")?;
    pivot_root(root.as_path(), at(root, ".old").as_path())
        .map_err(|e| format!("pivot_root: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| e.to_string())?;
    umount2("/.old", MntFlags::MNT_DETACH).map_err(|e| format!("detach the host's root: {e}"))?;
    let _ = fs::remove_dir("/.old");
    // The root itself (and /etc in it) read-only: only /work and /tmp take writes.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
        None::<&str>,
    )
    .map_err(|e| format!("remount / read-only: {e}"))?;
    Ok(())
}
