//! The workspace README's library quick start is the program of this crate's README, which the
//! doctests run (`ReadmeDoctests` in lib.rs): the two copies must not drift apart. (From a
//! package, where the workspace README is absent, there is nothing to compare.)

fn rust_blocks(md: &str) -> Vec<&str> {
    md.split("```rust\n")
        .skip(1)
        .map(|rest| &rest[..rest.find("```").expect("closed block")])
        .collect()
}

#[test]
fn the_workspace_readme_quick_start_is_the_tested_program() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let Ok(workspace) = std::fs::read_to_string(format!("{dir}/../../README.md")) else {
        return; // a packaged crate
    };
    let krate = std::fs::read_to_string(format!("{dir}/README.md")).unwrap();
    let tested = rust_blocks(&krate);
    let shown = rust_blocks(&workspace);
    assert!(
        !shown.is_empty(),
        "the workspace README has a Rust quick start"
    );
    for block in shown {
        assert!(
            tested.contains(&block),
            "a Rust block of README.md is not a tested block of crates/waitset/README.md:\n{block}"
        );
    }
}
