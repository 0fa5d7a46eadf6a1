//! Session settings (PostgreSQL's run-time parameters): `SET`, `SET LOCAL`, `RESET`, `SHOW`,
//! `current_setting`, `set_config` and `pg_settings`.
//!
//! Every session has its own [`Settings`]: the defaults below, overridden by the startup
//! packet (`application_name`) and by `SET`. As in PostgreSQL, settings are transactional:
//!
//! ```text
//!   SET x = v       session value and effective value; undone if the block rolls back
//!   SET LOCAL x = v effective value only, until the block ends (outside a block: no effect)
//!   RESET x         back to the value the session started with
//!   COMMIT          the session values stay, LOCAL values end
//!   ROLLBACK        back to the values at BEGIN; ROLLBACK TO SAVEPOINT: at the savepoint
//! ```
//!
//! Which settings change behaviour: `statement_timeout` cancels a statement that runs longer
//! (57014); the rest are kept and shown (`search_path` is shown but names still resolve in
//! `public`; `TimeZone` is shown but timestamps are read and written in UTC). Read-only
//! parameters refuse `SET` (55P02); a name PostgreSQL does not know is 42704, except
//! two-part names (`myapp.key`), which PostgreSQL accepts as custom parameters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sqlparser::ast::Expr;

use crate::error::{SqlError, SqlResult, SqlState};

/// A session's settings, shared with the statements it runs (`current_setting` reads them,
/// `set_config` changes them).
pub type SharedSettings = Arc<parking_lot::Mutex<Settings>>;

/// A parameter tessera knows: its canonical name, default value, whether `SET` may change
/// it, and its description.
struct Param {
    name: &'static str,
    default: &'static str,
    settable: bool,
    description: &'static str,
}

const fn p(name: &'static str, default: &'static str, description: &'static str) -> Param {
    Param {
        name,
        default,
        settable: true,
        description,
    }
}

const fn read_only(name: &'static str, default: &'static str, description: &'static str) -> Param {
    Param {
        name,
        default,
        settable: false,
        description,
    }
}

/// The parameters `SHOW ALL` and `pg_settings` list, in name order (case-insensitive).
const PARAMS: &[Param] = &[
    p("application_name", "", "Sets the application name to be reported in statistics and logs."),
    p("bytea_output", "hex", "Sets the output format for bytea."),
    p("client_encoding", "UTF8", "Sets the client's character set encoding."),
    p("client_min_messages", "notice", "Sets the message levels that are sent to the client."),
    p("DateStyle", "ISO, MDY", "Sets the display format for date and time values."),
    p("default_table_access_method", "heap", "Sets the default table access method for new tables."),
    p("default_transaction_isolation", "serializable", "Sets the transaction isolation level of each new transaction."),
    p("default_transaction_read_only", "off", "Sets the default read-only status of new transactions."),
    p("extra_float_digits", "1", "Sets the number of digits displayed for floating-point values."),
    p("idle_in_transaction_session_timeout", "0", "Sets the maximum allowed idle time between queries, when in a transaction."),
    read_only("integer_datetimes", "on", "Shows whether datetimes are integer based."),
    p("IntervalStyle", "postgres", "Sets the display format for interval values."),
    read_only("is_superuser", "on", "Shows whether the current user is a superuser."),
    p("lock_timeout", "0", "Sets the maximum allowed duration of any wait for a lock."),
    read_only("max_identifier_length", "63", "Shows the maximum identifier length."),
    p("search_path", "\"$user\", public", "Sets the schema search order for names that are not schema-qualified."),
    read_only("server_encoding", "UTF8", "Shows the server (database) character set encoding."),
    read_only("server_version", "15.0.0", "Shows the server version."),
    read_only("server_version_num", "150000", "Shows the server version as an integer."),
    p("standard_conforming_strings", "on", "Causes '...' strings to treat backslashes literally."),
    p("statement_timeout", "0", "Sets the maximum allowed duration of any statement."),
    p("synchronous_commit", "on", "Sets the current transaction's synchronization level."),
    p("TimeZone", "UTC", "Sets the time zone for displaying and interpreting time stamps."),
    p("transaction_isolation", "serializable", "Sets the current transaction's isolation level."),
    p("transaction_read_only", "off", "Sets the current transaction's read-only status."),
    p("xmloption", "content", "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments."),
];

