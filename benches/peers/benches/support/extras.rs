//! The parts of the bench run that are not criterion timings: revocation
//! propagation between two mirrors, and the mirror's memory per entry. They
//! run in the same `cargo bench -p jwt-guard-peers` (after the criterion
//! groups), print one line each and merge it into
//! `<criterion dir>/jwt-guard-extra.json`, which `medians.py` prints.
//!
//! Also: the bench's helpers for random ids, and the counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::store::{Lookup, RevocationStore, TokenRef, TokenStatus};

use super::redis_server::{RedisCluster, RedisServer};

// ---------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------

/// `System`, counting live heap bytes (requested sizes) while [`counting`]
/// is on. Off during the criterion timings, so they pay one relaxed load per
/// allocation and nothing else. Only differences between two readings taken
/// while counting are meaningful: a block allocated before counting started
/// and freed after subtracts its size.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The highest `LIVE` seen since the last [`reset_peak`].
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(by: isize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            grew(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            grew(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

fn live_bytes() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Starts a new peak from the current live count.
fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::SeqCst), Ordering::SeqCst);
}

fn peak_bytes() -> isize {
    PEAK.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------------
// Command line: run the extras when criterion would run a benchmark named so
// ---------------------------------------------------------------------------

/// How the bench binary was started, as far as the extras care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench`: full size, results written.
    Bench,
    /// `cargo test --benches` or `-- --test`: a small smoke run, nothing written.
    Test,
    /// `--list`, `--profile-time`, `--ignored`: nothing.
    Skip,
}

/// Criterion's options that take a value (criterion 0.8 `configure_from_args`).
const VALUED: &[&str] = &[
    "-c",
    "--color",
    "--colour",
    "-s",
    "--save-baseline",
    "-b",
    "--baseline",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
    "--output-format",
];

/// Whether to run the extra named `id`, and how: criterion's own rule (the
/// id contains the FILTER, or equals it with `--exact`).
pub fn mode_for(id: &str) -> Mode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .any(|a| a == name || a.starts_with(&format!("{name}=")))
    };
    let mut filter = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if VALUED.contains(&arg.as_str()) {
            i += 2;
            continue;
        }
        if !arg.starts_with('-') && filter.is_none() {
            filter = Some(arg.clone());
        }
        i += 1;
    }
    if flag("--list") || flag("--profile-time") || flag("--ignored") {
        return Mode::Skip;
    }
    if let Some(filter) = filter {
        let hit = if flag("--exact") {
            id == filter
        } else {
            id.contains(&filter)
        };
        if !hit {
            return Mode::Skip;
        }
    }
    if flag("--bench") && !flag("--test") {
        Mode::Bench
    } else {
        Mode::Test
    }
}

// ---------------------------------------------------------------------------
// Results file
// ---------------------------------------------------------------------------

/// Where criterion writes: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `<target dir of this executable>/criterion`.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // <target>/<profile>/deps/auth-<hash>
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Prints `line` and, in bench mode, merges `{id: {line, ..fields}}` into
/// `jwt-guard-extra.json`.
pub fn report(mode: Mode, id: &str, line: String, mut fields: serde_json::Value) {
    println!("{line}");
    if mode != Mode::Bench {
        return;
    }
    let dir = criterion_dir();
    std::fs::create_dir_all(&dir).expect("criterion dir");
    let path = dir.join("jwt-guard-extra.json");
    let mut all: serde_json::Map<String, serde_json::Value> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    fields["line"] = line.into();
    fields["unix_time"] = unix.into();
    all.insert(id.to_owned(), fields);
    let text = serde_json::to_string_pretty(&all).expect("json");
    std::fs::write(&path, text + "\n").expect("write jwt-guard-extra.json");
}

// ---------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------

static SEED: AtomicU64 = AtomicU64::new(0);

fn splitmix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn next_u64() -> u64 {
    if SEED.load(Ordering::Relaxed) == 0 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let _ = SEED.compare_exchange(0, nanos | 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    splitmix(SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed))
}

/// The process's resident memory in bytes (`/proc/self/statm`, Linux).
pub fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages");
    let page: usize = std::process::Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(4096);
    pages * page
}

