//! Golden-script tests of transactions over the local sender (three ranges split at "m" and
//! "t", a memory engine, a manual clock, no heartbeat tasks), one scenario per file under
//! `testdata/txn/`. Regenerate expected output with `UPDATE_GOLDENFILES=1`.
//!
//! Commands (`T` names a transaction; `[async]` runs the operation in the background so a
//! later command can show it blocked and `wait` for it):
//!
//! - `begin T [priority=N] [remote=true]`: begins a transaction through the coordinator;
//!   `remote=true` begins it on a gateway of another node (no observed timestamp here).
//! - `get T k=K [for_update=true] [async]`, `put T k=K v=V [async]`, `del T k=K [async]`,
//!   `cput T k=K v=V [expect=E]` (no expect: must be absent), `inc T k=K by=N`,
//!   `scan T start=S end=E [limit=N] [reverse=true] [async]`, `delrange T start=S end=E`.
//! - `commit T [async]`, `commit_with T k=K v=V [k=K v=V …] [insert=true]` (writes + commit
//!   in one batch; with `insert=true` the writes are inserts: conditional puts expecting
//!   nothing),
//!   `rollback T`, `heartbeat T`, `ts T` (prints read and write timestamps).
//! - `savepoint T name=S`, `rollback_to T name=S`: marks a savepoint of T, and undoes T's
//!   writes since it (prints the ignored sequence ranges).
//! - `blocked T`: asserts that T's background operation is still running after 100 ms.
//! - `wait T`: waits (at most 10 s) for T's background operation and prints its result.
//! - `raw_begin T`: a transaction with no coordinator (as if its client crashed), used with
//!   `raw_put T k=K v=V seq=N`, `raw_end T commit=true|false [inflight=K,K]`. `raw_end` sends
//!   the keys raw_put wrote as the EndTxn's lock spans; its response prints the record's
//!   status.
//! - `write k=K v=V [ahead_ms=N]`: a non-transactional write, optionally stamped N ms ahead of
//!   this node's clock (a write through a node with a faster clock).
//! - `read k=K`: a non-transactional read at the current time.
//! - `advance ms=N`: moves the manual clock forward.
//! - `dump`: every intent and transaction record in the engine, then the newest value of
//!   every key.
//! - `settle`: waits (polling, at most 5 s) until no intent is left in the engine: intents a
//!   commit or rollback resolves asynchronously.
//! - `sent`: how many batches the coordinators sent to the ranges since the last `sent`.
//!
//! Where a command takes `k=K` it also takes `ksize=N` (a key of N `k` bytes), and where it
//! takes `v=V` (`put`, `write`) also `size=N` (a value of N `v` bytes), to try size limits.
//! Values that are not printable ASCII print as hex (`0x…`).
//!
//! Timestamps print as milliseconds since the clock's start, with the logical counter after a
//! dot (`12.3`).

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_api::batch::{BatchRequest, BatchResponse, Request, Response};
use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::{Pretty, Span};
use tessera_api::txn::{InFlightWrite, Transaction, TxnId};
use tessera_api::Timestamp;
use tessera_hlc::{Clock, ManualClock};
use tessera_kv::{LocalSender, Store};
use tessera_storage::{Cf, MemoryEngine};
use tessera_txn::{Db, Sender, Txn};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

const START: u64 = 100_000_000_000;

fn fmt_ts(ts: Timestamp) -> String {
    let ms = (ts.wall.saturating_sub(START)) as f64 / 1e6;
    if ts.logical == 0 {
        format!("{ms}")
    } else {
        format!("{ms}.{}", ts.logical)
    }
}

