//! TPC-C's random inputs: NURand (clause 2.1.6) and its C constants (2.1.6.1), customer last
//! names (4.3.2.3), the text generators of 4.3.2, the transaction mix (5.2.3) and the keying
//! and think times (5.2.5.7).
//!
//! Everything draws from an RNG passed in, so a seed replays the same inputs.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;

use crate::numeric::Numeric;

/// Items in the catalog (clause 1.2.1).
pub const ITEMS: u32 = 100_000;
/// An item id that does not exist: the last line of 1% of New-Orders uses it (2.4.1.4).
pub const UNUSED_ITEM: u32 = ITEMS + 1;
/// Districts per warehouse.
pub const DISTRICTS: u32 = 10;
/// The most lines of one order (clause 2.4.1.3: 5 to 15).
pub const MAX_LINES: usize = 15;
/// Customers per district.
pub const CUSTOMERS: u32 = 3_000;
/// Initial orders per district.
pub const ORDERS: u32 = 3_000;
/// The first initial order that is still undelivered (orders 2101..=3000 are new orders).
pub const FIRST_NEW_ORDER: u32 = 2_101;

/// The C constant used for `C_LAST` when the database was loaded. The spec picks it at
/// random once; it is fixed here because `init` and `run` are separate processes that must
/// agree on it (clause 2.1.6.1 constrains the run-time value relative to it).
pub const C_LAST_LOAD: u32 = 157;

/// The C constants of NURand (clause 2.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constants {
    /// For `C_LAST` (A = 255).
    pub c_last: u32,
    /// For `C_ID` (A = 1023).
    pub c_id: u32,
    /// For `OL_I_ID` (A = 8191).
    pub ol_i_id: u32,
}

impl Constants {
    /// The constants of the load.
    pub fn for_load(rng: &mut impl Rng) -> Self {
        Constants {
            c_last: C_LAST_LOAD,
            c_id: rng.gen_range(0..=1023),
            ol_i_id: rng.gen_range(0..=8191),
        }
    }

    /// The constants of a run: `c_last` differs from the load's as clause 2.1.6.1 requires.
    pub fn for_run(rng: &mut impl Rng) -> Self {
        let valid: Vec<u32> = (0..=255)
            .filter(|&c| valid_c_last_delta(C_LAST_LOAD, c))
            .collect();
        Constants {
            c_last: valid.choose(rng).copied().unwrap_or(C_LAST_LOAD + 65),
            c_id: rng.gen_range(0..=1023),
            ol_i_id: rng.gen_range(0..=8191),
        }
    }
}

/// Clause 2.1.6.1: with `C_delta = |C_run − C_load|`, `65 ≤ C_delta ≤ 119` and `C_delta` is
/// neither 96 nor 112.
pub fn valid_c_last_delta(load: u32, run: u32) -> bool {
    let delta = load.abs_diff(run);
    (65..=119).contains(&delta) && delta != 96 && delta != 112
}

/// `NURand(A, x, y) = (((random(0, A) | random(x, y)) + C) % (y − x + 1)) + x`.
pub fn nurand(rng: &mut impl Rng, a: u32, x: u32, y: u32, c: u32) -> u32 {
    (((rng.gen_range(0..=a) | rng.gen_range(x..=y)) + c) % (y - x + 1)) + x
}

/// A customer id for a transaction: NURand(1023, 1, 3000).
pub fn customer_id(rng: &mut impl Rng, k: &Constants) -> u32 {
    nurand(rng, 1023, 1, CUSTOMERS, k.c_id)
}

/// An item id for an order line: NURand(8191, 1, 100000).
pub fn item_id(rng: &mut impl Rng, k: &Constants) -> u32 {
    nurand(rng, 8191, 1, ITEMS, k.ol_i_id)
}

/// A customer last name for a transaction: from NURand(255, 0, 999).
pub fn random_last_name(rng: &mut impl Rng, k: &Constants) -> String {
    last_name(nurand(rng, 255, 0, 999, k.c_last))
}

const SYLLABLES: [&str; 10] = [
    "BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING",
];

/// Clause 4.3.2.3: the syllables of the three digits of `num` (0..=999), e.g. 371 →
/// `PRICALLYOUGHT`.
pub fn last_name(num: u32) -> String {
    let num = num % 1000;
    let mut s = String::with_capacity(15);
    for digit in [num / 100, (num / 10) % 10, num % 10] {
        s.push_str(SYLLABLES[digit as usize]);
    }
    s
}

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A random a-string (4.3.2.2) of `min..=max` letters and digits.
pub fn a_string(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let len = rng.gen_range(min..=max);
    (0..len)
        .map(|_| char::from(ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())]))
        .collect()
}

