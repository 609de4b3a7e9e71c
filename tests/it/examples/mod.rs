//! The examples, driven as their users drive them.

#[cfg(any(feature = "tonic", all(feature = "axum", feature = "redis")))]
mod cli;
#[cfg(all(feature = "axum", feature = "redis"))]
mod demo;
#[cfg(feature = "tonic")]
mod grpc;
#[cfg(all(feature = "axum", feature = "redis"))]
mod quickstart;
