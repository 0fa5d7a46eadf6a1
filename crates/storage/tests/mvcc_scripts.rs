//! Goldenscript tests of the MVCC layer (`tessera_storage::mvcc`): one scenario per file in
//! `testdata/mvcc/`.
//!
//! Regenerate the expected output with `UPDATE_GOLDENFILES=1 cargo test -p tessera-storage
//! --test mvcc_scripts` and review the diff.
//!
//! The runner holds a [`MemoryEngine`] and named transactions. Every writing command builds
//! one [`WriteBatch`] and applies it to the engine only if the MVCC call succeeded, so a
//! failing write (prefix the line with `!` to expect the failure) changes nothing; a `dump`
//! after it shows that.
//!
//! In a block of several commands, each command's output is preceded by `> COMMAND`.
//!
//! Timestamps are written and printed as `WALL` (logical 0) or `WALL.LOGICAL`, e.g. `10.2`.
//! Keys and values are UTF-8 words; keys print bare, values quoted.
//!
//! # Commands
//!
//! * `txn_begin NAME ts=T [epoch=E]`: starts a transaction writing (and reading) at `T`.
//! * `txn_set NAME [ts=T] [epoch=E] [seq=S] [ignore=A-B]`: changes the transaction's write
//!   timestamp, epoch or latest sequence number (a push, a restart, a coordinator's
//!   counter), or marks sequences `A..=B` as undone by a rollback to a savepoint.
//! * `put k=K [v=V] [ts=T] [txn=NAME] [seq=S]`: writes `V` at `T` (without `v`: no value,
//!   that is a tombstone). In a transaction `T` defaults to its write timestamp, and the
//!   write carries sequence `S`, or without `seq` the transaction's next sequence number (as
//!   a coordinator numbers writes); the transaction's latest sequence becomes the larger of
//!   the two (also when the write fails, as a coordinator's counter would). Prints `written`
//!   or `replayed`.
//! * `del k=K [ts=T] [txn=NAME] [seq=S]`: `put` without a value, spelled out.
//! * `lock k=K txn=NAME`: takes a locking read's lock-only record on `K` at the
//!   transaction's write timestamp and latest sequence number. Prints `locked`.
//! * `get k=K [ts=T] [txn=NAME] [unc=U]`: prints `K → "V" @TS` or `K → none`. In a
//!   transaction `T` defaults to its write timestamp; `U` (the uncertainty limit) to `T`.
//! * `scan [start=K] [end=K] [ts=T] [txn=NAME] [unc=U] [max=N] [reverse=true]`: prints every
//!   visible row of `[start, end)` (empty: unbounded), then `resume → KEY` if `max` stopped
//!   the scan.
//! * `resolve k=K txn=NAME status=committed|aborted|pending|staging [ts=T]`: resolves the
//!   transaction's intent on `K`; `T` overrides the commit (or push) timestamp, which
//!   defaults to the transaction's write timestamp. Prints `resolved` or `no intent`.
//! * `gc [start=K] [end=K] threshold=T`: garbage-collects, printing the number of versions
//!   removed.
//! * `dump`: prints every raw entry of the Data column family (`data K @TS → "V"` or `→ ⌫`
//!   for a tombstone) and of the Lock column family (`lock K → NAME epoch=E ts=T seq=S`,
//!   with `history=[SEQ:"V" …]` when the intent holds earlier writes, and `lock-only` for a
//!   locking read's record without a provisional version).

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;

use goldenscript::{ArgumentConsumer, Block, Context};
use tessera_api::error::KvError;
use tessera_api::keys::Pretty;
use tessera_api::txn::{SeqRange, TxnId, TxnMeta, TxnStatus};
use tessera_api::Timestamp;
use tessera_storage::mvcc::{
    decode_version_key, encode_value, gc, get, lock, put, resolve_intent, scan, scan_intents,
    IntentMeta, PutOutcome, ReadCtx, WriteCtx,
};
use tessera_storage::{Cf, Engine, MemoryEngine, Reader, WriteBatch};

type Command = goldenscript::Command;

// The macro resolves the directory against the compiler's working directory, which cargo
// sets to the workspace root for workspace members (as in crates/encoding/tests/scripts.rs);
// it embeds absolute paths. A new script file needs a rebuild of this test to be picked up.
test_each_file::test_each_path! { in "testdata/mvcc" as mvcc => run }

fn run(path: &std::path::Path) {
    let path = &tessera_testkit::testdata_file(path);
    if let Err(e) = goldenscript::run(&mut Runner::new(), path) {
        panic!("{}: {e}", path.display());
    }
}

/// The engine and the named transactions of one script.
struct Runner {
    engine: MemoryEngine,
    txns: BTreeMap<String, TxnMeta>,
    /// Whether the current block has several commands: then each one's output is preceded
    /// by the command, so it is clear which line answers which.
    echo: bool,
}