/// Parameters PostgreSQL has that tessera accepts and shows but that change nothing here
/// (planner and server tuning that clients and tools set out of habit).
const ACCEPTED: &[&str] = &[
    "array_nulls",
    "backslash_quote",
    "check_function_bodies",
    "constraint_exclusion",
    "cursor_tuple_fraction",
    "default_statistics_target",
    "effective_cache_size",
    "escape_string_warning",
    "from_collapse_limit",
    "geqo",
    "idle_session_timeout",
    "jit",
    "join_collapse_limit",
    "lc_messages",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "log_min_duration_statement",
    "log_statement",
    "maintenance_work_mem",
    "max_parallel_workers_per_gather",
    "plan_cache_mode",
    "quote_all_identifiers",
    "random_page_cost",
    "row_security",
    "seq_page_cost",
    "session_replication_role",
    "temp_buffers",
    "work_mem",
];

/// The parameter `name` (case-insensitive), if tessera lists it.
fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The name `SHOW` labels its column with: the canonical spelling of a listed parameter
/// (`DateStyle`), else the name as given, lower-cased.
pub fn display_name(name: &str) -> String {
    param(name).map_or_else(|| name.to_lowercase(), |p| p.name.to_string())
}

/// The settings of one session (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Values the session started with (the startup packet), by lower-cased name.
    startup: BTreeMap<String, String>,
    /// Values `SET` gave this session, by lower-cased name.
    session: BTreeMap<String, String>,
    /// Values `SET LOCAL` gave the open transaction block.
    local: BTreeMap<String, String>,
}

/// What the block must restore: the session values at BEGIN (or at a savepoint).
#[derive(Clone, Debug)]
pub struct SettingsMark(BTreeMap<String, String>, BTreeMap<String, String>);

impl Settings {
    /// Settings with `application_name` from the startup packet.
    pub fn new(application_name: &str) -> Self {
        let mut startup = BTreeMap::new();
        startup.insert("application_name".into(), application_name.to_string());
        Settings {
            startup,
            ..Settings::default()
        }
    }

    /// The current value of `name`, or 42704 for a parameter with none.
    pub fn get(&self, name: &str) -> SqlResult<String> {
        let key = name.to_lowercase();
        if let Some(v) = [&self.local, &self.session, &self.startup]
            .into_iter()
            .find_map(|m| m.get(&key))
        {
            return Ok(v.clone());
        }
        match param(&key) {
            Some(p) => Ok(p.default.to_string()),
            None if ACCEPTED.contains(&key.as_str()) => Ok(String::new()),
            None => Err(unrecognized(name)),
        }
    }

    /// Every listed parameter with its current value and description (`SHOW ALL`,
    /// `pg_settings`).
    pub fn all(&self) -> Vec<(&'static str, String, &'static str)> {
        PARAMS
            .iter()
            .map(|p| {
                let value = self.get(p.name).unwrap_or_else(|_| p.default.to_string());
                (p.name, value, p.description)
            })
            .collect()
    }

    /// `SET [LOCAL] name = values` (`values` empty: `TO DEFAULT`). `in_block` says whether a
    /// transaction block is open: `SET LOCAL` outside one has no effect.
    pub fn set(
        &mut self,
        name: &str,
        values: &[Expr],
        local: bool,
        in_block: bool,
    ) -> SqlResult<()> {
        let key = name.to_lowercase();
        let known = param(&key);
        match known {
            Some(p) if !p.settable => {
                return Err(SqlError::new(
                    SqlState("55P02"),
                    format!("parameter \"{key}\" cannot be changed"),
                ))
            }
            Some(_) => {}
            None if key.contains('.') || ACCEPTED.contains(&key.as_str()) => {}
            None => return Err(unrecognized(name)),
        }
        let default = values.len() == 1 && is_default(&values[0]);
        let value = if values.is_empty() || default {
            None
        } else {
            Some(normalize(&key, &render(values))?)
        };
        if local && !in_block {
            return Ok(());
        }
        let target = if local {
            &mut self.local
        } else {
            self.local.remove(&key);
            &mut self.session
        };
        match value {
            Some(v) => target.insert(key, v),
            None => target.remove(&key),
        };
        Ok(())
    }

    /// `set_config(name, value, is_local)`: `SET` with a text value; returns the new value.
    pub fn set_text(
        &mut self,
        name: &str,
        value: &str,
        local: bool,
        in_block: bool,
    ) -> SqlResult<String> {
        let expr = Expr::value(sqlparser::ast::Value::SingleQuotedString(value.to_string()));
        self.set(name, &[expr], local, in_block)?;
        self.get(name)
    }

    /// `RESET name` / `RESET ALL`: back to the values the session started with.
    pub fn reset(&mut self, name: Option<&str>) -> SqlResult<()> {
        match name {
            None => {
                self.session.clear();
                self.local.clear();
            }
            Some(name) => {
                self.set(name, &[], false, false)?;
            }
        }
        Ok(())
    }

    /// The session values now, to restore at a rollback.
    pub fn mark(&self) -> SettingsMark {
        SettingsMark(self.session.clone(), self.local.clone())
    }

