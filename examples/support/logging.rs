//! Logs to stderr: `RUST_LOG` when set, else `info` with jwt-guard's
//! refusals at `debug`; in colour only when stderr is a terminal, so that a
//! log file or a collector gets plain text.

use std::io::IsTerminal as _;

/// Installs the subscriber; call once, first thing in `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,jwt_guard=debug".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