impl Runner {
    fn new() -> Self {
        Runner {
            engine: MemoryEngine::new(),
            txns: BTreeMap::new(),
            echo: false,
        }
    }

    fn txn(&self, name: &str) -> Result<&TxnMeta, Box<dyn Error>> {
        self.txns
            .get(name)
            .ok_or_else(|| format!("unknown transaction {name}").into())
    }

    /// The script name of a transaction id (or its hex form if the script never named it).
    fn txn_name(&self, id: TxnId) -> String {
        self.txns
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// Applies a batch built by a successful command.
    fn apply(&self, batch: WriteBatch) -> Result<(), Box<dyn Error>> {
        self.engine.write(batch, false)?;
        Ok(())
    }

    /// Formats an MVCC error with script names and timestamps, so outputs stay readable.
    fn error(&self, e: KvError) -> Box<dyn Error> {
        let text = match &e {
            KvError::WriteIntent { intents } => {
                let mut s = String::from("write intent conflict:");
                for i in intents {
                    let _ = write!(
                        s,
                        " {} held by {} epoch={} ts={}",
                        key(&i.key),
                        self.txn_name(i.txn.id),
                        i.txn.epoch,
                        ts(i.txn.write_timestamp)
                    );
                }
                s
            }
            KvError::ReadWithinUncertainty {
                read_ts,
                existing_ts,
                key: k,
            } => format!(
                "read within uncertainty: read at {} found {} @{}",
                ts(*read_ts),
                key(k),
                ts(*existing_ts)
            ),
            KvError::WriteTooOld {
                requested_ts,
                actual_ts,
                key: k,
            } => format!(
                "write too old: {} at {}, retry at {}",
                key(k),
                ts(*requested_ts),
                ts(*actual_ts)
            ),
            other => other.to_string(),
        };
        text.into()
    }

    /// The read context of a `get` or `scan`.
    fn read_ctx(&self, args: &mut ArgumentConsumer<'_>) -> Result<ReadCtx, Box<dyn Error>> {
        let txn = match args.take_key("txn") {
            Some(name) => Some(self.txn(name)?.clone()),
            None => None,
        };
        let read_ts = match (args.take_key("ts"), &txn) {
            (Some(t), _) => parse_ts(t)?,
            (None, Some(txn)) => txn.write_timestamp,
            (None, None) => return Err("ts is required without txn".into()),
        };
        let uncertainty_limit = match args.take_key("unc") {
            Some(u) => parse_ts(u)?,
            None => read_ts,
        };
        Ok(ReadCtx {
            ts: read_ts,
            uncertainty_limit,
            txn,
        })
    }

    /// A `put` or `del`: writes `value` (`None`: a tombstone).
    fn write(
        &mut self,
        args: &mut ArgumentConsumer<'_>,
        value: Option<&[u8]>,
    ) -> Result<String, Box<dyn Error>> {
        let k = required(args, "k")?;
        let at = args.take_key("ts").map(parse_ts).transpose()?;
        let seq = args.take_key("seq").map(str::parse::<u32>).transpose()?;
        let name = args.take_key("txn");
        args.reject_next()?;
        let ctx = match name {
            Some(name) => {
                let txn = self
                    .txns
                    .get_mut(name)
                    .ok_or_else(|| format!("unknown transaction {name}"))?;
                let seq = seq.unwrap_or(txn.sequence + 1);
                txn.sequence = txn.sequence.max(seq);
                let mut meta = txn.clone();
                meta.sequence = seq;
                WriteCtx {
                    ts: at.unwrap_or(meta.write_timestamp),
                    txn: Some(meta),
                }
            }
            None => WriteCtx {
                ts: at.ok_or("ts is required without txn")?,
                txn: None,
            },
        };
        let mut batch = WriteBatch::new();
        let outcome =
            put(&self.engine, &mut batch, k.as_bytes(), value, &ctx).map_err(|e| self.error(e))?;
        self.apply(batch)?;
        Ok(match outcome {
            PutOutcome::Written => "written".into(),
            PutOutcome::Replayed => "replayed".into(),
        })
    }

    fn dump(&self) -> Result<String, Box<dyn Error>> {
        let mut out = String::new();
        for item in self.engine.scan(Cf::Data, b"", b"", false) {
            let (raw_key, raw_value) = item?;
            let (k, at) = decode_version_key(&raw_key)?;
            writeln!(
                out,
                "data {} @{} → {}",
                key(&k),
                ts(at),
                stored_value(&k, &raw_value)
            )?;
        }
        for (k, intent) in scan_intents(&self.engine, b"", b"")? {
            writeln!(out, "lock {} → {}", key(&k), self.intent(&intent))?;
        }
        Ok(out)
    }

    fn intent(&self, intent: &IntentMeta) -> String {
        let mut s = format!(
            "{} epoch={} ts={} seq={}",
            self.txn_name(intent.txn.id),
            intent.txn.epoch,
            ts(intent.ts()),
            intent.txn.sequence
        );
        if !intent.history.is_empty() {
            let history: Vec<String> = intent
                .history
                .iter()
                .map(|(seq, v)| format!("{seq}:{}", value(v.as_deref())))
                .collect();
            let _ = write!(s, " history=[{}]", history.join(" "));
        }
        if intent.lock_only {
            s.push_str(" lock-only");
        }
        s
    }
}

impl goldenscript::Runner for Runner {
    type Command = Command;

