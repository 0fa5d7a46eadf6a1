//! SQL types: their PostgreSQL OIDs and names, and the text form of their values.
//!
//! Values are [`Datum`]s from `tessera-encoding` (the same values the key and value codecs
//! store), so a row travels from storage to the wire without conversion. The text forms follow
//! PostgreSQL's output functions for the default settings (DateStyle ISO, MDY; IntervalStyle
//! postgres; extra_float_digits 1).

pub mod array;
pub mod interval;
pub mod json;
pub mod record;

use std::fmt::Write as _;

use tessera_encoding::{Datum, Decimal};

use crate::error::{SqlError, SqlResult, SqlState};

/// A column or expression type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// boolean
    Bool,
    /// smallint
    Int2,
    /// integer
    Int4,
    /// bigint
    Int8,
    /// real
    Float4,
    /// double precision
    Float8,
    /// numeric (unconstrained: any precision, the scale a value was written with)
    Numeric,
    /// numeric(precision, scale): values are rounded to `scale` digits after the point and
    /// may have at most `precision - scale` before it (22003 otherwise).
    NumericMod {
        /// Total significant digits, 1 to 1000.
        precision: u32,
        /// Digits after the decimal point, 0 to `precision`.
        scale: u32,
    },
    /// text
    Text,
    /// character varying(n)
    Varchar(Option<u32>),
    /// character(n) (`bpchar`): values are blank-padded to `n` characters and stored so.
    /// `char` alone is `char(1)`.
    Bpchar(u32),
    /// bytea
    Bytea,
    /// date
    Date,
    /// time without time zone
    Time,
    /// timestamp without time zone
    Timestamp,
    /// timestamp with time zone
    TimestampTz,
    /// interval
    Interval,
    /// uuid
    Uuid,
    /// json: the text as written, checked to be JSON (see [`json`]).
    Json,
    /// jsonb: the canonical text of a JSON document (see [`json`]).
    Jsonb,
    /// int2vector: `pg_index.indkey`, a one-dimensional `smallint` array with lower bound 0,
    /// written as space-separated numbers.
    Int2Vector,
    /// oidvector: `pg_proc.proargtypes`, as `int2vector` with `oid` elements.
    OidVector,
    /// oid: an unsigned 32-bit object identifier. tessera's catalog columns hold OIDs as
    /// `bigint`; this type exists for casts and parameters (`$1::oid[]`, as asyncpg's type
    /// introspection sends), and mixes with the integer types as `bigint` does.
    Oid,
    /// A one-dimensional array of the element type (never itself an array); see
    /// [`mod@array`].
    Array(Box<SqlType>),
    /// An anonymous `record` with these named fields, held as a [`Datum::Array`] of the
    /// fields' values; see [`record`].
    Record(Vec<(String, SqlType)>),
    /// The type of an untyped literal or parameter before it is resolved (PostgreSQL's
    /// `unknown`).
    Unknown,
}

impl SqlType {
    /// The PostgreSQL type OID.
    pub fn oid(&self) -> u32 {
        match self {
            SqlType::Bool => 16,
            SqlType::Int2 => 21,
            SqlType::Int4 => 23,
            SqlType::Int8 => 20,
            SqlType::Float4 => 700,
            SqlType::Float8 => 701,
            SqlType::Numeric | SqlType::NumericMod { .. } => 1700,
            SqlType::Text => 25,
            SqlType::Varchar(_) => 1043,
            SqlType::Bpchar(_) => 1042,
            SqlType::Bytea => 17,
            SqlType::Date => 1082,
            SqlType::Time => 1083,
            SqlType::Interval => 1186,
            SqlType::Timestamp => 1114,
            SqlType::TimestampTz => 1184,
            SqlType::Uuid => 2950,
            SqlType::Oid => 26,
            SqlType::Int2Vector => 22,
            SqlType::OidVector => 30,
            SqlType::Json => 114,
            SqlType::Jsonb => 3802,
            SqlType::Array(elem) => array::array_oid(elem.oid()),
            SqlType::Record(_) => 2249,
            SqlType::Unknown => 705,
        }
    }

