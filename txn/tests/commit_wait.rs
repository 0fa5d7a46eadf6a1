//! Commit wait (`kv.linearizable = true`): a commit is acknowledged only after the clock
//! passed commit timestamp + max offset.

use std::sync::Arc;
use std::time::Duration;

use tessera_api::batch::Request;
use tessera_hlc::{Clock, HybridClock};
use tessera_kv::{LocalSender, Store};
use tessera_storage::MemoryEngine;
use tessera_txn::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linearizable_commit_waits_out_the_max_offset() {
    let clock = Arc::new(HybridClock::new(Duration::from_millis(50)));
    let store = Store::new(Arc::new(MemoryEngine::new()), clock.clone(), &[]).expect("store");
    let db = Db::new(
        Arc::new(LocalSender::new(Arc::new(store))),
        clock.clone(),
        3,
    )
    .linearizable(true);
    let mut t = db.begin("w");
    t.commit_with(vec![Request::Put {
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        seq: 0,
    }])
    .await
    .expect("commit");
    let commit_ts = t.proto().meta.write_timestamp;
    assert!(
        clock.physical_now() > commit_ts.add_duration(Duration::from_millis(50)),
        "acknowledged before the clock passed commit_ts + max_offset"
    );
}
