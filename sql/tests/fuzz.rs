//! A bounded fuzz run over the parser-to-executor path: statements taken from the logic
//! tests (`testdata/logic/*.slt`) are mutated at random — tokens dropped, duplicated,
//! swapped or replaced by hostile ones (huge numbers, NULLs, quotes, deep nesting) — and run
//! through a session. Any error is fine; a panic, or a session that stops answering, fails
//! the test. The run is bounded by `TESSERA_FUZZ_CASES` (default 10,000) statements and
//! `TESSERA_FUZZ_SECONDS` (default 60) seconds, each statement by a 5-second timeout; the seed
//! is printed and `TESSERA_SEED` replays it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_sql::{Output, Session, SqlNode};
use tessera_storage::MemoryEngine;
use tessera_txn::Db;

/// Tokens a mutation may insert: the shapes that have broken SQL engines before.
const HOSTILE: &[&str] = &[
    "NULL",
    "''",
    "'",
    "\"",
    "(",
    ")",
    ",",
    ";",
    "*",
    "-",
    "/ 0",
    "99999999999999999999999999999999",
    "-9223372036854775808",
    "1e308",
    "'NaN'::float8",
    "'infinity'::numeric",
    "$1",
    "$99999",
    "::int2",
    "::numeric(1000, 999)",
    "::varchar(1)",
    "ARRAY[1, 2]",
    "(SELECT 1)",
    "(SELECT * FROM t)",
    "EXISTS (SELECT 1)",
    "CASE WHEN",
    "repeat('x', 100000)",
    "generate_series(1, 3)",
    "ORDER BY 1",
    "LIMIT -1",
    "OFFSET 99999999999",
    "GROUP BY 1",
    "HAVING",
    "UNION SELECT 1",
    "JOIN t ON true",
    "WHERE",
    "FOR UPDATE",
    "RETURNING *",
    "ON CONFLICT DO NOTHING",
    "((((((((((1))))))))))",
    "'\\x00'",
    "E'\\\\'",
    "interval '1 day'",
    "date '-infinity'",
];

/// Values a literal may be replaced by.
const VALUES: &[&str] = &[
    "NULL",
    "0",
    "-1",
    "2147483648",
    "-9223372036854775808",
    "9223372036854775807",
    "99999999999999999999999999999999.999",
    "1e308",
    "-0.0",
    "'NaN'",
    "'infinity'",
    "''",
    "'x'",
    "'2024-02-30'",
    "'\\x41'",
    "'00000000-0000-0000-0000-000000000000'",
    "repeat('ab', 5000)",
    "(1/0)",
    "(SELECT 1)",
];

fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/logic");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.starts_with("statement") || line.starts_with("query") {
                let mut sql = String::new();
                for l in lines.by_ref() {
                    if l.is_empty() || l == "----" {
                        break;
                    }
                    sql.push_str(l);
                    sql.push(' ');
                }
                if !sql.trim().is_empty() {
                    out.push(sql);
                }
            }
        }
    }
    out
}

fn tokens(sql: &str) -> Vec<String> {
    sql.split_whitespace().map(str::to_string).collect()
}