/// A value as a script shows it: printable ASCII as is, anything else as hex.
fn fmt_value(v: &[u8]) -> String {
    if v.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        String::from_utf8_lossy(v).into_owned()
    } else {
        let mut s = String::from("0x");
        for b in v {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

/// The coordinators' sender: the local sender, counting the batches it is given.
struct CountingSender {
    inner: Arc<LocalSender>,
    batches: AtomicUsize,
}

#[async_trait::async_trait]
impl Sender for CountingSender {
    async fn send(&self, ba: BatchRequest) -> KvResult<BatchResponse> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.inner.send(ba).await
    }
}

struct Runner {
    rt: tokio::runtime::Runtime,
    counting: Arc<CountingSender>,
    clock: Arc<ManualClock>,
    sender: Arc<LocalSender>,
    db: Db,
    txns: HashMap<String, Arc<Mutex<Txn>>>,
    ids: HashMap<TxnId, String>,
    raw: HashMap<String, Transaction>,
    /// The keys each raw transaction wrote (its lock spans at `raw_end`).
    raw_keys: HashMap<String, Vec<Vec<u8>>>,
    pending: HashMap<String, JoinHandle<String>>,
    /// Savepoints by (transaction, savepoint name).
    savepoints: HashMap<(String, String), tessera_txn::Savepoint>,
}

impl Runner {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let clock = Arc::new(ManualClock::new(START, tessera_hlc::DEFAULT_MAX_OFFSET));
        let engine = Arc::new(MemoryEngine::new());
        let store =
            Store::new(engine, clock.clone(), &[b"m".to_vec(), b"t".to_vec()]).expect("store");
        let sender = Arc::new(LocalSender::new(Arc::new(store)));
        let counting = Arc::new(CountingSender {
            inner: sender.clone(),
            batches: AtomicUsize::new(0),
        });
        let db = Db::new(counting.clone(), clock.clone(), 7).without_heartbeats();
        Runner {
            rt,
            counting,
            clock,
            sender,
            db,
            txns: HashMap::new(),
            ids: HashMap::new(),
            raw: HashMap::new(),
            raw_keys: HashMap::new(),
            pending: HashMap::new(),
            savepoints: HashMap::new(),
        }
    }

    fn name(&self, id: TxnId) -> String {
        self.ids
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("{id}"))
    }

    /// Error text with transaction ids replaced by script names.
    fn err(&self, e: &KvError) -> String {
        let mut s = e.to_string();
        for (id, name) in &self.ids {
            s = s.replace(&format!("{id}"), name);
        }
        s
    }

    fn txn(&self, name: &str) -> Result<Arc<Mutex<Txn>>, Box<dyn Error>> {
        self.txns
            .get(name)
            .cloned()
            .ok_or_else(|| format!("unknown transaction {name}").into())
    }

    fn dump(&self) -> Result<String, Box<dyn Error>> {
        let mut out = String::new();
        let engine = self.sender.store().engine();
        for item in engine.scan(Cf::Lock, b"", b"", false) {
            let (k, v) = item?;
            let meta = tessera_storage::mvcc::IntentMeta::decode(&k, &v)?;
            writeln!(
                out,
                "intent {} txn={} ts={} seq={}{}",
                Pretty(&k),
                self.name(meta.txn.id),
                fmt_ts(meta.ts()),
                meta.txn.sequence,
                if meta.lock_only { " lock-only" } else { "" }
            )?;
        }
        for item in engine.scan(Cf::Local, b"", b"", false) {
            let (_, v) = item?;
            let rec = tessera_txn::record::decode(&v)?;
            writeln!(
                out,
                "record txn={} status={:?} ts={}",
                self.name(rec.meta.id),
                rec.status,
                fmt_ts(rec.meta.write_timestamp)
            )?;
        }
        let ctx = tessera_storage::mvcc::ReadCtx::at(Timestamp::MAX);
        for kv in tessera_storage::mvcc::scan(&**engine, b"", b"", &ctx, 0, false)
            .map(|r| r.rows)
            .unwrap_or_default()
        {
            writeln!(
                out,
                "value {} = {} @{}",
                Pretty(&kv.key),
                fmt_value(&kv.value),
                fmt_ts(kv.timestamp)
            )?;
        }
        if out.is_empty() {
            out.push_str("(empty)\n");
        }
        Ok(out)
    }
}

