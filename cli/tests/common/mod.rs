//! The library's test helpers (tests/common/mod.rs: random models, batches and inputs) and
//! the image generators only the command line's tests need (the bad-input corpus, ICC
//! profiles).
#![allow(dead_code, unused_imports)]

#[path = "../../../tests/common/mod.rs"]
mod library;

pub mod corpus;
pub mod icc;

pub use library::*;
