//! The bank workload over the KV API: concurrent transfers between accounts, periodic
//! full-balance audits, and a final check that no money was created or destroyed.
//!
//! It moves to `crates/workload` (over SQL) when the SQL layer exists; today it is the way to
//! see the transaction layer work end to end on RocksDB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::{Rng, SeedableRng};
use tessera_api::batch::Request;
use tessera_api::keys::Span;
use tessera_txn::Db;

/// Options of the bank workload.
#[derive(clap::Args, Clone, Debug)]
pub struct BankOptions {
    /// Number of accounts.
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, default_value = "10s", value_parser = super::humantime_like)]
    pub duration: Duration,
}

impl Default for BankOptions {
    fn default() -> Self {
        BankOptions {
            accounts: 1000,
            concurrency: 8,
            duration: Duration::from_secs(10),
        }
    }
}

const INITIAL: i64 = 1_000;

fn account(i: usize) -> Vec<u8> {
    format!("bank/{i:08}").into_bytes()
}

/// The split points of the demo store: four ranges over the bank keyspace.
pub fn range_splits() -> Vec<Vec<u8>> {
    vec![account(250), account(500), account(750)]
}

fn decode(v: &[u8]) -> anyhow::Result<i64> {
    Ok(i64::from_be_bytes(v.try_into().context("corrupt balance")?))
}

async fn total(db: &Db) -> anyhow::Result<(usize, i64)> {
    let mut txn = db.begin("audit");
    let rows = txn
        .scan(Span::range(b"bank/".to_vec(), b"bank0".to_vec()), 0)
        .await?;
    txn.commit().await?;
    let mut sum = 0;
    for kv in &rows {
        sum += decode(&kv.value)?;
    }
    Ok((rows.len(), sum))
}

/// Loads the accounts if missing, runs transfers for the configured time, checks the total.
pub async fn run(db: &Db, opts: &BankOptions) -> anyhow::Result<()> {
    let (n, sum) = total(db).await?;
    if n == 0 {
        let start = Instant::now();
        for chunk in (0..opts.accounts).collect::<Vec<_>>().chunks(500) {
            let mut txn = db.begin("load");
            let reqs = chunk
                .iter()
                .map(|&i| Request::Put {
                    key: account(i),
                    value: INITIAL.to_be_bytes().to_vec(),
                    seq: 0,
                })
                .collect();
            txn.commit_with(reqs).await?;
        }
        println!(
            "loaded {} accounts in {:.2?}",
            opts.accounts,
            start.elapsed()
        );
    } else {
        println!("found {n} accounts holding {sum}");
    }
    let (accounts, expected) = total(db).await?;
    let committed = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..opts.concurrency {
        let db = db.clone();
        let (committed, retries) = (Arc::clone(&committed), Arc::clone(&retries));
        let duration = opts.duration;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64 ^ rand::random::<u64>());
            while start.elapsed() < duration {
                let (from, to) = (rng.gen_range(0..accounts), rng.gen_range(0..accounts));
                let amount = rng.gen_range(1..100i64);
                let attempts = Arc::new(AtomicU64::new(0));
                let a = Arc::clone(&attempts);
                let res = db
                    .txn("transfer", move |txn| {
                        a.fetch_add(1, Ordering::Relaxed);
                        Box::pin(async move {
                            let fb = txn
                                .get(account(from))
                                .await?
                                .map(|v| i64::from_be_bytes(v.try_into().unwrap_or_default()))
                                .unwrap_or(0);
                            let tb = txn
                                .get(account(to))
                                .await?
                                .map(|v| i64::from_be_bytes(v.try_into().unwrap_or_default()))
                                .unwrap_or(0);
                            if from != to {
                                txn.put(account(from), (fb - amount).to_be_bytes().to_vec())
                                    .await?;
                                txn.put(account(to), (tb + amount).to_be_bytes().to_vec())
                                    .await?;
                            }
                            Ok(())
                        })
                    })
                    .await;
                retries.fetch_add(
                    attempts.load(Ordering::Relaxed).saturating_sub(1),
                    Ordering::Relaxed,
                );
                res?;
                committed.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let mut last = 0;
    while start.elapsed() < opts.duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = committed.load(Ordering::Relaxed);
        println!(
            "{:>5.1}s  {:>8} transfers  {:>7} /s now  {:>7.0} /s avg  {:>6} retries",
            start.elapsed().as_secs_f64(),
            now,
            now - last,
            now as f64 / start.elapsed().as_secs_f64(),
            retries.load(Ordering::Relaxed)
        );
        last = now;
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed();
    let (n, sum) = total(db).await?;
    let done = committed.load(Ordering::Relaxed);
    println!(
        "\nsummary: {done} transfers in {elapsed:.1?} ({:.0}/s), {} retries",
        done as f64 / elapsed.as_secs_f64(),
        retries.load(Ordering::Relaxed)
    );
    println!("check: {n} accounts, total {sum} (expected {expected})");
    if n != accounts || sum != expected {
        bail!("bank check FAILED: money was created or destroyed");
    }
    println!("check: OK");
    Ok(())
}
