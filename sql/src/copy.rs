//! COPY: the text and CSV formats of `COPY … FROM STDIN` and `COPY … TO STDOUT`.
//!
//! The wire side (CopyInResponse, CopyData, CopyDone, CopyOutResponse) is pgwire's; the
//! session keeps a COPY FROM that is waiting for its data (see `Session::copy_data`). This
//! module turns lines into rows of text fields and back, as PostgreSQL's formats define:
//!
//! ```text
//!   text   fields split by the delimiter (tab); \N is NULL; backslash escapes \t \n \r \\
//!          \b \f \v and \<delimiter>; a line "\." ends the data
//!   csv    fields split by the delimiter (comma); "quoted" fields may hold delimiters,
//!          quotes ("" for one) and newlines; an unquoted empty field is NULL; HEADER skips
//!          (FROM) or writes (TO) a first line of column names
//! ```
//!
//!
//! The binary format (`FORMAT binary`) is PostgreSQL's:
//!
//! ```text
//!   header   "PGCOPY\n\xff\r\n\0", int32 flags (0), int32 extension length, extension
//!   tuple    int16 field count, then per field int32 length (-1: NULL) and the value in
//!            the type's binary format (`pgwire/values.rs`)
//!   trailer  int16 -1
//! ```

use sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};

use crate::error::{SqlError, SqlResult, SqlState};

/// The format of a COPY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyFormat {
    /// CSV (true) or text.
    pub csv: bool,
    /// The binary format (the other fields do not apply).
    pub binary: bool,
    /// The field delimiter.
    pub delimiter: char,
    /// The text that stands for NULL.
    pub null: String,
    /// Whether the first line holds column names.
    pub header: bool,
    /// The CSV quote character.
    pub quote: char,
}

impl CopyFormat {
    /// PostgreSQL's defaults for text (`csv` false) or CSV.
    pub fn new(csv: bool) -> Self {
        CopyFormat {
            csv,
            binary: false,
            delimiter: if csv { ',' } else { '\t' },
            null: if csv { String::new() } else { "\\N".into() },
            header: false,
            quote: '"',
        }
    }

