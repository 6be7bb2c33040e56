//! Workspace plumbing, never published: its dependency on `waitset-cli` with the `bench`
//! feature turns that feature on for every command that selects the whole workspace (see its
//! `Cargo.toml`). There is no code.
