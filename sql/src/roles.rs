//! Roles and their passwords: `CREATE ROLE/USER … [PASSWORD 'p']`, `ALTER ROLE … PASSWORD`,
//! `DROP ROLE/USER`, and the SCRAM-SHA-256 verifiers that secure mode checks a login
//! against (`pgwire/auth.rs`).
//!
//! A role is a system key holding PostgreSQL's verifier text, or nothing for a role without
//! a password:
//!
//! ```text
//!   0x01 'r' enc(role) → "SCRAM-SHA-256$4096:<salt>:<StoredKey>:<ServerKey>" (base64 parts)
//! ```
//!
//! The password itself is never stored: the verifier is what PostgreSQL keeps in
//! `pg_authid.rolpassword`, from which a server can check a SCRAM proof but not recover the
//! password. `root` exists without a key until it is given a password.
//!
//! HAZARD: the verifier format is on disk; a change needs a new prefix, never an edit.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramSecret};
use sqlparser::ast::{Expr, ObjectName, Password, RoleOption, Statement, Value};

use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;
use crate::session::Output;
use crate::txn::SqlTxn;

/// SCRAM-SHA-256 iterations, PostgreSQL's default.
pub const SCRAM_ITERATIONS: usize = 4096;

/// The built-in superuser.
pub const ROOT: &str = "root";

/// PostgreSQL's SCRAM-SHA-256 verifier text of a password, with a fresh random salt.
pub fn scram_verifier(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    let salted = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
    match ScramSecret::verifier_from_salted_password(salt.to_vec(), salted, SCRAM_ITERATIONS) {
        ScramSecret::Verifier {
            salt,
            iterations,
            stored_key,
            server_key,
        } => format!(
            "SCRAM-SHA-256${iterations}:{}:{}:{}",
            STANDARD.encode(salt),
            STANDARD.encode(stored_key),
            STANDARD.encode(server_key)
        ),
        ScramSecret::SaltedPassword { .. } => String::new(),
    }
}

/// The SCRAM secret of a verifier text (`None` when it is not one).
pub fn parse_verifier(text: &str) -> Option<ScramSecret> {
    let rest = text.strip_prefix("SCRAM-SHA-256$")?;
    let (iterations, keys) = rest.split_once(':')?;
    let mut parts = keys.split(':');
    let mut next = || parts.next().and_then(|p| STANDARD.decode(p).ok());
    Some(ScramSecret::Verifier {
        iterations: iterations.parse().ok()?,
        salt: next()?,
        stored_key: next()?,
        server_key: next()?,
    })
}

/// A role's password verifier: `None` if the role does not exist, `Some(None)` if it has no
/// password.
pub async fn verifier(txn: &mut SqlTxn, name: &str) -> SqlResult<Option<Option<String>>> {
    match txn.get(rowcodec::role_key(name)).await? {
        Some(raw) if raw.is_empty() => Ok(Some(None)),
        Some(raw) => Ok(Some(Some(String::from_utf8_lossy(&raw).into_owned()))),
        None if name == ROOT => Ok(Some(None)),
        None => Ok(None),
    }
}

/// Every role but `root`, in name order.
pub async fn list(txn: &mut SqlTxn) -> SqlResult<Vec<String>> {
    let prefix = rowcodec::role_prefix();
    let end = tessera_api::keys::prefix_end(&prefix);
    let rows = txn
        .scan(tessera_api::keys::Span::range(prefix.clone(), end), 0)
        .await?;
    let mut out = Vec::new();
    for kv in rows {
        let mut rest = kv.key.get(prefix.len()..).unwrap_or_default();
        let name =
            tessera_encoding::key::decode_bytes(&mut rest, tessera_encoding::Direction::Ascending)
                .map_err(|e| SqlError::new(SqlState::DATA_CORRUPTED, e.to_string()))?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if name != ROOT {
            out.push(name);
        }
    }
    Ok(out)
}

