//! The soak: two demo instances on one `redis-server` under the steady
//! mixed load of [`super::load`] (checks, logins, refreshes, logouts that
//! revoke, replays) for a long time, without faults. Every few seconds it
//! samples each instance's resident memory and open file descriptors (from
//! `/proc`) and its alive Tokio tasks (from `GET /health/live`).
//!
//! After the warm-up (longer than the access tokens live, so that the
//! revocation mirror and the token cache hold as many entries as they ever
//! will), it asserts that nothing grows: the median of the last quarter of
//! the samples against the first quarter's, for each instance, within the
//! tolerances below, and that resident memory stays under a ceiling. It
//! also asserts what the chaos program does, without faults: no revoked,
//! expired or forged token accepted, no refresh token rotated twice, no
//! login lost, no unexpected answer, and no 503 at all for checks.
//!
//! Not part of plain `cargo test`: ignored, and skipped unless
//! `JWT_GUARD_SOAK` is `short` (two minutes, as `.ci/run` runs it) or
//! `full` (thirty minutes, `tests/soak.sh`, the README's numbers).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::load::{Load, SECRET};
use crate::support::example::{self, Example};
use crate::support::redis::{RedisServer, require_redis};

/// How long a soak lasts and how it samples.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// The whole run, warm-up included.
    duration: Duration,
    /// Load before the samples that count.
    warm_up: Duration,
    /// Between samples.
    every: Duration,
    /// The access tokens' lifetime (`JWT_EXPIRES_IN`), shorter than the
    /// warm-up.
    access_lifetime: &'static str,
}

fn plan() -> Option<Plan> {
    match std::env::var("JWT_GUARD_SOAK").ok()?.as_str() {
        "short" => Some(Plan {
            duration: Duration::from_secs(120),
            warm_up: Duration::from_secs(40),
            every: Duration::from_secs(2),
            access_lifetime: "20s",
        }),
        "full" => Some(Plan {
            duration: Duration::from_secs(30 * 60),
            warm_up: Duration::from_secs(5 * 60),
            every: Duration::from_secs(10),
            access_lifetime: "2m",
        }),
        other => panic!("JWT_GUARD_SOAK must be short or full, not {other}"),
    }
}

/// Growth allowed from the first quarter's median to the last quarter's.
const RSS_GROWTH_KIB: u64 = 4 * 1024;
const RSS_GROWTH_RATIO: f64 = 0.10;
const FD_GROWTH: u64 = 8;
/// Resident memory no instance may reach: a few argon2id working memories
/// (19 MiB each) and the rest. The demo once kept about 1 GiB, allocating
/// argon2's memory afresh for every login (see `verify_password` there).
const RSS_CEILING_KIB: u64 = 256 * 1024;
const TASK_GROWTH: u64 = 8;

/// A metric's name, how to read it from a sample, and the growth allowed
/// from the first quarter's median.
type Metric = (&'static str, fn(&Sample) -> u64, fn(u64) -> u64);

/// One reading of one instance.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rss_kib: u64,
    fds: u64,
    tasks: u64,
}

/// Resident memory (KiB) of process `pid`, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64
}

async fn sample(client: &reqwest::Client, instance: &Example) -> Sample {
    let live: Value = client
        .get(format!("{}/health/live", instance.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Sample {
        rss_kib: rss_kib(instance.pid()),
        fds: open_fds(instance.pid()),
        tasks: live["tasks"].as_u64().expect("tasks in /health/live"),
    }
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// What one metric of one instance did after the warm-up.
struct Trend {
    first: u64,
    last: u64,
    min: u64,
    max: u64,
}

impl Trend {
    fn of(samples: &[Sample], metric: fn(&Sample) -> u64) -> Self {
        let values: Vec<u64> = samples.iter().map(metric).collect();
        let quarter = (values.len() / 4).max(1);
        Trend {
            first: median(values[..quarter].to_vec()),
            last: median(values[values.len() - quarter..].to_vec()),
            min: *values.iter().min().unwrap(),
            max: *values.iter().max().unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the soak: JWT_GUARD_SOAK=short|full (tests/soak.sh)"]
async fn soak_under_steady_load() {
    let Some(plan) = plan() else {
        eprintln!("soak: skipped; JWT_GUARD_SOAK=short or full runs it (tests/soak.sh)");
        return;
    };
    require_redis();
    let redis = RedisServer::builder().appendonly(true).start();
    let url = redis.url();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
        ("COOKIE_SECURE", "false"),
        ("JWT_EXPIRES_IN", plan.access_lifetime),
    ];
    let instances: [Example; 2] = [
        example::start("demo", &env, "/health").await,
        example::start("demo", &env, "/health").await,
    ];
    let load = Load::new([instances[0].url.clone(), instances[1].url.clone()], "soak");
    load.forbid_503(true);
    let workers = load.start();
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    while start.elapsed() < plan.duration {
        tokio::time::sleep(plan.every).await;
        if start.elapsed() < plan.warm_up {
            continue;
        }
        for (i, instance) in instances.iter().enumerate() {
            samples[i].push(sample(&client, instance).await);
        }
    }
    let phases = load.finish(workers).await;
    let phase = &phases[0];

    eprintln!(
        "soak: {:?} under load ({} requests, warm-up {:?}, access tokens {}), {} samples per instance",
        plan.duration,
        phase.requests,
        plan.warm_up,
        plan.access_lifetime,
        samples[0].len()
    );
    eprintln!("soak:     answers: {}", phase.answers());
    eprintln!("soak: instance | metric | after warm-up (median) | end (median) | min | max");
    let mut failures = Vec::new();
    for (i, samples) in samples.iter().enumerate() {
        let metrics: [Metric; 3] = [
            (
                "RSS KiB",
                |s| s.rss_kib,
                |first| RSS_GROWTH_KIB + (first as f64 * RSS_GROWTH_RATIO) as u64,
            ),
            ("open fds", |s| s.fds, |_| FD_GROWTH),
            ("Tokio tasks", |s| s.tasks, |_| TASK_GROWTH),
        ];
        for (name, metric, allowance) in metrics {
            let trend = Trend::of(samples, metric);
            eprintln!(
                "soak: {i} | {name} | {} | {} | {} | {}",
                trend.first, trend.last, trend.min, trend.max
            );
            let allowed = allowance(trend.first);
            if name == "RSS KiB" && trend.max > RSS_CEILING_KIB {
                failures.push(format!(
                    "instance {i}: {} KiB resident (at most {RSS_CEILING_KIB})",
                    trend.max
                ));
            }
            if trend.last > trend.first + allowed {
                failures.push(format!(
                    "instance {i}: {name} grew from {} to {} (allowed +{allowed})",
                    trend.first, trend.last
                ));
            }
        }
    }
    if phase.accepted > 0 {
        failures.push(format!(
            "{} revoked, expired or forged tokens accepted",
            phase.accepted
        ));
    }
    if phase.rotated_twice > 0 {
        failures.push(format!(
            "{} refresh tokens rotated twice",
            phase.rotated_twice
        ));
    }
    if phase.logins_lost > 0 {
        failures.push(format!(
            "{} logins lost without a failover",
            phase.logins_lost
        ));
    }
    for unexpected in phase.unexpected.iter().take(5) {
        failures.push(format!("unexpected answer: {unexpected}"));
    }
    drop(instances);
    assert!(failures.is_empty(), "soak:\n{}", failures.join("\n"));
}
