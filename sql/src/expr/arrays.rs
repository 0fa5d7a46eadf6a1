//! Array expressions: the `ARRAY[…]` constructor, subscripts and slices, `x op ANY/ALL
//! (array)`, the array operators (`||`, `@>`, `<@`, `&&`, comparisons) and the array
//! functions, with PostgreSQL's NULL rules.
//!
//! Compilation fixes the element type (`ARRAY[1, 2.5]` is `numeric[]`, `ARRAY['a']` is
//! `text[]`, an empty `ARRAY[]` needs a cast: 42P18) and converts operands to it, so
//! evaluation only moves [`Datum`]s. Catalog columns that PostgreSQL types as arrays
//! (`indkey`, `conkey`, `proargtypes`) are still text in tessera; calls on a text argument
//! fall through to the text-form versions in `catalog_fns.rs`.
//!
//! Elements compare as [`compare`](super::eval) compares values, and the functions that look
//! for an element (`array_position`, `array_remove`, `array_replace`) treat NULL as equal to
//! NULL (`IS NOT DISTINCT FROM`), while `ANY`, `@>` and `&&` never match a NULL — both as in
//! PostgreSQL.

use std::cmp::Ordering;

use sqlparser::ast::{BinaryOperator, Expr};
use tessera_encoding::Datum;

use super::eval::compare;
use super::{numeric_supertype, BinOp, Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{format_text, SqlType};

/// An array function or operator (evaluated by [`ArrayFunc::eval`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArrayFunc {
    /// `ARRAY[a, b, …]`: the arguments are the elements.
    Construct,
    /// `a[i]` (NULL out of range), counting from the lower bound (1, or 0 for the
    /// vector types).
    Subscript(i64),
    /// `a[lo:hi]`: arguments `a, lo, hi`, a NULL bound meaning the array's own.
    Slice,
    /// `x op ANY (a)` / `x op ALL (a)`.
    Compare {
        /// The comparison.
        op: BinOp,
        /// ALL rather than ANY.
        all: bool,
    },
    /// `a @> b` (`true`: reversed, `a <@ b`).
    Contains(bool),
    /// `a && b`.
    Overlap,
    /// `array_cat(a, b)`, `a || b`.
    Cat,
    /// `array_append(a, x)`, `a || x`.
    Append,
    /// `array_prepend(x, a)`, `x || a`.
    Prepend,
    /// `array_length(a, d)`, `array_upper(a, d)`.
    Length,
    /// `cardinality(a)`.
    Cardinality,
    /// `array_lower(a, d)`.
    Lower,
    /// `array_ndims(a)`.
    Ndims,
    /// `array_dims(a)`.
    Dims,
    /// `array_position(a, x[, start])`.
    Position,
    /// `array_positions(a, x)`.
    Positions,
    /// `array_remove(a, x)`.
    Remove,
    /// `array_replace(a, x, y)`.
    Replace,
    /// `array_to_string(a, sep[, null])`, formatting elements of the given type.
    ToString(SqlType),
    /// `string_to_array(s, sep[, null])`.
    StringToArray,
    /// `SET a[i] = v, …`: the old array, then each value and its subscripts (as many as
    /// the entry says; see `array_assign.rs`).
    Assign(Vec<usize>),
}

fn elem_type(t: &SqlType) -> Option<&SqlType> {
    t.element()
}

fn array_of(t: SqlType) -> SqlType {
    SqlType::Array(Box::new(t))
}

/// The common element type of two element types, as PostgreSQL resolves `anyelement`.
fn common_elem(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    Some(match (a, b) {
        (SqlType::Unknown, t) | (t, SqlType::Unknown) => t.clone(),
        (x, y) if x == y => x.clone(),
        (x, y) if x.is_numeric() && y.is_numeric() => numeric_supertype(x, y),
        (x, y) if x.is_string() && y.is_string() => SqlType::Text,
        _ => return None,
    })
}