fn role_name(name: &ObjectName) -> SqlResult<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(crate::exec::normalize_ident)
            .ok_or_else(|| SqlError::new(SqlState::SYNTAX_ERROR, format!("role name {name}"))),
        _ => Err(SqlError::new(
            SqlState::SYNTAX_ERROR,
            format!("role name {name} must not be qualified"),
        )),
    }
}

/// The stored form of a PASSWORD clause: a verifier, or empty for `PASSWORD NULL`.
fn password_value(p: &Password) -> SqlResult<Vec<u8>> {
    match p {
        Password::NullPassword => Ok(Vec::new()),
        Password::Password(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) if !s.is_empty() => {
                Ok(scram_verifier(s).into_bytes())
            }
            Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_) => Ok(Vec::new()),
            Value::Null => Ok(Vec::new()),
            _ => Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                "a password must be a string literal",
            )),
        },
        Password::Password(_) => Err(SqlError::unsupported("a computed password")),
    }
}

fn role_exists_error(name: &str) -> SqlError {
    SqlError::new(SqlState("42710"), format!("role \"{name}\" already exists"))
}

fn no_role(name: &str) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("role \"{name}\" does not exist"),
    )
}

/// Runs CREATE ROLE/USER, ALTER ROLE/USER and DROP ROLE/USER.
pub async fn execute(txn: &mut SqlTxn, stmt: &Statement) -> SqlResult<Output> {
    match stmt {
        Statement::CreateRole(c) => {
            let value = c.password.as_ref().map(password_value).transpose()?;
            for name in &c.names {
                let name = role_name(name)?;
                if verifier(txn, &name).await?.is_some() {
                    if c.if_not_exists {
                        continue;
                    }
                    return Err(role_exists_error(&name));
                }
                txn.put(rowcodec::role_key(&name), value.clone().unwrap_or_default())
                    .await?;
            }
            Ok(Output::Command {
                tag: "CREATE ROLE".into(),
            })
        }
        Statement::AlterRole { name, operation } => {
            let name = crate::exec::normalize_ident(name);
            if verifier(txn, &name).await?.is_none() {
                return Err(no_role(&name));
            }
            let sqlparser::ast::AlterRoleOperation::WithOptions { options } = operation else {
                return Err(SqlError::unsupported(format!("ALTER ROLE {operation}")));
            };
            for option in options {
                match option {
                    RoleOption::Password(p) => {
                        txn.put(rowcodec::role_key(&name), password_value(p)?)
                            .await?;
                    }
                    // Role attributes other than the password are accepted and not kept:
                    // every role may log in and do anything (no privileges yet).
                    RoleOption::Login(_)
                    | RoleOption::SuperUser(_)
                    | RoleOption::CreateDB(_)
                    | RoleOption::CreateRole(_)
                    | RoleOption::Inherit(_) => {}
                    other => return Err(SqlError::unsupported(format!("ALTER ROLE {other}"))),
                }
            }
            Ok(Output::Command {
                tag: "ALTER ROLE".into(),
            })
        }
        Statement::Drop {
            names, if_exists, ..
        } => {
            for name in names {
                let name = role_name(name)?;
                if name == ROOT {
                    return Err(SqlError::new(
                        SqlState("42501"),
                        "cannot drop role root: it is the built-in superuser",
                    ));
                }
                if verifier(txn, &name).await?.is_none() {
                    if *if_exists {
                        continue;
                    }
                    return Err(no_role(&name));
                }
                txn.delete(rowcodec::role_key(&name)).await?;
            }
            Ok(Output::Command {
                tag: "DROP ROLE".into(),
            })
        }
        _ => Err(SqlError::internal("not a role statement")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_round_trip_and_differ_by_salt() {
        let a = scram_verifier("secret");
        let b = scram_verifier("secret");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(a.starts_with("SCRAM-SHA-256$4096:"), "{a}");
        match parse_verifier(&a) {
            Some(ScramSecret::Verifier {
                iterations, salt, ..
            }) => {
                assert_eq!(iterations, SCRAM_ITERATIONS);
                assert_eq!(salt.len(), 16);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_verifier("md5abc").is_none());
        assert!(parse_verifier("SCRAM-SHA-256$x:a:b:c").is_none());
    }
}
