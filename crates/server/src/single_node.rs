//! One tessera node serving SQL over the Postgres protocol, on one RocksDB store.
//!
//! ```text
//!   RocksEngine (store dir) ─► Store (one range) ─► LocalSender ─► Db ─► SqlNode
//!                                                                          │
//!   TcpListener (--sql-addr) ──────────────────────────► pgwire::serve ◄───┘
//! ```
//!
//! Shutdown, on SIGTERM or SIGINT (Ctrl-C), runs in this order: stop accepting and close
//! every connection (a transaction still open in a session is abandoned, as after a crash:
//! its intents are cleaned up by whoever meets them), drop the SQL node and the KV stack,
//! then flush the engine so the next start opens a store with nothing left to replay.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tessera_hlc::HybridClock;
use tessera_kv::gc_queue::{self, GcPolicy};
use tessera_kv::{LocalSender, Store};
use tessera_sql::pgwire::auth::Security;
use tessera_sql::SqlNode;
use tessera_storage::Engine;
use tessera_storage_rocks::{RocksConfig, RocksEngine};
use tessera_txn::Db;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// The connection string for a SQL address, as printed for `psql`.
pub fn connection_url(addr: SocketAddr) -> String {
    format!("postgresql://root@{addr}/defaultdb?sslmode=disable")
}

/// The URL `root` connects to a secure node with: TLS checked against the CA, and root's
/// client certificate (`tessera cert create-client root`).
pub fn secure_connection_url(addr: SocketAddr, certs_dir: &Path) -> String {
    let d = certs_dir.display();
    format!(
        "postgresql://root@{addr}/defaultdb?sslmode=verify-full&sslrootcert={d}/ca.crt\
         &sslcert={d}/client.root.crt&sslkey={d}/client.root.key"
    )
}

/// Binds `addr`; when `fallback_to_any_port` and the port is taken, binds a free port on the
/// same host instead.
pub async fn bind(addr: &str, fallback_to_any_port: bool) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if fallback_to_any_port && e.kind() == std::io::ErrorKind::AddrInUse => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            TcpListener::bind((host.trim_matches(['[', ']']), 0))
                .await
                .with_context(|| format!("binding a free port on {host}"))
        }
        Err(e) => Err(e).with_context(|| format!("binding the SQL address {addr}")),
    }
}

/// Runs a node on the store at `store_dir` with a block cache of `cache_bytes`, serving SQL
/// on `listener`, until SIGTERM or SIGINT. `on_ready` is called with the bound address once
/// the SQL layer is up.
pub async fn run(
    store_dir: &Path,
    listener: TcpListener,
    security: Security,
    cache_bytes: usize,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let config = RocksConfig {
        block_cache_bytes: cache_bytes,
    };
    let engine: Arc<dyn Engine> = Arc::new(
        RocksEngine::open(store_dir, &config)
            .with_context(|| format!("opening store {}", store_dir.display()))?,
    );
    let clock = Arc::new(HybridClock::default());
    let store = Arc::new(Store::new(Arc::clone(&engine), clock.clone(), &[])?);
    let sender = Arc::new(LocalSender::new(Arc::clone(&store)));
    let gc = tokio::spawn(gc_queue::run(
        Arc::clone(&store),
        sender.clone(),
        GcPolicy::default(),
    ));
    let db = Db::new(sender, clock, rand::random());
    let node = SqlNode::start(db).await.context("starting the SQL layer")?;
    let addr = listener.local_addr()?;
    info!(%addr, store = %store_dir.display(), "SQL server listening");
    on_ready(addr);

    tessera_sql::pgwire::serve_with(node, listener, security, shutdown_signal()).await;
    gc.abort();

    info!("flushing the store");
    engine.flush().context("flushing the store at shutdown")?;
    info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("SIGINT: shutting down"),
        () = term => info!("SIGTERM: shutting down"),
    }
}