/// Runs one coordinator operation and renders its result.
async fn run_op(txn: Arc<Mutex<Txn>>, op: Op) -> Result<String, KvError> {
    let mut t = txn.lock().await;
    Ok(match op {
        Op::Get(k, for_update) => {
            let v = if for_update {
                t.get_for_update(k.clone()).await?
            } else {
                t.get(k.clone()).await?
            };
            format!(
                "{} → {}",
                Pretty(&k),
                v.map(|v| fmt_value(&v)).unwrap_or_else(|| "none".into())
            )
        }
        Op::Put(k, v) => {
            t.put(k, v).await?;
            "ok".into()
        }
        Op::Del(k) => {
            t.delete(k).await?;
            "ok".into()
        }
        Op::CPut(k, v, e) => {
            t.cput(k, v, e).await?;
            "ok".into()
        }
        Op::Inc(k, by) => format!("{}", t.increment(k, by).await?),
        Op::Scan(span, limit, reverse) => {
            let rows = if reverse {
                t.reverse_scan(span, limit).await?
            } else {
                t.scan(span, limit).await?
            };
            let parts: Vec<String> = rows
                .iter()
                .map(|kv| format!("{}={}", Pretty(&kv.key), fmt_value(&kv.value)))
                .collect();
            if parts.is_empty() {
                "(no rows)".into()
            } else {
                parts.join(" ")
            }
        }
        Op::DelRange(span) => {
            let keys = t.delete_range(span).await?;
            format!(
                "deleted {}",
                keys.iter()
                    .map(|k| Pretty(k).to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        Op::Commit(writes, insert) => {
            if writes.is_empty() {
                t.commit().await?;
            } else {
                let reqs = writes
                    .into_iter()
                    .map(|(key, value)| match insert {
                        true => Request::ConditionalPut {
                            key,
                            value,
                            expected: None,
                            seq: 0,
                        },
                        false => Request::Put { key, value, seq: 0 },
                    })
                    .collect();
                t.commit_with(reqs).await?;
            }
            "committed".into()
        }
    })
}

enum Op {
    Get(Vec<u8>, bool),
    Put(Vec<u8>, Vec<u8>),
    Del(Vec<u8>),
    CPut(Vec<u8>, Vec<u8>, Option<Vec<u8>>),
    Inc(Vec<u8>, i64),
    Scan(Span, u64, bool),
    DelRange(Span),
    Commit(Vec<(Vec<u8>, Vec<u8>)>, bool),
}

impl goldenscript::Runner for Runner {
    type Command = goldenscript::Command;

    fn run(
        &mut self,
        command: &Self::Command,
        _ctx: &goldenscript::Context,
    ) -> Result<String, Box<dyn Error>> {
        let mut args = command.consume_args();
        let name = command.name.as_str();
        let is_async = args.take_key("async").is_some_and(|v| v == "true")
            || command.args.iter().any(|a| a.to_string() == "async");
        let key = |args: &mut goldenscript::ArgumentConsumer,
                   k: &str|
         -> Result<Vec<u8>, Box<dyn Error>> {
            // `ksize=N` / `size=N` stand in for `k=` / `v=` with N filler bytes.
            let (sized, fill) = match k {
                "k" => ("ksize", b'k'),
                "v" => ("size", b'v'),
                _ => ("", 0),
            };
            if !sized.is_empty() {
                if let Some(n) = args.take_key(sized) {
                    return Ok(vec![fill; n.parse()?]);
                }
            }
            Ok(args
                .take_key(k)
                .ok_or_else(|| format!("missing {k}="))?
                .as_bytes()
                .to_vec())
        };
        let op = match name {
            "get" | "put" | "del" | "cput" | "inc" | "scan" | "delrange" | "commit"
            | "commit_with" => {
                let t = args
                    .next_pos()
                    .ok_or("missing transaction name")?
                    .to_string();
                let op = match name {
                    "get" => Op::Get(
                        key(&mut args, "k")?,
                        args.take_key("for_update").is_some_and(|v| v == "true"),
                    ),
                    "put" => Op::Put(key(&mut args, "k")?, key(&mut args, "v")?),
                    "del" => Op::Del(key(&mut args, "k")?),
                    "cput" => Op::CPut(
                        key(&mut args, "k")?,
                        key(&mut args, "v")?,
                        args.take_key("expect").map(|e| e.as_bytes().to_vec()),
                    ),
                    "inc" => Op::Inc(
                        key(&mut args, "k")?,
                        args.take_key("by").ok_or("missing by=")?.parse()?,
                    ),
                    "scan" => Op::Scan(
                        Span::range(key(&mut args, "start")?, key(&mut args, "end")?),
                        args.take_key("limit")
                            .map(str::parse)
                            .transpose()?
                            .unwrap_or(0),
                        args.take_key("reverse").is_some_and(|v| v == "true"),
                    ),
                    "delrange" => Op::DelRange(Span::range(
                        key(&mut args, "start")?,
                        key(&mut args, "end")?,
                    )),
                    "commit" => Op::Commit(Vec::new(), false),
                    _ => {
                        let mut writes = Vec::new();
                        let pairs: Vec<(String, String)> = command
                            .args
                            .iter()
                            .filter_map(|a| match a {
                                goldenscript::Argument::KeyValue(k, v) if k != "insert" => {
                                    Some((k.clone(), v.clone()))
                                }
                                _ => None,
                            })
                            .collect();
                        let mut it = pairs.into_iter();
                        while let (Some((kk, k)), Some((vk, v))) = (it.next(), it.next()) {
                            if kk != "k" || vk != "v" {
                                return Err("commit_with takes k=… v=… pairs".into());
                            }
                            writes.push((k.into_bytes(), v.into_bytes()));
                        }
                        let insert = command.args.iter().any(|a| {
                            matches!(a, goldenscript::Argument::KeyValue(k, v)
                                if k == "insert" && v == "true")
                        });
                        Op::Commit(writes, insert)
                    }
                };
                Some((t, op))
            }
            _ => None,
        };
        if let Some((t, op)) = op {
            let txn = self.txn(&t)?;
            let ids = self.ids.clone();
            let render = move |r: Result<String, KvError>| -> String {
                match r {
                    Ok(s) => s,
                    Err(e) => {
                        let mut s = format!("error: {e}");
                        for (id, name) in &ids {
                            s = s.replace(&format!("{id}"), name);
                        }
                        s
                    }
                }
            };
            if is_async {
                let handle = self.rt.spawn(async move { render(run_op(txn, op).await) });
                self.pending.insert(t.clone(), handle);
                return Ok(format!("{t}: started\n"));
            }
            let out = self.rt.block_on(run_op(txn, op));
            return Ok(format!("{}\n", render(out)));
        }
        match name {
            "begin" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let priority = args
                    .take_key("priority")
                    .map(str::parse)
                    .transpose()?
                    .unwrap_or(tessera_txn::config::NORMAL_PRIORITY);
                // remote=true: a gateway on another node (its transaction has not observed
                // this node's clock, so reads here keep the full uncertainty interval).
                let remote = args
                    .take_key("remote")
                    .map(|v| v == "true")
                    .unwrap_or(false);
                let db = if remote {
                    self.db.clone().with_node_id(2)
                } else {
                    self.db.clone()
                };
                let txn = db.begin_with_priority(&t, priority);
                self.ids.insert(txn.id(), t.clone());
                let ts = txn.proto().read_timestamp;
                self.txns.insert(t.clone(), Arc::new(Mutex::new(txn)));
                Ok(format!("{t} begins at {}\n", fmt_ts(ts)))
            }
            "ts" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let txn = self.txn(&t)?;
                let txn = self.rt.block_on(txn.lock());
                let p = txn.proto();
                Ok(format!(
                    "{t}: read={} write={}\n",
                    fmt_ts(p.read_timestamp),
                    fmt_ts(p.meta.write_timestamp)
                ))
            }
            "savepoint" | "rollback_to" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let sp_name = args.take_key("name").ok_or("missing name=")?.to_string();
                let txn = self.txn(&t)?;
                let mut txn = self.rt.block_on(txn.lock());
                let key = (t.clone(), sp_name.clone());
                if name == "savepoint" {
                    self.savepoints.insert(key, txn.savepoint());
                    return Ok(format!("{t}: savepoint {sp_name}\n"));
                }
                let sp = *self.savepoints.get(&key).ok_or("unknown savepoint")?;
                Ok(match txn.rollback_to(sp) {
                    Ok(()) => {
                        let ranges: Vec<String> = txn
                            .proto()
                            .meta
                            .ignored_seqs
                            .iter()
                            .map(|r| format!("{}-{}", r.start, r.end))
                            .collect();
                        format!("{t}: ignored seqs [{}]\n", ranges.join(" "))
                    }
                    Err(e) => format!("error: {}\n", self.err(&e)),
                })
            }
            "rollback" | "heartbeat" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let txn = self.txn(&t)?;
                let res = self.rt.block_on(async {
                    let mut txn = txn.lock().await;
                    if name == "rollback" {
                        txn.rollback().await.map(|()| "rolled back".to_string())
                    } else {
                        txn.heartbeat().await.map(|s| format!("status {s:?}"))
                    }
                });
                Ok(match res {
                    Ok(s) => format!("{s}\n"),
                    Err(e) => format!("error: {}\n", self.err(&e)),
                })
            }
            "blocked" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let handle = self.pending.get(&t).ok_or("nothing running")?;
                std::thread::sleep(Duration::from_millis(100));
                if handle.is_finished() {
                    return Err(format!("{t} is not blocked").into());
                }
                Ok(format!("{t}: blocked\n"))
            }
            "wait" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let handle = self.pending.remove(&t).ok_or("nothing running")?;
                let out = self.rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), handle).await
                })??;
                Ok(format!("{t}: {out}\n"))
            }
            "raw_begin" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let mut txn = self.db.begin(&t);
                let proto = txn.proto().clone();
                self.ids.insert(proto.meta.id, t.clone());
                self.rt.block_on(txn.rollback()).ok();
                self.raw.insert(t.clone(), proto.clone());
                Ok(format!("{t} begins at {}\n", fmt_ts(proto.read_timestamp)))
            }
            "raw_put" | "raw_end" => {
                let t = args.next_pos().ok_or("missing name")?.to_string();
                let mut txn = self.raw.get(&t).cloned().ok_or("unknown raw transaction")?;
                let req = if name == "raw_put" {
                    let k = key(&mut args, "k")?;
                    if txn.meta.key.is_empty() {
                        txn.meta.key = k.clone();
                    }
                    let keys = self.raw_keys.entry(t.clone()).or_default();
                    if !keys.contains(&k) {
                        keys.push(k.clone());
                    }
                    let seq: u32 = args.take_key("seq").ok_or("missing seq=")?.parse()?;
                    txn.meta.sequence = txn.meta.sequence.max(seq);
                    Request::Put {
                        key: k,
                        value: key(&mut args, "v")?,
                        seq,
                    }
                } else {
                    let in_flight = args
                        .take_key("inflight")
                        .map(|s| {
                            s.split(',')
                                .map(|k| InFlightWrite {
                                    key: k.as_bytes().to_vec(),
                                    sequence: 1,
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let commit = args.take_key("commit").is_some_and(|v| v == "true");
                    let lock_spans = self
                        .raw_keys
                        .get(&t)
                        .into_iter()
                        .flatten()
                        .map(|k| Span::point(k.clone()))
                        .collect();
                    Request::EndTxn {
                        commit,
                        lock_spans,
                        in_flight_writes: in_flight,
                    }
                };
                self.raw.insert(t.clone(), txn.clone());
                let mut ba = BatchRequest::txn(&txn, vec![req]);
                ba.header.now = self.clock.now();
                Ok(match self.rt.block_on(self.sender.send(ba)) {
                    Ok(resp) => match resp.responses.last() {
                        Some(Response::EndTxn(rec)) => format!("record {:?}\n", rec.status),
                        _ => "ok\n".into(),
                    },
                    Err(e) => format!("error: {}\n", self.err(&e)),
                })
            }
            "write" => {
                let k = key(&mut args, "k")?;
                let v = key(&mut args, "v")?;
                let ahead: u64 = args
                    .take_key("ahead_ms")
                    .map(str::parse)
                    .transpose()?
                    .unwrap_or(0);
                // `add_duration` drops the logical counter: only shift the clock reading
                // when asked to, so that a plain write is stamped with `now` itself.
                let now = self.clock.now();
                let ts = if ahead == 0 {
                    now
                } else {
                    now.add_duration(Duration::from_millis(ahead))
                };
                let mut ba = BatchRequest::at(
                    ts,
                    vec![Request::Put {
                        key: k.clone(),
                        value: v,
                        seq: 0,
                    }],
                );
                ba.header.now = ts;
                Ok(match self.rt.block_on(self.sender.send(ba)) {
                    // The timestamp cache may have pushed the write above `ts`: print where
                    // it landed (the key's newest version).
                    Ok(_) => {
                        let engine = self.sender.store().engine();
                        let ctx = tessera_storage::mvcc::ReadCtx::at(Timestamp::MAX);
                        let landed = tessera_storage::mvcc::get(&**engine, &k, &ctx)?
                            .map(|kv| kv.timestamp)
                            .unwrap_or_default();
                        format!("ok @{}\n", fmt_ts(landed))
                    }
                    Err(e) => format!("error: {}\n", self.err(&e)),
                })
            }
            "read" => {
                let k = key(&mut args, "k")?;
                let resp = self.rt.block_on(self.db.send(vec![Request::Get {
                    key: k.clone(),
                    lock: Default::default(),
                }]));
                Ok(match resp {
                    Ok(mut r) => match r.pop() {
                        Some(Response::Get(Some(kv))) => format!(
                            "{} → {} @{}\n",
                            Pretty(&k),
                            fmt_value(&kv.value),
                            fmt_ts(kv.timestamp)
                        ),
                        _ => format!("{} → none\n", Pretty(&k)),
                    },
                    Err(e) => format!("error: {}\n", self.err(&e)),
                })
            }
            "advance" => {
                let ms: u64 = args.take_key("ms").ok_or("missing ms=")?.parse()?;
                self.clock.advance(Duration::from_millis(ms));
                Ok(String::new())
            }
            "dump" => self.dump(),
            "sent" => Ok(format!(
                "{} batches sent\n",
                self.counting.batches.swap(0, Ordering::SeqCst)
            )),
            "settle" => {
                let engine = self.sender.store().engine();
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                loop {
                    if engine.scan(Cf::Lock, b"", b"", false).next().is_none() {
                        return Ok(String::new());
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err("intents still present after 5 s".into());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            other => Err(format!("unknown command {other}").into()),
        }
    }

    fn end_script(&mut self) -> Result<(), Box<dyn Error>> {
        if let Some(t) = self.pending.keys().next() {
            return Err(format!("{t} still running at the end of the script: wait for it").into());
        }
        Ok(())
    }
}

test_each_file::test_each_path! { in "testdata/txn" as txn => run_script }

fn run_script(path: &std::path::Path) {
    let path = &tessera_testkit::testdata_file(path);
    goldenscript::run(&mut Runner::new(), path).expect("goldenscript failed");
}
