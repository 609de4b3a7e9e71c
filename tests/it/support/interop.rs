//! The JWT libraries of other languages, driven from the tests: the Node
//! libraries of `interop/node`, the Python libraries of `interop/python`
//! and a verifier on the JDK alone (`interop/java`), each behind a driver
//! process that answers one JSON request per line (see the drivers'
//! headers for the requests).
//!
//! A driver is installed on first use: `npm ci` from the committed lockfile
//! into `interop/node/node_modules`, `pip install` of the pinned
//! requirements into a virtual environment in the test target's temporary
//! directory; the JDK needs nothing. Without `node`, `python3` or `java` (or without the registries to
//! install from) the tests that need them are skipped with a message, unless
//! `JWT_GUARD_REQUIRE_INTEROP` is set (as `.ci/run` does): then they fail.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::Value;

use super::checkout;

/// How long a driver may take to answer one request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// A running driver process.
pub struct Driver {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Driver {
    fn spawn(name: &'static str, mut command: Command) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {name} driver: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            name,
            child,
            stdin,
            answers,
        })
    }

    /// Sends `request` and waits for its answer.
    pub fn call(&mut self, request: &Value) -> Value {
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("{} driver: cannot write: {e}", self.name));
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{} driver answered {line:?}: {e}", self.name)),
            Err(RecvTimeoutError::Timeout) => {
                panic!("{} driver: no answer within {ANSWER_TIMEOUT:?}", self.name)
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{} driver exited (its stderr is above)", self.name)
            }
        }
    }

    /// A DPoP key pair made by panva's `dpop` for `alg`, kept by the
    /// driver: `{"id", "jkt"}` (the key's RFC 7638 thumbprint).
    #[cfg(any(feature = "axum", feature = "tonic"))]
    pub fn dpop_key(&mut self, alg: &str) -> Value {
        let key = self.call(&serde_json::json!({ "op": "dpop_key", "alg": alg }));
        assert_eq!(key["ok"], true, "{key}");
        key
    }

    /// A proof by `key` (from [`dpop_key`](Self::dpop_key)) for `htm htu`;
    /// `options` may add `access_token`, `nonce` and `age` (seconds ago).
    #[cfg(any(feature = "axum", feature = "tonic"))]
    pub fn dpop_proof(&mut self, key: &Value, (htm, htu): (&str, &str), options: Value) -> String {
        let mut request = serde_json::json!({
            "op": "dpop_proof", "id": key["id"], "htm": htm, "htu": htu,
        });
        if let (Some(request), Value::Object(options)) = (request.as_object_mut(), options) {
            request.extend(options);
        }
        let answer = self.call(&request);
        assert_eq!(answer["ok"], true, "{answer}");
        answer["proof"].as_str().unwrap().to_owned()
    }

    /// The versions of the libraries this driver drives, by library.
    pub fn versions(&mut self) -> Value {
        let answer = self.call(&serde_json::json!({"op": "versions"}));
        answer["versions"].clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `interop/node` with its packages installed, or why it cannot be.
pub fn node_package() -> Result<PathBuf, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED.get_or_init(install_node).clone()
}

/// The Node driver (`jsonwebtoken`, `jose`), or why there is none.
pub fn node() -> Result<Driver, String> {
    let dir = node_package()?;
    let mut command = Command::new("node");
    command.arg(dir.join("driver.mjs")).current_dir(&dir);
    Driver::spawn("node", command)
}

/// The Python driver (PyJWT, python-jose), or why there is none.
pub fn python() -> Result<Driver, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let python = INSTALLED.get_or_init(install_python).clone()?;
    let mut command = Command::new(python);
    command.arg(checkout().join("interop/python/driver.py"));
    Driver::spawn("python", command)
}

/// The JDK driver (`javax.crypto.Mac`, `java.security.Signature`, run by
/// the JDK's source launcher), or why there is none.
pub fn java() -> Result<Driver, String> {
    run("java -version", Command::new("java").arg("-version"))
        .map_err(|e| format!("a JDK is not available ({e})"))?;
    let mut command = Command::new("java");
    command.arg(checkout().join("interop/java/Driver.java"));
    Driver::spawn("java", command)
}

/// `Some(driver)`, or `None` after saying why the test is skipped; fails
/// instead when `JWT_GUARD_REQUIRE_INTEROP` is set.
pub fn or_skip(driver: Result<Driver, String>, test: &str) -> Option<Driver> {
    match driver {
        Ok(driver) => Some(driver),
        Err(why) if std::env::var_os("JWT_GUARD_REQUIRE_INTEROP").is_some() => {
            panic!("{test}: {why} (JWT_GUARD_REQUIRE_INTEROP is set: not skipping)")
        }
        Err(why) => {
            eprintln!("skipped {test}: {why}");
            None
        }
    }
}

fn run(what: &str, command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `npm ci` in `interop/node` unless its `node_modules` was installed from
/// this very lockfile (once per test binary: [`node`] keeps the outcome).
fn install_node() -> Result<PathBuf, String> {
    run("node --version", Command::new("node").arg("--version"))
        .map_err(|e| format!("Node is not available ({e})"))?;
    let dir = checkout().join("interop/node");
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("interop/node/package-lock.json: {e}"))?;
    let installed = dir.join("node_modules/.package-lock.json");
    let stamp = dir.join("node_modules/.jwt-guard-lock");
    if std::fs::read(&stamp).ok().as_deref() != Some(&lock[..]) || !installed.exists() {
        run(
            "npm ci",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir),
        )?;
        std::fs::write(&stamp, &lock).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(dir)
}

/// A virtual environment with `interop/python/requirements.txt`, in the
/// test target's temporary directory; its `python`.
fn install_python() -> Result<PathBuf, String> {
    run(
        "python3 --version",
        Command::new("python3").arg("--version"),
    )
    .map_err(|e| format!("Python 3 is not available ({e})"))?;
    let requirements = checkout().join("interop/python/requirements.txt");
    let wanted =
        std::fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("jwt-guard-requirements.txt");
    if std::fs::read(&stamp).ok().as_deref() != Some(&wanted[..]) || !python.exists() {
        run(
            "python3 -m venv",
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
        )?;
        run(
            "pip install",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("-r")
                .arg(&requirements),
        )?;
        std::fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(python)
}
