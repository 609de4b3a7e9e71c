//! A real OpenID Provider, panva's `oidc-provider` from npm
//! (`interop/node/oidc-provider.mjs`), started on loopback for a test:
//! client-credentials grants with a resource indicator give JWT access
//! tokens (`at+jwt`) for an audience; its keys rotate on demand.
//!
//! Without Node (or the npm registry) the tests that need it are skipped
//! with a message, unless `JWT_GUARD_REQUIRE_INTEROP` is set.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::{Value, json};

use super::interop::node_package;

pub const AUDIENCE: &str = "https://api.test";
pub const CLIENT_ID: &str = "svc";
pub const CLIENT_SECRET: &str = "a-client-secret-of-at-least-32-characters";

/// A running provider, stopped when dropped.
pub struct Provider {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    requests: u64,
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider's settings beyond the defaults (`port` 0, no issuer path,
/// ES256, keys published with `alg`).
pub fn config() -> Value {
    json!({
        "port": 0,
        "audience": AUDIENCE,
        "scopes": ["docs:read", "docs:write"],
        "clients": [{ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET }],
        "alg": "ES256",
    })
}

/// Starts a provider with `config`, or `None` after saying why the test is
/// skipped (a failure when `JWT_GUARD_REQUIRE_INTEROP` is set).
pub fn start(test: &str, config: &Value) -> Option<Provider> {
    match spawn(config) {
        Ok(provider) => Some(provider),
        Err(why) if std::env::var_os("JWT_GUARD_REQUIRE_INTEROP").is_some() => {
            panic!("{test}: {why} (JWT_GUARD_REQUIRE_INTEROP is set: not skipping)")
        }
        Err(why) => {
            eprintln!("skipped {test}: {why}");
            None
        }
    }
}

fn spawn(config: &Value) -> Result<Provider, String> {
    let dir = node_package()?;
    let mut child = Command::new("node")
        .arg(dir.join("oidc-provider.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if sender.send(value).is_err() {
                break;
            }
        }
    });
    writeln!(stdin, "{config}").map_err(|e| format!("cannot configure the provider: {e}"))?;
    let ready = match lines.recv_timeout(Duration::from_secs(30)) {
        Ok(ready) if ready["ready"] == true => ready,
        Ok(other) => return Err(format!("the provider did not start: {other}")),
        Err(RecvTimeoutError::Timeout) => return Err("the provider did not start in 30 s".into()),
        Err(RecvTimeoutError::Disconnected) => return Err("the provider exited at start".into()),
    };
    Ok(Provider {
        child,
        stdin,
        lines,
        requests: 0,
        issuer: ready["issuer"].as_str().unwrap().to_owned(),
    })
}

impl Provider {
    fn call(&mut self, mut request: Value) -> Value {
        self.requests += 1;
        let req = format!("r{}", self.requests);
        request["req"] = json!(req);
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .expect("the provider reads its commands");
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line["req"] == req => return line,
                Ok(_) => {}
                Err(e) => panic!("the provider did not answer {}: {e}", request["op"]),
            }
        }
    }

    /// An access token for `scope`, by the client-credentials grant over
    /// HTTP, as a client gets one.
    pub fn token(&mut self, scope: &str) -> String {
        self.grant(scope, None, "Bearer")
    }

    /// A DPoP key pair for `alg`, kept by the provider's process (panva's
    /// `dpop`): its id there and its thumbprint.
    pub fn dpop_key(&mut self, alg: &str) -> (u64, String) {
        let answer = self.call(json!({ "op": "dpop_key", "alg": alg }));
        let id = answer["id"].as_u64().expect("a key id");
        (id, answer["jkt"].as_str().unwrap().to_owned())
    }

    /// A DPoP-bound access token for `scope`: the client-credentials grant
    /// with a proof of key `key` (RFC 9449 §5).
    pub fn dpop_token(&mut self, scope: &str, key: u64) -> String {
        self.grant(scope, Some(key), "DPoP")
    }

    /// The client-credentials grant for `scope`, with a proof of DPoP key
    /// `dpop` if any: the access token, of type `token_type`.
    fn grant(&mut self, scope: &str, dpop: Option<u64>, token_type: &str) -> String {
        let answer = self.call(json!({
            "op": "token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scope": scope, "dpop": dpop,
        }));
        // The answer holds a token: show only its status and error.
        assert_eq!(
            answer["status"], 200,
            "token request: {}",
            answer["body"]["error"]
        );
        assert_eq!(answer["body"]["token_type"], token_type);
        answer["body"]["access_token"].as_str().unwrap().to_owned()
    }

    /// A proof of key `key` for `htm htu`, for `access_token` when given,
    /// made `age` seconds ago.
    pub fn dpop_proof(
        &mut self,
        key: u64,
        (htm, htu): (&str, &str),
        access_token: Option<&str>,
        age: u64,
    ) -> String {
        let answer = self.call(json!({
            "op": "dpop_proof", "id": key, "htm": htm, "htu": htu,
            "access_token": access_token, "age": age,
        }));
        answer["proof"].as_str().expect("a proof").to_owned()
    }

    /// A new signing key: the kid of the tokens from now on; the old key
    /// stays published beside it.
    pub fn rotate(&mut self) -> String {
        let answer = self.call(json!({ "op": "rotate" }));
        answer["kid"].as_str().unwrap().to_owned()
    }
}