fn mutate(rng: &mut impl Rng, corpus: &[String]) -> String {
    let base = corpus
        .choose(rng)
        .cloned()
        .unwrap_or_else(|| "SELECT 1".into());
    let mut toks = tokens(&base);
    for _ in 0..rng.gen_range(1..=2) {
        if toks.is_empty() {
            toks.push("SELECT".into());
        }
        let i = rng.gen_range(0..toks.len());
        // Half the time: swap a literal for a hostile value, which keeps the statement
        // parseable and reaches the executor.
        let literal = |t: &str| {
            t.trim_end_matches([',', ')', ';']).parse::<f64>().is_ok() || t.starts_with('\'')
        };
        if rng.gen_bool(0.5) {
            let lits: Vec<usize> = (0..toks.len()).filter(|&k| literal(&toks[k])).collect();
            if let Some(&k) = lits.choose(rng) {
                let tail: String = toks[k]
                    .chars()
                    .rev()
                    .take_while(|c| matches!(c, ',' | ')' | ';'))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                toks[k] = format!("{}{tail}", VALUES.choose(rng).copied().unwrap_or("NULL"));
                continue;
            }
        }
        match rng.gen_range(0..6) {
            0 => {
                toks.remove(i);
            }
            1 => {
                let t = toks[i].clone();
                toks.insert(i, t);
            }
            2 => {
                let j = rng.gen_range(0..toks.len());
                toks.swap(i, j);
            }
            3 => toks[i] = HOSTILE.choose(rng).copied().unwrap_or("NULL").to_string(),
            4 => toks.insert(
                i,
                HOSTILE.choose(rng).copied().unwrap_or("NULL").to_string(),
            ),
            _ => {
                // Splice a piece of another statement in.
                let other = tokens(corpus.choose(rng).map(String::as_str).unwrap_or("SELECT 1"));
                if !other.is_empty() {
                    let a = rng.gen_range(0..other.len());
                    let b = rng.gen_range(a..other.len());
                    for (k, t) in other[a..=b].iter().enumerate() {
                        toks.insert((i + k).min(toks.len()), t.clone());
                    }
                }
            }
        }
    }
    toks.join(" ")
}

async fn new_session() -> Session {
    let clock = Arc::new(HybridClock::default());
    let store = Store::new(Arc::new(MemoryEngine::new()), clock.clone(), &[]).expect("store");
    let db = Db::new(Arc::new(LocalSender::new(Arc::new(store))), clock, 1);
    let node = SqlNode::start(db).await.expect("start");
    node.session("defaultdb", "root").await.expect("session")
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_statements_never_panic() {
    let corpus = corpus();
    assert!(corpus.len() > 100, "the logic tests give a corpus");
    let (seed, mut rng) = tessera_testkit::seeded_rng("fuzz");
    let cases = env_number("TESSERA_FUZZ_CASES", 10_000);
    let deadline = Instant::now() + Duration::from_secs(env_number("TESSERA_FUZZ_SECONDS", 60));
    let mut session = new_session().await;
    // A few tables for the mutated statements to find.
    for sql in [
        "CREATE TABLE t (a INT PRIMARY KEY, b TEXT, c NUMERIC(10, 2))",
        "INSERT INTO t VALUES (1, 'x', 1.5), (2, NULL, NULL), (3, 'z', -2)",
        "CREATE INDEX t_b ON t (b)",
    ] {
        session.simple_query(sql).await;
    }
    let mut ran = 0;
    let mut errors: u64 = 0;
    while ran < cases && Instant::now() < deadline {
        let sql = mutate(&mut rng, &corpus);
        let shown = sql.clone();
        // The session moves into a task so that a panic is caught and reported with the SQL.
        let task = tokio::spawn(async move {
            let res = tokio::time::timeout(Duration::from_secs(5), session.simple_query(&sql))
                .await
                .ok();
            (session, res, sql)
        });
        match task.await {
            Ok((s, res, _)) => {
                session = s;
                if let Some(results) = res {
                    errors += results.iter().filter(|r| r.is_err()).count() as u64;
                }
            }
            Err(e) => panic!("seed {seed}: a statement panicked: {e}\n  {shown}"),
        }
        // Leave any transaction block the statement opened, so the next one starts clean.
        session.simple_query("ROLLBACK").await;
        ran += 1;
    }
    // The session still serves.
    match session.simple_query("SELECT 1").await.pop() {
        Some(Ok(Output::Rows { rows, .. })) => assert_eq!(rows.len(), 1),
        other => panic!("seed {seed}: the session stopped answering: {other:?}"),
    }
    println!(
        "fuzz: {ran} statements ({errors} errors, {} ran clean), no panic (seed {seed})",
        ran - errors.min(ran)
    );
    assert!(ran > 0);
}
