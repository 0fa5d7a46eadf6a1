//! Goldenscript tests of the encodings: one scenario per file in `testdata/encoding/`.
//!
//! Regenerate the expected output with `UPDATE_GOLDENFILES=1 cargo test -p tessera-encoding
//! --test scripts` and review the diff.
//!
//! # Commands
//!
//! A datum is written `TYPE=VALUE`, with TYPE one of `null` (value ignored), `bool`, `int`,
//! `float` (also `NaN`, `Infinity`, `-Infinity`), `dec` (PostgreSQL numeric text), `str`
//! (a quoted string may use `\0` escapes), `bytes` (hex), `date` (days), `time` and `ts`
//! (microseconds), `interval` (`MONTHS/DAYS/MICROS`) and `uuid` (32 hex digits). A direction
//! is `asc` or `desc`.
//!
//! * `encode [dir=DIR] DATUM...`: prints each datum's key as hex, and what it decodes to.
//! * `decode [dir=DIR] HEX...`: decodes one key datum from each hex string, printing the
//!   datum and any bytes left over; fails on invalid bytes.
//! * `sort [dir=DIR] DATUM...`: sorts the datums by key bytes and prints them in that order,
//!   marking keys equal to the previous one with `=`. Fails if the byte order disagrees with
//!   `compare` anywhere, so every sort also checks the comparison.
//! * `sort_tuples dirs=DIR,DIR... types=TYPE,TYPE... VALUE,VALUE...`: like `sort`, for
//!   multi-column keys; each positional argument is one tuple.
//! * `row DATUM...`: encodes the datums as a row with the value codec, prints the hex and the
//!   decoded row.
//! * `decode_row HEX`: decodes a row; fails on invalid bytes.

use std::cmp::Ordering;
use std::error::Error;
use std::fmt::Write as _;

use goldenscript::{Argument, Command, Context};
use tessera_encoding::datum::compare;
use tessera_encoding::key::{decode_key_datum, encode_key, encode_key_datum, Direction};
use tessera_encoding::value::{decode_row, encode_row};
use tessera_encoding::Datum;

// The path is resolved by the proc macro against rustc's working directory, which cargo sets
// to the workspace root for workspace members (not to this crate's directory). The macro
// lists the directory at compile time: after adding a script, touch this file.
test_each_file::test_each_path! { in "testdata/encoding" as scripts => run_script }

fn run_script(path: &std::path::Path) {
    let path = &tessera_testkit::testdata_file(path);
    if let Err(e) = goldenscript::run(&mut Runner, path) {
        panic!("{}: {e}", path.display());
    }
}

struct Runner;

impl goldenscript::Runner for Runner {
    type Command = Command;

    fn run(&mut self, command: &Command, _: &Context) -> Result<String, Box<dyn Error>> {
        let mut out = String::new();
        let mut args = command.consume_args();
        match command.name.as_str() {
            "encode" => {
                let dir = parse_dir(args.take_key("dir").unwrap_or("asc"))?;
                for (text, datum) in parse_datums(args)? {
                    let key = encode_key(&datum, dir);
                    let decoded = decode_key_datum(&mut &key[..], dir)?;
                    writeln!(out, "{text} → {} → {decoded}", hex(&key))?;
                }
            }
            "decode" => {
                let dir = parse_dir(args.take_key("dir").unwrap_or("asc"))?;
                for arg in args {
                    let Argument::Positional(text) = arg else {
                        return Err(format!("unexpected argument {arg}").into());
                    };
                    let bytes = unhex(text)?;
                    let mut input = &bytes[..];
                    let datum = decode_key_datum(&mut input, dir)?;
                    write!(out, "{text} → {datum}")?;
                    if !input.is_empty() {
                        write!(out, " (rest {})", hex(input))?;
                    }
                    writeln!(out)?;
                }
            }
            "sort" => {
                let dir = parse_dir(args.take_key("dir").unwrap_or("asc"))?;
                let rows = parse_datums(args)?
                    .into_iter()
                    .map(|(text, datum)| (text, encode_key(&datum, dir), vec![(datum, dir)]))
                    .collect();
                write_sorted(&mut out, rows)?;
            }
            "sort_tuples" => {
                let dirs = args
                    .take_key("dirs")
                    .ok_or("dirs= not given")?
                    .split(',')
                    .map(parse_dir)
                    .collect::<Result<Vec<_>, _>>()?;
                let types: Vec<&str> = args
                    .take_key("types")
                    .ok_or("types= not given")?
                    .split(',')
                    .collect();
                if types.len() != dirs.len() {
                    return Err("types and dirs differ in length".into());
                }
                let mut rows = Vec::new();
                for arg in args {
                    let Argument::Positional(text) = arg else {
                        return Err(format!("unexpected argument {arg}").into());
                    };
                    let values: Vec<&str> = text.split(',').collect();
                    if values.len() != types.len() {
                        return Err(
                            format!("tuple {text} does not have {} values", types.len()).into()
                        );
                    }
                    let mut key = Vec::new();
                    let mut columns = Vec::new();
                    for ((ty, value), dir) in types.iter().zip(values).zip(&dirs) {
                        let datum = parse_datum(ty, value)?;
                        encode_key_datum(&mut key, &datum, *dir);
                        columns.push((datum, *dir));
                    }
                    rows.push((format!("({text})"), key, columns));
                }
                write_sorted(&mut out, rows)?;
            }
            "row" => {
                let datums: Vec<Datum> = parse_datums(args)?.into_iter().map(|(_, d)| d).collect();
                let bytes = encode_row(&datums);
                let decoded = decode_row(&bytes)?;
                writeln!(out, "{}", hex(&bytes))?;
                let shown: Vec<String> = decoded.iter().map(Datum::to_string).collect();
                writeln!(out, "→ [{}]", shown.join(", "))?;
            }
            "decode_row" => {
                let text = args.next_pos().ok_or("hex not given")?;
                args.reject_next()?;
                let row = decode_row(&unhex(text)?)?;
                let shown: Vec<String> = row.iter().map(Datum::to_string).collect();
                writeln!(out, "[{}]", shown.join(", "))?;
            }
            name => return Err(format!("unknown command {name}").into()),
        }
        Ok(out)
    }
}

