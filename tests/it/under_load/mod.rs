//! Two demo instances under a steady mixed load ([`load`]): with faults
//! injected into their Redis deployment ([`chaos`]), and for a long time
//! without any ([`soak`]). Neither runs in plain `cargo test`: each is
//! ignored and skipped unless its variable is set (`tests/chaos.sh`,
//! `tests/soak.sh`).

mod chaos;
mod load;
mod soak;
