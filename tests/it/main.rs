//! jwt-guard's integration tests: one test crate, so that the shared
//! harness in [`support`] (keys and tokens made at test time, real
//! `redis-server` processes, example runners) compiles once.
//!
//! Modules that need optional features are compiled only with them, as
//! their targets once were: plain `cargo test` runs those of the default
//! features (`axum`, `aws_lc_rs`, `redis`), `cargo test --all-features` runs
//! every one. The Wycheproof conformance run is its own target,
//! `tests/wycheproof.rs`.

mod support;

#[cfg(all(feature = "jwks", feature = "axum"))]
mod discovery;
mod dpop;
mod examples;
#[cfg(feature = "redis")]
mod failover;
#[cfg(feature = "tonic")]
mod grpc;
#[cfg(feature = "axum")]
mod http;
mod interop;
#[cfg(all(feature = "axum", feature = "redis"))]
mod issue;
#[cfg(feature = "axum")]
mod issuers;
#[cfg(all(feature = "jwks", feature = "axum"))]
mod jwks;
mod keys;
#[cfg(feature = "axum")]
mod logs;
#[cfg(all(feature = "metrics", feature = "axum", feature = "redis"))]
mod observability;
#[cfg(all(feature = "jwks", feature = "axum"))]
mod oidc;
#[cfg(feature = "redis")]
mod redis_harness;
#[cfg(all(feature = "axum", feature = "redis"))]
mod redis_store;
#[cfg(all(feature = "socketio", feature = "axum"))]
mod socketio;
#[cfg(all(feature = "axum", feature = "redis"))]
mod under_load;
mod verify;