    /// The name PostgreSQL prints (`format_type`).
    pub fn name(&self) -> String {
        match self {
            SqlType::Bool => "boolean".into(),
            SqlType::Int2 => "smallint".into(),
            SqlType::Int4 => "integer".into(),
            SqlType::Int8 => "bigint".into(),
            SqlType::Float4 => "real".into(),
            SqlType::Float8 => "double precision".into(),
            SqlType::Numeric => "numeric".into(),
            SqlType::NumericMod { precision, scale } => format!("numeric({precision},{scale})"),
            SqlType::Text => "text".into(),
            SqlType::Varchar(None) => "character varying".into(),
            SqlType::Varchar(Some(n)) => format!("character varying({n})"),
            SqlType::Bpchar(n) => format!("character({n})"),
            SqlType::Bytea => "bytea".into(),
            SqlType::Date => "date".into(),
            SqlType::Time => "time without time zone".into(),
            SqlType::Interval => "interval".into(),
            SqlType::Timestamp => "timestamp without time zone".into(),
            SqlType::TimestampTz => "timestamp with time zone".into(),
            SqlType::Uuid => "uuid".into(),
            SqlType::Oid => "oid".into(),
            SqlType::Int2Vector => "int2vector".into(),
            SqlType::OidVector => "oidvector".into(),
            SqlType::Json => "json".into(),
            SqlType::Jsonb => "jsonb".into(),
            SqlType::Record(_) => "record".into(),
            SqlType::Array(elem) => format!("{}[]", elem.name()),
            SqlType::Unknown => "unknown".into(),
        }
    }

    /// The type of a PostgreSQL OID and type modifier (see [`SqlType::typmod`]), as stored
    /// in descriptors.
    pub fn from_oid(oid: u32, typmod: Option<u32>) -> Option<SqlType> {
        Some(match oid {
            16 => SqlType::Bool,
            21 => SqlType::Int2,
            23 => SqlType::Int4,
            20 => SqlType::Int8,
            700 => SqlType::Float4,
            701 => SqlType::Float8,
            1700 => match typmod {
                Some(m) if m >= 4 => SqlType::NumericMod {
                    precision: (m - 4) >> 16,
                    scale: (m - 4) & 0xFFFF,
                },
                _ => SqlType::Numeric,
            },
            25 => SqlType::Text,
            1043 => SqlType::Varchar(typmod),
            1042 => SqlType::Bpchar(typmod.unwrap_or(1)),
            17 => SqlType::Bytea,
            1082 => SqlType::Date,
            1083 => SqlType::Time,
            1186 => SqlType::Interval,
            1114 => SqlType::Timestamp,
            1184 => SqlType::TimestampTz,
            2950 => SqlType::Uuid,
            26 => SqlType::Oid,
            22 => SqlType::Int2Vector,
            30 => SqlType::OidVector,
            114 => SqlType::Json,
            3802 => SqlType::Jsonb,
            705 => SqlType::Unknown,
            other => SqlType::Array(Box::new(SqlType::from_oid(
                array::element_oid(other)?,
                typmod,
            )?)),
        })
    }

    /// The type modifier stored with the OID: the varchar length, or for `numeric(p, s)`
    /// PostgreSQL's `atttypmod`, `((p << 16) | s) + 4`.
    pub fn typmod(&self) -> Option<u32> {
        match self {
            SqlType::Varchar(n) => *n,
            SqlType::Bpchar(n) => Some(*n),
            SqlType::NumericMod { precision, scale } => Some(((precision << 16) | scale) + 4),
            SqlType::Array(elem) => elem.typmod(),
            _ => None,
        }
    }

    /// The element type of an array or vector type.
    pub fn element(&self) -> Option<&SqlType> {
        match self {
            SqlType::Array(e) => Some(e),
            SqlType::Int2Vector => Some(&SqlType::Int2),
            SqlType::OidVector => Some(&SqlType::Oid),
            _ => None,
        }
    }

    /// The subscript of an array type's first element: 0 for the vector types, else 1.
    pub fn lower_bound(&self) -> i64 {
        match self {
            SqlType::Int2Vector | SqlType::OidVector => 0,
            _ => 1,
        }
    }