    /// Restores the values of `mark` (ROLLBACK, ROLLBACK TO SAVEPOINT).
    pub fn restore(&mut self, mark: SettingsMark) {
        self.session = mark.0;
        self.local = mark.1;
    }

    /// The block ended (COMMIT or ROLLBACK after `restore`): `SET LOCAL` values end.
    pub fn end_block(&mut self) {
        self.local.clear();
    }

    /// `statement_timeout`, if one is set (0 means none). Read before every statement, so
    /// it looks the value up without allocating; unset, it is the default 0.
    pub fn statement_timeout(&self) -> Option<Duration> {
        const KEY: &str = "statement_timeout";
        let v = [&self.local, &self.session, &self.startup]
            .into_iter()
            .find_map(|m| m.get(KEY))?;
        let ms = parse_duration_ms(v)?;
        (ms > 0).then(|| Duration::from_millis(ms))
    }
}

fn unrecognized(name: &str) -> SqlError {
    SqlError::new(
        SqlState("42704"),
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

/// Whether `e` is the `DEFAULT` keyword (sqlparser reads it as an identifier where an
/// expression may stand: `SET x = DEFAULT`, `VALUES (DEFAULT)`, `UPDATE … SET c = DEFAULT`).
pub(crate) fn is_default(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

/// A `SET` value list as PostgreSQL shows it: string literals unquoted, unquoted identifiers
/// lower-cased, quoted ones kept in quotes, items joined by `, `.
fn render(values: &[Expr]) -> String {
    values
        .iter()
        .map(|e| match e {
            Expr::Value(v) => match &v.value {
                sqlparser::ast::Value::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(i) if i.quote_style.is_none() => i.value.to_lowercase(),
            Expr::Identifier(i) => format!("\"{}\"", i.value),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a value of the duration parameters (milliseconds, or a number with a unit) and
/// renders it as PostgreSQL does (`5000` → `5s`); other values pass unchanged.
fn normalize(name: &str, value: &str) -> SqlResult<String> {
    let invalid = || {
        SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"{name}\": \"{value}\""),
        )
    };
    if name.ends_with("transaction_isolation") {
        // Every level runs as SERIALIZABLE (the strongest), so that is what SHOW says.
        const LEVELS: [&str; 4] = [
            "serializable",
            "repeatable read",
            "read committed",
            "read uncommitted",
        ];
        if !LEVELS.contains(&value.to_lowercase().as_str()) {
            return Err(invalid());
        }
        return Ok("serializable".into());
    }
    if name == "client_encoding" {
        // Text is UTF-8 end to end; there is no conversion to another encoding.
        return match value.to_uppercase().replace('-', "").as_str() {
            "UTF8" | "UNICODE" => Ok("UTF8".into()),
            _ => Err(SqlError::unsupported(format!("client_encoding {value}"))),
        };
    }
    if !name.ends_with("_timeout") {
        return Ok(value.to_string());
    }
    let ms = parse_duration_ms(value).ok_or_else(invalid)?;
    Ok(render_ms(ms))
}

/// Milliseconds from `N` or `N unit` (ms, s, min, h, d).
fn parse_duration_ms(value: &str) -> Option<u64> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

fn render_ms(ms: u64) -> String {
    if ms == 0 {
        return "0".into();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1_000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_render_as_postgresql() {
        assert_eq!(parse_duration_ms("5000"), Some(5000));
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("1 min"), Some(60_000));
        assert_eq!(parse_duration_ms("abc"), None);
        assert_eq!(parse_duration_ms("5 parsecs"), None);
        assert_eq!(render_ms(5000), "5s");
        assert_eq!(render_ms(100), "100ms");
        assert_eq!(render_ms(120_000), "2min");
        assert_eq!(render_ms(0), "0");
    }

    #[test]
    fn local_values_end_with_the_block_and_rollback_restores() {
        let five = Expr::value(sqlparser::ast::Value::Number("5000".into(), false));
        let mut s = Settings::new("app");
        let mark = s.mark();
        s.set(
            "statement_timeout",
            std::slice::from_ref(&five),
            false,
            true,
        )
        .expect("set");
        assert_eq!(s.get("statement_timeout").expect("get"), "5s");
        s.restore(mark);
        s.end_block();
        assert_eq!(s.get("statement_timeout").expect("get"), "0");
        s.set("statement_timeout", std::slice::from_ref(&five), true, true)
            .expect("set local");
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(5)));
        s.end_block();
        assert_eq!(s.statement_timeout(), None);
        assert_eq!(s.get("application_name").expect("get"), "app");
        assert!(s.set("server_version", &[five], false, false).is_err());
        assert!(s.get("nosuch").is_err());
    }
}
