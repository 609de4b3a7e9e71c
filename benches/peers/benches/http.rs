//! Server CPU per request over real HTTP: each contender's route served by
//! `axum::serve` (hyper, HTTP/1.1) on a current-thread runtime in a child
//! process pinned to core 0 (`taskset -c 0`), a load generator in another
//! child pinned to core 1 sending keep-alive requests over 4 connections.
//! The server's CPU time (`/proc/<pid>/stat`, user + system) over the
//! measured requests, divided by their number, is what a request costs the
//! server: parsing, routing, the auth layer or extractor, the response.
//!
//! Two loads per contender: one token repeated on every request, and a
//! fresh token (another `jti`) on every request, where jwt-guard runs with
//! its token cache on and off. Every answer must be 200 with the expected
//! body, or the run fails.
//!
//! `cargo bench -p jwt-guard-peers --bench http` (200 000 requests per
//! row); under `cargo test --benches` a smoke run of 2 000.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[path = "support/contenders.rs"]
mod contenders;
use contenders::*;

const SERVE: &str = "JWT_GUARD_HTTP_SERVE";
const LOAD: &str = "JWT_GUARD_HTTP_LOAD";
const CONNECTIONS: usize = 4;

fn main() {
    if let Ok(name) = std::env::var(SERVE) {
        return serve(&name);
    }
    if let Ok(spec) = std::env::var(LOAD) {
        return load(&spec);
    }
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let requests = if full { 200_000 } else { 2_000 };
    install_crypto_provider();

    let dir = std::env::temp_dir().join(format!("jwt-guard-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let repeated = dir.join("repeated");
    let fresh = dir.join("fresh");
    let secret = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let mint = |jti: &str| {
        jsonwebtoken::encode(&header, &bench_claims_with_jti(Some(jti)), &secret).expect("mint")
    };
    std::fs::write(&repeated, mint("http-repeated") + "\n").expect("write tokens");
    let fresh_tokens: Vec<String> = (0..requests + 2_000)
        .map(|i| mint(&format!("http-fresh-{i:08}")))
        .collect();
    std::fs::write(&fresh, fresh_tokens.join("\n") + "\n").expect("write tokens");
    drop(fresh_tokens);

    let rows: [(&str, &str, &std::path::Path); 9] = [
        ("bare", "repeated", &repeated),
        ("jwt-guard", "repeated", &repeated),
        ("axum-jwt-auth", "repeated", &repeated),
        ("jwt-authorizer", "repeated", &repeated),
        ("jwt-guard", "fresh", &fresh),
        ("jwt-guard-nocache", "fresh", &fresh),
        ("axum-jwt-auth", "fresh", &fresh),
        ("jwt-authorizer", "fresh", &fresh),
        ("bare", "fresh", &fresh),
    ];
    // Three rounds over every row, so that a slow phase of the machine
    // hits every row alike; the median of the three is reported.
    let rounds = if full { 3 } else { 1 };
    let mut results = vec![Vec::new(); rows.len()];
    for _ in 0..rounds {
        for ((name, _, tokens), result) in rows.iter().zip(&mut results) {
            result.push(measure(name, tokens, requests));
        }
    }
    println!("| contender | token | server CPU per request |");
    println!("|---|---|---:|");
    for ((name, token, _), mut result) in rows.into_iter().zip(results) {
        result.sort_by(f64::total_cmp);
        let runs: Vec<String> = result.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| {name} | {token} | {:.2} µs (runs {}) |",
            result[result.len() / 2],
            runs.join(", ")
        );
    }
    println!(
        "({requests} requests per row over {CONNECTIONS} keep-alive connections; server pinned \
         to core 0, load to core 1; median of {rounds} rounds)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the server, warms it up, then measures its CPU over `requests`.
fn measure(name: &str, tokens: &std::path::Path, requests: usize) -> f64 {
    let exe = std::env::current_exe().expect("current exe");
    let mut server = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&exe)
        .env(SERVE, name)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("taskset (util-linux) and the server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("server stdout"))
        .read_line(&mut line)
        .expect("the server's port");
    let port: u16 = line.trim().parse().expect("a port");
    let run = |count: usize, skip: usize| {
        let status = Command::new("taskset")
            .args(["-c", "1"])
            .arg(&exe)
            .env(LOAD, format!("{port} {} {count} {skip}", tokens.display()))
            .status()
            .expect("the load generator");
        assert!(
            status.success(),
            "{name}: the load generator saw a wrong answer"
        );
    };
    run(2_000, 0);
    let before = cpu_seconds(&server);
    run(requests, 2_000);
    let after = cpu_seconds(&server);
    let _ = server.kill();
    let _ = server.wait();
    (after - before) * 1e6 / requests as f64
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 if unknown).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU time of `child`, in seconds (`/proc/<pid>/stat`).
fn cpu_seconds(child: &Child) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).expect("stat");
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / clock_ticks()
}

/// The server child: one contender on `127.0.0.1:0`, its port on stdout.
fn serve(name: &str) {
    install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Built outside the server's loop: it blocks on the runtime itself.
    let authorizer = (name == "jwt-authorizer").then(|| jwt_authorizer_router(&rt));
    rt.block_on(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        println!("{}", std_listener.local_addr().expect("addr").port());
        std::io::stdout().flush().expect("flush");
        match authorizer {
            Some(router) => {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                axum07::serve(listener, router).await.expect("serve");
            }
            None => {
                let router = match name {
                    "bare" => bare_router(),
                    "jwt-guard" => jwt_guard_router(jwt_guard::store::MemoryStore::new(), None),
                    "jwt-guard-nocache" => {
                        jwt_guard_router(jwt_guard::store::MemoryStore::new(), Some(0))
                    }
                    "axum-jwt-auth" => axum_jwt_auth_router(),
                    other => panic!("no contender {other}"),
                };
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                axum::serve(listener, router).await.expect("serve");
            }
        }
    });
}