    /// Whether the type is one of the integer types.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Oid
        )
    }

    /// Whether the type is numeric (integers, floats, numeric).
    pub fn is_numeric(&self) -> bool {
        self.is_integer()
            || matches!(
                self,
                SqlType::Float4 | SqlType::Float8 | SqlType::Numeric | SqlType::NumericMod { .. }
            )
    }

    /// Whether the type is a string type.
    pub fn is_string(&self) -> bool {
        matches!(
            self,
            SqlType::Text | SqlType::Varchar(_) | SqlType::Bpchar(_)
        )
    }

    /// The type for a sqlparser data type.
    pub fn from_ast(ty: &sqlparser::ast::DataType) -> SqlResult<SqlType> {
        use sqlparser::ast::{CharacterLength, DataType as D};
        Ok(match ty {
            D::Bool | D::Boolean => SqlType::Bool,
            D::Int2(_) | D::SmallInt(_) => SqlType::Int2,
            D::Int(_) | D::Int4(_) | D::Integer(_) => SqlType::Int4,
            D::Int8(_) | D::BigInt(_) => SqlType::Int8,
            D::Float4 | D::Real => SqlType::Float4,
            D::Float8 | D::Double(_) | D::DoublePrecision => SqlType::Float8,
            D::Float(info) => match info {
                sqlparser::ast::ExactNumberInfo::Precision(p) if *p <= 24 => SqlType::Float4,
                _ => SqlType::Float8,
            },
            D::Numeric(info) | D::Decimal(info) | D::Dec(info) => numeric_type(info)?,
            D::Text | D::String(_) => SqlType::Text,
            D::Varchar(len) | D::CharacterVarying(len) => SqlType::Varchar(match len {
                Some(CharacterLength::IntegerLength { length, .. }) => {
                    Some(u32::try_from(*length).map_err(|_| {
                        SqlError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "length for type varchar cannot exceed 10485760",
                        )
                    })?)
                }
                _ => None,
            }),
            D::Char(len) | D::Character(len) => SqlType::Bpchar(match len {
                Some(CharacterLength::IntegerLength { length, .. }) => u32::try_from(*length)
                    .ok()
                    .filter(|n| (1..=10_485_760).contains(n))
                    .ok_or_else(|| {
                        SqlError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "length for type char must be between 1 and 10485760",
                        )
                    })?,
                _ => 1,
            }),
            D::Bytea => SqlType::Bytea,
            D::Date => SqlType::Date,
            D::Time(
                _,
                sqlparser::ast::TimezoneInfo::None | sqlparser::ast::TimezoneInfo::WithoutTimeZone,
            ) => SqlType::Time,
            D::Interval { fields: None, .. } => SqlType::Interval,
            D::Timestamp(_, tz) => match tz {
                sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz => {
                    SqlType::TimestampTz
                }
                _ => SqlType::Timestamp,
            },
            D::Uuid => SqlType::Uuid,
            D::JSON => SqlType::Json,
            D::JSONB => SqlType::Jsonb,
            D::Array(
                sqlparser::ast::ArrayElemTypeDef::SquareBracket(elem, _)
                | sqlparser::ast::ArrayElemTypeDef::AngleBracket(elem)
                | sqlparser::ast::ArrayElemTypeDef::Qualified(elem, _),
            ) => match SqlType::from_ast(elem)? {
                SqlType::Array(_) => return Err(SqlError::unsupported("multidimensional arrays")),
                elem => SqlType::Array(Box::new(elem)),
            },
            other => return Err(SqlError::unsupported(format!("type {other}"))),
        })
    }
}

/// A value of `character(n)`: blank-padded to `n` characters; trailing blanks beyond `n`
/// are cut, any other character beyond it is 22001 (PostgreSQL's rules for input and
/// assignment).
fn pad_bpchar(s: &str, n: u32) -> SqlResult<String> {
    let n = n as usize;
    let len = s.chars().count();
    if len > n {
        let (keep, rest) = s.split_at(s.char_indices().nth(n).map_or(s.len(), |(i, _)| i));
        if rest.chars().any(|c| c != ' ') {
            return Err(SqlError::new(
                SqlState::STRING_DATA_RIGHT_TRUNCATION,
                format!("value too long for type character({n})"),
            ));
        }
        return Ok(keep.to_string());
    }
    let mut out = String::with_capacity(s.len() + n - len);
    out.push_str(s);
    out.extend(std::iter::repeat_n(' ', n - len));
    Ok(out)
}