/// A random 128-bit id as 22 base64url characters, like a typical `jti`.
pub fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&next_u64().to_le_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

// ---------------------------------------------------------------------------
// propagation/redis-mirror
// ---------------------------------------------------------------------------

pub const PROPAGATION_ID: &str = "propagation/redis-mirror";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // nearest rank
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Two mirror-mode stores ("service A" and "service B") on one fresh
/// redis-server, then on Redis Clusters of 3 and of 6 masters
/// (`propagation/redis-cluster-3`, `-6`; each revocation of another subject,
/// so the keys, and the shard channels they are published on, spread over
/// every master). Per sample: revoke a fresh `jti` through A, then spin on
/// B's `check` (yielding between polls) until it answers `Revoked`. The time
/// runs from just before A's revoke call to B's first `Revoked`.
pub fn propagation() {
    let mode = mode_for(PROPAGATION_ID);
    if mode != Mode::Skip {
        let server = RedisServer::start();
        let (times, ready) = propagation_times(mode, || RedisConfig::url(server.url()), false);
        report_propagation(mode, PROPAGATION_ID, "one redis-server", times, ready);
    }
    for masters in [3, 6] {
        let id = format!("propagation/redis-cluster-{masters}");
        let mode = mode_for(&id);
        if mode == Mode::Skip {
            continue;
        }
        let cluster = RedisCluster::start(masters);
        let (times, ready) = propagation_times(mode, || RedisConfig::cluster(cluster.urls()), true);
        report_propagation(
            mode,
            &id,
            &format!("a cluster of {masters} masters, keys on every master"),
            times,
            ready,
        );
    }
}

/// The samples, and how long store A took from `new` to ready (on a
/// Cluster: subscribing to every slot's shard channel, then loading).
fn propagation_times(
    mode: Mode,
    config: impl Fn() -> RedisConfig,
    spread: bool,
) -> (Vec<Duration>, Duration) {
    let (warmup, samples) = match mode {
        Mode::Bench => (50, 1000),
        _ => (5, 20),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let started = Instant::now();
        let a = RedisStore::new(config()).expect("store A");
        a.ready(Duration::from_secs(10)).await.expect("A ready");
        let ready = started.elapsed();
        let b = RedisStore::new(config()).expect("store B");
        b.ready(Duration::from_secs(10)).await.expect("B ready");
        let expires_at = SystemTime::now() + Duration::from_secs(3600);
        let mut times = Vec::with_capacity(samples);
        for i in 0..warmup + samples {
            let jti = random_jti();
            let subject = if spread {
                format!("propagation-user-{i}")
            } else {
                "propagation-user".to_owned()
            };
            let token = TokenRef::new().with_jti(&jti).with_sub(&subject);
            match b.check(&token) {
                Lookup::Ready(Ok(TokenStatus::Active)) => {}
                other => panic!("B before the revocation: {other:?}"),
            }
            let start = Instant::now();
            a.revoke_token(&jti, Some(&subject), expires_at)
                .await
                .expect("revoke through A");
            loop {
                match b.check(&token) {
                    Lookup::Ready(Ok(TokenStatus::Revoked)) => break,
                    Lookup::Ready(Ok(TokenStatus::Active)) => {}
                    other => panic!("B while waiting: {other:?}"),
                }
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "revocation {i} did not reach B within 5 s"
                );
                // Let the runtime's other tasks and, on a small machine, the
                // other threads (workers, redis-server) have the CPU.
                tokio::task::yield_now().await;
                std::thread::yield_now();
            }
            let elapsed = start.elapsed();
            if i >= warmup {
                times.push(elapsed);
            }
        }
        assert_eq!(a.mirror_resyncs(), 1, "A resynchronised during the run");
        assert_eq!(b.mirror_resyncs(), 1, "B resynchronised during the run");
        assert_eq!(b.mirror_len(), warmup + samples);
        (times, ready)
    })
}

