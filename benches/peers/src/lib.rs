//! `jwt-guard-peers`: benchmarks only, never published.
//!
//! This package holds the criterion bench `benches/auth.rs`, which measures the
//! in-process, per-request cost of [`jwt-guard`](../../README.md) next to peer
//! crates (`jwt-authorizer`, `axum-jwt-auth`) on the same axum route with the
//! same token, plus jwt-guard's raw verification cost per algorithm. It lives
//! in its own workspace member so the peers' dependency trees (axum 0.7,
//! jsonwebtoken 9 and 10, reqwest, ...) never reach jwt-guard's own
//! dependency graph.
//!
//! Run it with `cargo bench -p jwt-guard-peers`; see `README.md` next to this
//! package's `Cargo.toml`.