/// `numeric`, `numeric(p)` or `numeric(p, s)`, with PostgreSQL's limits (22023).
fn numeric_type(info: &sqlparser::ast::ExactNumberInfo) -> SqlResult<SqlType> {
    use sqlparser::ast::ExactNumberInfo as I;
    let (precision, scale) = match info {
        I::None => return Ok(SqlType::Numeric),
        I::Precision(p) => (*p, 0),
        I::PrecisionAndScale(p, s) => (*p, *s),
    };
    if !(1..=1000).contains(&precision) {
        return Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("NUMERIC precision {precision} must be between 1 and 1000"),
        ));
    }
    // PostgreSQL 15 also allows a negative scale or one above the precision; tessera does
    // not (yet).
    let scale = u32::try_from(scale)
        .ok()
        .filter(|s| u64::from(*s) <= precision)
        .ok_or_else(|| {
            SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("NUMERIC scale {scale} must be between 0 and precision {precision}"),
            )
        })?;
    Ok(SqlType::NumericMod {
        precision: precision as u32,
        scale,
    })
}

/// Days from 0000-03-01 (proleptic Gregorian) to 2000-01-01: the epoch of stored dates.
const DAYS_TO_2000: i64 = 730_425;

/// (year, month, day) of a day number counted from 2000-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse, shifted to a 2000-01-01 epoch.
    let z = days + DAYS_TO_2000;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day number (from 2000-01-01) of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - DAYS_TO_2000
}

/// Writes the date of a day number and returns whether it is before year 1: the caller ends
/// the whole value with ` BC`, after any time and offset, as PostgreSQL prints
/// (`0044-03-15 12:30:00+00 BC`).
fn format_date(out: &mut String, days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    let bc = y <= 0;
    let year = if bc { 1 - y } else { y };
    let _ = write!(out, "{year:04}-{m:02}-{d:02}");
    bc
}

fn format_time_of_day(out: &mut String, micros: i64) {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if frac != 0 {
        let s = format!("{frac:06}");
        out.push('.');
        out.push_str(s.trim_end_matches('0'));
    }
}

/// Formats a float as PostgreSQL does with `extra_float_digits = 1` (the shortest text that
/// reads back as the same value).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e15).contains(&abs) {
        // PostgreSQL switches to exponent form like printf's %g: 1e+16, 1.5e-05.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let s = format!("{f}");
    if s == "-0" {
        "-0".into()
    } else {
        s
    }
}

/// The text form of a value of type `ty`; `None` for NULL.
pub fn format_text(d: &Datum, ty: &SqlType) -> Option<String> {
    Some(match d {
        Datum::Null => return None,
        Datum::Bool(b) => if *b { "t" } else { "f" }.into(),
        Datum::Int(i) => i.to_string(),
        Datum::Float(f) => {
            if *ty == SqlType::Float4 {
                format_float(f64::from(*f as f32))
            } else {
                format_float(*f)
            }
        }
        Datum::Decimal(dec) => dec.to_string(),
        Datum::String(s) => s.clone(),
        Datum::Bytes(b) => {
            let mut s = String::with_capacity(2 + 2 * b.len());
            s.push_str("\\x");
            for byte in b {
                let _ = write!(s, "{byte:02x}");
            }
            s
        }
        Datum::Date(days) => {
            let mut s = String::new();
            if format_date(&mut s, i64::from(*days)) {
                s.push_str(" BC");
            }
            s
        }
        Datum::Time(micros) => {
            let mut s = String::new();
            format_time_of_day(&mut s, *micros);
            s
        }
        Datum::Timestamp(micros) => {
            let mut s = String::new();
            let days = micros.div_euclid(86_400_000_000);
            let bc = format_date(&mut s, days);
            s.push(' ');
            format_time_of_day(&mut s, micros.rem_euclid(86_400_000_000));
            if *ty == SqlType::TimestampTz {
                s.push_str("+00");
            }
            if bc {
                s.push_str(" BC");
            }
            s
        }
        Datum::Interval {
            months,
            days,
            micros,
        } => interval::format_interval(*months, *days, *micros),
        Datum::Uuid(u) => {
            let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        }
        Datum::Array(elems) => match ty {
            SqlType::Int2Vector | SqlType::OidVector => elems
                .iter()
                .filter_map(|e| format_text(e, &SqlType::Int8))
                .collect::<Vec<_>>()
                .join(" "),
            SqlType::Array(e) => array::format_array(elems, e),
            SqlType::Record(fields) => record::format_record(elems, fields),
            _ => array::format_array(elems, &SqlType::Unknown),
        },
    })
}

