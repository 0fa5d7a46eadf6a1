//! Unit tests for what the golden scripts cannot easily show: corrupt bytes on disk.

use tessera_api::error::KvError;
use tessera_api::Timestamp;

use super::*;
use crate::{Cf, Engine, MemoryEngine, Reader, WriteBatch};

fn ts(wall: u64) -> Timestamp {
    Timestamp::new(wall, 0)
}

fn write(engine: &MemoryEngine, key: &[u8], value: &[u8], at: u64) {
    let mut b = WriteBatch::new();
    put(
        engine,
        &mut b,
        key,
        Some(value),
        &WriteCtx {
            ts: ts(at),
            txn: None,
        },
    )
    .expect("put");
    engine.write(b, false).expect("write");
}

#[test]
fn corrupt_value_is_an_error_not_a_panic() {
    let engine = MemoryEngine::new();
    write(&engine, b"k", b"hello", 10);
    let vk = version_key(b"k", ts(10));
    let mut raw = engine.get(Cf::Data, &vk).expect("get").expect("present");
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let mut b = WriteBatch::new();
    b.put(Cf::Data, vk.clone(), raw.clone());
    engine.write(b, false).expect("write");
    let err = get(&engine, b"k", &ReadCtx::at(ts(20))).expect_err("checksum must fail");
    assert!(matches!(err, KvError::Corruption(_)), "{err:?}");

    // Truncated to fewer bytes than the header.
    let mut b = WriteBatch::new();
    b.put(Cf::Data, vk, raw[..3].to_vec());
    engine.write(b, false).expect("write");
    let err = scan(&engine, b"a", b"z", &ReadCtx::at(ts(20)), 0, false).expect_err("truncated");
    assert!(matches!(err, KvError::Corruption(_)), "{err:?}");
}

#[test]
fn corrupt_version_key_and_intent_are_errors() {
    let engine = MemoryEngine::new();
    let mut b = WriteBatch::new();
    b.put(Cf::Data, b"\x01\x02".to_vec(), b"junk".to_vec());
    b.put(Cf::Lock, b"k".to_vec(), b"\x00\x00\x00\x00garbage".to_vec());
    engine.write(b, false).expect("write");
    let err = scan(&engine, b"", b"", &ReadCtx::at(ts(20)), 0, false).expect_err("bad key");
    assert!(matches!(err, KvError::Corruption(_)), "{err:?}");
    let err = get(&engine, b"k", &ReadCtx::at(ts(20))).expect_err("bad intent");
    assert!(matches!(err, KvError::Corruption(_)), "{err:?}");
}

#[test]
fn value_misplaced_under_another_key_fails_its_checksum() {
    let engine = MemoryEngine::new();
    write(&engine, b"a", b"x", 10);
    let raw = engine
        .get(Cf::Data, &version_key(b"a", ts(10)))
        .expect("get")
        .expect("present");
    let mut b = WriteBatch::new();
    b.put(Cf::Data, version_key(b"b", ts(10)), raw);
    engine.write(b, false).expect("write");
    assert!(matches!(
        get(&engine, b"b", &ReadCtx::at(ts(20))),
        Err(KvError::Corruption(_))
    ));
}
