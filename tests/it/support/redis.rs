//! Real Redis servers for tests: single nodes, a Redis Cluster and a
//! Sentinel setup, each started as its own `redis-server` process on a free
//! loopback port with its own temporary directory, so that a test can kill,
//! restart, pause, freeze and inspect it. Never the Redis on port 6379.
//!
//! Everything here is synchronous (std only) and bounded in time: starting
//! waits at most a few seconds, every `redis-cli` call has a timeout. Call it
//! from async tests as is (it blocks for milliseconds, a cluster start for
//! about two seconds).
//!
//! Processes end with their handle (`Drop` kills them and removes their
//! directory). A watchdog shell, started once per test binary, also kills
//! every server still running when the test binary goes away, even by
//! `SIGKILL` or an abort, so a server kept in a `static` does not outlive it.
//!
//! Needs `redis-server` and `redis-cli` 7.x on `PATH` (Debian packages
//! `redis-server` and `redis-tools`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::ports::{free_port, free_port_where};

/// How long a server may take to answer `PING` after being spawned.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound of one `redis-cli` call.
const CLI_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `redis-cli --cluster create` may take.
const CLUSTER_CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a cluster may take to become `cluster_state:ok` everywhere.
const CLUSTER_OK_TIMEOUT: Duration = Duration::from_secs(20);
/// How long replication and Sentinel discovery may take.
const SENTINEL_TIMEOUT: Duration = Duration::from_secs(15);
/// Fresh ports tried when the chosen port got taken before Redis bound it.
const PORT_ATTEMPTS: usize = 6;
/// The cluster bus listens on the client port plus this.
const CLUSTER_BUS_OFFSET: u16 = 10_000;
/// Number of hash slots of a Redis Cluster.
pub const CLUSTER_SLOTS: u32 = 16_384;

// ---------------------------------------------------------------------------
// Binaries, cluster ports, directories, the watchdog
// ---------------------------------------------------------------------------

/// Panics with an error naming the Debian package to install when
/// `redis-server` or `redis-cli` cannot be run. Checked once per binary.
pub fn require_redis() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECK.get_or_init(|| {
        probe("redis-server", "redis-server")?;
        probe("redis-cli", "redis-tools")
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

fn probe(program: &str, package: &str) -> Result<(), String> {
    let status = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!(
            "`{program} --version` failed ({status}); these tests need a working `{program}` \
             from the Debian package `{package}`"
        )),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(format!(
            "`{program}` is not on PATH: the Redis tests start real Redis servers; install the \
             Debian package `{package}` (apt-get install redis-server redis-tools: \
             `redis-server` brings the server, `redis-tools` brings redis-cli)"
        )),
        Err(error) => Err(format!("cannot run `{program}`: {error}")),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A free port whose cluster bus port (`port + 10000`) is free as well.
fn free_cluster_port() -> u16 {
    free_port_where(
        |port| port <= u16::MAX - CLUSTER_BUS_OFFSET && bindable(port + CLUSTER_BUS_OFFSET),
        |port| Some(port + CLUSTER_BUS_OFFSET),
    )
}

const DIR_PREFIX: &str = "jwt-guard-redis-";

/// Removes the directories left by test binaries that are gone (killed
/// before their `Drop`s ran); once per test binary.
fn remove_stale_dirs() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|name| name.strip_prefix(DIR_PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    });
}

fn new_temp_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    if cfg!(target_os = "linux") {
        remove_stale_dirs();
    }
    let dir = std::env::temp_dir().join(format!(
        "{DIR_PREFIX}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    dir
}

/// Reads pids, one per line (`-PID` forgets one), and on end of input (this
/// test binary exited, however it exited) kills those still listed.
const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP TERM
pids=
while read -r line; do
  case "$line" in
    -*) gone=${line#-}; rest=
        for pid in $pids; do [ "$pid" = "$gone" ] || rest="$rest $pid"; done
        pids=$rest ;;
    *) pids="$pids $line" ;;
  esac
done
[ -z "$pids" ] || kill -9 $pids 2>/dev/null
"#;

fn watchdog() -> Option<MutexGuard<'static, ChildStdin>> {
    static WATCHDOG: OnceLock<Option<Mutex<ChildStdin>>> = OnceLock::new();
    WATCHDOG
        .get_or_init(|| {
            // The pipe's write end is close-on-exec: only this process holds
            // it, so the shell reads end of input exactly when we are gone.
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(WATCHDOG_SCRIPT)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            child.stdin.take().map(Mutex::new)
        })
        .as_ref()
        .map(lock)
}

fn watch(pid: u32) {
    if let Some(mut watchdog) = watchdog() {
        let _ = writeln!(watchdog, "{pid}");
    }
}

/// Must run before the child is reaped, while its pid cannot be reused.
fn unwatch(pid: u32) {
    if let Some(mut watchdog) = watchdog() {
        let _ = writeln!(watchdog, "-{pid}");
    }
}