fn report_propagation(
    mode: Mode,
    id: &str,
    deployment: &str,
    times: Vec<Duration>,
    ready: Duration,
) {
    let mut sorted = times;
    sorted.sort();
    let (p50, p90, p99, max) = (
        percentile(&sorted, 50.0),
        percentile(&sorted, 90.0),
        percentile(&sorted, 99.0),
        *sorted.last().expect("samples"),
    );
    let line = format!(
        "{id}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} revocations, \
         {deployment}; a mirror ready in {:.0} ms)",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max),
        sorted.len(),
        ms(ready)
    );
    report(
        mode,
        id,
        line,
        serde_json::json!({
            "p50_ms": ms(p50),
            "p90_ms": ms(p90),
            "p99_ms": ms(p99),
            "max_ms": ms(max),
            "min_ms": ms(sorted[0]),
            "revocations": sorted.len(),
            "ready_ms": ms(ready),
        }),
    );
}

// ---------------------------------------------------------------------------
// mirror/memory-per-entry
// ---------------------------------------------------------------------------

pub const MEMORY_ID: &str = "mirror/memory-per-entry";
const RESYNC_ID: &str = "mirror/resync-time";
const CATCH_UP_ID: &str = "mirror/catch-up-time";
/// Revocations made while the mirror's connection is down, in `CATCH_UP_ID`.
const MISSED: usize = 100;

