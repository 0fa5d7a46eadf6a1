//! Test support shared by the crates' tests.
//!
//! Today: seeded randomness whose seed is printed and can be replayed, an engine that
//! fails on demand ([`faulty::FaultyEngine`]), and the path of a script under `testdata/`
//! as this checkout has it ([`testdata_file`]). The simulated network and the multi-node
//! cluster harness come with replication.

pub mod faulty;

use std::path::{Path, PathBuf};

use rand::SeedableRng;

/// The environment variable that replays a randomized test with a given seed.
pub const SEED_ENV: &str = "TESSERA_SEED";

/// A seeded generator for a randomized test. The seed comes from `TESSERA_SEED` when set
/// (to replay a failure), else from the time; it is printed either way, so a failing run's
/// output says how to replay it.
pub fn seeded_rng(test: &str) -> (u64, rand::rngs::StdRng) {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("{test}: seed {seed} (replay with {SEED_ENV}={seed})");
    (seed, rand::rngs::StdRng::seed_from_u64(seed))
}

/// The script at `compiled` in this checkout's `testdata/`. `compiled` is the absolute path
/// that `test_each_file::test_each_path!` fixed when the test binary was compiled; cargo
/// reuses a test binary built from the same sources in another checkout (the target directory
/// is shared: CI's clone and a developer's tree use one), and that binary would read the other
/// checkout's scripts, or fail once it is gone. The part from `testdata/` on is joined to the
/// workspace root found above the running test's package directory (`CARGO_MANIFEST_DIR`,
/// which cargo and nextest set when they run a test, else the working directory).
pub fn testdata_file(compiled: &Path) -> PathBuf {
    let parts: Vec<_> = compiled.components().collect();
    let Some(at) = parts.iter().rposition(|c| c.as_os_str() == "testdata") else {
        return compiled.to_path_buf();
    };
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    let Some(root) = start
        .as_deref()
        .and_then(|dir| dir.ancestors().find(|a| a.join("testdata").is_dir()))
    else {
        return compiled.to_path_buf();
    };
    let mut path = root.to_path_buf();
    path.extend(&parts[at..]);
    path
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    #[test]
    fn testdata_file_is_rebased_onto_this_checkout() {
        let here = super::testdata_file(std::path::Path::new(
            "/elsewhere/checkout/testdata/txn/replay",
        ));
        assert!(here.ends_with("testdata/txn/replay"), "{}", here.display());
        assert!(here.is_file(), "{} is not this checkout's", here.display());
        let other = std::path::Path::new("/no/scripts/here");
        assert_eq!(super::testdata_file(other), other);
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let a: Vec<u32> = {
            let mut r = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(42);
            (0..4).map(|_| r.gen()).collect()
        };
        let b: Vec<u32> = {
            let mut r = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(42);
            (0..4).map(|_| r.gen()).collect()
        };
        assert_eq!(a, b);
    }
}
