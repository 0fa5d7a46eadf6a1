//! Property tests of both codecs.
//!
//! What they prove, for random values of every type:
//!
//! * key order: `encode(a).cmp(&encode(b)) == compare(a, b)` ascending, reversed descending;
//! * tuples: concatenated column keys in mixed directions sort lexicographically by column;
//! * key round trip: `decode(encode(x))` is `x` up to the documented normalizations, and
//!   re-encoding the decoded value gives the same bytes;
//! * prefix-freeness: no strict prefix of a key datum decodes;
//! * value codec: rows round-trip exactly, and no strict prefix of a row decodes;
//! * robustness: decoding random bytes returns a result or an error, never a panic.
//!
//! proptest prints the minimal failing input and records it in
//! `tests/proptest_order.proptest-regressions`; a run is replayed with
//! `PROPTEST_RNG_SEED=<seed>`.

use std::cmp::Ordering;

use proptest::prelude::*;
use tessera_encoding::datum::{compare, interval_from_span, interval_span};
use tessera_encoding::key::{
    decode_bytes, decode_key_datum, decode_key_tuple, encode_key, encode_key_datum, Direction,
};
use tessera_encoding::value::{decode_row, decode_value, encode_row};
use tessera_encoding::{Datum, Decimal};

/// Number of datum types, in `Datum` declaration order without `Null`.
const KINDS: usize = 11;

fn arb_decimal() -> impl Strategy<Value = Decimal> {
    let finite = (
        any::<bool>(),
        prop::collection::vec(0u8..10, 0..24),
        -30i32..30,
    )
        .prop_map(|(negative, digits, exp)| {
            let digits: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let sign = if negative { "-" } else { "" };
            // An empty digit string would not parse; write it as zero.
            let digits = if digits.is_empty() {
                "0".to_string()
            } else {
                digits
            };
            parse_decimal(&format!("{sign}{digits}e{exp}"))
        });
    // Short values collide often, which exercises equality and scale normalization.
    let short = (-30i64..30, 0u32..3).prop_map(|(v, scale)| {
        let text = format!("{}.{}", v / 10, "0".repeat(scale as usize));
        parse_decimal(&text)
    });
    prop_oneof![
        6 => finite,
        3 => short,
        1 => Just(Decimal::nan()),
        1 => Just(Decimal::infinity()),
        1 => Just(Decimal::neg_infinity()),
    ]
}

fn parse_decimal(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|e| panic!("generated decimal {text:?} does not parse: {e}"))
}

fn arb_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => (-5i32..5).prop_map(f64::from),
        1 => Just(f64::NAN),
        1 => Just(-f64::NAN),
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(-f64::MIN_POSITIVE / 2.0),
    ]
}

/// Bytes drawn mostly from a tiny alphabet, so that prefixes and escapes are common.
fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(0x00u8),
        Just(0x01),
        Just(0xFF),
        Just(b'a'),
        any::<u8>()
    ];
    prop::collection::vec(byte, 0..8)
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof!["[a\\x00b]{0,5}", ".{0,8}"]
}

fn arb_i64() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN), Just(i64::MAX)]
}

fn arb_i32() -> impl Strategy<Value = i32> {
    prop_oneof![any::<i32>(), -3i32..3, Just(i32::MIN), Just(i32::MAX)]
}

/// A datum of type `kind` (see [`KINDS`]), or occasionally NULL.
fn arb_datum_of(kind: usize) -> BoxedStrategy<Datum> {
    let value = match kind {
        0 => any::<bool>().prop_map(Datum::Bool).boxed(),
        1 => arb_i64().prop_map(Datum::Int).boxed(),
        2 => arb_f64().prop_map(Datum::Float).boxed(),
        3 => arb_decimal().prop_map(Datum::Decimal).boxed(),
        4 => arb_string().prop_map(Datum::String).boxed(),
        5 => arb_bytes().prop_map(Datum::Bytes).boxed(),
        6 => arb_i32().prop_map(Datum::Date).boxed(),
        7 => arb_i64().prop_map(Datum::Time).boxed(),
        8 => arb_i64().prop_map(Datum::Timestamp).boxed(),
        9 => {
            // Small fields make equal spans (1 mon = 30 days) likely; full ones test overflow.
            let small =
                (-2i32..3, -40i32..40, -3i64..3).prop_map(|(m, d, u)| (m, d, u * 86_400_000_000));
            let full = (arb_i32(), arb_i32(), arb_i64());
            prop_oneof![small, full]
                .prop_map(|(months, days, micros)| Datum::Interval {
                    months,
                    days,
                    micros,
                })
                .boxed()
        }
        10 => {
            let byte = prop_oneof![Just(0u8), Just(0xFF), any::<u8>()];
            prop::array::uniform16(byte).prop_map(Datum::Uuid).boxed()
        }
        _ => unreachable!("kind {kind} out of range"),
    };
    prop_oneof![9 => value, 1 => Just(Datum::Null)].boxed()
}

fn arb_datum() -> BoxedStrategy<Datum> {
    (0..KINDS).prop_flat_map(arb_datum_of).boxed()
}

fn arb_direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Ascending), Just(Direction::Descending)]
}

/// The value the key encoding is documented to decode `datum` as.
fn canonical(datum: &Datum) -> Datum {
    match datum {
        Datum::Float(f) if f.is_nan() => Datum::Float(f64::NAN),
        Datum::Float(f) => Datum::Float(f + 0.0), // -0.0 + 0.0 == +0.0
        Datum::Decimal(d) => Datum::Decimal(d.normalize()),
        Datum::Interval {
            months,
            days,
            micros,
        } => interval_from_span(interval_span(*months, *days, *micros))
            .unwrap_or_else(|| panic!("every interval's span has a canonical interval")),
        other => other.clone(),
    }
}