/// The load child: `port tokens_file count skip` — sends `count` requests
/// over `CONNECTIONS` connections, request `i` with token `skip + i` of
/// the file (cycling), and exits non-zero on any answer but 200 with the
/// subject as its body.
fn load(spec: &str) {
    let parts: Vec<&str> = spec.split(' ').collect();
    let port: u16 = parts[0].parse().expect("port");
    let text = std::fs::read_to_string(parts[1]).expect("tokens");
    let tokens: Vec<&str> = text.lines().collect();
    let count: usize = parts[2].parse().expect("count");
    let skip: usize = parts[3].parse().expect("skip");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ok = rt.block_on(async {
        let mut tasks = Vec::new();
        for first in 0..CONNECTIONS {
            let requests: Vec<Vec<u8>> = (first..count)
                .step_by(CONNECTIONS)
                .map(|i| {
                    let token = tokens[(skip + i) % tokens.len()];
                    format!(
                        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
                    )
                    .into_bytes()
                })
                .collect();
            tasks.push(tokio::spawn(connection(port, requests)));
        }
        let mut ok = true;
        for task in tasks {
            ok &= task.await.unwrap_or(false);
        }
        ok
    });
    std::process::exit(if ok { 0 } else { 1 });
}

/// One connection's requests, one at a time; false on a wrong answer.
async fn connection(port: u16, requests: Vec<Vec<u8>>) -> bool {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = Vec::with_capacity(4096);
    for request in requests {
        stream.write_all(&request).await.expect("write");
        buf.clear();
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .expect("an answer within 10 s")
                .expect("read");
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&buf[..head_end]).expect("text head");
        if !head.starts_with("HTTP/1.1 200") {
            eprintln!("wrong answer: {}", head.lines().next().unwrap_or_default());
            return false;
        }
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("content-length");
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        if &buf[head_end..head_end + length] != SUBJECT.as_bytes() {
            eprintln!("wrong body");
            return false;
        }
    }
    true
}