/// A random n-string (4.3.2.2) of `min..=max` digits.
pub fn n_string(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let len = rng.gen_range(min..=max);
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// A zip code (4.3.2.7): four random digits then `11111`.
pub fn zip(rng: &mut impl Rng) -> String {
    format!("{}11111", n_string(rng, 4, 4))
}

/// A state: two random letters.
pub fn state_code(rng: &mut impl Rng) -> String {
    (0..2)
        .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
        .collect()
}

/// `i_data`/`s_data` (4.3.3.1): an a-string of 26..=50 characters, 10% of which contain
/// `ORIGINAL` at a random position.
pub fn data_with_original(rng: &mut impl Rng) -> String {
    let mut s = a_string(rng, 26, 50);
    if rng.gen_range(0..10) == 0 {
        let at = rng.gen_range(0..=s.len() - 8);
        s.replace_range(at..at + 8, "ORIGINAL");
    }
    s
}

/// A random amount in `min_cents..=max_cents`, at scale 2.
pub fn money(rng: &mut impl Rng, min_cents: i128, max_cents: i128) -> Numeric {
    Numeric::new(rng.gen_range(min_cents..=max_cents), 2)
}

/// A random tax or discount rate in `0..=max` ten-thousandths, at scale 4.
pub fn rate(rng: &mut impl Rng, max: i128) -> Numeric {
    Numeric::new(rng.gen_range(0..=max), 4)
}

/// The five transaction types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnType {
    /// Clause 2.4.
    NewOrder,
    /// Clause 2.5.
    Payment,
    /// Clause 2.6.
    OrderStatus,
    /// Clause 2.7.
    Delivery,
    /// Clause 2.8.
    StockLevel,
}

impl TxnType {
    /// All types, in report order (also their operation index).
    pub const ALL: [TxnType; 5] = [
        TxnType::NewOrder,
        TxnType::Payment,
        TxnType::OrderStatus,
        TxnType::Delivery,
        TxnType::StockLevel,
    ];

    /// The operation index (position in [`TxnType::ALL`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Cards of this type in a deck of 100 (clause 5.2.3 minimums: Payment 43%, the others
    /// 4%, New-Order the rest).
    pub fn cards(self) -> usize {
        match self {
            TxnType::NewOrder => 45,
            TxnType::Payment => 43,
            TxnType::OrderStatus | TxnType::Delivery | TxnType::StockLevel => 4,
        }
    }

    /// Minimum keying time (clause 5.2.5.7).
    pub fn keying_time(self) -> Duration {
        Duration::from_secs(match self {
            TxnType::NewOrder => 18,
            TxnType::Payment => 3,
            TxnType::OrderStatus | TxnType::Delivery | TxnType::StockLevel => 2,
        })
    }

    /// Mean think time (clause 5.2.5.7).
    pub fn think_time_mean(self) -> Duration {
        Duration::from_secs(match self {
            TxnType::NewOrder | TxnType::Payment => 12,
            TxnType::OrderStatus => 10,
            TxnType::Delivery | TxnType::StockLevel => 5,
        })
    }

    /// The 90th-percentile response-time limit (clause 5.2.5.4).
    pub fn response_limit(self) -> Duration {
        Duration::from_secs(match self {
            TxnType::StockLevel => 20,
            _ => 5,
        })
    }
}

/// A think time: negative exponential with the type's mean, truncated at 10 × the mean
/// (clause 5.2.5.4).
pub fn think_time(rng: &mut impl Rng, t: TxnType) -> Duration {
    let mean = t.think_time_mean().as_secs_f64();
    let r: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    Duration::from_secs_f64((-r.ln() * mean).min(10.0 * mean))
}

/// The mix as a shuffled deck of 100 cards, reshuffled when dealt out (clause 5.2.4.2
/// allows a deck; it keeps the mix exact over every 100 transactions).
#[derive(Debug, Clone)]
pub struct Deck {
    cards: Vec<TxnType>,
    next: usize,
}

