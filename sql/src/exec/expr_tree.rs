//! Visiting and rewriting SQL expression trees (sqlparser's AST), for the planner's passes
//! that look for or replace parts of an expression before it is compiled: aggregate and
//! window calls becoming slots of the grouped row (`select.rs`), the tables a WHERE part
//! reads (`join_order.rs`), column renames (`alter.rs`), calls with side effects
//! (`effects.rs`).
//!
//! Both cover the expression forms the compiler supports; any other node is a leaf (its
//! children are neither visited nor rewritten). An aggregate call's arguments are not
//! visited by [`walk`] (they belong to the aggregate, not to the row around it).

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::aggregate::is_aggregate;

/// Visits an expression tree (the variants the compiler supports).
pub(super) fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::BinaryOp { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::Cast { expr, .. }
        | Expr::Collate { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Floor { expr, .. }
        | Expr::Extract { expr, .. } => walk(expr, f),
        Expr::Like {
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            expr,
            pattern,
            escape_char,
            ..
        } => {
            walk(expr, f);
            walk(pattern, f);
            if let Some(e) = escape_char {
                walk(e, f);
            }
        }
        Expr::Position { expr, r#in } => {
            walk(expr, f);
            walk(r#in, f);
        }
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            walk(expr, f);
            substring_from.iter().for_each(|x| walk(x, f));
            substring_for.iter().for_each(|x| walk(x, f));
        }
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            walk(expr, f);
            trim_what.iter().for_each(|x| walk(x, f));
            trim_characters.iter().flatten().for_each(|x| walk(x, f));
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        Expr::In {
            expr,
            target: sqlparser::ast::InTarget::List(list),
            ..
        } => {
            walk(expr, f);
            list.iter().for_each(|x| walk(x, f));
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.iter().for_each(|x| walk(x, f));
            for c in conditions {
                walk(&c.condition, f);
                walk(&c.result, f);
            }
            else_result.iter().for_each(|x| walk(x, f));
        }
        Expr::Function(func) if !is_aggregate(e) => {
            if let FunctionArguments::List(list) = &func.args {
                for a in &list.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        walk(x, f);
                    }
                }
            }
        }
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Expr::Array(a) => a.elem.iter().for_each(|x| walk(x, f)),
        Expr::CompoundFieldAccess { root, .. } => walk(root, f),
        _ => {}
    }
}

/// Rewrites an expression bottom-up with `f` (which may replace a node).
pub(super) fn rewrite(e: &Expr, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
    if let Some(r) = f(e) {
        return r;
    }
    let mut out = e.clone();
    match &mut out {
        Expr::BinaryOp { left, right, .. } => {
            **left = rewrite(left, f);
            **right = rewrite(right, f);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::Cast { expr, .. }
        | Expr::Collate { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Floor { expr, .. }
        | Expr::Extract { expr, .. } => **expr = rewrite(expr, f),
        Expr::Like {
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            expr,
            pattern,
            escape_char,
            ..
        } => {
            **expr = rewrite(expr, f);
            **pattern = rewrite(pattern, f);
            if let Some(e) = escape_char {
                **e = rewrite(e, f);
            }
        }
        Expr::Position { expr, r#in } => {
            **expr = rewrite(expr, f);
            **r#in = rewrite(r#in, f);
        }
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            **expr = rewrite(expr, f);
            for x in substring_from.iter_mut().chain(substring_for.iter_mut()) {
                **x = rewrite(x, f);
            }
        }
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            **expr = rewrite(expr, f);
            if let Some(x) = trim_what {
                **x = rewrite(x, f);
            }
            for x in trim_characters.iter_mut().flatten() {
                *x = rewrite(x, f);
            }
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            **expr = rewrite(expr, f);
            **low = rewrite(low, f);
            **high = rewrite(high, f);
        }
        Expr::In {
            expr,
            target: sqlparser::ast::InTarget::List(list),
            ..
        } => {
            **expr = rewrite(expr, f);
            for x in list.iter_mut() {
                *x = rewrite(x, f);
            }
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                **o = rewrite(o, f);
            }
            for c in conditions.iter_mut() {
                c.condition = rewrite(&c.condition, f);
                c.result = rewrite(&c.result, f);
            }
            if let Some(x) = else_result {
                **x = rewrite(x, f);
            }
        }
        Expr::Function(func) => {
            if let FunctionArguments::List(list) = &mut func.args {
                for a in list.args.iter_mut() {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        *x = rewrite(x, f);
                    }
                }
            }
        }
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
            **left = rewrite(left, f);
            **right = rewrite(right, f);
        }
        Expr::Array(a) => {
            for x in a.elem.iter_mut() {
                *x = rewrite(x, f);
            }
        }
        Expr::CompoundFieldAccess { root, .. } => **root = rewrite(root, f),
        _ => {}
    }
    out
}