impl Compiler<'_> {
    /// `ARRAY[e1, e2, …]`.
    pub(super) fn array_constructor(&mut self, elems: &[Expr]) -> SqlResult<Typed> {
        let compiled = elems
            .iter()
            .map(|e| self.compile(e))
            .collect::<SqlResult<Vec<_>>>()?;
        if compiled.is_empty() {
            return Err(SqlError::new(
                SqlState("42P18"),
                "cannot determine type of empty array",
            ));
        }
        let mut ty = SqlType::Unknown;
        for t in &compiled {
            if matches!(t.ty, SqlType::Array(_)) {
                return Err(SqlError::unsupported("multidimensional arrays"));
            }
            ty = common_elem(&ty, &t.ty).ok_or_else(|| {
                SqlError::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "ARRAY types {} and {} cannot be matched",
                        ty.name(),
                        t.ty.name()
                    ),
                )
            })?;
        }
        if ty == SqlType::Unknown {
            ty = SqlType::Text;
        }
        let mut exprs = Vec::with_capacity(compiled.len());
        for t in compiled {
            exprs.push(self.coerce(t, &ty, "ARRAY element")?.expr);
        }
        Ok(Typed {
            expr: ScalarExpr::Func(Func::Array(ArrayFunc::Construct), exprs),
            ty: array_of(ty),
        })
    }

    /// Converts `t` to an array of `elem`: an untyped literal or parameter becomes one, an
    /// array of another numeric or string element type is converted element by element.
    fn coerce_array(&mut self, t: Typed, elem: &SqlType, ctx: &str) -> SqlResult<Typed> {
        let want = array_of(elem.clone());
        match (&t.ty, t.ty.element()) {
            (SqlType::Unknown, _) => self.coerce(t, &want, ctx),
            (_, Some(e)) if e == elem => Ok(t),
            (_, Some(e)) if common_elem(e, elem).as_ref() == Some(elem) => Ok(Typed {
                expr: ScalarExpr::Cast(Box::new(t.expr), want.clone()),
                ty: want,
            }),
            (other, _) => Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "{ctx} must be type {}, not type {}",
                    want.name(),
                    other.name()
                ),
            )),
        }
    }

    /// `left op ANY (right)` or `left op ALL (right)` where `right` is an array value.
    pub(super) fn array_compare(
        &mut self,
        left: Typed,
        op: &BinaryOperator,
        right: Typed,
        all: bool,
    ) -> SqlResult<Typed> {
        let bop = super::comparison_op(op)
            .ok_or_else(|| SqlError::unsupported(format!("operator {op} with ANY/ALL")))?;
        let elem = match (&left.ty, elem_type(&right.ty)) {
            (l, Some(e)) => {
                common_elem(l, e).ok_or_else(|| super::no_operator(l, &format!("{op}"), e))?
            }
            (SqlType::Unknown, None) => SqlType::Text,
            (l, None) if right.ty == SqlType::Unknown => l.clone(),
            (_, None) => {
                return Err(SqlError::new(
                    SqlState("42809"),
                    "op ANY/ALL (array) requires array on right side",
                ))
            }
        };
        let elem = if elem == SqlType::Unknown {
            SqlType::Text
        } else {
            elem
        };
        let l = self.coerce(left, &elem, "ANY/ALL")?;
        let r = self.coerce_array(right, &elem, "ANY/ALL")?;
        Ok(Typed {
            expr: ScalarExpr::Func(
                Func::Array(ArrayFunc::Compare { op: bop, all }),
                vec![l.expr, r.expr],
            ),
            ty: SqlType::Bool,
        })
    }

    /// `a[i]` and `a[lo:hi]` on an array value.
    pub(super) fn array_subscript(
        &mut self,
        array: Typed,
        index: Option<Typed>,
        slice: Option<(Option<Typed>, Option<Typed>)>,
    ) -> SqlResult<Typed> {
        let Some(elem) = elem_type(&array.ty).cloned() else {
            return Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "cannot subscript type {} because it does not support subscripting",
                    array.ty.name()
                ),
            ));
        };
        let int = |t: Typed, c: &mut Self| c.coerce(t, &SqlType::Int4, "array subscript");
        if let Some(i) = index {
            let i = int(i, self)?;
            return Ok(Typed {
                expr: ScalarExpr::Func(
                    Func::Array(ArrayFunc::Subscript(array.ty.lower_bound())),
                    vec![array.expr, i.expr],
                ),
                ty: elem,
            });
        }
        let (lo, hi) = slice.unwrap_or((None, None));
        let bound = |b: Option<Typed>, c: &mut Self| match b {
            Some(t) => int(t, c).map(|t| t.expr),
            None => Ok(ScalarExpr::Literal(Datum::Null)),
        };
        let lo = bound(lo, self)?;
        let hi = bound(hi, self)?;
        Ok(Typed {
            expr: ScalarExpr::Func(Func::Array(ArrayFunc::Slice), vec![array.expr, lo, hi]),
            ty: array.ty,
        })
    }

    /// A binary operator with an array operand: `||`, `@>`, `<@`, `&&` and the comparisons
    /// (`None`: not an array operation, compile as usual).
    pub(super) fn array_binary(
        &mut self,
        l: &Typed,
        op: &BinaryOperator,
        r: &Typed,
    ) -> SqlResult<Option<Typed>> {
        let (le, re) = (elem_type(&l.ty), elem_type(&r.ty));
        if le.is_none() && re.is_none() {
            return Ok(None);
        }
        let (l, r) = (l.clone(), r.clone());
        let bool_op = |f: ArrayFunc, l: Typed, r: Typed| Typed {
            expr: ScalarExpr::Func(Func::Array(f), vec![l.expr, r.expr]),
            ty: SqlType::Bool,
        };
        let mismatch = || super::no_operator(&l.ty, &format!("{op}"), &r.ty);
        // The element type both sides share, when both are arrays (or one is untyped).
        let both = |c: &mut Self, l: Typed, r: Typed| -> SqlResult<(Typed, Typed, SqlType)> {
            let e = match (elem_type(&l.ty), elem_type(&r.ty)) {
                (Some(a), Some(b)) => common_elem(a, b),
                (Some(a), None) | (None, Some(a)) => Some(a.clone()),
                (None, None) => None,
            }
            .ok_or_else(|| super::no_operator(&l.ty, &format!("{op}"), &r.ty))?;
            let l = c.coerce_array(l, &e, "operand")?;
            let r = c.coerce_array(r, &e, "operand")?;
            Ok((l, r, e))
        };
        Ok(Some(match op {
            BinaryOperator::StringConcat => match (le.cloned(), re.cloned()) {
                (Some(_), Some(_)) => {
                    let (l, r, e) = both(self, l, r)?;
                    Typed {
                        expr: ScalarExpr::Func(Func::Array(ArrayFunc::Cat), vec![l.expr, r.expr]),
                        ty: array_of(e),
                    }
                }
                (Some(e), None) if r.ty == SqlType::Unknown && !is_null_literal(&r) => {
                    // `a || '{3}'`: an untyped literal beside an array is an array.
                    let r = self.coerce_array(r, &e, "operand")?;
                    Typed {
                        expr: ScalarExpr::Func(Func::Array(ArrayFunc::Cat), vec![l.expr, r.expr]),
                        ty: array_of(e),
                    }
                }
                (Some(e), None) => {
                    let r = self.coerce(r, &e, "array element")?;
                    Typed {
                        expr: ScalarExpr::Func(
                            Func::Array(ArrayFunc::Append),
                            vec![l.expr, r.expr],
                        ),
                        ty: array_of(e),
                    }
                }
                (None, Some(e)) => {
                    let l = self.coerce(l, &e, "array element")?;
                    Typed {
                        expr: ScalarExpr::Func(
                            Func::Array(ArrayFunc::Prepend),
                            vec![l.expr, r.expr],
                        ),
                        ty: array_of(e),
                    }
                }
                (None, None) => return Ok(None),
            },
            BinaryOperator::AtArrow | BinaryOperator::ArrowAt => {
                let (l, r, _) = both(self, l, r)?;
                bool_op(
                    ArrayFunc::Contains(matches!(op, BinaryOperator::ArrowAt)),
                    l,
                    r,
                )
            }
            BinaryOperator::PGOverlap => {
                let (l, r, _) = both(self, l, r)?;
                bool_op(ArrayFunc::Overlap, l, r)
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                let plain =
                    |e: Option<&SqlType>, t: &SqlType| e.is_none() && *t != SqlType::Unknown;
                if plain(le, &l.ty) || plain(re, &r.ty) {
                    return Err(mismatch());
                }
                let (l, r, _) = both(self, l, r)?;
                let bop = super::comparison_op(op).unwrap_or(BinOp::Eq);
                Typed {
                    expr: ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr)),
                    ty: SqlType::Bool,
                }
            }
            // Not an array operator (`jsonb ?| text[]`, or an error the caller reports).
            _ => return Ok(None),
        }))
    }

    /// The array functions; `None` when `name` is not one, or (for the names the catalog
    /// text forms share) when the first argument is not an array.
    pub(super) fn array_call(
        &mut self,
        name: &str,
        args: &mut Vec<Typed>,
    ) -> SqlResult<Option<Typed>> {
        let first = args.first().map(|a| a.ty.clone());
        let elem = first.as_ref().and_then(elem_type).cloned();
        let n = args.len();
        let int = SqlType::Int4;
        let call = |f: ArrayFunc, args: Vec<ScalarExpr>, ty: SqlType| Typed {
            expr: ScalarExpr::Func(Func::Array(f), args),
            ty,
        };
        let no_function = |args: &[Typed]| {
            let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
            super::undefined_function(name, &types)
        };
        if name == "string_to_array" {
            if !(2..=3).contains(&n) {
                return Err(no_function(args));
            }
            let mut out = Vec::new();
            for a in args.drain(..) {
                out.push(self.coerce(a, &SqlType::Text, name)?.expr);
            }
            return Ok(Some(call(
                ArrayFunc::StringToArray,
                out,
                array_of(SqlType::Text),
            )));
        }
        if name == "array_prepend" && n == 2 {
            let a = args.remove(1);
            let x = args.remove(0);
            let Some(e) = elem_type(&a.ty).cloned() else {
                return Err(no_function(&[x, a]));
            };
            let x = self.coerce(x, &e, name)?;
            return Ok(Some(call(
                ArrayFunc::Prepend,
                vec![x.expr, a.expr],
                array_of(e),
            )));
        }
        const ARRAY_FUNCTIONS: &[&str] = &[
            "array_length",
            "array_upper",
            "array_lower",
            "cardinality",
            "array_ndims",
            "array_dims",
            "array_position",
            "array_positions",
            "array_append",
            "array_remove",
            "array_replace",
            "array_cat",
            "array_to_string",
        ];
        if !ARRAY_FUNCTIONS.contains(&name) {
            return Ok(None);
        }
        let Some(elem) = elem else {
            // A text argument may be a catalog column's array text form.
            return match name {
                "array_to_string" | "array_upper" | "array_length" => Ok(None),
                _ => Err(no_function(args)),
            };
        };
        let a = args.remove(0);
        let array_ty = a.ty.clone();
        let mut rest = Vec::new();
        Ok(Some(match (name, n) {
            ("array_length" | "array_upper" | "array_lower", 2) => {
                let d = self.coerce(args.remove(0), &int, name)?;
                let f = if name == "array_lower" {
                    ArrayFunc::Lower
                } else {
                    ArrayFunc::Length
                };
                call(f, vec![a.expr, d.expr], int)
            }
            ("cardinality", 1) => call(ArrayFunc::Cardinality, vec![a.expr], int),
            ("array_ndims", 1) => call(ArrayFunc::Ndims, vec![a.expr], int),
            ("array_dims", 1) => call(ArrayFunc::Dims, vec![a.expr], SqlType::Text),
            ("array_position", 2 | 3) | ("array_positions", 2) => {
                rest.push(self.coerce(args.remove(0), &elem, name)?.expr);
                if let Some(start) = args.pop() {
                    rest.push(self.coerce(start, &int, name)?.expr);
                }
                rest.insert(0, a.expr);
                if name == "array_positions" {
                    call(ArrayFunc::Positions, rest, array_of(int))
                } else {
                    call(ArrayFunc::Position, rest, int)
                }
            }
            ("array_append" | "array_remove", 2) | ("array_replace", 3) => {
                rest.push(a.expr);
                for x in args.drain(..) {
                    rest.push(self.coerce(x, &elem, name)?.expr);
                }
                let f = match name {
                    "array_append" => ArrayFunc::Append,
                    "array_remove" => ArrayFunc::Remove,
                    _ => ArrayFunc::Replace,
                };
                call(f, rest, array_ty)
            }
            ("array_cat", 2) => {
                let b = args.remove(0);
                let e = elem_type(&b.ty)
                    .and_then(|b| common_elem(&elem, b))
                    .ok_or_else(|| no_function(&[a.clone(), b.clone()]))?;
                let a = self.coerce_array(a, &e, name)?;
                let b = self.coerce_array(b, &e, name)?;
                call(ArrayFunc::Cat, vec![a.expr, b.expr], array_of(e))
            }
            ("array_to_string", 2 | 3) => {
                rest.push(a.expr);
                for x in args.drain(..) {
                    rest.push(self.coerce(x, &SqlType::Text, name)?.expr);
                }
                call(ArrayFunc::ToString(elem), rest, SqlType::Text)
            }
            _ => {
                args.insert(0, a);
                return Err(no_function(args));
            }
        }))
    }
}

