//! The `waitset` command is the binary of this package; this library target is empty. It exists
//! so that the repository's workspace can depend on the package and turn its `bench` feature on
//! (see `crates/waitset-workspace`).
