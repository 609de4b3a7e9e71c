//! The real JavaScript Socket.IO client (`socket.io-client` from
//! `interop/node`), driven from the tests through `interop/node/socketio.mjs`:
//! one Node process holding many sockets, its events read as they come.
//!
//! Without Node (or the npm registry to install from) the tests that need it
//! are skipped with a message, unless `JWT_GUARD_REQUIRE_INTEROP` is set (as
//! `.ci/run` does): then they fail.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

use super::interop::node_package;

/// The transports a socket can be limited to.
pub const TRANSPORTS: [&str; 2] = ["polling", "websocket"];

/// How long to wait for what should come at once.
pub const PROMPTLY: Duration = Duration::from_secs(10);

/// A running `socketio.mjs`, killed when dropped.
pub struct Clients {
    child: Child,
    stdin: ChildStdin,
    lines: UnboundedReceiver<Value>,
    /// Lines read but not yet asked for, in order.
    pending: Vec<Value>,
    requests: u64,
}

/// The driver, or `None` after saying why the test is skipped (a failure
/// when `JWT_GUARD_REQUIRE_INTEROP` is set).
pub fn clients(test: &str) -> Option<Clients> {
    let started = node_package().and_then(|dir| {
        Command::new("node")
            .arg(dir.join("socketio.mjs"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))
    });
    let mut child = match started {
        Ok(child) => child,
        Err(why) if std::env::var_os("JWT_GUARD_REQUIRE_INTEROP").is_some() => {
            panic!("{test}: {why} (JWT_GUARD_REQUIRE_INTEROP is set: not skipping)")
        }
        Err(why) => {
            eprintln!("skipped {test}: {why}");
            return None;
        }
    };
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, lines) = unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("socketio.mjs wrote {line:?}: {e}"));
            if sender.send(value).is_err() {
                break;
            }
        }
    });
    Some(Clients {
        child,
        stdin,
        lines,
        pending: Vec::new(),
        requests: 0,
    })
}

impl Drop for Clients {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Clients {
    fn send(&mut self, request: &Value) {
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("socketio.mjs: cannot write: {e}"));
    }

    /// The first line, read or to come before `deadline`, that `wanted`
    /// picks, taken out of the pending lines; `None` past the deadline.
    async fn take(&mut self, deadline: Instant, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return Some(self.pending.remove(i));
        }
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if wanted(&line) => return Some(line),
                Ok(Some(line)) => self.pending.push(line),
                Ok(None) => panic!("socketio.mjs exited (its stderr is above)"),
                Err(_) => return None,
            }
        }
    }

    async fn answer(&mut self, request: Value) -> Value {
        self.requests += 1;
        let req = format!("r{}", self.requests);
        let mut request = request;
        request["req"] = json!(req);
        self.send(&request);
        let deadline = Instant::now() + PROMPTLY;
        self.take(deadline, |line| line["req"] == req)
            .await
            .unwrap_or_else(|| panic!("socketio.mjs did not answer {request}"))
    }

    /// The client library's version.
    pub async fn version(&mut self) -> String {
        let answer = self.answer(json!({"op": "versions"})).await;
        answer["versions"]["socket.io-client"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Opens socket `id` to `url`'s namespace `/` over `transport`, with
    /// `auth` as the CONNECT packet's payload (none when `None`).
    pub fn connect(&mut self, id: &str, url: &str, transport: &str, auth: Option<Value>) {
        self.connect_with(id, url, transport, json!({ "auth": auth }));
    }

    /// As [`connect`](Self::connect), with the driver's other options
    /// (`namespace`, `headers`, `query`, `auth`) in `options`.
    pub fn connect_with(&mut self, id: &str, url: &str, transport: &str, options: Value) {
        let mut request = json!({"op": "connect", "id": id, "url": url, "transport": transport});
        for (name, value) in options.as_object().unwrap() {
            if !value.is_null() {
                request[name] = value.clone();
            }
        }
        self.send(&request);
    }

    /// The next `event` of socket `id` within `within`; panics otherwise,
    /// naming what the socket saw instead.
    pub async fn event(&mut self, id: &str, event: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        match self
            .take(deadline, |line| line["id"] == id && line["event"] == event)
            .await
        {
            Some(line) => line,
            None => {
                let seen: Vec<&Value> = self.pending.iter().filter(|l| l["id"] == id).collect();
                panic!("socket {id}: no {event} within {within:?}; it saw {seen:?}")
            }
        }
    }

    /// Connects socket `id` and waits for its `connect` and `welcome`;
    /// the welcome's payload.
    pub async fn connected(&mut self, id: &str, url: &str, transport: &str, token: &str) -> Value {
        self.connect(id, url, transport, Some(json!({ "token": token })));
        self.event(id, "connect", PROMPTLY).await;
        self.event(id, "welcome", PROMPTLY).await["args"][0].clone()
    }

    /// The `message` of the `connect_error` socket `id` gets.
    pub async fn refusal(&mut self, id: &str) -> String {
        let line = self.event(id, "connect_error", PROMPTLY).await;
        line["message"].as_str().unwrap().to_owned()
    }

    /// Emits `event` with `args` on socket `id` and waits for its ack: the
    /// ack's first argument.
    pub async fn ask(&mut self, id: &str, event: &str, args: Value) -> Value {
        let answer = self
            .answer(json!({"op": "emit", "id": id, "event": event, "args": args, "ack": true}))
            .await;
        assert!(
            answer.get("error").is_none(),
            "socket {id}, {event}: {answer}"
        );
        answer["ack"][0].clone()
    }

    /// Emits `event` with `args` on socket `id`, asking for no ack.
    pub async fn tell(&mut self, id: &str, event: &str, args: Value) {
        let answer = self
            .answer(json!({"op": "emit", "id": id, "event": event, "args": args, "ack": false}))
            .await;
        assert_eq!(answer["sent"], true, "socket {id}, {event}: {answer}");
    }

    /// Closes socket `id` from the client's side, and forgets what it saw:
    /// the id may be used again.
    pub async fn close(&mut self, id: &str) {
        let answer = self.answer(json!({"op": "close", "id": id})).await;
        assert_eq!(answer["closed"], true, "{answer}");
        self.pending.retain(|line| line["id"] != id);
    }

    /// Whether socket `id` has seen `event` already (read so far, not
    /// taken); reads what has arrived first, without waiting.
    pub fn saw(&mut self, id: &str, event: &str) -> bool {
        while let Ok(line) = self.lines.try_recv() {
            self.pending.push(line);
        }
        self.pending
            .iter()
            .any(|line| line["id"] == id && line["event"] == event)
    }

    /// The lines of socket `id` read and not taken yet, for messages.
    pub fn seen(&self, id: &str) -> Vec<&Value> {
        self.pending.iter().filter(|l| l["id"] == id).collect()
    }

    /// Waits for socket `id`'s end: its `auth_revoked` with `reason`, then
    /// its server disconnect, both within `within`.
    pub async fn ended(&mut self, id: &str, reason: &str, within: Duration) {
        let deadline = Instant::now() + within;
        let revoked = self.event(id, "auth_revoked", within).await;
        assert_eq!(
            revoked["args"][0],
            json!({ "reason": reason }),
            "socket {id}"
        );
        let left = deadline.saturating_duration_since(Instant::now());
        let disconnect = self.event(id, "disconnect", left).await;
        assert_eq!(disconnect["reason"], "io server disconnect", "socket {id}");
    }
}
