//! Not a library: this package holds the workspace's cross-crate integration tests (`tests/`)
//! and its example applications (`examples/`). See `README.md`.
#![forbid(unsafe_code)]
