//! Table statistics: what `ANALYZE` counted, for the planner's cost model
//! (`exec/cost.rs`).
//!
//! A table's statistics are its row count and, per column, its number of distinct non-NULL
//! values. `ANALYZE` counts them and writes them in its own transaction under the table's
//! statistics key ([`rowcodec::table_stats_key`]), beside its descriptor, as a protobuf
//! message; so they are transactional and every session sees them once the statement
//! commits. The key counts as a descriptor key: writing it bumps the catalog version, so
//! the node's descriptor cache serves statistics at the version they were read at (a plan
//! reads them without a KV round trip) and a prepared statement's cached plan is planned
//! again with the new numbers. DROP TABLE deletes them.
//!
//! Only ANALYZE writes them. CREATE INDEX, COPY, INSERT, TRUNCATE and the rest leave them
//! as they were (stale until the next ANALYZE), so a plan never changes under a session
//! because of a write, and a write never pays for bookkeeping (nor contends on the catalog
//! version, as an ANALYZE does, like any DDL). A table never analyzed has no statistics:
//! the planner then assumes [`DEFAULT_ROWS`] rows (see `exec/cost.rs`).
//!
//! Distinct values are counted per column by hashing each value's key encoding into a set
//! of at most [`MAX_TRACKED_DISTINCT`] hashes; a column that reaches that many is
//! extrapolated (see [`DistinctCounter`]). Columns are recorded by name, so a column
//! renamed or dropped and added again since the last ANALYZE simply has no count (the
//! default applies).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tessera_encoding::{Datum, Direction};

use crate::catalog::{Catalog, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;
use crate::txn::SqlTxn;

/// The rows the planner assumes of a table never analyzed (PostgreSQL assumes about as
/// many for a table it knows nothing of, and exactly this many for a set-returning
/// function).
pub const DEFAULT_ROWS: f64 = 1_000.0;

/// The most distinct values counted exactly per column; past it the count is
/// extrapolated.
pub const MAX_TRACKED_DISTINCT: usize = 100_000;

/// What ANALYZE counted of one table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableStats {
    /// Its rows.
    pub rows: u64,
    /// Column name → its number of distinct non-NULL values.
    pub distinct: HashMap<String, u64>,
}

impl TableStats {
    /// The distinct count of column `c` of `desc`, if it was counted.
    pub fn distinct_of(&self, desc: &TableDescriptor, c: usize) -> Option<u64> {
        desc.columns
            .get(c)
            .and_then(|col| self.distinct.get(&col.name))
            .copied()
    }
}

/// Counts the distinct values of one column: exactly up to [`MAX_TRACKED_DISTINCT`]
/// values, then by extrapolating the rate at which new values were still appearing when
/// the set filled up (`rows × distinct / rows seen then`), which is exact for a unique
/// column and overestimates a column whose new values thin out (a bounded error, in the
/// direction that makes the planner more careful about that column's joins).
#[derive(Default)]
pub struct DistinctCounter {
    seen: HashSet<u64>,
    /// Rows seen when the set filled up.
    full_at: Option<u64>,
    rows: u64,
}

impl DistinctCounter {
    /// Counts one value (NULL is not a value here).
    pub fn add(&mut self, d: &Datum) {
        if matches!(d, Datum::Null) {
            return;
        }
        self.rows += 1;
        if self.full_at.is_some() {
            return;
        }
        let mut key = Vec::new();
        tessera_encoding::key::encode_key_datum(&mut key, d, Direction::Ascending);
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        self.seen.insert(h.finish());
        if self.seen.len() >= MAX_TRACKED_DISTINCT {
            self.full_at = Some(self.rows);
            self.seen = HashSet::new();
        }
    }

    /// The count.
    pub fn count(&self) -> u64 {
        match self.full_at {
            None => self.seen.len() as u64,
            Some(at) => {
                let rate = MAX_TRACKED_DISTINCT as f64 / at.max(1) as f64;
                ((self.rows as f64 * rate).round() as u64).min(self.rows)
            }
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct ColumnStatsProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint64, tag = "2")]
    distinct: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TableStatsProto {
    #[prost(uint64, tag = "1")]
    rows: u64,
    #[prost(message, repeated, tag = "2")]
    columns: Vec<ColumnStatsProto>,
}

fn encode(stats: &TableStats) -> Vec<u8> {
    let mut columns: Vec<ColumnStatsProto> = stats
        .distinct
        .iter()
        .map(|(name, &distinct)| ColumnStatsProto {
            name: name.clone(),
            distinct,
        })
        .collect();
    columns.sort_by(|a, b| a.name.cmp(&b.name));
    prost::Message::encode_to_vec(&TableStatsProto {
        rows: stats.rows,
        columns,
    })
}

fn decode(raw: &[u8]) -> SqlResult<TableStats> {
    let p: TableStatsProto = prost::Message::decode(raw).map_err(|e| {
        SqlError::new(
            SqlState::DATA_CORRUPTED,
            format!("corrupt table statistics: {e}"),
        )
    })?;
    Ok(TableStats {
        rows: p.rows,
        distinct: p
            .columns
            .into_iter()
            .map(|c| (c.name, c.distinct))
            .collect(),
    })
}

impl Catalog {
    /// The statistics of table `id`, if it was ever analyzed.
    pub async fn table_stats(
        &self,
        txn: &mut SqlTxn,
        id: u64,
    ) -> SqlResult<Option<Arc<TableStats>>> {
        let version = txn.catalog_version().await?;
        if let Some(hit) = self.cached(version, |c| c.stats.get(&id).cloned()) {
            return Ok(hit);
        }
        let stats = txn
            .get(rowcodec::table_stats_key(id))
            .await?
            .map(|raw| decode(&raw).map(Arc::new))
            .transpose()?;
        self.fill(version, |c| {
            c.stats.insert(id, stats.clone());
        });
        Ok(stats)
    }

    /// Records the statistics of table `id` (ANALYZE).
    pub async fn put_table_stats(
        &self,
        txn: &mut SqlTxn,
        id: u64,
        stats: &TableStats,
    ) -> SqlResult<()> {
        txn.put(rowcodec::table_stats_key(id), encode(stats))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_round_trip_through_their_encoding() {
        let stats = TableStats {
            rows: 42,
            distinct: [("a".to_string(), 7), ("b".to_string(), 42)].into(),
        };
        assert_eq!(decode(&encode(&stats)).ok(), Some(stats));
    }

    #[test]
    fn distinct_counts_are_exact_below_the_bound_and_extrapolated_past_it() {
        let mut c = DistinctCounter::default();
        for i in 0..10 {
            c.add(&Datum::Int(i % 4));
            c.add(&Datum::Null);
        }
        assert_eq!(c.count(), 4);
        let mut unique = DistinctCounter::default();
        let n = MAX_TRACKED_DISTINCT as i64 * 2;
        for i in 0..n {
            unique.add(&Datum::Int(i));
        }
        assert_eq!(unique.count(), n as u64);
    }
}