    fn start_block(&mut self, block: &Block) -> Result<String, Box<dyn Error>> {
        self.echo = block.commands.len() > 1;
        Ok(String::new())
    }

    fn start_command(
        &mut self,
        command: &Command,
        ctx: &Context,
    ) -> Result<String, Box<dyn Error>> {
        let quiet = matches!(command.name.as_str(), "txn_begin" | "txn_set");
        Ok(match self.echo && !quiet {
            true => format!("> {}{command}", if ctx.fail { "!" } else { "" }),
            false => String::new(),
        })
    }

    fn run(&mut self, command: &Command, _: &Context) -> Result<String, Box<dyn Error>> {
        let mut out = String::new();
        let mut args = command.consume_args();
        match command.name.as_str() {
            "txn_begin" => {
                let name = args.next_pos().ok_or("transaction name required")?;
                let at = parse_ts(required(&mut args, "ts")?)?;
                let epoch = args.take_key("epoch").map(str::parse).transpose()?;
                args.reject_next()?;
                if self.txns.contains_key(name) {
                    return Err(format!("transaction {name} exists").into());
                }
                // Ids sort in begin order and print (as TxnId does) by their top 32 bits.
                let id = TxnId(((self.txns.len() as u128) + 1) << 96);
                let meta = TxnMeta {
                    id,
                    key: name.as_bytes().to_vec(),
                    epoch: epoch.unwrap_or(0),
                    write_timestamp: at,
                    min_timestamp: at,
                    priority: 0,
                    sequence: 0,
                    ignored_seqs: Vec::new(),
                };
                self.txns.insert(name.to_string(), meta);
            }
            "txn_set" => {
                let name = args.next_pos().ok_or("transaction name required")?;
                let at = args.take_key("ts").map(parse_ts).transpose()?;
                let epoch = args.take_key("epoch").map(str::parse).transpose()?;
                let seq = args.take_key("seq").map(str::parse).transpose()?;
                let ignore = args.take_key("ignore").map(parse_seq_range).transpose()?;
                args.reject_next()?;
                let txn = self
                    .txns
                    .get_mut(name)
                    .ok_or_else(|| format!("unknown transaction {name}"))?;
                if let Some(at) = at {
                    txn.write_timestamp = at;
                }
                if let Some(epoch) = epoch {
                    txn.epoch = epoch;
                }
                if let Some(seq) = seq {
                    txn.sequence = seq;
                }
                if let Some(range) = ignore {
                    txn.ignore(range);
                }
            }
            "put" => {
                let v = args.take_key("v");
                out = self.write(&mut args, v.map(str::as_bytes))?;
            }
            "del" => out = self.write(&mut args, None)?,
            "lock" => {
                let k = required(&mut args, "k")?;
                let name = required(&mut args, "txn")?;
                args.reject_next()?;
                let meta = self.txn(name)?.clone();
                let ctx = WriteCtx {
                    ts: meta.write_timestamp,
                    txn: Some(meta),
                };
                let mut batch = WriteBatch::new();
                lock(&self.engine, &mut batch, k.as_bytes(), &ctx).map_err(|e| self.error(e))?;
                self.apply(batch)?;
                out = "locked".into();
            }
            "get" => {
                let k = required(&mut args, "k")?;
                let ctx = self.read_ctx(&mut args)?;
                args.reject_next()?;
                match get(&self.engine, k.as_bytes(), &ctx).map_err(|e| self.error(e))? {
                    Some(kv) => writeln!(
                        out,
                        "{} → {} @{}",
                        key(&kv.key),
                        value(Some(&kv.value)),
                        ts(kv.timestamp)
                    )?,
                    None => writeln!(out, "{k} → none")?,
                }
            }
            "scan" => {
                let start = args.take_key("start").unwrap_or("");
                let end = args.take_key("end").unwrap_or("");
                let max = args.take_key("max").map(str::parse).transpose()?;
                let reverse = args.take_key("reverse").map(str::parse).transpose()?;
                let ctx = self.read_ctx(&mut args)?;
                args.reject_next()?;
                let result = scan(
                    &self.engine,
                    start.as_bytes(),
                    end.as_bytes(),
                    &ctx,
                    max.unwrap_or(0),
                    reverse.unwrap_or(false),
                )
                .map_err(|e| self.error(e))?;
                for kv in &result.rows {
                    writeln!(
                        out,
                        "{} → {} @{}",
                        key(&kv.key),
                        value(Some(&kv.value)),
                        ts(kv.timestamp)
                    )?;
                }
                if result.rows.is_empty() {
                    writeln!(out, "(no rows)")?;
                }
                if let Some(resume) = &result.resume_key {
                    writeln!(out, "resume → {}", key(resume))?;
                }
            }
            "resolve" => {
                let k = required(&mut args, "k")?;
                let name = required(&mut args, "txn")?;
                let status = match required(&mut args, "status")? {
                    "committed" => TxnStatus::Committed,
                    "aborted" => TxnStatus::Aborted,
                    "pending" => TxnStatus::Pending,
                    "staging" => TxnStatus::Staging,
                    other => return Err(format!("unknown status {other}").into()),
                };
                let at = args.take_key("ts").map(parse_ts).transpose()?;
                args.reject_next()?;
                let mut txn = self.txn(name)?.clone();
                if let Some(at) = at {
                    txn.write_timestamp = at;
                }
                let mut batch = WriteBatch::new();
                let found = resolve_intent(&self.engine, &mut batch, k.as_bytes(), &txn, status)
                    .map_err(|e| self.error(e))?;
                self.apply(batch)?;
                out = if found { "resolved" } else { "no intent" }.into();
            }
            "gc" => {
                let start = args.take_key("start").unwrap_or("");
                let end = args.take_key("end").unwrap_or("");
                let threshold = parse_ts(required(&mut args, "threshold")?)?;
                args.reject_next()?;
                let mut batch = WriteBatch::new();
                let removed = gc(
                    &self.engine,
                    &mut batch,
                    start.as_bytes(),
                    end.as_bytes(),
                    threshold,
                )
                .map_err(|e| self.error(e))?;
                self.apply(batch)?;
                out = format!("removed {removed}");
            }
            "dump" => {
                args.reject_next()?;
                out = self.dump()?;
            }
            name => return Err(format!("unknown command {name}").into()),
        }
        Ok(out)
    }
}

fn required<'a>(args: &mut ArgumentConsumer<'a>, name: &str) -> Result<&'a str, Box<dyn Error>> {
    args.take_key(name)
        .ok_or_else(|| format!("argument {name}= is required").into())
}