impl SqlError {
    fn with_state(mut self, state: SqlState) -> Self {
        self.state = state;
        self
    }
}

fn invalid(ty: &SqlType, s: &str) -> SqlError {
    SqlError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type {}: \"{s}\"", ty.name()),
    )
}

/// Splits a trailing ` BC` (any case) off date/time text: the era PostgreSQL writes after
/// a date before year 1 (`0044-03-15 BC`), which its input accepts back.
fn split_era(s: &str) -> (&str, bool) {
    let t = s.trim_end();
    match t
        .len()
        .checked_sub(2)
        .and_then(|i| t.get(i..).map(|era| (i, era)))
    {
        Some((i, era)) if era.eq_ignore_ascii_case("BC") && t[..i].ends_with(' ') => {
            (t[..i].trim_end(), true)
        }
        _ => (t, false),
    }
}

/// Parses `YYYY-MM-DD` (`bc`: of that year before Christ, year 1 BC being astronomical year
/// 0): `None` for text that is not a date (22P02), `Some(Err)` for a date that does not
/// exist, like 2023-02-30 or a year 0 BC (22008).
fn parse_date(s: &str, bc: bool) -> Option<Result<i64, ()>> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let y = match (bc, y) {
        (true, y) if y < 1 => return Some(Err(())),
        (true, y) => 1 - y,
        (false, y) => y,
    };
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return Some(Err(()));
    }
    let days = days_from_civil(y, m, d);
    // The civil date must round-trip (no February 30th).
    Some(if civil_from_days(days) == (y, m, d) {
        Ok(days)
    } else {
        Err(())
    })
}

fn out_of_range(s: &str) -> SqlError {
    SqlError::new(
        SqlState("22008"),
        format!("date/time field value out of range: \"{s}\""),
    )
}

fn parse_time(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = hms.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: i64 = parts.next().unwrap_or("0").parse().ok()?;
    if h > 24 || m > 59 || sec > 60 || frac.len() > 6 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac_micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some(((h * 60 + m) * 60 + sec) * 1_000_000 + frac_micros)
}