    /// The format the options of a COPY statement ask for.
    pub fn from_options(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> SqlResult<Self> {
        let csv = options
            .iter()
            .any(|o| matches!(o, CopyOption::Format(f) if f.value.eq_ignore_ascii_case("csv")))
            || legacy.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_)));
        let mut f = CopyFormat::new(csv);
        for o in options {
            match o {
                CopyOption::Format(name) => match name.value.to_lowercase().as_str() {
                    "csv" | "text" => {}
                    "binary" => f.binary = true,
                    other => {
                        return Err(SqlError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("COPY format \"{other}\" not recognized"),
                        ))
                    }
                },
                CopyOption::Delimiter(c) => f.delimiter = *c,
                CopyOption::Null(s) => f.null = s.clone(),
                CopyOption::Header(h) => f.header = *h,
                CopyOption::Quote(c) => f.quote = *c,
                // FREEZE lets PostgreSQL write the rows already frozen for VACUUM; tessera's
                // MVCC has nothing to freeze.
                CopyOption::Freeze(_) => {}
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                other => return Err(SqlError::unsupported(format!("COPY option {other}"))),
            }
        }
        for o in legacy {
            match o {
                CopyLegacyOption::Csv(opts) => {
                    for c in opts {
                        match c {
                            CopyLegacyCsvOption::Header => f.header = true,
                            CopyLegacyCsvOption::Quote(q) => f.quote = *q,
                            other => {
                                return Err(SqlError::unsupported(format!("COPY option {other}")))
                            }
                        }
                    }
                }
                CopyLegacyOption::Delimiter(c) => f.delimiter = *c,
                CopyLegacyOption::Null(s) => f.null = s.clone(),
                CopyLegacyOption::Binary => f.binary = true,
                other => return Err(SqlError::unsupported(format!("COPY option {other}"))),
            }
        }
        Ok(f)
    }

    /// Splits the data of a COPY FROM into rows of fields (`None` for NULL).
    pub fn parse(&self, data: &str) -> SqlResult<Vec<Vec<Option<String>>>> {
        let mut rows = if self.csv {
            self.parse_csv(data)?
        } else {
            self.parse_text(data)?
        };
        if self.header && !rows.is_empty() {
            rows.remove(0);
        }
        Ok(rows)
    }

    fn parse_text(&self, data: &str) -> SqlResult<Vec<Vec<Option<String>>>> {
        let mut rows = Vec::new();
        for line in data.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line == "\\." {
                break;
            }
            if line.is_empty() {
                continue;
            }
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut raw = String::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                if c == self.delimiter {
                    fields.push(self.text_field(std::mem::take(&mut field), &raw));
                    raw.clear();
                } else if c == '\\' {
                    let Some(e) = chars.next() else {
                        return Err(bad_copy("end-of-copy marker corrupt"));
                    };
                    raw.push('\\');
                    raw.push(e);
                    field.push(match e {
                        't' => '\t',
                        'n' => '\n',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        other => other,
                    });
                } else {
                    field.push(c);
                    raw.push(c);
                }
            }
            fields.push(self.text_field(field, &raw));
            rows.push(fields);
        }
        Ok(rows)
    }

    /// A text-format field: NULL when its raw (unescaped) text is the NULL marker.
    fn text_field(&self, field: String, raw: &str) -> Option<String> {
        (raw != self.null).then_some(field)
    }

    fn parse_csv(&self, data: &str) -> SqlResult<Vec<Vec<Option<String>>>> {
        let mut rows = Vec::new();
        let mut fields: Vec<Option<String>> = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut chars = data.chars().peekable();
        let mut line_has_content = false;
        while let Some(c) = chars.next() {
            if in_quotes {
                if c == self.quote {
                    if chars.peek() == Some(&self.quote) {
                        chars.next();
                        field.push(self.quote);
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                c if c == self.quote => {
                    in_quotes = true;
                    quoted = true;
                    line_has_content = true;
                }
                c if c == self.delimiter => {
                    fields.push(self.csv_field(std::mem::take(&mut field), quoted));
                    quoted = false;
                    line_has_content = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    if line_has_content || !field.is_empty() {
                        fields.push(self.csv_field(std::mem::take(&mut field), quoted));
                        if !(fields.len() == 1 && fields[0].as_deref() == Some("\\.")) {
                            rows.push(std::mem::take(&mut fields));
                        }
                        fields.clear();
                    }
                    quoted = false;
                    line_has_content = false;
                }
                other => {
                    field.push(other);
                    line_has_content = true;
                }
            }
        }
        if in_quotes {
            return Err(bad_copy("unterminated CSV quoted field"));
        }
        if line_has_content || !field.is_empty() {
            fields.push(self.csv_field(field, quoted));
            if !(fields.len() == 1 && fields[0].as_deref() == Some("\\.")) {
                rows.push(fields);
            }
        }
        Ok(rows)
    }

    fn csv_field(&self, field: String, quoted: bool) -> Option<String> {
        (quoted || field != self.null).then_some(field)
    }

    /// One line of COPY TO output (with its newline).
    pub fn format_row(&self, fields: &[Option<String>]) -> String {
        let mut line = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(self.delimiter);
            }
            match f {
                None => line.push_str(&self.null),
                Some(s) if self.csv => {
                    let needs_quotes = s.is_empty() && self.null.is_empty()
                        || s.contains(self.delimiter)
                        || s.contains(self.quote)
                        || s.contains('\n')
                        || s.contains('\r')
                        || *s == self.null;
                    if needs_quotes {
                        line.push(self.quote);
                        for c in s.chars() {
                            if c == self.quote {
                                line.push(self.quote);
                            }
                            line.push(c);
                        }
                        line.push(self.quote);
                    } else {
                        line.push_str(s);
                    }
                }
                Some(s) => {
                    for c in s.chars() {
                        match c {
                            '\\' => line.push_str("\\\\"),
                            '\n' => line.push_str("\\n"),
                            '\r' => line.push_str("\\r"),
                            '\t' => line.push_str("\\t"),
                            c if c == self.delimiter => {
                                line.push('\\');
                                line.push(c);
                            }
                            c => line.push(c),
                        }
                    }
                }
            }
        }
        line.push('\n');
        line
    }
}