/// Exact equality: float bits, decimal text and value, everything else structurally.
fn identical(a: &Datum, b: &Datum) -> bool {
    match (a, b) {
        (Datum::Float(x), Datum::Float(y)) => x.to_bits() == y.to_bits(),
        (Datum::Decimal(x), Datum::Decimal(y)) => x == y && x.to_string() == y.to_string(),
        _ => a == b,
    }
}

fn directed(order: Ordering, dir: Direction) -> Ordering {
    match dir {
        Direction::Ascending => order,
        Direction::Descending => order.reverse(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn key_order_matches_compare(
        (a, b) in (0..KINDS).prop_flat_map(|k| (arb_datum_of(k), arb_datum_of(k))),
        dir in arb_direction(),
    ) {
        let expected = directed(compare(&a, &b), dir);
        let actual = encode_key(&a, dir).cmp(&encode_key(&b, dir));
        prop_assert_eq!(actual, expected, "{} vs {} ({:?})", a, b, dir);
    }

    #[test]
    fn key_order_across_types_matches_compare(
        a in arb_datum(), b in arb_datum(), dir in arb_direction(),
    ) {
        let expected = directed(compare(&a, &b), dir);
        prop_assert_eq!(encode_key(&a, dir).cmp(&encode_key(&b, dir)), expected);
    }

    #[test]
    fn key_roundtrip_is_canonical(datum in arb_datum(), dir in arb_direction()) {
        let key = encode_key(&datum, dir);
        let mut input = &key[..];
        let decoded = decode_key_datum(&mut input, dir);
        prop_assert!(input.is_empty(), "{} bytes left over", input.len());
        let decoded = decoded.map_err(|e| TestCaseError::fail(format!("{datum}: {e}")))?;
        prop_assert!(identical(&decoded, &canonical(&datum)), "{} decoded as {}", datum, decoded);
        prop_assert_eq!(compare(&decoded, &datum), Ordering::Equal);
        prop_assert_eq!(encode_key(&decoded, dir), key);
    }

    #[test]
    fn key_prefixes_do_not_decode(datum in arb_datum(), dir in arb_direction()) {
        let key = encode_key(&datum, dir);
        for len in 0..key.len() {
            let mut input = &key[..len];
            prop_assert!(decode_key_datum(&mut input, dir).is_err(), "prefix of {} bytes", len);
        }
    }

    #[test]
    fn tuples_sort_lexicographically(
        (dirs, a, b) in prop::collection::vec((0..KINDS, arb_direction()), 1..4).prop_flat_map(
            |columns| {
                let dirs: Vec<Direction> = columns.iter().map(|(_, dir)| *dir).collect();
                let tuple: Vec<_> = columns.iter().map(|(kind, _)| arb_datum_of(*kind)).collect();
                (Just(dirs), tuple.clone(), tuple)
            },
        ),
    ) {
        let encode = |tuple: &[Datum]| {
            let mut buf = Vec::new();
            for (datum, dir) in tuple.iter().zip(&dirs) {
                encode_key_datum(&mut buf, datum, *dir);
            }
            buf
        };
        let expected = a
            .iter()
            .zip(&b)
            .zip(&dirs)
            .map(|((x, y), dir)| directed(compare(x, y), *dir))
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal);
        let (ka, kb) = (encode(&a), encode(&b));
        prop_assert_eq!(ka.cmp(&kb), expected);

        let mut input = &ka[..];
        let decoded = decode_key_tuple(&mut input, &dirs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(input.is_empty());
        for (x, y) in decoded.iter().zip(&a) {
            prop_assert!(identical(x, &canonical(y)), "{} decoded as {}", y, x);
        }
    }

    #[test]
    fn rows_roundtrip(row in prop::collection::vec(arb_datum(), 0..8)) {
        let bytes = encode_row(&row);
        let decoded = decode_row(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded.len(), row.len());
        for (x, y) in decoded.iter().zip(&row) {
            prop_assert!(identical(x, y), "{} decoded as {}", y, x);
        }
        for len in 0..bytes.len() {
            prop_assert!(decode_row(&bytes[..len]).is_err(), "prefix of {} bytes", len);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for dir in [Direction::Ascending, Direction::Descending] {
            let mut input = &bytes[..];
            let _ = decode_key_datum(&mut input, dir);
            let mut input = &bytes[..];
            let _ = decode_bytes(&mut input, dir);
            let mut input = &bytes[..];
            let _ = decode_key_tuple(&mut input, &[dir, dir.reverse(), dir]);
        }
        let _ = decode_row(&bytes);
        let mut input = &bytes[..];
        let _ = decode_value(&mut input);
    }

    /// Random bytes behind a valid marker reach the payload decoders far more often.
    #[test]
    fn random_payloads_never_panic(marker in any::<u8>(), bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut key = vec![marker];
        key.extend_from_slice(&bytes);
        for dir in [Direction::Ascending, Direction::Descending] {
            let mut input = &key[..];
            if let Ok(datum) = decode_key_datum(&mut input, dir) {
                // Whatever decodes must be canonical: it re-encodes to the bytes it came from.
                let consumed = key.len() - input.len();
                prop_assert_eq!(encode_key(&datum, dir), key[..consumed].to_vec(), "{}", datum);
            }
        }
        let mut value = vec![marker % 16];
        value.extend_from_slice(&bytes);
        let mut input = &value[..];
        let _ = decode_value(&mut input);
    }
}
