//! The actions layer's tests: the safety invariants as a state-machine
//! property test over random sequences of actions on both store backends,
//! and the reproductions of issue 14 as plain examples. One test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod examples;
mod props;
mod support;
