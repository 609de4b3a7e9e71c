//! Loopback ports for the servers the tests start: `redis-server`s and
//! example binaries.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Ports handed out by this test binary; never handed out twice, so two
/// tests running in parallel cannot pick the same port, and a stopped
/// server's port stays its own for a restart.
fn handed_out() -> MutexGuard<'static, BTreeSet<u16>> {
    static PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    PORTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A loopback port that was free a moment ago (bound on port 0, then
/// released) and that this test binary has not handed out before. Another
/// process may still take it before it is used: the Redis starters retry
/// on a fresh port when that happens.
pub fn free_port() -> u16 {
    free_port_where(|_| true, |_| None)
}

/// A free port that `accept`s, and whose `companion` port (if any) was not
/// handed out either; both are handed out together.
pub fn free_port_where(
    accept: impl Fn(u16) -> bool,
    companion: impl Fn(u16) -> Option<u16>,
) -> u16 {
    for _ in 0..1_000 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("cannot bind a TCP listener on 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let mut ports = handed_out();
        if ports.contains(&port) {
            continue;
        }
        let other = companion(port);
        if other.is_some_and(|other| ports.contains(&other)) || !accept(port) {
            continue;
        }
        ports.insert(port);
        ports.extend(other);
        return port;
    }
    panic!("found no free loopback port in 1000 attempts");
}
