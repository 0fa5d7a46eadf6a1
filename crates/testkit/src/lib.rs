//! Test support shared by the crates' tests.
//!
//! Today: seeded randomness whose seed is printed and can be replayed, and an engine that
//! fails on demand ([`faulty::FaultyEngine`]). The simulated network and the multi-node
//! cluster harness come with replication.

pub mod faulty;

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

#[cfg(test)]
mod tests {
    use rand::Rng;

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
