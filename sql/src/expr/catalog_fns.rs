//! The functions, casts and operators clients use on the catalog: `version()`,
//! `current_database()`, `pg_get_indexdef(oid)`, `'t'::regclass`, `x ~ 'pattern'`,
//! `= ANY(array)`…
//!
//! Session functions (`current_user`, `current_database()`, `pg_backend_pid()`) become
//! constants when the statement is planned, from the statement's catalog snapshot
//! (`crate::pg_catalog`). Functions of an OID (`pg_get_indexdef`, `pg_get_userbyid`,
//! `x::regclass` on a column) compile to a [`Lookup`]: a table from the text of the
//! argument to the result, built from the same snapshot, so they cost a hash probe per row.
//!
//! tessera has no array type: catalog array columns and `ARRAY(SELECT …)` hold
//! PostgreSQL's array text form (`{a,b}`), which `array_to_string`, `= ANY`, subscripts and
//! `array_upper` parse.

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::{ArrayElemTypeDef, DataType, Expr, ObjectName};
use tessera_encoding::Datum;

use super::{Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::pg_catalog::{self as pgc, Snapshot};
use crate::types::{format_text, SqlType};

/// A function of the catalog layer (evaluated in [`CatalogFunc::eval`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogFunc {
    /// A lookup of the argument's text in a table built from the snapshot.
    Lookup(LookupRef),
    /// `format_type(oid, typmod)`.
    FormatType,
    /// `text ~ pattern` (`~*` when case-insensitive).
    Regex {
        /// `~*`.
        insensitive: bool,
    },
    /// `array_to_string(array, separator)`.
    ArrayToString,
    /// `x = ANY(array)`, comparing text forms.
    AnyEq,
    /// `array[i]` (1-based).
    ArrayElem,
    /// `array_upper(array, 1)`, `array_length(array, 1)`.
    ArrayUpper,
    /// `to_regtype(name)`: the OID of a type name as `regtype` input takes it, or NULL.
    ToRegtype,
}

/// A lookup table: text of the key → value; keys it lacks give `miss`, or with
/// `unknown_oid` the text `unknown (OID=n)` (`pg_get_userbyid`), or with `echo` the key
/// itself (a `regclass` of an OID that names nothing prints the number).
#[derive(Debug)]
pub struct Lookup {
    map: HashMap<String, Datum>,
    miss: Datum,
    unknown_oid: bool,
    echo: bool,
}

/// A shared [`Lookup`], equal only to itself.
#[derive(Clone, Debug)]
pub struct LookupRef(Arc<Lookup>);

impl PartialEq for LookupRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LookupRef {}

fn key_text(d: &Datum) -> Option<String> {
    match d {
        Datum::Null => None,
        Datum::String(s) => Some(s.clone()),
        Datum::Int(i) => Some(i.to_string()),
        other => format_text(other, &SqlType::Text),
    }
}

/// Parses PostgreSQL's array text form (`{a,"b c",NULL}`) into its elements.
pub fn parse_array(text: &str) -> Vec<Option<String>> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or("");
    let mut out = Vec::new();
    if inner.is_empty() {
        return out;
    }
    let mut cur = String::new();
    let (mut quoted, mut was_quoted, mut chars) = (false, false, inner.chars());
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '\\' if quoted => cur.extend(chars.next()),
            ',' if !quoted => {
                out.push(element(std::mem::take(&mut cur), was_quoted));
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    out.push(element(cur, was_quoted));
    out
}

fn element(s: String, quoted: bool) -> Option<String> {
    if !quoted && s.eq_ignore_ascii_case("NULL") {
        None
    } else {
        Some(s)
    }
}

