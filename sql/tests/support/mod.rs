//! What the SQL integration tests share: a fresh in-process node serving pgwire on loopback.

use std::sync::Arc;

use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_sql::SqlNode;
use tessera_storage::MemoryEngine;
use tessera_txn::Db;

/// Starts a node on a memory engine and a free loopback port. Returns its URL and a sender
/// that stops the server when sent to or dropped.
pub async fn start_node() -> (String, tokio::sync::oneshot::Sender<()>) {
    let clock = Arc::new(HybridClock::default());
    let store = Store::new(Arc::new(MemoryEngine::new()), clock.clone(), &[]).expect("store");
    let db = Db::new(Arc::new(LocalSender::new(Arc::new(store))), clock, 1);
    let node = SqlNode::start(db).await.expect("start the SQL node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(tessera_sql::pgwire::serve(node, listener, async move {
        stopped.await.ok();
    }));
    (format!("postgresql://root@{addr}/defaultdb"), stop)
}
