//! The plan cache of a prepared statement.
//!
//! Drivers prepare a statement once and execute it many times; planning it again at every
//! Execute (name resolution, type checking, access-path selection, DEFAULT and CHECK
//! expressions parsed from their stored text) cost more than running a point statement. A
//! [`PlanSlot`] keeps the last plan of one prepared statement together with the catalog
//! version it was planned at ([`crate::catalog`]): the plan holds descriptors, and it is
//! valid exactly as long as they are, that is for every transaction that reads the same
//! catalog version.
//!
//! ```text
//!   Execute ─► SqlTxn::catalog_version ─► Some(v) and slot holds (v, db) ─► run the plan
//!                                      └► otherwise plan; keep it if v is known and the
//!                                         plan is not volatile
//! ```
//!
//! A plan is *volatile*, and never kept, when compiling it fixed a value of the moment
//! ([`crate::expr::Params::volatile`]): a folded `now()`, a `pg_catalog` snapshot, a
//! consumed `nextval`. Parameter types are fixed at Parse, and a slot belongs to one
//! session's statement, so session settings cannot differ between executions.

use std::sync::Arc;

use super::dml::CompiledDml;
use super::select::QueryPlan;

/// A plan a prepared statement may reuse.
pub(crate) enum Plan {
    /// A query (boxed: a plan is several hundred bytes, and a slot holds either kind).
    Query(Box<QueryPlan>),
    /// An INSERT, UPDATE or DELETE.
    Dml(CompiledDml),
}

/// A plan and what it was planned against.
struct CachedPlan {
    /// The catalog version of the descriptors the plan holds.
    version: u64,
    /// The database the names were resolved in.
    db_id: u64,
    plan: Arc<Plan>,
}

/// The plan cache of one prepared statement (shared by the clones of its `Prepared`).
#[derive(Clone, Default)]
pub struct PlanSlot(Arc<parking_lot::Mutex<Option<CachedPlan>>>);

impl std::fmt::Debug for PlanSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.lock().as_ref() {
            Some(c) => write!(f, "PlanSlot(version {}, db {})", c.version, c.db_id),
            None => write!(f, "PlanSlot(empty)"),
        }
    }
}

impl PlanSlot {
    /// The kept plan, if it was planned at catalog version `version` in database `db_id`.
    /// `None` for a transaction that changed the catalog (`version` is `None`).
    pub(crate) fn get(&self, version: Option<u64>, db_id: u64) -> Option<Arc<Plan>> {
        let version = version?;
        let slot = self.0.lock();
        let cached = slot.as_ref()?;
        (cached.version == version && cached.db_id == db_id).then(|| Arc::clone(&cached.plan))
    }

    /// Keeps `plan`, planned at `version` in `db_id` (nothing when the version is unknown).
    pub(crate) fn put(&self, version: Option<u64>, db_id: u64, plan: &Arc<Plan>) {
        if let Some(version) = version {
            *self.0.lock() = Some(CachedPlan {
                version,
                db_id,
                plan: Arc::clone(plan),
            });
        }
    }
}