/// Parses `WALL` or `WALL.LOGICAL`.
fn parse_ts(s: &str) -> Result<Timestamp, Box<dyn Error>> {
    Ok(match s.split_once('.') {
        Some((wall, logical)) => Timestamp::new(wall.parse()?, logical.parse()?),
        None => Timestamp::new(s.parse()?, 0),
    })
}

/// Prints a timestamp the way scripts write it.
fn ts(t: Timestamp) -> String {
    if t.logical == 0 {
        t.wall.to_string()
    } else {
        format!("{}.{}", t.wall, t.logical)
    }
}

/// Prints a key bare when it is printable, quoted and escaped otherwise.
fn key(k: &[u8]) -> String {
    if !k.is_empty() && k.iter().all(|b| b.is_ascii_graphic() && *b != b'"') {
        String::from_utf8_lossy(k).into_owned()
    } else {
        Pretty(k).to_string()
    }
}

/// Prints a value quoted, or `⌫` for a tombstone.
fn value(v: Option<&[u8]>) -> String {
    match v {
        Some(v) => Pretty(v).to_string(),
        None => "⌫".into(),
    }
}

/// Decodes a stored version's value for `dump` by re-encoding the candidates with the
/// layer's own encoder (a tombstone, or the bytes after the 5-byte checksum-and-tag header),
/// so the test does not restate the layout; anything else prints as corrupt.
fn stored_value(k: &[u8], raw: &[u8]) -> String {
    if raw == encode_value(k, None).as_slice() {
        return value(None);
    }
    match raw.get(5..) {
        Some(payload) if raw == encode_value(k, Some(payload)).as_slice() => value(Some(payload)),
        _ => format!("<corrupt {} bytes>", raw.len()),
    }
}

/// Parses `A-B` (an inclusive range of sequence numbers).
fn parse_seq_range(s: &str) -> Result<SeqRange, Box<dyn Error>> {
    let (a, b) = s.split_once('-').ok_or("a sequence range is A-B")?;
    Ok(SeqRange {
        start: a.parse()?,
        end: b.parse()?,
    })
}
