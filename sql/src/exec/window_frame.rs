//! Window frames: which rows of its partition an aggregate, `first_value`, `last_value` or
//! `nth_value` reads for each row, and named windows (`WINDOW w AS (…)`).
//!
//! A partition is sorted on the window's ORDER BY; rows equal on it are *peers*, and runs of
//! peers are *peer groups*. A frame has a start and an end bound, each counted in one of
//! three units:
//!
//! ```text
//!   partition (sorted):   r0  r1  r2 │ r3  r4 │ r5        peer groups: {r0 r1 r2} {r3 r4} {r5}
//!   current row r3:
//!     ROWS   BETWEEN 1 PRECEDING AND 1 FOLLOWING      r2 r3 r4        (rows)
//!     GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW      r0 … r4         (peer groups)
//!     RANGE  BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW  r0 … r4     (to the last peer)
//! ```
//!
//! Without a frame clause the frame is `RANGE UNBOUNDED PRECEDING AND CURRENT ROW`: the
//! partition up to the current row's last peer, or the whole partition without ORDER BY
//! (every row is then a peer of every other). `n PRECEDING` alone means `BETWEEN n PRECEDING
//! AND CURRENT ROW`. Offsets are constant expressions evaluated once per statement, as in
//! PostgreSQL (22013 when negative, 22004 when NULL). `RANGE` with an offset (`RANGE BETWEEN
//! 5 PRECEDING …`, a distance in the ORDER BY value) and `EXCLUDE` are not supported yet.
//!
//! Every bound moves forward (or stays) as the current row moves forward, so a frame that
//! starts at the partition's first row is aggregated incrementally, and so is one that ends
//! at its last row (backwards, for aggregates whose result ignores row order); other frames
//! are aggregated afresh for each row (a frame that equals the previous row's reuses its
//! value), at most `MAX_FRAME_VISITS` rows in all (54000 past it).

use sqlparser::ast::{
    Ident, NamedWindowDefinition, NamedWindowExpr, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowSpec, WindowType,
};
use tessera_encoding::Datum;

use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval_ctx, Compiler, EvalCtx, Params, ScalarExpr, Scope};
use crate::types::SqlType;

/// SQLSTATE 42P20 (windowing_error).
const WINDOWING_ERROR: SqlState = SqlState("42P20");

fn windowing(msg: impl Into<String>) -> SqlError {
    SqlError::new(WINDOWING_ERROR, msg)
}

/// What a frame's bounds count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Units {
    Rows,
    Range,
    Groups,
}

/// One bound of a frame; offsets are constant `bigint` expressions.
#[derive(Clone, Debug)]
enum Bound {
    UnboundedPreceding,
    Preceding(ScalarExpr),
    CurrentRow,
    Following(ScalarExpr),
    UnboundedFollowing,
}

/// A planned frame clause.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    units: Units,
    start: Bound,
    end: Bound,
}

/// A bound with its offset evaluated.
#[derive(Clone, Copy)]
enum Resolved {
    UnboundedPreceding,
    Preceding(usize),
    CurrentRow,
    Following(usize),
    UnboundedFollowing,
}

impl Frame {
    /// `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`, the frame without a clause.
    pub(super) fn default_frame() -> Self {
        Frame {
            units: Units::Range,
            start: Bound::UnboundedPreceding,
            end: Bound::CurrentRow,
        }
    }

    /// Plans a frame clause of a window with `order_len` ORDER BY keys, with PostgreSQL's
    /// checks (42P20).
    pub(super) fn plan(f: &WindowFrame, order_len: usize, params: &mut Params) -> SqlResult<Self> {
        let units = match f.units {
            WindowFrameUnits::Rows => Units::Rows,
            WindowFrameUnits::Range => Units::Range,
            WindowFrameUnits::Groups => Units::Groups,
        };
        let what = match units {
            Units::Rows => "ROWS",
            Units::Range => "RANGE",
            Units::Groups => "GROUPS",
        };
        let start = plan_bound(&f.start_bound, what, params)?;
        let end = match &f.end_bound {
            Some(b) => plan_bound(b, what, params)?,
            None => Bound::CurrentRow,
        };
        match (&start, &end) {
            (Bound::UnboundedFollowing, _) => {
                return Err(windowing("frame start cannot be UNBOUNDED FOLLOWING"))
            }
            (_, Bound::UnboundedPreceding) => {
                return Err(windowing("frame end cannot be UNBOUNDED PRECEDING"))
            }
            (Bound::CurrentRow, Bound::Preceding(_)) => {
                return Err(windowing(
                    "frame starting from current row cannot have preceding rows",
                ))
            }
            (Bound::Following(_), Bound::Preceding(_) | Bound::CurrentRow) => {
                return Err(windowing(
                    "frame starting from following row cannot have preceding rows",
                ))
            }
            _ => {}
        }
        let has_offset = |b: &Bound| matches!(b, Bound::Preceding(_) | Bound::Following(_));
        if units == Units::Range && (has_offset(&start) || has_offset(&end)) {
            if order_len != 1 {
                return Err(windowing(
                    "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
                ));
            }
            return Err(SqlError::unsupported(
                "RANGE with offset PRECEDING/FOLLOWING",
            ));
        }
        if units == Units::Groups && order_len == 0 {
            return Err(windowing("GROUPS mode requires an ORDER BY clause"));
        }
        Ok(Frame { units, start, end })
    }

