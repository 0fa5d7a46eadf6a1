//! Key choice and value format of the kv workload.
//!
//! Keys are `0..n`, drawn uniformly or from a Zipfian distribution (YCSB's generator, after
//! Gray et al., "Quickly generating billion-record synthetic databases", with θ = 0.99: key
//! 0 is the hottest). Values are self-checking: the first 8 bytes are the FNV-1a hash of the
//! rest, so `check` can tell a well-formed row from a torn or corrupted one without knowing
//! what was written.

use rand::Rng;

/// How keys are chosen.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// Zipfian with θ = 0.99 (key 0 the most likely).
    Zipfian,
}

/// Draws keys in `0..n`.
#[derive(Debug, Clone)]
pub struct KeyChooser {
    n: u64,
    zipf: Option<Zipf>,
}

#[derive(Debug, Clone)]
struct Zipf {
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

/// θ of the Zipfian distribution.
const THETA: f64 = 0.99;

fn zeta(n: u64, theta: f64) -> f64 {
    (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

impl KeyChooser {
    /// A chooser over `0..n` (n ≥ 1).
    pub fn new(n: u64, dist: Distribution) -> Self {
        let n = n.max(1);
        let zipf = (dist == Distribution::Zipfian).then(|| {
            let zetan = zeta(n, THETA);
            let zeta2 = zeta(2, THETA);
            Zipf {
                theta: THETA,
                alpha: 1.0 / (1.0 - THETA),
                zetan,
                eta: (1.0 - (2.0 / n as f64).powf(1.0 - THETA)) / (1.0 - zeta2 / zetan),
            }
        });
        KeyChooser { n, zipf }
    }

    /// The next key.
    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        let Some(z) = &self.zipf else {
            return rng.gen_range(0..self.n);
        };
        let u: f64 = rng.gen();
        let uz = u * z.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(z.theta) {
            return 1.min(self.n - 1);
        }
        let k = (self.n as f64 * (z.eta * u - z.eta + 1.0).powf(z.alpha)) as u64;
        k.min(self.n - 1)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The smallest value size (the checksum).
pub const MIN_VALUE_SIZE: usize = 8;

/// A value of `size` bytes (at least [`MIN_VALUE_SIZE`]): checksum then random payload.
pub fn make_value(rng: &mut impl Rng, size: usize) -> Vec<u8> {
    let mut payload = vec![0u8; size.max(MIN_VALUE_SIZE) - MIN_VALUE_SIZE];
    rng.fill(payload.as_mut_slice());
    let mut v = fnv1a(&payload).to_be_bytes().to_vec();
    v.extend_from_slice(&payload);
    v
}

/// Whether `v` is a value [`make_value`] could have produced.
pub fn is_well_formed(v: &[u8]) -> bool {
    match v.split_first_chunk::<MIN_VALUE_SIZE>() {
        Some((sum, payload)) => u64::from_be_bytes(*sum) == fnv1a(payload),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn values_check_themselves() {
        let mut rng = StdRng::seed_from_u64(1);
        for size in [0, 8, 9, 256] {
            let v = make_value(&mut rng, size);
            assert_eq!(v.len(), size.max(8));
            assert!(is_well_formed(&v));
        }
        let mut v = make_value(&mut rng, 64);
        v[20] ^= 1;
        assert!(!is_well_formed(&v));
        assert!(!is_well_formed(&[1, 2, 3]));
    }

    #[test]
    fn keys_stay_in_range() {
        let mut rng = StdRng::seed_from_u64(2);
        for dist in [Distribution::Uniform, Distribution::Zipfian] {
            for n in [1, 2, 10, 1000] {
                let c = KeyChooser::new(n, dist);
                for _ in 0..2000 {
                    assert!(c.next(&mut rng) < n);
                }
            }
        }
    }

    #[test]
    fn zipfian_is_skewed_toward_zero() {
        let mut rng = StdRng::seed_from_u64(3);
        let c = KeyChooser::new(10_000, Distribution::Zipfian);
        let mut counts = vec![0u32; 10_000];
        for _ in 0..100_000 {
            counts[c.next(&mut rng) as usize] += 1;
        }
        // Key 0 gets about 1/zeta(10000, 0.99) ≈ 10% of the draws; the upper half few.
        assert!(counts[0] > 8_000, "key 0 drawn {} times", counts[0]);
        assert!(counts[0] > counts[1] && counts[1] > counts[100]);
        let upper: u32 = counts[5_000..].iter().sum();
        assert!(upper < 10_000, "upper half drawn {upper} times");
    }
}
