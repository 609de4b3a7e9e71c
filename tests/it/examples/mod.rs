//! The examples, driven as their users drive them.

#[cfg(any(feature = "tonic", all(feature = "axum", feature = "redis")))]
mod cli;
#[cfg(all(feature = "axum", feature = "redis"))]
mod demo;
#[cfg(feature = "tonic")]
mod grpc;
#[cfg(all(feature = "axum", feature = "redis"))]
mod quickstart;

/// Where the quickstart and the gRPC example find their keys: one module
/// for both, as each binary has its own.
#[cfg(any(feature = "tonic", all(feature = "axum", feature = "redis")))]
#[path = "../../../examples/support/keys_env.rs"]
mod keys_env;