    /// Whether every frame starts at the partition's first row.
    pub(super) fn starts_unbounded(&self) -> bool {
        matches!(self.start, Bound::UnboundedPreceding)
    }

    /// Whether every frame ends at the partition's last row.
    pub(super) fn ends_unbounded(&self) -> bool {
        matches!(self.end, Bound::UnboundedFollowing)
    }

    /// Each row's frame `[start, end)` in a sorted partition of `len` rows whose peer groups
    /// are `groups` (`[start, end)` each, in order, covering the partition).
    pub(super) fn ranges(
        &self,
        groups: &[(usize, usize)],
        len: usize,
        ctx: &EvalCtx,
    ) -> SqlResult<Vec<(usize, usize)>> {
        let start = resolve(&self.start, "starting", ctx)?;
        let end = resolve(&self.end, "ending", ctx)?;
        let mut out = Vec::with_capacity(len);
        for (g, &(gs, ge)) in groups.iter().enumerate() {
            for pos in gs..ge {
                let s = self.position(start, pos, g, groups, len, true);
                let e = self.position(end, pos, g, groups, len, false);
                out.push((s, e.max(s)));
            }
        }
        Ok(out)
    }

    /// Where a bound puts the frame's start (`is_start`: the first row in it) or end (one
    /// past the last row in it) for the row at `pos`, in peer group `g`.
    fn position(
        &self,
        bound: Resolved,
        pos: usize,
        g: usize,
        groups: &[(usize, usize)],
        len: usize,
        is_start: bool,
    ) -> usize {
        let (gs, ge) = groups[g];
        let last = groups.len() - 1;
        match (bound, self.units) {
            (Resolved::UnboundedPreceding, _) => 0,
            (Resolved::UnboundedFollowing, _) => len,
            (Resolved::CurrentRow, Units::Rows) => {
                if is_start {
                    pos
                } else {
                    pos + 1
                }
            }
            (Resolved::CurrentRow, _) => {
                if is_start {
                    gs
                } else {
                    ge
                }
            }
            (Resolved::Preceding(k), Units::Rows) => {
                if is_start {
                    pos.saturating_sub(k)
                } else {
                    (pos + 1).saturating_sub(k)
                }
            }
            (Resolved::Following(k), Units::Rows) => {
                let p = pos.saturating_add(k);
                if is_start {
                    p.min(len)
                } else {
                    p.saturating_add(1).min(len)
                }
            }
            (Resolved::Preceding(k), _) => match g.checked_sub(k) {
                Some(t) if is_start => groups[t].0,
                Some(t) => groups[t].1,
                None => 0,
            },
            (Resolved::Following(k), _) => {
                let t = g.saturating_add(k);
                if is_start {
                    groups.get(t).map_or(len, |x| x.0)
                } else {
                    groups[t.min(last)].1
                }
            }
        }
    }
}

/// Plans one bound; an offset must be a constant (42P10 if it reads a column).
fn plan_bound(b: &WindowFrameBound, what: &str, params: &mut Params) -> SqlResult<Bound> {
    let offset = |e: &sqlparser::ast::Expr, params: &mut Params| -> SqlResult<ScalarExpr> {
        // sqlparser reads a quoted offset (`'2' PRECEDING`) as an interval without fields;
        // PostgreSQL reads it as an untyped literal, which becomes a bigint here.
        let e = match e {
            sqlparser::ast::Expr::Interval(i)
                if i.leading_field.is_none() && i.last_field.is_none() =>
            {
                i.value.as_ref()
            }
            other => other,
        };
        let empty = Scope::default();
        let mut c = Compiler::new(&empty, params);
        let t = c.compile(e).map_err(|err| {
            if err.is_unresolved_name() {
                SqlError::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    format!("argument of {what} must not contain variables"),
                )
            } else {
                err
            }
        })?;
        Ok(c.coerce(t, &SqlType::Int8, what)?.expr)
    };
    Ok(match b {
        WindowFrameBound::CurrentRow => Bound::CurrentRow,
        WindowFrameBound::Preceding(None) => Bound::UnboundedPreceding,
        WindowFrameBound::Following(None) => Bound::UnboundedFollowing,
        WindowFrameBound::Preceding(Some(e)) => Bound::Preceding(offset(e, params)?),
        WindowFrameBound::Following(Some(e)) => Bound::Following(offset(e, params)?),
    })
}