mod signal {
    pub const TERM: i32 = 15;
    #[cfg(target_os = "macos")]
    pub const STOP: i32 = 17;
    #[cfg(target_os = "macos")]
    pub const CONT: i32 = 19;
    #[cfg(not(target_os = "macos"))]
    pub const STOP: i32 = 19;
    #[cfg(not(target_os = "macos"))]
    pub const CONT: i32 = 18;

    unsafe extern "C" {
        fn kill(pid: i32, signal: i32) -> i32;
    }

    /// Sends `signal` to `pid`, a child of ours that has not been reaped.
    pub fn send(pid: u32, signal: i32) {
        let pid = i32::try_from(pid).expect("pid fits in pid_t");
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            kill(pid, signal);
        }
    }
}

// ---------------------------------------------------------------------------
// redis-cli with a time limit
// ---------------------------------------------------------------------------

/// Why a `redis-cli` call did not succeed.
#[derive(Debug)]
pub enum CliError {
    /// `redis-cli` could not be started.
    Spawn(io::Error),
    /// It did not finish in time (and was killed): for example the server
    /// is paused or frozen.
    TimedOut {
        timeout: Duration,
        stdout: String,
        stderr: String,
    },
    /// It exited unsuccessfully: connection refused, or an error reply (the
    /// calls here pass `-e`, so an error reply such as `MOVED` fails).
    Failed {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
}

impl CliError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, CliError::TimedOut { .. })
    }

    /// Everything the command printed (for error replies: the error).
    pub fn output(&self) -> String {
        match self {
            CliError::Spawn(error) => error.to_string(),
            CliError::TimedOut { stdout, stderr, .. } | CliError::Failed { stdout, stderr, .. } => {
                format!("{}{}", stdout.trim(), stderr.trim())
            }
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Spawn(error) => write!(f, "cannot run redis-cli: {error}"),
            CliError::TimedOut {
                timeout,
                stdout,
                stderr,
            } => write!(
                f,
                "redis-cli did not finish within {timeout:?}; stdout: {:?}; stderr: {:?}",
                stdout.trim(),
                stderr.trim()
            ),
            CliError::Failed {
                status,
                stdout,
                stderr,
            } => write!(
                f,
                "redis-cli failed ({status}); stdout: {:?}; stderr: {:?}",
                stdout.trim(),
                stderr.trim()
            ),
        }
    }
}

impl std::error::Error for CliError {}

/// Runs `redis-cli ARGS…`, killing it after `timeout`; returns its trimmed
/// stdout when it exits successfully.
pub fn redis_cli<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    password: Option<&str>,
    timeout: Duration,
) -> Result<String, CliError> {
    require_redis();
    let mut command = Command::new("redis-cli");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match password {
        Some(password) => command.env("REDISCLI_AUTH", password),
        None => command.env_remove("REDISCLI_AUTH"),
    };
    let mut child = command.spawn().map_err(CliError::Spawn)?;
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let started = Instant::now();
    let deadline = started + timeout;
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => {
                // Most calls take a few milliseconds: poll finely at first.
                thread::sleep(nap);
                if started.elapsed() > Duration::from_millis(50) {
                    nap = Duration::from_millis(10);
                }
            }
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CliError::Spawn(error));
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        None => Err(CliError::TimedOut {
            timeout,
            stdout,
            stderr,
        }),
        Some(status) if status.success() => Ok(stdout.trim().to_owned()),
        Some(status) => Err(CliError::Failed {
            status,
            stdout,
            stderr,
        }),
    }
}

fn reader(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

// ---------------------------------------------------------------------------
// One redis-server process
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Options {
    appendonly: bool,
    password: Option<String>,
    /// A cluster node.
    cluster: bool,
    replica_of: Option<u16>,
    /// Sentinel mode, monitoring the master on this port.
    sentinel_of: Option<u16>,
}

impl Options {
    /// The arguments of `redis-server` for `port` in `dir`, writing the
    /// config file when one is needed.
    fn prepare(&self, dir: &Path, port: u16) -> io::Result<Vec<OsString>> {
        if let Some(master) = self.sentinel_of {
            // Sentinel needs a writable config file: it records its state.
            let path = dir.join("sentinel.conf");
            let conf = format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\ndir \"{}\"\n\
                 sentinel monitor {name} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 10000\n",
                dir.display(),
                name = RedisSentinel::MASTER_NAME,
            );
            fs::write(&path, conf)?;
            return Ok(vec![path.into_os_string(), "--sentinel".into()]);
        }
        let mut args: Vec<OsString> = Vec::new();
        let mut set = |name: &str, value: &str| {
            args.push(format!("--{name}").into());
            args.push(value.into());
        };
        set("port", &port.to_string());
        set("bind", "127.0.0.1");
        set("dir", &dir.display().to_string());
        set("daemonize", "no");
        set("save", "");
        set("enable-debug-command", "local");
        // Replicas sync at once (the default waits 5 s for more replicas).
        set("repl-diskless-sync-delay", "0");
        if self.appendonly {
            set("appendonly", "yes");
            set("appendfsync", "always");
        } else {
            set("appendonly", "no");
        }
        if self.cluster {
            let _ = fs::remove_file(dir.join("nodes.conf"));
            set("cluster-enabled", "yes");
            set("cluster-config-file", "nodes.conf");
            set("cluster-node-timeout", "2000");
        }
        if let Some(master) = self.replica_of {
            set("replicaof", &format!("127.0.0.1 {master}"));
        }
        if let Some(password) = &self.password {
            set("requirepass", password);
            set("masterauth", password);
        }
        Ok(args)
    }
}