/// PostgreSQL's array text form of elements.
pub fn format_array(elems: &[Option<String>]) -> String {
    let parts: Vec<String> = elems
        .iter()
        .map(|e| match e {
            None => "NULL".into(),
            Some(s)
                if s.is_empty()
                    || s.eq_ignore_ascii_case("NULL")
                    || s.chars().any(|c| "{},\"\\ \t\n".contains(c)) =>
            {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
            Some(s) => s.clone(),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

impl CatalogFunc {
    /// Evaluates on argument values (NULLs included: these functions handle them).
    pub fn eval(&self, args: &[Datum]) -> SqlResult<Datum> {
        let arg = |n: usize| args.get(n).cloned().unwrap_or(Datum::Null);
        Ok(match self {
            CatalogFunc::Lookup(l) => {
                let Some(k) = key_text(&arg(0)) else {
                    return Ok(Datum::Null);
                };
                match l.0.map.get(&k) {
                    Some(v) => v.clone(),
                    None if l.0.unknown_oid => Datum::String(format!("unknown (OID={k})")),
                    None if l.0.echo => Datum::String(k),
                    None => l.0.miss.clone(),
                }
            }
            CatalogFunc::FormatType => match arg(0) {
                Datum::Int(oid) => {
                    let typmod = match arg(1) {
                        Datum::Int(m) => Some(m),
                        _ => None,
                    };
                    Datum::String(
                        crate::pg_catalog::format_type(oid, typmod).unwrap_or_else(|| "???".into()),
                    )
                }
                _ => Datum::Null,
            },
            CatalogFunc::Regex { insensitive } => match (arg(0), arg(1)) {
                (Datum::String(s), Datum::String(p)) => {
                    let re = regex::RegexBuilder::new(&p)
                        .case_insensitive(*insensitive)
                        .build()
                        .map_err(|e| {
                            SqlError::new(
                                SqlState("2201B"),
                                format!("invalid regular expression: {e}"),
                            )
                        })?;
                    Datum::Bool(re.is_match(&s))
                }
                _ => Datum::Null,
            },
            CatalogFunc::ArrayToString => match (arg(0), arg(1)) {
                (Datum::String(a), Datum::String(sep)) => {
                    let null = match arg(2) {
                        Datum::String(n) => Some(n),
                        _ => None,
                    };
                    let parts: Vec<String> = parse_array(&a)
                        .into_iter()
                        .filter_map(|e| e.or_else(|| null.clone()))
                        .collect();
                    Datum::String(parts.join(&sep))
                }
                _ => Datum::Null,
            },
            CatalogFunc::AnyEq => match (key_text(&arg(0)), arg(1)) {
                (Some(x), Datum::String(a)) => {
                    let elems = parse_array(&a);
                    if elems.iter().any(|e| e.as_deref() == Some(x.as_str())) {
                        Datum::Bool(true)
                    } else if elems.iter().any(Option::is_none) {
                        Datum::Null
                    } else {
                        Datum::Bool(false)
                    }
                }
                _ => Datum::Null,
            },
            CatalogFunc::ArrayElem => match (arg(0), arg(1)) {
                (Datum::String(a), Datum::Int(i)) if i >= 1 => parse_array(&a)
                    .get(i as usize - 1)
                    .cloned()
                    .flatten()
                    .map_or(Datum::Null, Datum::String),
                _ => Datum::Null,
            },
            CatalogFunc::ToRegtype => match arg(0) {
                Datum::String(name) => type_oid(&name).map_or(Datum::Null, Datum::Int),
                _ => Datum::Null,
            },
            CatalogFunc::ArrayUpper => match (arg(0), arg(1)) {
                (Datum::String(a), Datum::Int(1)) => match parse_array(&a).len() {
                    0 => Datum::Null,
                    n => Datum::Int(n as i64),
                },
                _ => Datum::Null,
            },
        })
    }
}

fn lookup(map: HashMap<String, Datum>, miss: Datum) -> Func {
    Func::Catalog(CatalogFunc::Lookup(LookupRef(Arc::new(Lookup {
        map,
        miss,
        unknown_oid: false,
        echo: false,
    }))))
}

fn text(v: impl Into<String>) -> Typed {
    Typed {
        expr: ScalarExpr::Literal(Datum::String(v.into())),
        ty: SqlType::Text,
    }
}

fn boolean(v: bool) -> Typed {
    Typed {
        expr: ScalarExpr::Literal(Datum::Bool(v)),
        ty: SqlType::Bool,
    }
}

fn null(ty: SqlType) -> Typed {
    Typed {
        expr: ScalarExpr::Literal(Datum::Null),
        ty,
    }
}

/// The snapshot of the statement being planned; 0A000 without one (a statement planned
/// outside `plan_query`).
fn snapshot() -> SqlResult<Arc<Snapshot>> {
    pgc::current().ok_or_else(|| SqlError::unsupported("catalog functions in this statement"))
}

/// Every relation OID with its `regclass` text.
fn relation_names(snap: &Snapshot) -> HashMap<String, Datum> {
    let mut m = HashMap::new();
    for t in &snap.tables {
        m.insert(
            pgc::object_oid(t.id).to_string(),
            Datum::String(pgc::relation_name(&t.schema, &t.name)),
        );
        for x in pgc::indexes(t) {
            m.insert(
                x.oid.to_string(),
                Datum::String(pgc::relation_name(&t.schema, &x.name)),
            );
        }
    }
    for (schema, q) in &snap.sequences {
        m.insert(
            pgc::object_oid(q.id).to_string(),
            Datum::String(pgc::relation_name(schema, &q.name)),
        );
    }
    for (schema, name) in pgc::catalog_relation_names() {
        m.insert(
            pgc::catalog_relation_oid(schema, name).to_string(),
            Datum::String(pgc::relation_name(schema, name)),
        );
    }
    m
}

/// Every relation name (`t`, `public.t`, `"T"`) with its OID, for `'t'::regclass`.
fn relation_oids(snap: &Snapshot) -> HashMap<String, Datum> {
    let mut m = HashMap::new();
    let mut add = |schema: &str, name: &str, oid: i64| {
        m.insert(format!("{schema}.{name}"), Datum::Int(oid));
        if schema == "public" || schema == "pg_catalog" {
            m.entry(name.to_string()).or_insert(Datum::Int(oid));
        }
    };
    for t in &snap.tables {
        add(&t.schema, &t.name, pgc::object_oid(t.id));
        for x in pgc::indexes(t) {
            add(&t.schema, &x.name, x.oid);
        }
    }
    for (schema, q) in &snap.sequences {
        add(schema, &q.name, pgc::object_oid(q.id));
    }
    for (schema, name) in pgc::catalog_relation_names() {
        add(schema, name, pgc::catalog_relation_oid(schema, name));
    }
    m
}

/// Relation OID → whether an unqualified name finds it (`pg_table_is_visible`). Names
/// resolve in `pg_catalog`, then `public` (tessera's search path, whatever `search_path`
/// shows), so a relation is visible when it is in `pg_catalog`, or in `public` with no
/// `pg_catalog` relation of its name. Other schemas' relations are not visible.
fn relation_visibility(snap: &Snapshot) -> HashMap<String, Datum> {
    let catalog_names: std::collections::HashSet<&str> = pgc::catalog_relation_names()
        .filter(|(schema, _)| *schema == "pg_catalog")
        .map(|(_, name)| name)
        .collect();
    let visible = |schema: &str, name: &str| {
        Datum::Bool(schema == "pg_catalog" || (schema == "public" && !catalog_names.contains(name)))
    };
    let mut m = HashMap::new();
    for t in &snap.tables {
        m.insert(
            pgc::object_oid(t.id).to_string(),
            visible(&t.schema, &t.name),
        );
        for x in pgc::indexes(t) {
            m.insert(x.oid.to_string(), visible(&t.schema, &x.name));
        }
    }
    for (schema, q) in &snap.sequences {
        m.insert(pgc::object_oid(q.id).to_string(), visible(schema, &q.name));
    }
    for (schema, name) in pgc::catalog_relation_names() {
        let oid = pgc::catalog_relation_oid(schema, name);
        m.insert(oid.to_string(), visible(schema, name));
    }
    m
}

/// Normalizes a relation name as regclass input does: unquoted parts fold to lower case.
fn normalize_relname(input: &str) -> String {
    input
        .split('.')
        .map(
            |p| match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(q) => q.to_string(),
                None => p.to_lowercase(),
            },
        )
        .collect::<Vec<_>>()
        .join(".")
}

/// A type name as regtype input takes it → its OID.
fn type_oid(name: &str) -> Option<i64> {
    let n = name.trim().to_lowercase();
    let n = n.strip_prefix("pg_catalog.").unwrap_or(&n);
    let alias = match n {
        "integer" | "int" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "boolean" => "bool",
        "real" => "float4",
        "double precision" => "float8",
        "character varying" => "varchar",
        "character" => "bpchar",
        "timestamp without time zone" | "timestamp" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" => "time",
        "decimal" => "numeric",
        other => other,
    };
    pgc::type_oid_by_name(alias)
}

/// The last part of a type name (`pg_catalog.regclass` → `regclass`).
fn type_name(ty: &DataType) -> Option<String> {
    match ty {
        DataType::Regclass => Some("regclass".into()),
        DataType::Text => Some("text".into()),
        DataType::Custom(ObjectName(parts), _) => parts
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_lowercase()),
        _ => None,
    }
}

fn is_text_type(ty: &DataType) -> bool {
    matches!(type_name(ty).as_deref(), Some("text" | "name" | "varchar"))
}

/// The reg type a cast names, if it is one.
fn reg_kind(ty: &DataType) -> Option<&'static str> {
    match type_name(ty)?.as_str() {
        "regclass" => Some("regclass"),
        "regtype" => Some("regtype"),
        "regnamespace" => Some("regnamespace"),
        _ => None,
    }
}

impl Compiler<'_> {
    /// Compiles a cast to a catalog type (`regclass`, `regtype`, `regnamespace`, `oid`,
    /// `name`, `"char"`, an array type, a `pg_catalog.`-qualified type); `None` for the
    /// other casts.
    pub(super) fn catalog_cast(&mut self, e: &Expr, ty: &DataType) -> SqlResult<Option<Typed>> {
        /// The lower-case name of a catalog type (`oid`, `pg_catalog.name`, `regclass`).
        fn catalog_type_name(ty: &DataType) -> Option<String> {
            match ty {
                DataType::Regclass => Some("regclass".into()),
                DataType::Custom(ObjectName(parts), _) => parts
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_lowercase()),
                _ => None,
            }
        }
        // `x::regclass::text`: the name, even when `x` is a name (tessera's reg types are
        // the OID itself, so the name is looked up again).
        if is_text_type(ty) {
            if let Expr::Cast {
                expr: inner,
                data_type,
                ..
            } = e
            {
                if let Some(kind) = reg_kind(data_type) {
                    let oid = self.compile(inner)?;
                    let oid = self.reg_cast(oid, kind)?;
                    if oid.ty == SqlType::Int8 {
                        return self.reg_cast(oid, kind).map(Some);
                    }
                    return Ok(Some(oid));
                }
            }
        }
        let name = match ty {
            DataType::Regclass => "regclass".to_string(),
            DataType::Custom(ObjectName(parts), _) => {
                let parts: Vec<String> = parts
                    .iter()
                    .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
                    .collect();
                match parts.as_slice() {
                    [n] | [_, n] => n.clone(),
                    _ => return Ok(None),
                }
            }
            // An array of a catalog type is an array of what tessera holds that type as:
            // `oid[]` and the reg types are `bigint[]`, `name[]` is `text[]`. Others stay in
            // their text form, as catalog array columns are.
            DataType::Array(
                ArrayElemTypeDef::SquareBracket(elem, _) | ArrayElemTypeDef::AngleBracket(elem),
            ) if SqlType::from_ast(ty).is_err() => {
                let inner = self.compile(e)?;
                let mapped = match catalog_type_name(elem).as_deref() {
                    Some("oid") => SqlType::Oid,
                    Some("xid" | "regclass" | "regtype" | "regproc" | "regnamespace") => {
                        SqlType::Int8
                    }
                    Some("name" | "char") => SqlType::Text,
                    _ => return Ok(Some(self.text_form(inner)?)),
                };
                return self
                    .cast(inner, &SqlType::Array(Box::new(mapped)))
                    .map(Some);
            }
            DataType::Array(_) => return Ok(None),
            DataType::Char(_) | DataType::Character(_) => "bpchar".into(),
            _ => return Ok(None),
        };
        let inner = self.compile(e)?;
        let t = match name.as_str() {
            "regclass" | "regtype" | "regnamespace" | "regproc" | "regprocedure" => {
                return self.reg_cast(inner, &name).map(Some)
            }
            "oid" | "xid" | "regrole" => self.cast(inner, &SqlType::Int8)?,
            "name" | "char" | "bpchar" | "text" | "varchar" => {
                if inner.ty.is_string() || inner.ty == SqlType::Unknown {
                    self.cast(inner, &SqlType::Text)?
                } else {
                    self.text_form(inner)?
                }
            }
            other => {
                let target = match other {
                    "int2" => SqlType::Int2,
                    "int4" | "int" => SqlType::Int4,
                    "int8" => SqlType::Int8,
                    "bool" => SqlType::Bool,
                    "float4" => SqlType::Float4,
                    "float8" => SqlType::Float8,
                    "numeric" => SqlType::Numeric,
                    "date" => SqlType::Date,
                    "timestamp" => SqlType::Timestamp,
                    "timestamptz" => SqlType::TimestampTz,
                    "interval" => SqlType::Interval,
                    "uuid" => SqlType::Uuid,
                    "bytea" => SqlType::Bytea,
                    _ => return Err(SqlError::unsupported(format!("type {ty}"))),
                };
                self.cast(inner, &target)?
            }
        };
        Ok(Some(t))
    }

    fn text_form(&mut self, t: Typed) -> SqlResult<Typed> {
        if t.ty.is_string() || t.ty == SqlType::Unknown {
            self.cast(t, &SqlType::Text)
        } else {
            Ok(Typed {
                expr: ScalarExpr::Func(Func::ToText(t.ty), vec![t.expr]),
                ty: SqlType::Text,
            })
        }
    }

    /// `x::regclass` and friends: a name (a string) becomes its OID, an OID (an integer)
    /// its name.
    fn reg_cast(&mut self, t: Typed, kind: &str) -> SqlResult<Typed> {
        let snap = snapshot()?;
        // A parameter (`$1::regclass`, as psycopg 3 binds SQLAlchemy's reflection queries)
        // carries a name, as text.
        let t = match (&t.expr, &t.ty) {
            (ScalarExpr::Param(_), SqlType::Unknown) => self.coerce(t, &SqlType::Text, kind)?,
            _ => t,
        };
        if let (ScalarExpr::Literal(Datum::String(s)), SqlType::Unknown) = (&t.expr, &t.ty) {
            if let Ok(n) = s.trim().parse::<i64>() {
                return Ok(Typed {
                    expr: ScalarExpr::Literal(Datum::Int(n)),
                    ty: SqlType::Int8,
                });
            }
            let oid = match kind {
                "regclass" => relation_oids(&snap)
                    .get(&normalize_relname(s))
                    .cloned()
                    .ok_or_else(|| {
                        SqlError::new(
                            SqlState::UNDEFINED_TABLE,
                            format!("relation \"{s}\" does not exist"),
                        )
                    })?,
                "regtype" => Datum::Int(type_oid(s).ok_or_else(|| {
                    SqlError::new(SqlState("42704"), format!("type \"{s}\" does not exist"))
                })?),
                "regnamespace" => snap
                    .namespaces()
                    .into_iter()
                    .find(|(n, _)| n == s)
                    .map(|(_, o)| Datum::Int(o))
                    .ok_or_else(|| {
                        SqlError::new(SqlState("3F000"), format!("schema \"{s}\" does not exist"))
                    })?,
                _ => return Err(SqlError::unsupported(format!("{kind} input"))),
            };
            return Ok(Typed {
                expr: ScalarExpr::Literal(oid),
                ty: SqlType::Int8,
            });
        }
        if t.ty.is_string() {
            // A name computed at run time: to_regclass semantics, NULL when it names nothing.
            let map = relation_oids(&snap);
            return Ok(Typed {
                expr: ScalarExpr::Func(lookup(map, Datum::Null), vec![t.expr]),
                ty: SqlType::Int8,
            });
        }
        let map: HashMap<String, Datum> = match kind {
            "regclass" => relation_names(&snap),
            "regtype" => pgc::type_oids()
                .filter_map(|oid| {
                    pgc::format_type(oid, None).map(|n| (oid.to_string(), Datum::String(n)))
                })
                .collect(),
            "regnamespace" => snap
                .namespaces()
                .into_iter()
                .map(|(n, o)| (o.to_string(), Datum::String(n)))
                .collect(),
            _ => HashMap::new(),
        };
        let func = Func::Catalog(CatalogFunc::Lookup(LookupRef(Arc::new(Lookup {
            map,
            miss: Datum::Null,
            unknown_oid: false,
            echo: true,
        }))));
        Ok(Typed {
            expr: ScalarExpr::Func(func, vec![t.expr]),
            ty: SqlType::Text,
        })
    }

    /// The value of a constant text argument of `what` (a literal, or a parameter is not
    /// one: 0A000).
    fn constant_text(&self, arg: &Typed, what: &str) -> SqlResult<String> {
        match &arg.expr {
            ScalarExpr::Literal(Datum::String(s)) => Ok(s.clone()),
            _ => Err(SqlError::unsupported(format!(
                "{what} with a computed argument"
            ))),
        }
    }

    /// `x = ANY(array)` over an array's text form.
    pub(super) fn any_op(&mut self, left: Typed, right: Typed) -> SqlResult<Typed> {
        let l = self.text_form(left)?;
        let r = self.text_form(right)?;
        Ok(Typed {
            expr: ScalarExpr::Func(Func::Catalog(CatalogFunc::AnyEq), vec![l.expr, r.expr]),
            ty: SqlType::Bool,
        })
    }

    /// `array[i]` over an array's text form. The element's type is unknown, so it takes
    /// the type of what it is compared with, as an untyped literal would.
    pub(super) fn array_elem(&mut self, array: Typed, index: Typed) -> SqlResult<Typed> {
        let a = self.text_form(array)?;
        let i = self.coerce(index, &SqlType::Int8, "array subscript")?;
        Ok(Typed {
            expr: ScalarExpr::Func(Func::Catalog(CatalogFunc::ArrayElem), vec![a.expr, i.expr]),
            ty: SqlType::Unknown,
        })
    }

    /// `x ~ pattern` and its variants (`!~`, `~*`, `!~*`).
    pub(super) fn regex_match(
        &mut self,
        l: Typed,
        r: Typed,
        insensitive: bool,
        negated: bool,
    ) -> SqlResult<Typed> {
        let l = self.text_form(l)?;
        let r = self.text_form(r)?;
        let m = ScalarExpr::Func(
            Func::Catalog(CatalogFunc::Regex { insensitive }),
            vec![l.expr, r.expr],
        );
        Ok(Typed {
            expr: if negated {
                ScalarExpr::Not(Box::new(m))
            } else {
                m
            },
            ty: SqlType::Bool,
        })
    }

    /// A call of a catalog or session function; `None` if `name` is not one.
    pub(super) fn catalog_call(
        &mut self,
        name: &str,
        args: &mut Vec<Typed>,
    ) -> SqlResult<Option<Typed>> {
        let n = args.len();
        let t = match (name, n) {
            ("version", 0) => text(format!(
                "PostgreSQL 15.0 (tessera {}) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit",
                env!("CARGO_PKG_VERSION")
            )),
            ("current_database" | "current_catalog", 0) => text(pgc::session().database),
            ("current_schema", 0) => text("public"),
            ("current_user" | "session_user" | "user" | "current_role" | "getpgusername", 0) => {
                text(pgc::session().user)
            }
            ("current_schemas", 1) => {
                let implicit = self.coerce(args.remove(0), &SqlType::Bool, name)?;
                Typed {
                    expr: ScalarExpr::Case(
                        vec![(
                            implicit.expr,
                            ScalarExpr::Literal(Datum::String("{pg_catalog,public}".into())),
                        )],
                        Some(Box::new(ScalarExpr::Literal(Datum::String(
                            "{public}".into(),
                        )))),
                    ),
                    ty: SqlType::Text,
                }
            }
            ("pg_backend_pid", 0) => Typed {
                expr: ScalarExpr::Literal(Datum::Int(i64::from(pgc::session().pid))),
                ty: SqlType::Int4,
            },
            ("current_setting", 1 | 2) => {
                // Folded at planning from the session's settings: the plan is volatile.
                self.params.volatile = true;
                if !matches!(args[0].expr, ScalarExpr::Literal(_)) && args.len() == 1 {
                    // A name bound as a parameter (psycopg 3's server-side binding): a lookup
                    // in the session's settings as they are now; an unknown name is NULL.
                    let map: HashMap<String, Datum> = pgc::settings()
                        .lock()
                        .all()
                        .into_iter()
                        .map(|(name, value, _)| (name.to_string(), Datum::String(value)))
                        .collect();
                    let name = self.text_form(args.remove(0))?;
                    return Ok(Some(Typed {
                        expr: ScalarExpr::Func(lookup(map, Datum::Null), vec![name.expr]),
                        ty: SqlType::Text,
                    }));
                }
                let name = self.constant_text(&args[0], "current_setting")?;
                let missing_ok = match args.get(1).map(|a| &a.expr) {
                    None => false,
                    Some(ScalarExpr::Literal(Datum::Bool(b))) => *b,
                    Some(_) => {
                        return Err(SqlError::unsupported(
                            "current_setting with a computed missing_ok",
                        ))
                    }
                };
                match pgc::settings().lock().get(&name) {
                    Ok(v) => text(v),
                    Err(_) if missing_ok => Typed {
                        expr: ScalarExpr::Literal(Datum::Null),
                        ty: SqlType::Text,
                    },
                    Err(e) => return Err(e),
                }
            }
            ("set_config", 3) => {
                // SET with a value: applied when the statement is planned, which for the
                // constant arguments this takes is when it runs. Never cached.
                self.params.volatile = true;
                let name = self.constant_text(&args[0], "set_config")?;
                let value = self.constant_text(&args[1], "set_config")?;
                let ScalarExpr::Literal(Datum::Bool(local)) = args[2].expr else {
                    return Err(SqlError::unsupported("set_config with a computed is_local"));
                };
                let settings = pgc::settings();
                let in_block = pgc::session_in_block();
                let v = settings.lock().set_text(&name, &value, local, in_block)?;
                text(v)
            }
            (
                "has_table_privilege"
                | "has_schema_privilege"
                | "has_database_privilege"
                | "has_column_privilege"
                | "has_sequence_privilege"
                | "has_function_privilege"
                | "has_any_column_privilege"
                | "pg_has_role",
                2..=4,
            )
            | (
                "pg_type_is_visible"
                | "pg_function_is_visible"
                | "pg_collation_is_visible"
                | "pg_operator_is_visible"
                | "pg_opclass_is_visible"
                | "pg_relation_is_publishable",
                1,
            ) => boolean(true),
            ("pg_get_expr", 2 | 3) => {
                let e = args.remove(0);
                self.text_form(e)?
            }
            ("pg_partition_ancestors", 1) => {
                let x = args.remove(0);
                self.coerce(x, &SqlType::Int8, name)?
            }
            (
                "obj_description"
                | "col_description"
                | "shobj_description"
                | "pg_get_statisticsobjdef_columns"
                | "pg_get_triggerdef"
                | "pg_get_viewdef"
                | "pg_get_function_result"
                | "pg_get_function_arguments"
                | "pg_get_function_identity_arguments"
                | "pg_get_functiondef"
                | "pg_get_ruledef",
                1..=2,
            ) => null(SqlType::Text),
            // Relation sizes need storage statistics per key span, which the KV layer does
            // not keep yet: unknown (NULL), which psql's `\dt+` shows as an empty Size.
            (
                "pg_table_size" | "pg_relation_size" | "pg_total_relation_size" | "pg_indexes_size",
                1..=2,
            ) => null(SqlType::Int8),
            ("format_type", 2) => {
                let typmod = args.remove(1);
                let oid = args.remove(0);
                let oid = self.coerce(oid, &SqlType::Int8, name)?;
                let typmod = self.coerce(typmod, &SqlType::Int8, name)?;
                Typed {
                    expr: ScalarExpr::Func(
                        Func::Catalog(CatalogFunc::FormatType),
                        vec![oid.expr, typmod.expr],
                    ),
                    ty: SqlType::Text,
                }
            }
            ("pg_get_indexdef" | "pg_get_constraintdef" | "pg_get_userbyid", _)
            | ("pg_encoding_to_char" | "to_regclass" | "pg_table_is_visible", 1) => {
                let snap = snapshot()?;
                let map: HashMap<String, Datum> = match name {
                    "pg_get_indexdef" => snap
                        .tables
                        .iter()
                        .flat_map(|t| {
                            pgc::indexes(t)
                                .into_iter()
                                .map(|x| {
                                    let def = pgc::index_def(t, &x, n == 3);
                                    (x.oid.to_string(), Datum::String(def))
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect(),
                    "pg_get_constraintdef" => snap
                        .tables
                        .iter()
                        .flat_map(|t| {
                            pgc::constraints(&snap, t)
                                .into_iter()
                                .map(|c| (c.oid.to_string(), Datum::String(c.def)))
                                .collect::<Vec<_>>()
                        })
                        .collect(),
                    "pg_encoding_to_char" => {
                        HashMap::from([("6".to_string(), Datum::String("UTF8".into()))])
                    }
                    "to_regclass" => relation_oids(&snap),
                    "pg_table_is_visible" => relation_visibility(&snap),
                    _ => snap
                        .roles()
                        .into_iter()
                        .map(|(oid, n, _)| (oid.to_string(), Datum::String(n)))
                        .collect(),
                };
                let key = args.remove(0);
                let (key, ty) = match name {
                    "to_regclass" => {
                        let k = self.text_form(key)?;
                        // Normalize a literal as regclass input does.
                        let k = match k.expr {
                            ScalarExpr::Literal(Datum::String(s)) => text(normalize_relname(&s)),
                            _ => k,
                        };
                        (k, SqlType::Int8)
                    }
                    "pg_encoding_to_char" => (key, SqlType::Text),
                    "pg_table_is_visible" => {
                        (self.coerce(key, &SqlType::Int8, name)?, SqlType::Bool)
                    }
                    _ => (self.coerce(key, &SqlType::Int8, name)?, SqlType::Text),
                };
                let func = Func::Catalog(CatalogFunc::Lookup(LookupRef(Arc::new(Lookup {
                    map,
                    miss: match name {
                        "pg_encoding_to_char" => Datum::String(String::new()),
                        _ => Datum::Null,
                    },
                    unknown_oid: name == "pg_get_userbyid",
                    echo: false,
                }))));
                Typed {
                    expr: ScalarExpr::Func(func, vec![key.expr]),
                    ty,
                }
            }
            ("pg_get_serial_sequence", 2) => {
                let (
                    ScalarExpr::Literal(Datum::String(table)),
                    ScalarExpr::Literal(Datum::String(column)),
                ) = (&args[0].expr, &args[1].expr)
                else {
                    // Names computed per row (SQLAlchemy's reflection passes
                    // `attrelid::regclass::text` and `attname`): a lookup of
                    // "table\u{1}column" in every serial column of the snapshot.
                    let snap = snapshot()?;
                    let mut map = HashMap::new();
                    for t in &snap.tables {
                        for col in &t.columns {
                            let seq = t.owned_sequences.iter().find(|s| {
                                col.default
                                    .as_deref()
                                    .is_some_and(|d| d.contains(&format!("'{s}'")))
                            });
                            if let Some(seq) = seq {
                                let v = Datum::String(format!("{}.{seq}", t.schema));
                                for name in [t.name.clone(), format!("{}.{}", t.schema, t.name)] {
                                    map.insert(format!("{name}\u{1}{}", col.name), v.clone());
                                }
                            }
                        }
                    }
                    let column = self.text_form(args.remove(1))?;
                    let table = self.text_form(args.remove(0))?;
                    let key = ScalarExpr::Binary(
                        Box::new(ScalarExpr::Binary(
                            Box::new(table.expr),
                            super::BinOp::Concat,
                            Box::new(ScalarExpr::Literal(Datum::String("\u{1}".into()))),
                        )),
                        super::BinOp::Concat,
                        Box::new(column.expr),
                    );
                    return Ok(Some(Typed {
                        expr: ScalarExpr::Func(lookup(map, Datum::Null), vec![key]),
                        ty: SqlType::Text,
                    }));
                };
                let snap = snapshot()?;
                let wanted = normalize_relname(table);
                let found = snap
                    .tables
                    .iter()
                    .find(|t| wanted == t.name || wanted == format!("{}.{}", t.schema, t.name));
                let Some(t) = found else {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("relation \"{table}\" does not exist"),
                    ));
                };
                let Some(col) = t.columns.iter().find(|c| &c.name == column) else {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{column}\" of relation \"{}\" does not exist",
                            t.name
                        ),
                    ));
                };
                let seq = t.owned_sequences.iter().find(|s| {
                    col.default
                        .as_deref()
                        .is_some_and(|d| d.contains(&format!("'{s}'")))
                });
                match seq {
                    Some(s) => text(format!("{}.{s}", t.schema)),
                    None => null(SqlType::Text),
                }
            }
            ("to_regtype", 1) => {
                let name = self.text_form(args.remove(0))?;
                Typed {
                    expr: ScalarExpr::Func(Func::Catalog(CatalogFunc::ToRegtype), vec![name.expr]),
                    ty: SqlType::Int8,
                }
            }
            ("array_to_string", 2 | 3) => {
                let mut out = Vec::new();
                for a in args.drain(..) {
                    out.push(self.text_form(a)?.expr);
                }
                Typed {
                    expr: ScalarExpr::Func(Func::Catalog(CatalogFunc::ArrayToString), out),
                    ty: SqlType::Text,
                }
            }
            ("array_upper" | "array_length", 2) => {
                let dim = args.remove(1);
                let a = args.remove(0);
                let a = self.text_form(a)?;
                let dim = self.coerce(dim, &SqlType::Int8, name)?;
                Typed {
                    expr: ScalarExpr::Func(
                        Func::Catalog(CatalogFunc::ArrayUpper),
                        vec![a.expr, dim.expr],
                    ),
                    ty: SqlType::Int4,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(t))
    }
}
