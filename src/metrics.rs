//! Metrics, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): install any recorder (Prometheus, StatsD, OpenTelemetry…) and
//! these appear. Without the feature nothing is recorded and nothing is
//! measured: the calls compile to nothing.
//!
//! | metric | type | labels | counts |
//! |---|---|---|---|
//! | `jwt_guard_requests_accepted_total` | counter | | requests whose token the layer accepted (verified, not revoked; fail-open passes included) |
//! | `jwt_guard_requests_rejected_total` | counter | `reason` | refused requests: by the layer, a guard or an extractor |
//! | `jwt_guard_store_errors_total` | counter | `kind` | revocation lookups of the layer that failed |
//! | `jwt_guard_mirror_resyncs_total` | counter | | completed full reloads of the Redis mirror (the first load included) |
//! | `jwt_guard_jwks_refreshes_total` | counter | `result` | JWKS fetches of `keys::RemoteJwks`: `success` or `failure` |
//! | `jwt_guard_auth_duration_seconds` | histogram | `outcome` | the layer's work per request, from its arrival to the decision, store lookup and key refresh included: `accepted`, `rejected` or `anonymous` |
//!
//! Label values come from fixed sets, never from the request:
//!
//! - `reason`: the [`AuthErrorKind`](crate::AuthErrorKind) in snake case:
//!   `missing_token`, `invalid_request`, `malformed`, `too_long`,
//!   `unsupported_algorithm`, `unknown_key`, `ambiguous_key`,
//!   `algorithm_mismatch`, `invalid_signature`, `unsupported_critical`,
//!   `invalid_type`, `missing_claim`, `invalid_claim`, `invalid_claims`,
//!   `expired`, `not_yet_valid`, `issued_in_future`, `invalid_issuer`,
//!   `invalid_audience`, `revoked`, `insufficient_scope`,
//!   `store_unavailable`, `keys_unavailable`, `missing_layer`,
//!   `key_binding`, `invalid_dpop_proof`.
//! - `kind`: the [`StoreErrorKind`](crate::store::StoreErrorKind) in snake
//!   case: `unavailable`, `timeout`, `not_synchronized`,
//!   `capacity_exceeded`, `protocol`.
//!
//! The names are also constants of this module, for dashboards and tests.

/// Counter: requests whose token the layer accepted.
pub const REQUESTS_ACCEPTED: &str = "jwt_guard_requests_accepted_total";
/// Counter: refused requests, label `reason`.
pub const REQUESTS_REJECTED: &str = "jwt_guard_requests_rejected_total";
/// Counter: failed revocation lookups, label `kind`.
pub const STORE_ERRORS: &str = "jwt_guard_store_errors_total";
/// Counter: completed reloads of the Redis mirror.
pub const MIRROR_RESYNCS: &str = "jwt_guard_mirror_resyncs_total";
/// Counter: JWKS fetches, label `result` (`success`, `failure`).
pub const JWKS_REFRESHES: &str = "jwt_guard_jwks_refreshes_total";
/// Histogram, in seconds: the layer's authentication work per request,
/// label `outcome` (`accepted`, `rejected`, `anonymous`).
pub const AUTH_DURATION: &str = "jwt_guard_auth_duration_seconds";