/// A row for `write_sorted`: its label, its key, and its columns with their directions.
type SortRow = (String, Vec<u8>, Vec<(Datum, Direction)>);

/// Sorts rows by key bytes (stable), prints them, and checks that consecutive rows are in
/// the order `compare` gives, column by column.
fn write_sorted(out: &mut String, mut rows: Vec<SortRow>) -> Result<(), Box<dyn Error>> {
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    for (i, (text, key, columns)) in rows.iter().enumerate() {
        let mut equal = false;
        if let Some((prev_text, prev_key, prev_columns)) = i.checked_sub(1).map(|p| &rows[p]) {
            let expected = prev_columns
                .iter()
                .zip(columns)
                .map(|((a, dir), (b, _))| match dir {
                    Direction::Ascending => compare(a, b),
                    Direction::Descending => compare(a, b).reverse(),
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal);
            let actual = prev_key.cmp(key);
            if actual != expected {
                return Err(format!(
                    "{prev_text} vs {text}: keys compare {actual:?}, values {expected:?}"
                )
                .into());
            }
            equal = actual == Ordering::Equal;
        }
        let marker = if equal { "=" } else { " " };
        writeln!(out, "{marker} {text:<22} {}", hex(key))?;
    }
    Ok(())
}

fn parse_dir(text: &str) -> Result<Direction, Box<dyn Error>> {
    match text {
        "asc" => Ok(Direction::Ascending),
        "desc" => Ok(Direction::Descending),
        other => Err(format!("invalid direction {other}").into()),
    }
}

/// Parses the remaining `TYPE=VALUE` arguments, keeping their text for the output.
fn parse_datums<'a>(
    args: impl Iterator<Item = &'a Argument>,
) -> Result<Vec<(String, Datum)>, Box<dyn Error>> {
    args.map(|arg| match arg {
        Argument::KeyValue(ty, value) => Ok((arg.to_string(), parse_datum(ty, value)?)),
        other => Err(format!("expected TYPE=VALUE, got {other}").into()),
    })
    .collect()
}

fn parse_datum(ty: &str, value: &str) -> Result<Datum, Box<dyn Error>> {
    Ok(match ty {
        "null" => Datum::Null,
        "bool" => Datum::Bool(value.parse()?),
        "int" => Datum::Int(value.parse()?),
        "float" => Datum::Float(match value {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => other.parse()?,
        }),
        "dec" => Datum::Decimal(value.parse()?),
        "str" => Datum::String(value.to_string()),
        "bytes" => Datum::Bytes(unhex(value)?),
        "date" => Datum::Date(value.parse()?),
        "time" => Datum::Time(value.parse()?),
        "ts" => Datum::Timestamp(value.parse()?),
        "interval" => {
            let fields: Vec<&str> = value.split('/').collect();
            let [months, days, micros] = fields[..] else {
                return Err(format!("interval {value} is not MONTHS/DAYS/MICROS").into());
            };
            Datum::Interval {
                months: months.parse()?,
                days: days.parse()?,
                micros: micros.parse()?,
            }
        }
        "uuid" => {
            let bytes = unhex(value)?;
            Datum::Uuid(bytes.try_into().map_err(|_| "a uuid has 16 bytes")?)
        }
        other => return Err(format!("unknown type {other}").into()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return Err(format!("invalid hex {text}").into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(&text[i..i + 2], 16)?))
        .collect()
}
