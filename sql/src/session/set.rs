//! `SET`, `SHOW` and `RESET`: the session statements over [`crate::settings`]. An error
//! fails an open block, as any statement's does.

use sqlparser::ast::{ContextModifier, Expr, Ident, Reset, Set};
use tessera_encoding::Datum;

use super::{Column, Output, Session};
use crate::error::SqlResult;
use crate::settings::display_name;
use crate::types::SqlType;

impl Session {
    /// `SET [SESSION | LOCAL] name {= | TO} value | DEFAULT`, `SET TIME ZONE`, `SET NAMES`.
    /// `SET TRANSACTION`, `SET SESSION CHARACTERISTICS` (every level runs as SERIALIZABLE),
    /// `SET ROLE` and `SET SESSION AUTHORIZATION` are accepted and change nothing.
    pub(super) fn set(&mut self, set: &Set) -> SqlResult<Output> {
        let in_block = self.txn.is_some();
        let res = {
            let mut settings = self.settings.lock();
            let local = |scope: &Option<ContextModifier>| *scope == Some(ContextModifier::Local);
            match set {
                Set::SingleAssignment {
                    scope,
                    variable,
                    values,
                    ..
                } => settings.set(&variable.to_string(), values, local(scope), in_block),
                Set::MultipleAssignments { assignments } => assignments.iter().try_for_each(|a| {
                    settings.set(
                        &a.name.to_string(),
                        std::slice::from_ref(&a.value),
                        local(&a.scope),
                        in_block,
                    )
                }),
                Set::SetTimeZone { local, value } => {
                    settings.set("TimeZone", std::slice::from_ref(value), *local, in_block)
                }
                Set::SetNames { charset_name, .. } => settings.set(
                    "client_encoding",
                    &[Expr::Identifier(charset_name.clone())],
                    false,
                    in_block,
                ),
                _ => Ok(()),
            }
        };
        if res.is_err() {
            self.fail_txn();
        }
        res.map(|()| Output::Command { tag: "SET".into() })
    }

    /// `SHOW name`, `SHOW ALL`.
    pub(super) fn show(&mut self, variable: &[Ident]) -> SqlResult<Output> {
        let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
        // Several words are one of the spelled-out forms, or a dotted custom name.
        let name = match words.join(" ").as_str() {
            spelled @ ("transaction isolation level" | "time zone" | "session authorization") => {
                spelled.to_string()
            }
            _ => words.join("."),
        };
        let text = |s: &str| Datum::String(s.to_string());
        if name == "all" {
            let rows = self
                .settings
                .lock()
                .all()
                .into_iter()
                .map(|(n, v, d)| vec![text(n), text(&v), text(d)])
                .collect();
            let columns = ["name", "setting", "description"]
                .into_iter()
                .map(|c| Column {
                    name: c.into(),
                    ty: SqlType::Text,
                })
                .collect();
            return Ok(Output::Rows { columns, rows });
        }
        let key = match name.as_str() {
            "transaction isolation level" => "transaction_isolation",
            "time zone" => "TimeZone",
            other => other,
        };
        let value = self.settings.lock().get(key);
        let value = value.inspect_err(|_| self.fail_txn())?;
        Ok(Output::Rows {
            columns: vec![Column {
                name: display_name(key),
                ty: SqlType::Text,
            }],
            rows: vec![vec![text(&value)]],
        })
    }

    /// `RESET name`, `RESET ALL`: back to the values the session started with.
    pub(super) fn reset(&mut self, reset: &Reset) -> SqlResult<Output> {
        let res = match reset {
            Reset::ALL => self.settings.lock().reset(None),
            Reset::ConfigurationParameter(name) => {
                self.settings.lock().reset(Some(&name.to_string()))
            }
            Reset::SessionAuthorization => Ok(()),
        };
        if res.is_err() {
            self.fail_txn();
        }
        res.map(|()| Output::Command {
            tag: "RESET".into(),
        })
    }
}