/// Writes `count` token revocations straight into Redis, in the store's
/// layout (`jwt-guard:{<base64url(sub)>}:t:<jti>` = expiry in Unix seconds,
/// `EXAT` the same), in pipelines of 10 000 `SET`s.
async fn fill(url: &str, count: usize) {
    const BATCH: usize = 10_000;
    const SUBJECTS: usize = 8;
    let client = redis::Client::open(url).expect("redis client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let tags: Vec<String> = (0..SUBJECTS)
        .map(|i| URL_SAFE_NO_PAD.encode(format!("memory-user-{i}")))
        .collect();
    let now = unix_now();
    let mut written = 0;
    while written < count {
        let mut pipe = redis::pipe();
        for i in written..(written + BATCH).min(count) {
            // expiries spread over 1..2 h from now
            let exp = now + 3600 + (i % 3600) as u64;
            pipe.cmd("SET")
                .arg(format!(
                    "jwt-guard:{{{}}}:t:{}",
                    tags[i % SUBJECTS],
                    random_jti()
                ))
                .arg(exp)
                .arg("EXAT")
                .arg(exp)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .expect("pipelined SETs");
        written = (written + BATCH).min(count);
    }
    let size: usize = redis::cmd("DBSIZE")
        .query_async(&mut conn)
        .await
        .expect("DBSIZE");
    assert_eq!(size, count, "Redis does not hold the revocations written");
}

/// Fills a fresh redis-server with 1 000 000 revoked tokens, then measures
/// the live heap of a fresh mirror-mode `RedisStore` once it has loaded them
/// (after the resync, whose transient buffers are freed by then).
pub fn mirror_memory() {
    let mode = mode_for(MEMORY_ID);
    if mode == Mode::Skip {
        return;
    }
    let entries = match mode {
        Mode::Bench => 1_000_000,
        _ => 20_000,
    };
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let filled = Instant::now();
    rt.block_on(fill(&server.url(), entries));
    let fill_time = filled.elapsed();
    // Let the filler's connection task wind down.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });

    COUNTING.store(true, Ordering::SeqCst);
    let before = live_bytes();
    reset_peak();
    let started = Instant::now();
    let store = {
        let _enter = rt.enter();
        RedisStore::new(RedisConfig::url(server.url())).expect("mirror store")
    };
    rt.block_on(async {
        store
            .ready(Duration::from_secs(90))
            .await
            .expect("mirror ready within 90 s");
        while store.mirror_len() < entries {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "mirror incomplete"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let resync = started.elapsed();
    // Settle: the resync's connection and buffers are dropped by now.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    let after = live_bytes();
    let peak = peak_bytes();
    let len = store.mirror_len();
    assert_eq!(len, entries);
    assert_eq!(store.mirror_resyncs(), 1);
    COUNTING.store(false, Ordering::SeqCst);
    let catch_ups = rt.block_on(catch_up_times(&server.url(), &store));
    COUNTING.store(true, Ordering::SeqCst);
    drop(store);
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    let after_drop = live_bytes();
    COUNTING.store(false, Ordering::SeqCst);
    drop(rt);
    drop(server);

    let held = after - before;
    let per_entry = held as f64 / len as f64;
    report(
        mode,
        MEMORY_ID,
        format!("{MEMORY_ID}: {per_entry:.1} bytes ({len} entries)"),
        serde_json::json!({
            "bytes_per_entry": per_entry,
            "entries": len,
            "heap_bytes": held,
            "heap_bytes_left_after_drop": after_drop - before,
            "peak_heap_bytes_during_resync": peak - before,
        }),
    );
    report(
        mode,
        RESYNC_ID,
        format!(
            "{RESYNC_ID}: {:.2} s to load {len} entries, heap peak {:.1} bytes per entry \
             (fill by pipelined SET: {:.2} s)",
            resync.as_secs_f64(),
            (peak - before) as f64 / len as f64,
            fill_time.as_secs_f64()
        ),
        serde_json::json!({
            "seconds": resync.as_secs_f64(),
            "peak_heap_bytes": peak - before,
            "entries": len,
            "fill_seconds": fill_time.as_secs_f64(),
        }),
    );
    let mut sorted = catch_ups.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    report(
        mode,
        CATCH_UP_ID,
        format!(
            "{CATCH_UP_ID}: {median:.1} ms median, {max:.1} ms max from the subscription \
             killed to synchronised again, {len} entries held, {MISSED} revoked meanwhile \
             ({} rounds; caught up from the revocation log, no reload)",
            catch_ups.len()
        ),
        serde_json::json!({
            "median_ms": median,
            "max_ms": max,
            "rounds_ms": catch_ups,
            "entries": len,
            "missed_per_round": MISSED,
        }),
    );
}

/// `CATCH_UP_ID`: kills the mirror's subscription (`CLIENT KILL TYPE
/// pubsub`), revokes `MISSED` tokens through another store at once, and
/// times until the mirror is synchronised again; five rounds. Each round
/// must be a catch-up from the log (not a reload) and leave every missed
/// token revoked in the mirror.
async fn catch_up_times(url: &str, store: &RedisStore) -> Vec<f64> {
    let writer = RedisStore::new(RedisConfig::url(url)).expect("writer store");
    writer
        .ready(Duration::from_secs(90))
        .await
        .expect("writer ready");
    let client = redis::Client::open(url).expect("redis client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let far = SystemTime::now() + Duration::from_secs(3600);
    let mut times = Vec::new();
    for round in 0..5 {
        let (resyncs, catch_ups) = (store.mirror_resyncs(), store.mirror_catch_ups());
        let jtis: Vec<String> = (0..MISSED).map(|i| format!("missed-{round}-{i}")).collect();
        let start = Instant::now();
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut conn)
            .await
            .expect("CLIENT KILL");
        futures_join(
            jtis.iter()
                .map(|jti| writer.revoke_token(jti, Some("missed"), far)),
        )
        .await;
        while store.mirror_resyncs() == resyncs || !store.is_mirror_synced() {
            assert!(start.elapsed() < Duration::from_secs(30), "no resync");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            store.mirror_catch_ups(),
            catch_ups + 1,
            "a catch-up, not a reload"
        );
        // Every missed revocation is in the mirror (some may have come over
        // the new subscription rather than the log).
        let deadline = Instant::now() + Duration::from_secs(5);
        for jti in &jtis {
            let token = TokenRef::new().with_jti(jti).with_sub("missed");
            while !matches!(store.check(&token), Lookup::Ready(Ok(TokenStatus::Revoked))) {
                assert!(Instant::now() < deadline, "a missed revocation was lost");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    times
}

/// Runs the futures concurrently and waits for all; each must succeed.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>)
where
    F: Future<Output = Result<T, jwt_guard::store::StoreError>>,
{
    let futures: Vec<F> = futures.collect();
    for result in join_all(futures).await {
        result.expect("revoke");
    }
}

/// A minimal `join_all` (the bench has no futures-util).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(&mut outputs) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("ready")).collect()
}
