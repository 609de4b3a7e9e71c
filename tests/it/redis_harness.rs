//! Self-tests of the Redis test harness (`support::redis`): real
//! `redis-server` processes on free loopback ports, never the Redis on 6379.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::ports::free_port;
use crate::support::redis::{RedisCluster, RedisSentinel, RedisServer, key_slot, redis_cli};

#[test]
fn free_ports_are_bindable_and_never_repeated() {
    let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ports.len(), "{ports:?}");
    assert!(!ports.contains(&6379));
    TcpListener::bind(("127.0.0.1", ports[0])).expect("a free port binds");
}

#[test]
fn a_server_answers_on_its_own_port() {
    let server = RedisServer::start();
    assert_ne!(server.port(), 6379);
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    assert_eq!(
        server.addr().to_string(),
        format!("127.0.0.1:{}", server.port())
    );
    assert_eq!(server.cli(&["PING"]), "PONG");
    assert_eq!(
        server.cli(&["CONFIG", "GET", "appendonly"]),
        "appendonly\nno"
    );
    assert_eq!(server.cli(&["CONFIG", "GET", "save"]), "save");
    let dir = server.cli(&["CONFIG", "GET", "dir"]);
    assert!(dir.ends_with(&server.dir().display().to_string()), "{dir}");
    // Error replies fail the call.
    let error = server.try_cli(&["NO-SUCH-COMMAND"]).unwrap_err();
    assert!(error.output().contains("unknown command"), "{error}");
    assert!(!error.is_timeout());
}

#[test]
fn an_acknowledged_write_survives_kill_and_restart_with_aof() {
    let server = RedisServer::builder().appendonly(true).start();
    assert_eq!(
        server.cli(&["CONFIG", "GET", "appendfsync"]),
        "appendfsync\nalways"
    );
    server.cli(&["SET", "jwt-guard:k", "v"]);
    let port = server.port();
    let pid = server.pid().unwrap();

    server.kill();
    assert!(!server.is_running());
    assert!(server.pid().is_none());
    let error = server.try_cli(&["PING"]).unwrap_err();
    assert!(!error.is_timeout(), "a killed server refuses: {error}");

    server.restart();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), Some(pid));
    assert_eq!(server.cli(&["GET", "jwt-guard:k"]), "v");
}

#[test]
fn without_aof_a_restart_starts_empty() {
    let server = RedisServer::start();
    server.cli(&["SET", "k", "v"]);
    server.stop();
    assert!(!server.is_running());
    server.restart();
    assert_eq!(server.cli(&["EXISTS", "k"]), "0");
}

#[test]
fn a_password_goes_into_the_url_and_the_cli() {
    let server = RedisServer::builder().password("s3cret pw").start();
    assert_eq!(
        server.url(),
        format!("redis://:s3cret%20pw@127.0.0.1:{}", server.port())
    );
    assert_eq!(server.cli(&["PING"]), "PONG");
    let anonymous = redis_cli(
        &["-p", &server.port().to_string(), "-e", "PING"],
        None,
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(anonymous.output().contains("NOAUTH"), "{anonymous}");
}

#[test]
fn pause_holds_commands_until_it_ends() {
    let server = RedisServer::start();
    let paused_at = Instant::now();
    server.pause(Duration::from_millis(1000));
    let error = server
        .try_cli_timeout(Duration::from_millis(300), &["PING"])
        .unwrap_err();
    assert!(error.is_timeout(), "PING should hang while paused: {error}");
    server.unpause();
    assert_eq!(
        server.cli_timeout(Duration::from_millis(500), &["PING"]),
        "PONG"
    );
    // Redis 7.0 holds CLIENT UNPAUSE behind the pause itself.
    assert!(paused_at.elapsed() < Duration::from_secs(5));
}

#[test]
fn freeze_holds_everything_until_thaw() {
    let server = RedisServer::start();
    server.freeze();
    let error = server
        .try_cli_timeout(Duration::from_millis(300), &["PING"])
        .unwrap_err();
    assert!(error.is_timeout(), "PING should hang while frozen: {error}");
    assert!(server.is_running());
    let thawed_at = Instant::now();
    server.thaw();
    assert_eq!(server.cli(&["PING"]), "PONG");
    assert!(thawed_at.elapsed() < Duration::from_millis(500));
}

#[test]
fn drop_kills_the_process_and_removes_its_directory() {
    let server = RedisServer::start();
    let pid = server.pid().unwrap();
    let dir = server.dir().to_owned();
    let port = server.port();
    assert!(dir.join("redis.log").exists());
    drop(server);
    assert!(!dir.exists(), "{} is left", dir.display());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || !is_redis(pid),
        "redis-server {pid} still runs"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_frozen_server_is_killed_on_drop() {
    let server = RedisServer::start();
    server.freeze();
    let pid = server.pid().unwrap();
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || !is_redis(pid));
}

fn is_redis(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| cmd.contains("redis"))
}