/// Parses the text form of a value of type `ty` (input functions; used for literals cast to
/// a type and for parameters sent in text format).
pub fn parse_text(s: &str, ty: &SqlType) -> SqlResult<Datum> {
    let t = s.trim();
    Ok(match ty {
        SqlType::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Datum::Bool(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Datum::Bool(false),
            _ => return Err(invalid(ty, s)),
        },
        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Oid => {
            let v: i64 =
                t.parse()
                    .map_err(|e: std::num::ParseIntError| match e.kind() {
                        std::num::IntErrorKind::PosOverflow
                        | std::num::IntErrorKind::NegOverflow => SqlError::new(
                            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                            format!("value \"{s}\" is out of range for type {}", ty.name()),
                        ),
                        _ => invalid(ty, s),
                    })?;
            crate::types::check_int_range(v, ty)?;
            Datum::Int(v)
        }
        SqlType::Float4 | SqlType::Float8 => {
            let v: f64 = match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "infinity" | "inf" | "+infinity" => f64::INFINITY,
                "-infinity" | "-inf" => f64::NEG_INFINITY,
                _ => t.parse().map_err(|_| invalid(ty, s))?,
            };
            Datum::Float(if *ty == SqlType::Float4 {
                f64::from(v as f32)
            } else {
                v
            })
        }
        SqlType::Numeric => Datum::Decimal(parse_numeric(t, s)?),
        SqlType::NumericMod { precision, scale } => Datum::Decimal(
            crate::expr::numeric::apply_typmod(&parse_numeric(t, s)?, *precision, *scale)?,
        ),
        SqlType::Text => Datum::String(s.to_string()),
        SqlType::Varchar(limit) => {
            if let Some(n) = limit {
                if s.chars().count() > *n as usize {
                    return Err(SqlError::new(
                        SqlState::STRING_DATA_RIGHT_TRUNCATION,
                        format!("value too long for type character varying({n})"),
                    ));
                }
            }
            Datum::String(s.to_string())
        }
        SqlType::Bpchar(n) => Datum::String(pad_bpchar(s, *n)?),
        SqlType::Bytea => {
            let hex = t.strip_prefix("\\x").ok_or_else(|| invalid(ty, s))?;
            if hex.len() % 2 != 0 {
                return Err(invalid(ty, s));
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| invalid(ty, s))?;
            Datum::Bytes(bytes)
        }
        SqlType::Date => {
            let (t, bc) = split_era(t);
            let days = parse_date(t, bc)
                .ok_or_else(|| invalid(ty, s).with_state(SqlState("22007")))?
                .map_err(|()| out_of_range(s))?;
            Datum::Date(i32::try_from(days).map_err(|_| out_of_range(s))?)
        }
        SqlType::Timestamp | SqlType::TimestampTz => {
            // PostgreSQL reports bad date/time text as 22007.
            let bad = || invalid(ty, s).with_state(SqlState("22007"));
            let (t, bc) = split_era(t);
            let (date, time) = t.split_once([' ', 'T']).unwrap_or((t, "00:00:00"));
            let (time, offset_secs) = split_utc_offset(time.trim()).ok_or_else(bad)?;
            let days = parse_date(date, bc)
                .ok_or_else(bad)?
                .map_err(|()| out_of_range(s))?;
            let micros = parse_time(time).ok_or_else(bad)?;
            // A timestamptz is stored in UTC; a timestamp ignores an offset, as PostgreSQL's does.
            let offset = if *ty == SqlType::TimestampTz {
                offset_secs * 1_000_000
            } else {
                0
            };
            Datum::Timestamp(days * 86_400_000_000 + micros - offset)
        }
        // PostgreSQL reports bad date/time text as 22007 and impossible values as 22008.
        SqlType::Time => match interval::parse_time(t) {
            Some(v) if v <= tessera_encoding::datum::MICROS_PER_DAY => Datum::Time(v),
            Some(_) => return Err(out_of_range(s)),
            None => return Err(invalid(ty, s).with_state(SqlState("22007"))),
        },
        SqlType::Interval => {
            let (months, days, micros) = interval::parse_interval(t)
                .ok_or_else(|| invalid(ty, s).with_state(SqlState("22007")))?;
            Datum::Interval {
                months,
                days,
                micros,
            }
        }
        SqlType::Uuid => {
            let hex: String = t.chars().filter(|c| *c != '-').collect();
            let hex = hex.trim_start_matches('{').trim_end_matches('}');
            if hex.len() != 32 {
                return Err(invalid(ty, s));
            }
            let mut u = [0u8; 16];
            for (i, b) in u.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| invalid(ty, s))?;
            }
            Datum::Uuid(u)
        }
        SqlType::Array(elem) => array::parse_array(s, elem)?,
        SqlType::Json | SqlType::Jsonb => json::input(s, ty)?,
        SqlType::Int2Vector | SqlType::OidVector => {
            let elem = ty.element().unwrap_or(&SqlType::Int8);
            Datum::Array(
                t.split_ascii_whitespace()
                    .map(|n| parse_text(n, elem))
                    .collect::<SqlResult<_>>()?,
            )
        }
        SqlType::Record(_) => return Err(record::no_input()),
        SqlType::Unknown => Datum::String(s.to_string()),
    })
}

fn parse_numeric(t: &str, s: &str) -> SqlResult<Decimal> {
    t.parse::<Decimal>().map_err(|e| match e {
        tessera_encoding::decimal::ParseDecimalError::OutOfRange => SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value overflows numeric format",
        ),
        _ => invalid(&SqlType::Numeric, s),
    })
}

/// Checks that an integer fits its column type (22003 otherwise).
pub fn check_int_range(v: i64, ty: &SqlType) -> SqlResult<()> {
    let ok = match ty {
        SqlType::Int2 => i16::try_from(v).is_ok(),
        SqlType::Int4 => i32::try_from(v).is_ok(),
        SqlType::Oid => u32::try_from(v).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{} out of range", ty.name()),
        ))
    }
}