/// Options of a single server; see [`RedisServer::builder`].
#[derive(Clone, Debug, Default)]
pub struct RedisServerBuilder {
    options: Options,
}

impl RedisServerBuilder {
    /// AOF persistence with `appendfsync always`, so that a write that was
    /// acknowledged survives [`RedisServer::kill`] and [`RedisServer::restart`].
    pub fn appendonly(mut self, on: bool) -> Self {
        self.options.appendonly = on;
        self
    }

    /// `requirepass`: [`RedisServer::url`] then carries the password, and
    /// [`RedisServer::cli`] authenticates.
    pub fn password(mut self, password: &str) -> Self {
        self.options.password = Some(password.to_owned());
        self
    }

    pub fn start(self) -> RedisServer {
        RedisServer::launch(self.options, free_port)
    }
}

enum StartError {
    PortInUse,
    Exited(ExitStatus),
    TimedOut,
    Io(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::PortInUse => write!(f, "its port was taken"),
            StartError::Exited(status) => write!(f, "it exited ({status})"),
            StartError::TimedOut => write!(f, "it did not answer PING within {START_TIMEOUT:?}"),
            StartError::Io(error) => write!(f, "{error}"),
        }
    }
}

/// A `redis-server` (or `redis-sentinel`) process on `127.0.0.1:port()`
/// with its own directory. Methods take `&self`, so a handle can be shared
/// (`Arc`) and nodes of a cluster killed through `cluster.nodes()[i]`.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    args: Vec<OsString>,
    password: Option<String>,
    child: Mutex<Option<Child>>,
    paused_until: Mutex<Option<Instant>>,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("pid", &self.pid())
            .finish()
    }
}

