//! Keys and IVs come from the operating system's generator, never from `rand`'s thread-local
//! generator: that one is a userspace stream which, since rand 0.9, a forked child continues
//! exactly where its parent stood, so parent and child would draw the same IVs and keys.
//!
//! The workspace forbids `unsafe`, so a test cannot `fork()` to show the repeat; this one holds
//! the line at the source instead: no library file names a userspace generator. The unit tests
//! of `key.rs` check that key and IV generation draw from the OS source.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// Spellings of a generator seeded once per thread (or process) in userspace.
const USERSPACE_GENERATORS: [&str; 6] = [
    "rand::rng(",
    "thread_rng",
    "ThreadRng",
    "rand::random",
    "StdRng",
    "SmallRng",
];

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn library_code_draws_secrets_from_the_operating_system_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "the source tree was not found at {src:?}");
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, line)| USERSPACE_GENERATORS.iter().any(|g| line.contains(g)))
                .map(|(n, line)| format!("{}:{}: {}", path.display(), n + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "userspace generators in library code (use crate::key::fill_from_os):\n{}",
        offenders.join("\n")
    );
}