fn is_null_literal(t: &Typed) -> bool {
    matches!(t.expr, ScalarExpr::Literal(Datum::Null))
}

/// Whether two elements are the same for `IS NOT DISTINCT FROM` (NULL equals NULL).
fn not_distinct(a: &Datum, b: &Datum) -> bool {
    match (a, b) {
        (Datum::Null, Datum::Null) => true,
        (Datum::Null, _) | (_, Datum::Null) => false,
        _ => compare(a, b) == Ordering::Equal,
    }
}

/// Whether `x` equals some non-NULL element of `elems`.
fn has_equal(elems: &[Datum], x: &Datum) -> bool {
    *x != Datum::Null
        && elems
            .iter()
            .any(|e| *e != Datum::Null && compare(e, x) == Ordering::Equal)
}

fn int(d: &Datum) -> Option<i64> {
    match d {
        Datum::Int(i) => Some(*i),
        _ => None,
    }
}

/// A 1-based position as a datum.
fn position(i: usize) -> Datum {
    Datum::Int(i as i64 + 1)
}

impl ArrayFunc {
    /// Evaluates on argument values (NULLs included: each function has its own NULL rule).
    pub fn eval(&self, args: &[Datum]) -> SqlResult<Datum> {
        match self {
            ArrayFunc::Construct => return Ok(Datum::Array(args.to_vec())),
            ArrayFunc::Assign(shape) => return super::array_assign::assign_elements(shape, args),
            _ => {}
        }
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Datum::Null);
        let (a, b, c) = (arg(0), arg(1), arg(2));
        let elems = |d: &Datum| match d {
            Datum::Array(e) => Some(e.clone()),
            _ => None,
        };
        Ok(match self {
            ArrayFunc::Construct | ArrayFunc::Assign(_) => Datum::Null,
            ArrayFunc::Subscript(lower) => match (elems(&a), int(&b)) {
                (Some(e), Some(i)) if i >= *lower => usize::try_from(i - lower)
                    .ok()
                    .and_then(|i| e.into_iter().nth(i))
                    .unwrap_or(Datum::Null),
                _ => Datum::Null,
            },
            ArrayFunc::Slice => {
                let Some(e) = elems(&a) else {
                    return Ok(Datum::Null);
                };
                let lo = int(&b).unwrap_or(1).max(1);
                let hi = int(&c).unwrap_or(e.len() as i64).min(e.len() as i64);
                if (b != Datum::Null && int(&b).is_none()) || lo > hi {
                    return Ok(Datum::Array(Vec::new()));
                }
                Datum::Array(e[(lo - 1) as usize..hi as usize].to_vec())
            }
            ArrayFunc::Compare { op, all } => {
                let Some(e) = elems(&b) else {
                    return Ok(Datum::Null);
                };
                // ANY: true if one comparison is true, else NULL if one was NULL, else false;
                // ALL: false if one is false, else NULL if one was NULL, else true.
                let mut saw_null = false;
                for x in &e {
                    match super::eval::binary(&a, *op, x)? {
                        Datum::Bool(v) if v != *all => return Ok(Datum::Bool(v)),
                        Datum::Bool(_) => {}
                        _ => saw_null = true,
                    }
                }
                if saw_null {
                    Datum::Null
                } else {
                    Datum::Bool(*all)
                }
            }
            ArrayFunc::Contains(reversed) => match (elems(&a), elems(&b)) {
                (Some(x), Some(y)) => {
                    let (big, small) = if *reversed { (y, x) } else { (x, y) };
                    Datum::Bool(small.iter().all(|s| has_equal(&big, s)))
                }
                _ => Datum::Null,
            },
            ArrayFunc::Overlap => match (elems(&a), elems(&b)) {
                (Some(x), Some(y)) => Datum::Bool(y.iter().any(|s| has_equal(&x, s))),
                _ => Datum::Null,
            },
            ArrayFunc::Cat => match (elems(&a), elems(&b)) {
                (Some(mut x), Some(y)) => {
                    x.extend(y);
                    Datum::Array(x)
                }
                (Some(x), None) => Datum::Array(x),
                (None, Some(y)) => Datum::Array(y),
                (None, None) => Datum::Null,
            },
            ArrayFunc::Append => {
                let mut x = elems(&a).unwrap_or_default();
                x.push(b);
                Datum::Array(x)
            }
            ArrayFunc::Prepend => {
                let mut y = elems(&b).unwrap_or_default();
                y.insert(0, a);
                Datum::Array(y)
            }
            ArrayFunc::Cardinality => match elems(&a) {
                Some(e) => Datum::Int(e.len() as i64),
                None => Datum::Null,
            },
            ArrayFunc::Length | ArrayFunc::Lower => match elems(&a) {
                Some(e) if int(&b) == Some(1) && !e.is_empty() => match self {
                    ArrayFunc::Lower => Datum::Int(1),
                    _ => Datum::Int(e.len() as i64),
                },
                _ => Datum::Null,
            },
            ArrayFunc::Ndims => match elems(&a) {
                Some(e) if !e.is_empty() => Datum::Int(1),
                _ => Datum::Null,
            },
            ArrayFunc::Dims => match elems(&a) {
                Some(e) if !e.is_empty() => Datum::String(format!("[1:{}]", e.len())),
                _ => Datum::Null,
            },
            ArrayFunc::Position => {
                let Some(e) = elems(&a) else {
                    return Ok(Datum::Null);
                };
                let start = match c {
                    Datum::Null => 1,
                    d => int(&d).unwrap_or(1),
                };
                let skip = usize::try_from(start - 1).unwrap_or(0);
                e.iter()
                    .enumerate()
                    .skip(skip)
                    .find(|(_, x)| not_distinct(x, &b))
                    .map_or(Datum::Null, |(i, _)| position(i))
            }
            ArrayFunc::Positions => match elems(&a) {
                Some(e) => Datum::Array(
                    e.iter()
                        .enumerate()
                        .filter(|(_, x)| not_distinct(x, &b))
                        .map(|(i, _)| position(i))
                        .collect(),
                ),
                None => Datum::Null,
            },
            ArrayFunc::Remove => match elems(&a) {
                Some(e) => Datum::Array(e.into_iter().filter(|x| !not_distinct(x, &b)).collect()),
                None => Datum::Null,
            },
            ArrayFunc::Replace => match elems(&a) {
                Some(e) => Datum::Array(
                    e.into_iter()
                        .map(|x| if not_distinct(&x, &b) { c.clone() } else { x })
                        .collect(),
                ),
                None => Datum::Null,
            },
            ArrayFunc::ToString(elem) => match (elems(&a), &b) {
                (Some(e), Datum::String(sep)) => {
                    let null = match &c {
                        Datum::String(n) => Some(n.clone()),
                        _ => None,
                    };
                    let parts: Vec<String> = e
                        .iter()
                        .filter_map(|x| format_text(x, elem).or_else(|| null.clone()))
                        .collect();
                    Datum::String(parts.join(sep))
                }
                _ => Datum::Null,
            },
            ArrayFunc::StringToArray => {
                let Datum::String(s) = a else {
                    return Ok(Datum::Null);
                };
                let parts: Vec<String> = match &b {
                    _ if s.is_empty() => Vec::new(),
                    Datum::String(sep) if sep.is_empty() => vec![s],
                    Datum::String(sep) => s.split(sep.as_str()).map(str::to_string).collect(),
                    _ => s.chars().map(String::from).collect(),
                };
                Datum::Array(
                    parts
                        .into_iter()
                        .map(|p| match &c {
                            Datum::String(n) if *n == p => Datum::Null,
                            _ => Datum::String(p),
                        })
                        .collect(),
                )
            }
        })
    }
}