impl RedisServer {
    /// A server with the defaults: no persistence (`--save ""`,
    /// `--appendonly no`).
    pub fn start() -> Self {
        Self::builder().start()
    }

    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// Starts a server on a port from `port`, on a fresh one when the port
    /// got taken before Redis bound it.
    fn launch(options: Options, port: fn() -> u16) -> Self {
        require_redis();
        let mut taken = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = port();
            let dir = new_temp_dir();
            let args = options
                .prepare(&dir, port)
                .unwrap_or_else(|error| panic!("cannot prepare {}: {error}", dir.display()));
            let server = RedisServer {
                port,
                dir,
                args,
                password: options.password.clone(),
                child: Mutex::new(None),
                paused_until: Mutex::new(None),
            };
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(StartError::PortInUse) => {
                    taken.push(port);
                    server.teardown(false);
                }
                Err(error) => server.fail(&format!("cannot start {}", server.describe()), error),
            }
        }
        panic!("cannot start redis-server: ports {taken:?} were all taken before it bound them");
    }

    fn describe(&self) -> String {
        let what = if self.is_sentinel() {
            "redis-sentinel"
        } else {
            "redis-server"
        };
        format!("{what} on port {} ({})", self.port, self.dir.display())
    }

    fn is_sentinel(&self) -> bool {
        self.args.iter().any(|arg| arg == "--sentinel")
    }

    /// Kills the process, then panics with the log's tail.
    fn fail(&self, what: &str, error: impl fmt::Display) -> ! {
        let message = format!(
            "{what}: {error}\n--- last lines of {} ---\n{}",
            self.log_path().display(),
            self.log_tail(40)
        );
        // The log is in the message: `Drop` need not print it again.
        self.teardown(false);
        panic!("{message}");
    }

    fn spawn_and_wait(&self) -> Result<(), StartError> {
        let log_start = fs::metadata(self.log_path()).map_or(0, |meta| meta.len());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(StartError::Io)?;
        let child = Command::new("redis-server")
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(StartError::Io)?)
            .stderr(log)
            .spawn()
            .map_err(StartError::Io)?;
        watch(child.id());
        *lock(&self.child) = Some(child);
        *lock(&self.paused_until) = None;

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.reap_if_exited() {
                let log = self.log_since(log_start);
                return Err(if log.contains("Address already in use") {
                    StartError::PortInUse
                } else {
                    StartError::Exited(status)
                });
            }
            if self.answers_ping() {
                return if self.answering_pid() == self.pid() {
                    Ok(())
                } else {
                    // Another process got the port first; ours fails to bind.
                    self.kill();
                    Err(StartError::PortInUse)
                };
            }
            if Instant::now() >= deadline {
                return Err(StartError::TimedOut);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reaps the process if it has exited.
    fn reap_if_exited(&self) -> Option<ExitStatus> {
        let mut slot = lock(&self.child);
        let child = slot.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                unwatch(child.id());
                *slot = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// Whether it answers `PING` with `PONG` (not `LOADING`) right now.
    fn answers_ping(&self) -> bool {
        let mut request = Vec::new();
        if let Some(password) = &self.password {
            request.extend_from_slice(&resp(&["AUTH", password]));
        }
        request.extend_from_slice(&resp(&["PING"]));
        let replies = usize::from(self.password.is_some()) + 1;
        let Ok(lines) = raw_request(self.port, &request, replies) else {
            return false;
        };
        lines.last().is_some_and(|line| line.starts_with("+PONG"))
    }

    /// The `process_id` of whatever answers on the port.
    fn answering_pid(&self) -> Option<u32> {
        let info = self
            .try_cli_timeout(Duration::from_secs(2), &["INFO", "server"])
            .ok()?;
        info_field(&info, "process_id")?.parse().ok()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!(
                "redis://:{}@127.0.0.1:{}",
                percent_encode(password),
                self.port
            ),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Its directory: data, `redis.log`, `nodes.conf`, `sentinel.conf`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the process's stdout and stderr go (appended to on restarts).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read(self.log_path()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn log_since(&self, offset: u64) -> String {
        let log = fs::read(self.log_path()).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(0).min(log.len());
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    /// The process id, while it runs (frozen counts as running).
    pub fn pid(&self) -> Option<u32> {
        lock(&self.child).as_ref().map(Child::id)
    }

    /// Whether the process is alive (it may be frozen or paused).
    pub fn is_running(&self) -> bool {
        self.reap_if_exited();
        lock(&self.child).is_some()
    }

    /// `SIGKILL`, then waits for the process to exit. No-op if not running.
    pub fn kill(&self) {
        if let Some(mut child) = lock(&self.child).take() {
            unwatch(child.id());
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `SIGTERM` (Redis shuts down cleanly, flushing the AOF), then waits
    /// up to 5 s for the exit, then `SIGKILL`. No-op if not running.
    pub fn stop(&self) {
        let Some(mut child) = lock(&self.child).take() else {
            return;
        };
        signal::send(child.id(), signal::TERM);
        signal::send(child.id(), signal::CONT);
        unwatch(child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again on the same port, directory and options
    /// (killing it first if it still runs), and waits until it answers
    /// `PING`: an AOF, `nodes.conf` or `sentinel.conf` is reloaded.
    pub fn restart(&self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                // The port is kept for this server, but another process may
                // hold it for a moment: try again for a while.
                Err(StartError::PortInUse) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(error) => self.fail(&format!("cannot restart {}", self.describe()), error),
            }
        }
    }

    /// `CLIENT PAUSE <ms> ALL`: every client command (of any connection,
    /// new or old) waits until the pause ends, while connections are still
    /// accepted. Redis ends the pause by itself after `duration`.
    pub fn pause(&self, duration: Duration) {
        let ms = duration.as_millis().max(1).to_string();
        let until = Instant::now() + duration;
        self.cli(&["CLIENT", "PAUSE", &ms, "ALL"]);
        *lock(&self.paused_until) = Some(until);
    }

    /// `CLIENT UNPAUSE`, and returns once the server serves commands again.
    ///
    /// Redis 7.0 holds `CLIENT UNPAUSE` itself behind a `CLIENT PAUSE … ALL`
    /// (it blocks every client command, this one too), so on 7.0 this
    /// returns only when the pause's time is up. To end a stall at a moment
    /// of the test's choosing, use [`freeze`](Self::freeze) and
    /// [`thaw`](Self::thaw).
    pub fn unpause(&self) {
        let remaining = lock(&self.paused_until)
            .take()
            .map_or(Duration::ZERO, |until| {
                until.saturating_duration_since(Instant::now())
            });
        self.cli_timeout(remaining + CLI_TIMEOUT, &["CLIENT", "UNPAUSE"]);
    }

    /// `SIGSTOP`: the process stops entirely (the kernel still accepts TCP
    /// connections into the backlog, but nothing answers, cluster bus
    /// included) until [`thaw`](Self::thaw). Panics if not running.
    pub fn freeze(&self) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("freeze: {} is not running", self.describe()));
        signal::send(pid, signal::STOP);
    }

    /// `SIGCONT`: undoes [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        if let Some(pid) = self.pid() {
            signal::send(pid, signal::CONT);
        }
    }

    /// Whether this server answers `ROLE` as a master.
    pub fn is_master(&self) -> bool {
        self.try_cli(&["ROLE"])
            .is_ok_and(|role| role.starts_with("master"))
    }

    /// Whether this server replicates from `master` with its link up and
    /// has applied everything `master` had written when asked.
    pub fn is_in_sync(&self, master: &RedisServer) -> bool {
        let field = |info: &str, name: &str| -> Option<String> {
            info.lines()
                .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(str::to_owned)
        };
        let offset = master
            .try_cli(&["INFO", "replication"])
            .ok()
            .and_then(|info| field(&info, "master_repl_offset")?.parse::<u64>().ok());
        self.try_cli(&["INFO", "replication"])
            .ok()
            .is_some_and(|info| {
                field(&info, "master_port").as_deref() == Some(&master.port().to_string())
                    && field(&info, "master_link_status").as_deref() == Some("up")
                    && field(&info, "slave_repl_offset")
                        .and_then(|o| o.parse::<u64>().ok())
                        .zip(offset)
                        .is_some_and(|(applied, offset)| applied >= offset)
            })
    }

    /// Waits until [`is_in_sync`](Self::is_in_sync) with `master`; panics
    /// after `within`.
    pub fn wait_in_sync(&self, master: &RedisServer, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.is_in_sync(master) {
            assert!(
                Instant::now() < deadline,
                "replica {} not in sync with {} within {within:?}",
                self.port(),
                master.port()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis-cli -p PORT -e ARGS…` (10 s limit): its trimmed stdout.
    /// Options may come first: `cli(&["--scan", "--pattern", "jwt-guard:*"])`.
    /// Panics, with its output, when it fails or times out.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_timeout(CLI_TIMEOUT, args)
    }

    /// [`cli`](Self::cli) with another time limit.
    pub fn cli_timeout(&self, timeout: Duration, args: &[&str]) -> String {
        self.try_cli_timeout(timeout, args)
            .unwrap_or_else(|error| panic!("redis-cli -p {} {args:?}: {error}", self.port))
    }

    /// [`cli`](Self::cli) returning the failure instead of panicking.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, CliError> {
        self.try_cli_timeout(CLI_TIMEOUT, args)
    }

    pub fn try_cli_timeout(&self, timeout: Duration, args: &[&str]) -> Result<String, CliError> {
        let port = self.port.to_string();
        let mut full = vec!["-h", "127.0.0.1", "-p", &port, "-e"];
        full.extend_from_slice(args);
        redis_cli(&full, self.password.as_deref(), timeout)
    }

    /// The keys matching `pattern` (`redis-cli --scan`), sorted.
    pub fn scan(&self, pattern: &str) -> Vec<String> {
        let out = self.cli(&["--scan", "--pattern", pattern]);
        let mut keys: Vec<String> = out
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    fn teardown(&self, show_log: bool) {
        self.kill();
        if show_log && self.log_path().exists() {
            eprintln!(
                "--- {}: last lines of its log ---\n{}\n---",
                self.describe(),
                self.log_tail(30)
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisServer {
    /// Kills the process and removes its directory; when the test is
    /// failing, prints the log's tail first (shown with the test's output).
    fn drop(&mut self) {
        self.teardown(thread::panicking());
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends `request` and reads `replies` single-line replies (enough for
/// `AUTH` and `PING`), with short time limits.
fn raw_request(port: u16, request: &[u8], replies: usize) -> io::Result<Vec<String>> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(250))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.set_write_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(request)?;
    let mut received = Vec::new();
    let mut buf = [0u8; 512];
    while received.windows(2).filter(|w| w == b"\r\n").count() < replies {
        let n = stream.read(&mut buf)?;
        if n == 0 || received.len() > 64 * 1024 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&received)
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Redis Cluster
// ---------------------------------------------------------------------------

/// Options of a cluster; see [`RedisCluster::builder`].
#[derive(Clone, Debug)]
pub struct RedisClusterBuilder {
    masters: usize,
    replicas: usize,
    appendonly: bool,
}

impl RedisClusterBuilder {
    /// AOF with `appendfsync always` on every node.
    pub fn appendonly(mut self, on: bool) -> Self {
        self.appendonly = on;
        self
    }

    /// `replicas` replicas of each master (`--cluster-replicas`).
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    pub fn start(self) -> RedisCluster {
        assert!(
            self.masters >= 3,
            "redis-cli --cluster create needs at least 3 masters"
        );
        let options = Options {
            appendonly: self.appendonly,
            cluster: true,
            ..Options::default()
        };
        let nodes: Vec<RedisServer> = (0..self.masters * (1 + self.replicas))
            .map(|_| RedisServer::launch(options.clone(), free_cluster_port))
            .collect();
        let cluster = RedisCluster {
            nodes,
            masters: self.masters,
        };
        let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
        args.extend(
            cluster
                .nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", node.port)),
        );
        let replicas = self.replicas.to_string();
        args.extend(["--cluster-replicas", &replicas, "--cluster-yes"].map(String::from));
        if let Err(error) = redis_cli(&args, None, CLUSTER_CREATE_TIMEOUT) {
            cluster.fail(&format!("redis-cli {}: {error}", args.join(" ")));
        }
        cluster.wait_ok();
        cluster
    }
}

/// A Redis Cluster of masters (and, if asked, replicas of each), each a
/// [`RedisServer`] with `--cluster-node-timeout 2000`, slots spread by
/// `redis-cli --cluster create`.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    masters: usize,
}

/// Masters by client port, each with its slot ranges, as one node sees them.
type SlotMap = BTreeMap<u16, Vec<(u16, u16)>>;

impl RedisCluster {
    /// `masters` (at least 3) masters, up and agreeing on the slot map.
    pub fn start(masters: usize) -> Self {
        Self::builder(masters).start()
    }

    pub fn builder(masters: usize) -> RedisClusterBuilder {
        RedisClusterBuilder {
            masters,
            replicas: 0,
            appendonly: false,
        }
    }

    /// `redis://127.0.0.1:PORT` of every node, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    pub fn node(&self, index: usize) -> &RedisServer {
        &self.nodes[index]
    }

    /// `CLUSTER NODES` from the first node that answers it.
    fn cluster_nodes(&self) -> String {
        let mut errors = Vec::new();
        for node in self.nodes.iter().filter(|node| node.is_running()) {
            match node.try_cli_timeout(Duration::from_secs(2), &["CLUSTER", "NODES"]) {
                Ok(text) => return text,
                Err(error) => errors.push(format!("node {}: {error}", node.port)),
            }
        }
        self.fail(&format!(
            "no cluster node answers CLUSTER NODES: {errors:?}"
        ));
    }

    /// The index in [`nodes`](Self::nodes) of a replica of the master at
    /// `master`, as the first running node sees it now.
    pub fn replica_of(&self, master: usize) -> Option<usize> {
        let text = self.cluster_nodes();
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|line| line.split_whitespace().collect())
            .filter(|fields: &Vec<&str>| fields.len() >= 8)
            .collect();
        let port_of = |fields: &[&str]| -> Option<u16> {
            fields[1]
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        };
        let id = lines
            .iter()
            .find(|fields| port_of(fields) == Some(self.nodes[master].port))?[0];
        lines
            .iter()
            .filter(|fields| fields[2].split(',').any(|flag| flag == "slave"))
            .filter(|fields| !fields[2].split(',').any(|flag| flag.starts_with("fail")))
            .find(|fields| fields[3] == id)
            .and_then(|fields| port_of(fields))
            .map(|port| self.index_of_port(port))
    }

    /// The hash slot of `key` (computed here, as `CLUSTER KEYSLOT` does).
    pub fn keyslot(&self, key: &str) -> u16 {
        key_slot(key.as_bytes())
    }

    /// The index in [`nodes`](Self::nodes) of the master serving `key`'s
    /// slot, as the first running node sees the slot map now (one
    /// `redis-cli` call).
    pub fn master_for_key(&self, key: &str) -> usize {
        self.slot_owners()[usize::from(self.keyslot(key))]
    }

    /// For each of the 16384 slots, the index in [`nodes`](Self::nodes) of
    /// the master serving it, as the first running node sees it now (one
    /// `redis-cli` call, for checking where many keys go:
    /// `owners[usize::from(key_slot(key))]`). Panics if a slot is unserved.
    pub fn slot_owners(&self) -> Vec<usize> {
        let text = self.cluster_nodes();
        let map = parse_cluster_nodes(&text, false)
            .unwrap_or_else(|error| panic!("CLUSTER NODES: {error}\n{text}"));
        let mut owners = vec![usize::MAX; CLUSTER_SLOTS as usize];
        for (&port, ranges) in &map {
            let index = self.index_of_port(port);
            for &(a, b) in ranges {
                for slot in a..=b {
                    if let Some(owner) = owners.get_mut(usize::from(slot)) {
                        *owner = index;
                    }
                }
            }
        }
        if let Some(slot) = owners.iter().position(|&owner| owner == usize::MAX) {
            panic!("no master serves slot {slot}:\n{text}");
        }
        owners
    }

    fn index_of_port(&self, port: u16) -> usize {
        self.nodes
            .iter()
            .position(|node| node.port == port)
            .unwrap_or_else(|| panic!("port {port} is not a node of this cluster"))
    }

    /// How many keys match `pattern` on each node (`redis-cli --scan`), in
    /// node order. Panics if a node does not answer.
    pub fn keys_per_node(&self, pattern: &str) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|node| node.scan(pattern).len())
            .collect()
    }

    /// `CLUSTER FAILOVER <how>` (`FORCE`, `TAKEOVER`, or `""` for the
    /// graceful one) on node `replica`, again until it is a master; panics
    /// after `within`.
    pub fn promote(&self, replica: usize, how: &str, within: Duration) {
        let node = self.node(replica);
        let deadline = Instant::now() + within;
        while !node.is_master() {
            let mut args = vec!["CLUSTER", "FAILOVER"];
            args.extend((!how.is_empty()).then_some(how));
            let _ = node.try_cli(&args);
            assert!(
                Instant::now() < deadline,
                "node {} was not promoted within {within:?}",
                node.port()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every node runs, reports `cluster_state:ok`, sees no
    /// node failing, and all agree on a slot map covering the 16384 slots
    /// (up to 20 s; after a node's restart expect a few seconds). Panics
    /// with the nodes' views and logs otherwise.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + CLUSTER_OK_TIMEOUT;
        loop {
            let problem = match self.check_ok() {
                Ok(()) => return,
                Err(problem) => problem,
            };
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "cluster not ok after {CLUSTER_OK_TIMEOUT:?}: {problem}"
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn check_ok(&self) -> Result<(), String> {
        let timeout = Duration::from_secs(2);
        let mut first: Option<SlotMap> = None;
        for node in &self.nodes {
            let port = node.port;
            let info = node
                .try_cli_timeout(timeout, &["CLUSTER", "INFO"])
                .map_err(|error| format!("node {port}: {error}"))?;
            if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
                return Err(format!("node {port} is not cluster_state:ok"));
            }
            let text = node
                .try_cli_timeout(timeout, &["CLUSTER", "NODES"])
                .map_err(|error| format!("node {port}: {error}"))?;
            let map = parse_cluster_nodes(&text, true)
                .map_err(|error| format!("node {port}: {error}"))?;
            let covered: u32 = map
                .values()
                .flatten()
                .map(|&(a, b)| u32::from(b - a) + 1)
                .sum();
            if covered != CLUSTER_SLOTS {
                return Err(format!("node {port} sees {covered} slots served"));
            }
            if map.len() != self.masters {
                return Err(format!("node {port} sees {} masters with slots", map.len()));
            }
            match &first {
                None => first = Some(map),
                Some(first) if *first != map => {
                    return Err(format!(
                        "node {port} disagrees on the slot map: {map:?} vs {first:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn fail(&self, what: &str) -> ! {
        let mut report = String::new();
        for node in &self.nodes {
            let view = node
                .try_cli_timeout(Duration::from_secs(2), &["CLUSTER", "NODES"])
                .unwrap_or_else(|error| error.to_string());
            report.push_str(&format!(
                "\n--- node {} (running: {}) CLUSTER NODES ---\n{view}\n--- last lines of its log ---\n{}\n",
                node.port,
                node.is_running(),
                node.log_tail(20)
            ));
        }
        for node in &self.nodes {
            node.teardown(false);
        }
        panic!("{what}{report}");
    }
}

/// The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of the key, or of
/// its hash tag (the text between the first `{` and the next `}`, when not
/// empty), modulo 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16_384
}

/// Masters and their slot ranges from `CLUSTER NODES`; with `strict`, an
/// error when a node is failing or unknown.
fn parse_cluster_nodes(text: &str, strict: bool) -> Result<SlotMap, String> {
    let mut map = SlotMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            return Err(format!("odd CLUSTER NODES line {line:?}"));
        }
        let flags = fields[2];
        if strict
            && flags
                .split(',')
                .any(|flag| matches!(flag, "fail" | "fail?" | "handshake" | "noaddr"))
        {
            return Err(format!("node {} has flags {flags}", fields[1]));
        }
        if !flags.split(',').any(|flag| flag == "master") {
            continue;
        }
        // ip:port@cport[,hostname]
        let port = fields[1]
            .split('@')
            .next()
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|port| port.parse::<u16>().ok())
            .ok_or_else(|| format!("odd address in {line:?}"))?;
        let mut ranges = Vec::new();
        for slots in &fields[8..] {
            if slots.starts_with('[') {
                continue; // a slot being imported or migrated
            }
            let (a, b) = slots.split_once('-').unwrap_or((slots, slots));
            let parse = |s: &str| {
                s.parse::<u16>()
                    .map_err(|_| format!("odd slots {slots:?} in {line:?}"))
            };
            ranges.push((parse(a)?, parse(b)?));
        }
        if !ranges.is_empty() {
            ranges.sort_unstable();
            map.insert(port, ranges);
        }
    }
    Ok(map)
}

// ---------------------------------------------------------------------------
// Sentinel
// ---------------------------------------------------------------------------

/// A master, optional replicas, and one Sentinel monitoring the master as
/// [`MASTER_NAME`](Self::MASTER_NAME) (quorum 1, `down-after-milliseconds
/// 1000`, `failover-timeout 10000`), the Sentinel started last, once the
/// replicas are in sync, and returned once it knows them all.
#[derive(Debug)]
pub struct RedisSentinel {
    sentinel: RedisServer,
    replicas: Vec<RedisServer>,
    master: RedisServer,
}

impl RedisSentinel {
    pub const MASTER_NAME: &str = "mymaster";

    /// A master, `replicas` replicas of it, and a Sentinel; with a replica,
    /// killing the master makes the Sentinel promote it (about 2 s).
    pub fn start_with_replicas(replicas: usize) -> Self {
        let master = RedisServer::start();
        let replica_options = Options {
            replica_of: Some(master.port),
            ..Options::default()
        };
        let replicas: Vec<RedisServer> = (0..replicas)
            .map(|_| RedisServer::launch(replica_options.clone(), free_port))
            .collect();
        for replica in &replicas {
            wait_for(&format!("replica {} in sync", replica.port), || {
                let info = replica.try_cli(&["INFO", "replication"]).ok()?;
                (info_field(&info, "master_link_status")? == "up").then_some(())
            });
        }
        let sentinel_options = Options {
            sentinel_of: Some(master.port),
            ..Options::default()
        };
        let sentinel = RedisServer::launch(sentinel_options, free_port);
        let setup = RedisSentinel {
            sentinel,
            replicas,
            master,
        };
        let expected = setup.replicas.len().to_string();
        wait_for("the sentinel to know the master and its replicas", || {
            let fields = setup.master_state()?;
            (field(&fields, "flags")? == "master" && field(&fields, "num-slaves")? == expected)
                .then_some(())
        });
        setup
    }

    /// `SENTINEL MASTER mymaster` as name/value pairs, if it answers.
    fn master_state(&self) -> Option<Vec<String>> {
        let out = self
            .sentinel
            .try_cli_timeout(
                Duration::from_secs(2),
                &["SENTINEL", "MASTER", Self::MASTER_NAME],
            )
            .ok()?;
        Some(out.lines().map(|line| line.trim().to_owned()).collect())
    }

    /// `redis://127.0.0.1:PORT` of the Sentinel.
    pub fn sentinel_urls(&self) -> Vec<String> {
        vec![self.sentinel.url()]
    }

    pub fn master_name(&self) -> &'static str {
        Self::MASTER_NAME
    }

    /// The Sentinel process (its `cli` speaks to the Sentinel).
    pub fn sentinel(&self) -> &RedisServer {
        &self.sentinel
    }

    /// The server that was master at the start.
    pub fn master(&self) -> &RedisServer {
        &self.master
    }

    pub fn replicas(&self) -> &[RedisServer] {
        &self.replicas
    }

    /// The master's address as the Sentinel reports it now
    /// (`SENTINEL GET-MASTER-ADDR-BY-NAME`).
    pub fn master_addr(&self) -> SocketAddr {
        let out = self
            .sentinel
            .cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::MASTER_NAME]);
        parse_addr(&out).unwrap_or_else(|| panic!("odd master address {out:?}"))
    }

    /// Waits (up to 15 s) until every replica has applied everything the
    /// initial master had written when called (`slave_repl_offset` reaches
    /// its `master_repl_offset`). Use it before killing the master when the
    /// promoted replica must have the data: `WAIT` through [`RedisServer::cli`]
    /// proves nothing, each call being its own connection.
    pub fn wait_replicated(&self) {
        let offset = info_field(
            &self.master.cli(&["INFO", "replication"]),
            "master_repl_offset",
        )
        .and_then(|offset| offset.parse::<u64>().ok())
        .expect("master_repl_offset in INFO replication");
        for replica in &self.replicas {
            wait_for(
                &format!("replica {} to reach offset {offset}", replica.port),
                || {
                    let info = replica.try_cli(&["INFO", "replication"]).ok()?;
                    let applied: u64 = info_field(&info, "slave_repl_offset")?.parse().ok()?;
                    (applied >= offset).then_some(())
                },
            );
        }
    }

    /// `SENTINEL FAILOVER`, again until Sentinel names another master
    /// than the server on `old_port`; panics after `within`.
    pub fn fail_over_from(&self, old_port: u16, within: Duration) {
        let deadline = Instant::now() + within;
        while self.master_addr().port() == old_port {
            let _ = self
                .sentinel()
                .try_cli(&["SENTINEL", "FAILOVER", self.master_name()]);
            assert!(
                Instant::now() < deadline,
                "no failover from {old_port} within {within:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (up to 15 s) until the Sentinel reports a master other than
    /// the one on `old_port`; returns the new master's port.
    pub fn wait_master_not(&self, old_port: u16) -> u16 {
        wait_for(&format!("a failover away from port {old_port}"), || {
            let out = self
                .sentinel
                .try_cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::MASTER_NAME])
                .ok()?;
            let port = parse_addr(&out)?.port();
            (port != old_port).then_some(port)
        })
    }
}

fn parse_addr(out: &str) -> Option<SocketAddr> {
    let mut lines = out.lines().map(str::trim);
    let ip: Ipv4Addr = lines.next()?.parse().ok()?;
    let port: u16 = lines.next()?.parse().ok()?;
    Some(SocketAddr::from((ip, port)))
}

/// The value of `name:value` in `INFO` output.
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
}

fn field<'a>(fields: &'a [String], name: &str) -> Option<&'a str> {
    fields
        .chunks(2)
        .find(|pair| pair.len() == 2 && pair[0] == name)
        .map(|pair| pair[1].as_str())
}

/// Polls `probe` every 50 ms until it gives a value, for at most 15 s.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + SENTINEL_TIMEOUT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("gave up waiting for {what} after {SENTINEL_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}