/// The signature that starts binary COPY data.
const BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The fields of each tuple of binary COPY data (`None`: NULL), checking the header and
/// that each tuple has `columns` fields.
pub fn parse_binary(data: &[u8], columns: usize) -> SqlResult<Vec<Vec<Option<Vec<u8>>>>> {
    let bad = |what: &str| bad_copy(&format!("binary COPY data: {what}"));
    let mut rest = data
        .strip_prefix(BINARY_SIGNATURE.as_slice())
        .ok_or_else(|| bad("COPY file signature not recognized"))?;
    let mut take = |n: usize| -> SqlResult<&[u8]> {
        if rest.len() < n {
            return Err(bad("unexpected end of data"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let int32 = |b: &[u8]| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let _flags = int32(take(4)?);
    let ext = usize::try_from(int32(take(4)?)).map_err(|_| bad("negative header extension"))?;
    take(ext)?;
    let mut rows = Vec::new();
    loop {
        let count = take(2)?;
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            return Ok(rows);
        }
        if usize::try_from(count).ok() != Some(columns) {
            return Err(SqlError::new(
                SqlState("22P04"),
                format!("row field count is {count}, expected {columns}"),
            ));
        }
        let mut row = Vec::with_capacity(columns);
        for _ in 0..columns {
            let len = int32(take(4)?);
            row.push(match usize::try_from(len) {
                Ok(n) => Some(take(n)?.to_vec()),
                Err(_) if len == -1 => None,
                Err(_) => return Err(bad("negative field length")),
            });
        }
        rows.push(row);
    }
}

/// Binary COPY data as CopyData messages, as PostgreSQL sends them: the header with the
/// first row, then one message per row, then the trailer (with the header when there are
/// no rows). Readers such as tokio-postgres's expect a row per message.
pub fn format_binary(rows: &[Vec<Option<Vec<u8>>>]) -> SqlResult<Vec<Vec<u8>>> {
    let too_wide = || SqlError::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "row too wide for COPY");
    let mut header = BINARY_SIGNATURE.to_vec();
    header.extend_from_slice(&0i32.to_be_bytes());
    header.extend_from_slice(&0i32.to_be_bytes());
    let mut chunks = Vec::with_capacity(rows.len() + 1);
    let mut next = header;
    for row in rows {
        next.extend_from_slice(
            &i16::try_from(row.len())
                .map_err(|_| too_wide())?
                .to_be_bytes(),
        );
        for field in row {
            match field {
                None => next.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    let len = i32::try_from(v.len()).map_err(|_| too_wide())?;
                    next.extend_from_slice(&len.to_be_bytes());
                    next.extend_from_slice(v);
                }
            }
        }
        chunks.push(std::mem::take(&mut next));
    }
    next.extend_from_slice(&(-1i16).to_be_bytes());
    chunks.push(next);
    Ok(chunks)
}

fn bad_copy(what: &str) -> SqlError {
    SqlError::new(SqlState("22P04"), format!("bad COPY data: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_round_trips_escapes_and_nulls() {
        let f = CopyFormat::new(false);
        let fields = vec![Some("a\tb\\c\nd".to_string()), None, Some(String::new())];
        let line = f.format_row(&fields);
        assert_eq!(line, "a\\tb\\\\c\\nd\t\\N\t\n");
        assert_eq!(f.parse(&line).ok(), Some(vec![fields]));
    }

    #[test]
    fn csv_format_quotes_what_needs_it() {
        let f = CopyFormat::new(true);
        let fields = vec![
            Some("x,y".to_string()),
            Some("say \"hi\"".to_string()),
            None,
            Some(String::new()),
            Some("multi\nline".to_string()),
        ];
        let line = f.format_row(&fields);
        assert_eq!(line, "\"x,y\",\"say \"\"hi\"\"\",,\"\",\"multi\nline\"\n");
        assert_eq!(f.parse(&line).ok(), Some(vec![fields]));
    }

    #[test]
    fn header_and_end_marker_are_skipped() {
        let mut f = CopyFormat::new(true);
        f.header = true;
        let rows = f.parse("a,b\n1,2\n3,4\n\\.\n").ok();
        assert_eq!(
            rows,
            Some(vec![
                vec![Some("1".into()), Some("2".into())],
                vec![Some("3".into()), Some("4".into())]
            ])
        );
        let t = CopyFormat::new(false);
        assert_eq!(t.parse("1\t2\n\\.\n").ok().map(|r| r.len()), Some(1));
    }

    #[test]
    fn binary_format_round_trips_and_checks_its_input() {
        let rows = vec![
            vec![Some(vec![0, 0, 0, 7]), None],
            vec![Some(Vec::new()), Some(b"x".to_vec())],
        ];
        let chunks = format_binary(&rows).expect("formats");
        assert_eq!(chunks.len(), 3, "a message per row, then the trailer");
        let data = chunks.concat();
        assert_eq!(parse_binary(&data, 2).expect("parses"), rows);
        let empty = format_binary(&[]).expect("formats").concat();
        assert_eq!(
            parse_binary(&empty, 2).expect("parses"),
            Vec::<Vec<_>>::new()
        );
        assert!(parse_binary(&data, 3).is_err(), "field count checked");
        for len in 0..data.len() - 1 {
            assert!(
                parse_binary(&data[..len], 2).is_err(),
                "prefix of {len} bytes"
            );
        }
        assert!(parse_binary(b"PGCOPY\n\xff\r\n\x01", 2).is_err());
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let f = CopyFormat::new(true);
        assert_eq!(
            f.parse("\"open,1\n").map_err(|e| e.state),
            Err(SqlState("22P04"))
        );
    }
}