impl Deck {
    /// A new deck (shuffled on first deal).
    pub fn new() -> Self {
        let cards: Vec<TxnType> = TxnType::ALL
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, t.cards()))
            .collect();
        let next = cards.len();
        Deck { cards, next }
    }

    /// The next transaction type.
    pub fn deal(&mut self, rng: &mut impl Rng) -> TxnType {
        if self.next >= self.cards.len() {
            self.cards.shuffle(rng);
            self.next = 0;
        }
        let t = self.cards[self.next];
        self.next += 1;
        t
    }
}

impl Default for Deck {
    fn default() -> Self {
        Deck::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    #[test]
    fn last_names_follow_clause_4_3_2_3() {
        assert_eq!(last_name(0), "BARBARBAR");
        assert_eq!(last_name(371), "PRICALLYOUGHT");
        assert_eq!(last_name(999), "EINGEINGEING");
        assert_eq!(last_name(40), "BARPRESBAR");
        for n in 0..1000 {
            assert!(last_name(n).len() <= 16, "{}", last_name(n));
        }
    }

    #[test]
    fn nurand_stays_in_range_and_is_skewed() {
        let mut rng = StdRng::seed_from_u64(1);
        let k = Constants::for_run(&mut rng);
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for _ in 0..100_000 {
            let c = customer_id(&mut rng, &k);
            assert!((1..=CUSTOMERS).contains(&c));
            *counts.entry(c).or_default() += 1;
            let i = item_id(&mut rng, &k);
            assert!((1..=ITEMS).contains(&i));
            let n = nurand(&mut rng, 255, 0, 999, k.c_last);
            assert!(n <= 999);
        }
        // Non-uniform: the most popular customer is drawn far more often than the mean (33).
        let max = counts.values().copied().max().unwrap_or(0);
        assert!(max > 100, "most popular customer drawn {max} times");
    }

    #[test]
    fn run_constant_respects_clause_2_1_6_1() {
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let k = Constants::for_run(&mut rng);
            assert!(valid_c_last_delta(C_LAST_LOAD, k.c_last), "{k:?}");
            assert!(k.c_last <= 255 && k.c_id <= 1023 && k.ol_i_id <= 8191);
        }
        assert!(!valid_c_last_delta(100, 196));
        assert!(!valid_c_last_delta(200, 88));
        assert!(valid_c_last_delta(100, 165));
        assert!(!valid_c_last_delta(100, 164));
        assert!(valid_c_last_delta(200, 81));
        assert!(!valid_c_last_delta(200, 80));
    }

    #[test]
    fn the_mix_is_exact_per_deck() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut deck = Deck::new();
        let mut counts: HashMap<TxnType, usize> = HashMap::new();
        for _ in 0..1000 {
            *counts.entry(deck.deal(&mut rng)).or_default() += 1;
        }
        assert_eq!(counts[&TxnType::NewOrder], 450);
        assert_eq!(counts[&TxnType::Payment], 430);
        assert_eq!(counts[&TxnType::OrderStatus], 40);
        assert_eq!(counts[&TxnType::Delivery], 40);
        assert_eq!(counts[&TxnType::StockLevel], 40);
    }

    #[test]
    fn generated_text_has_the_specified_sizes() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut original = 0;
        for _ in 0..10_000 {
            let s = a_string(&mut rng, 8, 16);
            assert!((8..=16).contains(&s.len()));
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
            let n = n_string(&mut rng, 16, 16);
            assert_eq!(n.len(), 16);
            assert!(n.bytes().all(|b| b.is_ascii_digit()));
            let z = zip(&mut rng);
            assert_eq!(z.len(), 9);
            assert!(z.ends_with("11111"));
            assert_eq!(state_code(&mut rng).len(), 2);
            let d = data_with_original(&mut rng);
            assert!((26..=50).contains(&d.len()));
            if d.contains("ORIGINAL") {
                original += 1;
            }
            let m = money(&mut rng, 100, 500_000);
            assert!(m >= Numeric::new(1, 0) && m <= Numeric::new(5000, 0));
        }
        // 10% ± sampling noise.
        assert!(
            (800..=1200).contains(&original),
            "{original} ORIGINAL of 10000"
        );
    }

    #[test]
    fn think_times_are_bounded() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut total = 0.0;
        for _ in 0..10_000 {
            let t = think_time(&mut rng, TxnType::NewOrder);
            assert!(t <= Duration::from_secs(120));
            total += t.as_secs_f64();
        }
        let mean = total / 10_000.0;
        assert!((11.0..13.0).contains(&mean), "mean think time {mean}");
    }
}