/// Evaluates a bound's offset (`which`: "starting" or "ending", for the error).
fn resolve(b: &Bound, which: &str, ctx: &EvalCtx) -> SqlResult<Resolved> {
    let offset = |e: &ScalarExpr| -> SqlResult<usize> {
        match eval_ctx(e, &[], ctx)? {
            Datum::Null => Err(SqlError::new(
                SqlState("22004"),
                format!("frame {which} offset must not be null"),
            )),
            Datum::Int(n) if n < 0 => Err(SqlError::new(
                SqlState("22013"),
                format!("frame {which} offset must not be negative"),
            )),
            Datum::Int(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => Err(SqlError::internal("frame offset is not an integer")),
        }
    };
    Ok(match b {
        Bound::UnboundedPreceding => Resolved::UnboundedPreceding,
        Bound::Preceding(e) => Resolved::Preceding(offset(e)?),
        Bound::CurrentRow => Resolved::CurrentRow,
        Bound::Following(e) => Resolved::Following(offset(e)?),
        Bound::UnboundedFollowing => Resolved::UnboundedFollowing,
    })
}

fn normalize(id: &Ident) -> String {
    crate::exec::normalize_ident(id)
}

/// The window an `OVER` clause names or describes, with named windows (`WINDOW w AS (…)`,
/// `named`) resolved: `OVER w` is `w`; `OVER (w ORDER BY …)` copies `w`'s PARTITION BY and
/// ORDER BY and may add an ORDER BY (if `w` has none) and a frame (if `w` has none), as in
/// PostgreSQL (42P20 otherwise; 42704 for an unknown window).
pub(super) fn resolve_window(
    over: &WindowType,
    named: &[NamedWindowDefinition],
) -> SqlResult<WindowSpec> {
    for (i, NamedWindowDefinition(name, _)) in named.iter().enumerate() {
        if named[..i]
            .iter()
            .any(|NamedWindowDefinition(n, _)| normalize(n) == normalize(name))
        {
            return Err(windowing(format!(
                "window \"{}\" is already defined",
                normalize(name)
            )));
        }
    }
    match over {
        WindowType::NamedWindow(name) => named_window(name, named),
        WindowType::WindowSpec(spec) => copy_window(spec, named),
    }
}

/// The definition of the named window `name`, which may itself copy an earlier one.
fn named_window(name: &Ident, named: &[NamedWindowDefinition]) -> SqlResult<WindowSpec> {
    let wanted = normalize(name);
    let Some(i) = named
        .iter()
        .position(|NamedWindowDefinition(n, _)| normalize(n) == wanted)
    else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_OBJECT,
            format!("window \"{wanted}\" does not exist"),
        ));
    };
    match &named[i].1 {
        NamedWindowExpr::WindowSpec(spec) => copy_window(spec, &named[..i]),
        NamedWindowExpr::NamedWindow(_) => Err(SqlError::new(
            SqlState::SYNTAX_ERROR,
            "syntax error: a window definition must be parenthesized",
        )),
    }
}

/// A window specification with the window it copies (`(w ORDER BY …)`) merged in.
fn copy_window(spec: &WindowSpec, named: &[NamedWindowDefinition]) -> SqlResult<WindowSpec> {
    let Some(base_name) = &spec.window_name else {
        return Ok(spec.clone());
    };
    let base = named_window(base_name, named)?;
    let name = normalize(base_name);
    if !spec.partition_by.is_empty() {
        return Err(windowing(format!(
            "cannot override PARTITION BY clause of window \"{name}\""
        )));
    }
    if !spec.order_by.is_empty() && !base.order_by.is_empty() {
        return Err(windowing(format!(
            "cannot override ORDER BY clause of window \"{name}\""
        )));
    }
    if base.window_frame.is_some() {
        return Err(windowing(format!(
            "cannot copy window \"{name}\" because it has a frame clause"
        )));
    }
    Ok(WindowSpec {
        window_name: None,
        partition_by: base.partition_by,
        order_by: if spec.order_by.is_empty() {
            base.order_by
        } else {
            spec.order_by.clone()
        },
        window_frame: spec.window_frame.clone(),
    })
}