#[test]
fn a_cluster_of_three_spreads_keys_and_survives_a_node_restart() {
    let cluster = RedisCluster::builder(3).appendonly(true).start();
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    for (url, node) in urls.iter().zip(cluster.nodes()) {
        assert_eq!(*url, format!("redis://127.0.0.1:{}", node.port()));
        assert_eq!(
            node.cli(&["CONFIG", "GET", "cluster-node-timeout"]),
            "cluster-node-timeout\n2000"
        );
    }

    let owners = cluster.slot_owners();
    let mut expected = vec![0; 3];
    for n in 0..100 {
        let key = format!("jwt-guard:{{sub{n}}}:x");
        let master = owners[usize::from(key_slot(key.as_bytes()))];
        // A write to any other node would answer MOVED and fail.
        cluster.node(master).cli(&["SET", &key, "1"]);
        expected[master] += 1;
    }
    let counts = cluster.keys_per_node("jwt-guard:*");
    assert_eq!(counts, expected);
    assert_eq!(counts.iter().sum::<usize>(), 100);
    assert!(counts.iter().all(|&count| count > 0), "{counts:?}");

    let key = "jwt-guard:{sub1}:x";
    let owner = cluster.master_for_key(key);
    assert_eq!(owner, owners[usize::from(cluster.keyslot(key))]);
    let other = (owner + 1) % 3;
    let moved = cluster.node(other).try_cli(&["GET", key]).unwrap_err();
    assert!(moved.output().contains("MOVED"), "{moved}");
    // Slots as Redis computes them; same hash tag, same slot.
    assert_eq!(cluster.keyslot(key), cluster.keyslot("{sub1}"));
    for key in [
        key,
        "foo",
        "{user1000}.following",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "{}x",
    ] {
        let redis: u16 = cluster
            .node(0)
            .cli(&["CLUSTER", "KEYSLOT", key])
            .parse()
            .unwrap();
        assert_eq!(cluster.keyslot(key), redis, "{key}");
    }

    // A master killed and restarted keeps its slots and (AOF) its keys.
    cluster.node(owner).kill();
    assert!(!cluster.node(owner).is_running());
    cluster.node(owner).restart();
    cluster.wait_ok();
    assert_eq!(cluster.master_for_key(key), owner);
    assert_eq!(cluster.node(owner).cli(&["GET", key]), "1");
    assert_eq!(cluster.keys_per_node("jwt-guard:*"), expected);
}

#[test]
fn sentinel_reports_the_master_and_fails_over_to_the_replica() {
    let setup = RedisSentinel::start_with_replicas(1);
    assert_eq!(setup.master_name(), "mymaster");
    let urls = setup.sentinel_urls();
    assert_eq!(
        urls,
        vec![format!("redis://127.0.0.1:{}", setup.sentinel().port())]
    );
    assert_eq!(setup.master_addr().port(), setup.master().port());
    setup.master().cli(&["SET", "jwt-guard:k", "v"]);
    setup.wait_replicated();
    assert_eq!(setup.replicas()[0].cli(&["GET", "jwt-guard:k"]), "v");

    setup.master().kill();
    let new_master = setup.wait_master_not(setup.master().port());
    let replica = &setup.replicas()[0];
    assert_eq!(new_master, replica.port());
    assert_eq!(replica.cli(&["GET", "jwt-guard:k"]), "v");
    assert_eq!(replica.cli(&["ROLE"]).lines().next(), Some("master"));
}