/// Splits a UTC offset off the time part of timestamp text: `Z`, ` UTC`, ` GMT`, `+05`,
/// `-0530`, `+05:30`, `+05:30:15`. Returns the time and the offset in seconds east of UTC
/// (0 when there is none), or `None` for an offset that does not parse.
fn split_utc_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(rest) = time.strip_suffix(['Z', 'z']) {
        return Some((rest.trim_end(), 0));
    }
    let upper = time.to_ascii_uppercase();
    if upper.ends_with("UTC") || upper.ends_with("GMT") {
        return Some((time[..time.len() - 3].trim_end(), 0));
    }
    let Some(pos) = time.rfind(['+', '-']) else {
        return Some((time, 0));
    };
    let sign = if time[pos..].starts_with('-') { -1 } else { 1 };
    let digits: Vec<&str> = time[pos + 1..].split(':').collect();
    let num = |p: &str| {
        (p.len() <= 2 && !p.is_empty())
            .then(|| p.parse::<i64>().ok())
            .flatten()
    };
    let (h, m, sec) = match digits.as_slice() {
        [hhmm] if hhmm.len() == 4 => (num(&hhmm[..2])?, num(&hhmm[2..])?, 0),
        [h] => (num(h)?, 0, 0),
        [h, m] => (num(h)?, num(m)?, 0),
        [h, m, sec] => (num(h)?, num(m)?, num(sec)?),
        _ => return None,
    };
    if h > 15 || m > 59 || sec > 59 {
        return None;
    }
    Some((time[..pos].trim_end(), sign * (h * 3600 + m * 60 + sec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_civil_calendar() {
        assert_eq!(civil_from_days(0), (2000, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 60);
        for d in [-800_000i64, -1, 0, 59, 60, 366, 9000, 800_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn text_forms_match_postgres() {
        assert_eq!(
            format_text(&Datum::Bool(true), &SqlType::Bool).as_deref(),
            Some("t")
        );
        assert_eq!(
            format_text(&Datum::Float(0.1), &SqlType::Float8).as_deref(),
            Some("0.1")
        );
        assert_eq!(
            format_text(&Datum::Float(1e16), &SqlType::Float8).as_deref(),
            Some("1e+16")
        );
        assert_eq!(
            format_text(&Datum::Date(0), &SqlType::Date).as_deref(),
            Some("2000-01-01")
        );
        assert_eq!(
            format_text(
                &Datum::Timestamp(86_400_000_000 + 3_723_500_000),
                &SqlType::Timestamp
            )
            .as_deref(),
            Some("2000-01-02 01:02:03.5")
        );
        assert_eq!(
            format_text(&Datum::Bytes(vec![0xde, 0xad]), &SqlType::Bytea).as_deref(),
            Some("\\xdead")
        );
        assert_eq!(format_text(&Datum::Null, &SqlType::Int4), None);
    }

    #[test]
    fn bad_text_is_22p02_or_22007_and_out_of_range_is_22003() {
        assert_eq!(
            parse_text("abc", &SqlType::Int4).map_err(|e| e.state),
            Err(SqlState::INVALID_TEXT_REPRESENTATION)
        );
        assert_eq!(
            parse_text("99999999999", &SqlType::Int4).map_err(|e| e.state),
            Err(SqlState::NUMERIC_VALUE_OUT_OF_RANGE)
        );
        assert_eq!(
            parse_text("2023-02-30", &SqlType::Date).map_err(|e| e.state),
            Err(SqlState("22008"))
        );
        // PostgreSQL: 22007 invalid_datetime_format for date/time text.
        assert_eq!(
            parse_text("yesterday-ish", &SqlType::Date).map_err(|e| e.state),
            Err(SqlState("22007"))
        );
        assert_eq!(
            parse_text("abcd", &SqlType::Varchar(Some(3))).map_err(|e| e.state),
            Err(SqlState::STRING_DATA_RIGHT_TRUNCATION)
        );
        assert_eq!(
            parse_text("2024-02-29 10:00:00", &SqlType::Timestamp)
                .map(|d| format_text(&d, &SqlType::Timestamp)),
            Ok(Some("2024-02-29 10:00:00".into()))
        );
    }
}
