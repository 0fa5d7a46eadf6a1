//! `to_char(number, format)` for `smallint`, `integer`, `bigint`, `real`, `double precision`
//! and `numeric`: PostgreSQL's number template patterns.
//!
//! Supported patterns: `9` (a digit, blank when it is a leading zero), `0` (a digit, zero
//! kept), `.` and `D` (decimal point), `,` and `G` (group separator), `FM` (fill mode: no
//! padding blanks, no trailing zeros after the point unless `0` asks for them), `S` (sign
//! anchored to the number), `MI`/`PL`/`SG` (minus / plus / either at that place), `PR`
//! (a negative value in angle brackets), `RN`/`rn` (the value rounded to an integer as a
//! Roman numeral, 15 characters wide, `#`s outside 1..3999; digit patterns print nothing
//! then), `TH`/`th` (the English ordinal suffix of the integer printed, not for negative
//! values or with a decimal point), `V` (each `9` after it multiplies the value by ten
//! before it is printed) and `EEEE` (scientific notation: only the number, `d.ddde+XX`,
//! with as many decimals as the template has after its point); anything else is copied
//! (`"quoted text"` without its quotes, `\"` as a quote). `B`, `C`, `L` and `SP`, and
//! non-finite floats and numerics outside `RN` and `EEEE`, are 0A000. The locale is C: `.`,
//! `,`, `-` and `+`.
//!
//! The types differ where PostgreSQL's do: `RN` rounds a float half to even (`rint`) and a
//! numeric half away from zero, and is 22003 for an integer or numeric past `integer`;
//! `EEEE` formats `real`, `double precision`, `smallint` and `integer` through C's `%e`
//! (ties to even on the binary value) and `bigint` and `numeric` as `numeric_out_sci`
//! (ties away from zero, the exponent fixed before rounding, so `9.999` is `10.00e+00`).
//!
//! The output must match PostgreSQL character for character, including its odd corners
//! (`to_char(0.1, '9.9')` is `'  .1'`, a value too wide for the template prints `#`s, a
//! template with more digits after the point than a `real` has prints the digits it has and
//! stops). So this is a transcription of PostgreSQL 15's `NUM_processor`
//! (formatting.c), state for state, rather than a fresh design:
//!
//! ```text
//!   value ──round to the template's decimals──► sign + digit string + leading blanks
//!   template ──parse──► pattern nodes + counts (digits before/after the point, flags)
//!   walk the nodes: each digit pattern takes the next character of the digit string,
//!   a blank while the number has not started, and the sign when it is first due
//! ```

use std::borrow::Cow;

use tessera_encoding::Decimal;

use crate::error::{SqlError, SqlResult, SqlState};

/// One element of a parsed template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Nine,
    Zero,
    /// `.` or `D`.
    Point,
    /// `,` or `G`.
    Group,
    Minus,
    Plus,
    SignEither,
    /// `S`, `PR`, `FM`, `V`, `EEEE`: they act through [`Template`]'s flags.
    Silent,
    /// `RN` (`true`) or `rn`.
    Roman(bool),
    /// `TH` (`true`) or `th`.
    Ordinal(bool),
    Char(char),
}

/// Where an `S` puts the sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AnchoredSign {
    None,
    Before,
    After,
}

/// A parsed template: its nodes and PostgreSQL's `NUMDesc`.
#[derive(Debug)]
struct Template {
    nodes: Vec<Node>,
    /// Digit patterns before the point.
    pre: i64,
    /// Digit patterns after the point.
    post: i64,
    point: bool,
    fill: bool,
    /// A `0` was seen before the point: from digit `zero_start` (1-based) on, leading
    /// zeros are printed.
    zero: bool,
    zero_start: i64,
    zero_end: i64,
    lsign: AnchoredSign,
    /// `pre` when the `S` was read.
    pre_lsign: i64,
    anchored: bool,
    minus: bool,
    plus: bool,
    bracket: bool,
    /// `RN` was seen.
    roman: bool,
    /// `V` was seen; `multi` digit patterns follow it.
    multi_flag: bool,
    multi: i64,
    /// `EEEE` was seen.
    eeee: bool,
}

/// The argument of `to_char`.
pub enum Number<'a> {
    /// A `smallint` or `integer`.
    Int(i64),
    /// A `bigint`.
    BigInt(i64),
    /// A float with the decimal digits its type guarantees (6 for `real`, 15 for `double
    /// precision`).
    Float(f64, i64),
    /// A numeric.
    Numeric(Cow<'a, Decimal>),
}

fn syntax(message: &str) -> SqlError {
    SqlError::new(SqlState::SYNTAX_ERROR, message)
}

/// The patterns, longest first where one is a prefix of another; `None`: not supported.
const KEYWORDS: &[(&str, Option<Node>)] = &[
    ("EEEE", Some(Node::Silent)),
    ("eeee", Some(Node::Silent)),
    ("FM", Some(Node::Silent)),
    ("fm", Some(Node::Silent)),
    ("MI", Some(Node::Minus)),
    ("mi", Some(Node::Minus)),
    ("PL", Some(Node::Plus)),
    ("pl", Some(Node::Plus)),
    ("PR", Some(Node::Silent)),
    ("pr", Some(Node::Silent)),
    ("RN", Some(Node::Roman(true))),
    ("rn", Some(Node::Roman(false))),
    ("SG", Some(Node::SignEither)),
    ("sg", Some(Node::SignEither)),
    ("SP", None),
    ("sp", None),
    ("TH", Some(Node::Ordinal(true))),
    ("th", Some(Node::Ordinal(false))),
    ("S", Some(Node::Silent)),
    ("s", Some(Node::Silent)),
    ("D", Some(Node::Point)),
    ("d", Some(Node::Point)),
    ("G", Some(Node::Group)),
    ("g", Some(Node::Group)),
    (",", Some(Node::Group)),
    (".", Some(Node::Point)),
    ("0", Some(Node::Zero)),
    ("9", Some(Node::Nine)),
    ("B", None),
    ("b", None),
    ("C", None),
    ("c", None),
    ("L", None),
    ("l", None),
    ("V", Some(Node::Silent)),
    ("v", Some(Node::Silent)),
];

impl Template {
    /// Parses a template, checking the pattern combinations as PostgreSQL's
    /// `NUMDesc_prepare` does (42601).
    fn parse(format: &str) -> SqlResult<Template> {
        let mut t = Template {
            nodes: Vec::new(),
            pre: 0,
            post: 0,
            point: false,
            fill: false,
            zero: false,
            zero_start: 0,
            zero_end: 0,
            lsign: AnchoredSign::None,
            pre_lsign: 0,
            anchored: false,
            minus: false,
            plus: false,
            bracket: false,
            roman: false,
            multi_flag: false,
            multi: 0,
            eeee: false,
        };
        let mut rest = format;
        while let Some(c) = rest.chars().next() {
            if let Some((word, node)) = KEYWORDS.iter().find(|(w, _)| rest.starts_with(w)) {
                let node =
                    node.ok_or_else(|| SqlError::unsupported(format!("to_char pattern {word}")))?;
                t.prepare(word, node)?;
                t.nodes.push(node);
                rest = &rest[word.len()..];
                continue;
            }
            if c == '"' {
                // Quoted text; a backslash quotes the character after it.
                let mut chars = rest[1..].chars();
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            let mut peek = chars.clone();
                            match peek.next() {
                                Some(n) => {
                                    t.nodes.push(Node::Char(n));
                                    chars = peek;
                                }
                                None => t.nodes.push(Node::Char('\\')),
                            }
                        }
                        q => t.nodes.push(Node::Char(q)),
                    }
                }
                rest = chars.as_str();
                continue;
            }
            // Outside quotes a backslash only matters before a quote.
            let skip = if rest.starts_with("\\\"") { 1 } else { 0 };
            let c = rest[skip..].chars().next().unwrap_or(c);
            t.nodes.push(Node::Char(c));
            rest = &rest[skip + c.len_utf8()..];
        }
        Ok(t)
    }

    fn prepare(&mut self, word: &str, node: Node) -> SqlResult<()> {
        let eeee = word.eq_ignore_ascii_case("EEEE");
        if self.eeee && !eeee {
            return Err(syntax("\"EEEE\" must be the last pattern used"));
        }
        match word {
            "9" => {
                if self.bracket {
                    return Err(syntax("\"9\" must be ahead of \"PR\""));
                }
                if self.multi_flag {
                    self.multi += 1;
                } else if self.point {
                    self.post += 1;
                } else {
                    self.pre += 1;
                }
            }
            "0" => {
                if self.bracket {
                    return Err(syntax("\"0\" must be ahead of \"PR\""));
                }
                if !self.zero && !self.point {
                    self.zero = true;
                    self.zero_start = self.pre + 1;
                }
                if self.point {
                    self.post += 1;
                } else {
                    self.pre += 1;
                }
                self.zero_end = self.pre + self.post;
            }
            _ if node == Node::Point => {
                if self.point {
                    return Err(syntax("multiple decimal points"));
                }
                if self.multi_flag {
                    return Err(syntax("cannot use \"V\" and decimal point together"));
                }
                self.point = true;
            }
            "V" | "v" => {
                if self.point {
                    return Err(syntax("cannot use \"V\" and decimal point together"));
                }
                self.multi_flag = true;
            }
            "RN" | "rn" => self.roman = true,
            _ if eeee => {
                if self.eeee {
                    return Err(syntax("cannot use \"EEEE\" twice"));
                }
                if self.fill
                    || self.anchored
                    || self.bracket
                    || self.minus
                    || self.plus
                    || self.roman
                    || self.multi_flag
                {
                    return Err(SqlError::new(
                        SqlState::SYNTAX_ERROR,
                        "\"EEEE\" is incompatible with other formats",
                    ));
                }
                self.eeee = true;
            }
            "FM" | "fm" => self.fill = true,
            "S" | "s" => {
                if self.anchored {
                    return Err(syntax("cannot use \"S\" twice"));
                }
                if self.plus || self.minus || self.bracket {
                    return Err(syntax(
                        "cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together",
                    ));
                }
                if !self.point {
                    self.lsign = AnchoredSign::Before;
                    self.pre_lsign = self.pre;
                    self.anchored = true;
                } else if self.lsign == AnchoredSign::None {
                    self.lsign = AnchoredSign::After;
                    self.anchored = true;
                }
            }
            "MI" | "mi" | "PL" | "pl" | "SG" | "sg" => {
                if self.anchored {
                    return Err(syntax(&format!(
                        "cannot use \"S\" and \"{}\" together",
                        word.to_uppercase()
                    )));
                }
                self.minus |= node != Node::Plus;
                self.plus |= node != Node::Minus;
            }
            "PR" | "pr" => {
                if self.anchored || self.plus || self.minus {
                    return Err(syntax(
                        "cannot use \"PR\" and \"S\"/\"PL\"/\"MI\"/\"SG\" together",
                    ));
                }
                self.bracket = true;
            }
            _ => {}
        }
        Ok(())
    }
}

/// `to_char(n, format)` (see the module docs).
pub fn format(n: &Number<'_>, format: &str) -> SqlResult<String> {
    if format.is_empty() {
        return Ok(String::new());
    }
    let mut t = Template::parse(format)?;
    if t.roman {
        return Ok(roman_output(&t, &roman_numeral(n)?));
    }
    if t.eeee {
        return scientific(n, t.pre, t.post);
    }
    let multiplied;
    let n = if t.multi_flag {
        t.pre += t.multi;
        multiplied = times_ten_to(n, t.multi)?;
        &multiplied
    } else {
        n
    };
    let text = match n {
        Number::Int(i) | Number::BigInt(i) => {
            let mut s = i.unsigned_abs().to_string();
            if t.post > 0 {
                s.push('.');
                s.extend(std::iter::repeat_n('0', t.post as usize));
            }
            (if *i < 0 { '-' } else { '+' }, s)
        }
        Number::Float(f, digits) => {
            if !f.is_finite() {
                return Err(SqlError::unsupported("to_char of NaN or infinity"));
            }
            let whole = format!("{:.0}", f.abs()).len() as i64;
            if whole >= *digits {
                t.post = 0;
            } else if whole + t.post > *digits {
                t.post = digits - whole;
            }
            let s = format!("{:.*}", t.post as usize, f);
            match s.strip_prefix('-') {
                Some(abs) => ('-', abs.to_string()),
                None => ('+', s),
            }
        }
        Number::Numeric(d) => {
            let s = super::numeric::round(d, t.post, false)?.to_string();
            if !s
                .bytes()
                .next()
                .is_some_and(|b| b == b'-' || b.is_ascii_digit())
            {
                return Err(SqlError::unsupported("to_char of NaN or infinity"));
            }
            match s.strip_prefix('-') {
                // numeric has no negative zero.
                Some(abs) if abs.bytes().any(|b| (b'1'..=b'9').contains(&b)) => {
                    ('-', abs.to_string())
                }
                Some(abs) => ('+', abs.to_string()),
                None => ('+', s),
            }
        }
    };
    let (sign, mut digits) = text;
    let whole = digits.find('.').unwrap_or(digits.len()) as i64;
    let mut pre_blanks = 0;
    if whole < t.pre {
        pre_blanks = t.pre - whole;
    } else if whole > t.pre {
        // Too wide: every digit a '#'.
        let mut hashes = vec![b'#'; (t.pre + t.post + 1) as usize];
        hashes[t.pre as usize] = b'.';
        digits = String::from_utf8(hashes).unwrap_or_default();
    }
    Ok(Processor::new(&mut t, digits.into_bytes(), sign, pre_blanks).run(&t))
}

/// `V`: the value times `10^multi`, computed as PostgreSQL's `X_to_char` computes it
/// (`integer` in 32 bits, wrapping as C does; `bigint` checked, 22003; floats in their
/// own width; numerics exactly).
fn times_ten_to<'a>(n: &Number<'a>, multi: i64) -> SqlResult<Number<'a>> {
    let exp = i32::try_from(multi).unwrap_or(i32::MAX);
    Ok(match n {
        Number::Int(i) => {
            let factor = 10f64.powi(exp) as i32;
            Number::Int(i64::from((*i as i32).wrapping_mul(factor)))
        }
        Number::BigInt(i) => {
            let out_of_range =
                || SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range");
            let factor = 10i64
                .checked_pow(u32::try_from(multi).map_err(|_| out_of_range())?)
                .ok_or_else(out_of_range)?;
            Number::BigInt(i.checked_mul(factor).ok_or_else(out_of_range)?)
        }
        Number::Float(f, 6) => Number::Float(f64::from((*f as f32) * (10f64.powi(exp) as f32)), 6),
        Number::Float(f, digits) => Number::Float(f * 10f64.powi(exp), *digits),
        Number::Numeric(d) => {
            let factor: Decimal = format!("1e{multi}").parse().map_err(|_| {
                SqlError::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value overflows numeric format",
                )
            })?;
            let product = super::numeric::arith(d, super::numeric::ArithOp::Mul, &factor)?;
            Number::Numeric(Cow::Owned(product))
        }
    })
}

/// PostgreSQL's `get_th`: `ST`, `ND`, `RD` or `TH` for the integer `digits` (the teens
/// take `TH`).
fn ordinal_suffix(digits: &[u8], upper: bool) -> &'static [u8] {
    let teen = digits.len() > 1 && digits[digits.len() - 2] == b'1';
    let suffix: &[u8] = match digits.last() {
        _ if teen => b"TH",
        Some(b'1') => b"ST",
        Some(b'2') => b"ND",
        Some(b'3') => b"RD",
        _ => b"TH",
    };
    match (upper, suffix) {
        (true, s) => s,
        (false, b"ST") => b"st",
        (false, b"ND") => b"nd",
        (false, b"RD") => b"rd",
        (false, _) => b"th",
    }
}

/// `RN`: the value as PostgreSQL's `int_to_roman` writes it (15 `#`s outside 1..3999).
fn roman_numeral(n: &Number<'_>) -> SqlResult<String> {
    let integer_out_of_range =
        || SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range");
    let value: i64 = match n {
        Number::Int(i) => *i,
        Number::BigInt(i) => i64::from(i32::try_from(*i).map_err(|_| integer_out_of_range())?),
        // C's (int) rint(value); NaN, infinities and values past int make INT_MIN there.
        Number::Float(f, _) => {
            let r = f.round_ties_even();
            if r.is_finite() && r.abs() < 1e10 {
                r as i64
            } else {
                i64::from(i32::MIN)
            }
        }
        Number::Numeric(d) => numeric_to_int4(d)?,
    };
    if !(1..=3999).contains(&value) {
        return Ok("#".repeat(15));
    }
    const ONES: [&str; 9] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"];
    const TENS: [&str; 9] = ["X", "XX", "XXX", "XL", "L", "LX", "LXX", "LXXX", "XC"];
    const HUNDREDS: [&str; 9] = ["C", "CC", "CCC", "CD", "D", "DC", "DCC", "DCCC", "CM"];
    let digit = |place: i64| (value / place % 10) as usize;
    let mut out = "M".repeat(digit(1000));
    for (place, table) in [(100, &HUNDREDS), (10, &TENS), (1, &ONES)] {
        if let Some(text) = digit(place).checked_sub(1).and_then(|k| table.get(k)) {
            out.push_str(text);
        }
    }
    Ok(out)
}

/// `round(d)::int4`, with PostgreSQL's errors.
fn numeric_to_int4(d: &Decimal) -> SqlResult<i64> {
    if !d.is_finite() {
        return Err(SqlError::unsupported(if d.is_nan() {
            "cannot convert NaN to integer"
        } else {
            "cannot convert infinity to integer"
        }));
    }
    super::numeric::round(d, 0, false)?
        .to_string()
        .parse::<i32>()
        .map(i64::from)
        .map_err(|_| SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range"))
}

/// The output of a template with `RN`: PostgreSQL's `NUM_processor` with no sign (its
/// callers leave it 0, so `SG` writes a NUL that ends the string).
fn roman_output(t: &Template, numeral: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    for node in &t.nodes {
        match *node {
            Node::Roman(upper) => {
                let text = if upper {
                    numeral.to_string()
                } else {
                    numeral.to_ascii_lowercase()
                };
                if t.fill {
                    out.extend_from_slice(text.as_bytes());
                } else {
                    out.extend_from_slice(format!("{text:>15}").as_bytes());
                }
            }
            Node::Minus | Node::Plus | Node::Group if !t.fill => out.push(b' '),
            Node::SignEither => out.push(0),
            Node::Char(c) => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => {}
        }
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `EEEE`: the number alone in scientific notation with `post` decimals (see the module
/// docs), a leading blank where a minus would be; `#`s for NaN and the infinities.
fn scientific(n: &Number<'_>, pre: i64, post: i64) -> SqlResult<String> {
    let decimals = usize::try_from(post).unwrap_or(0);
    let hashes = || {
        // PostgreSQL: pre + post + 6 characters, a blank first and the point after `pre`.
        let pre = usize::try_from(pre).unwrap_or(0);
        let mut s = vec![b'#'; pre + decimals + 6];
        s[0] = b' ';
        s[pre + 1] = b'.';
        String::from_utf8(s).unwrap_or_default()
    };
    let float = |f: f64| -> String {
        let text = format!("{f:.decimals$e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let exp: i64 = exp.parse().unwrap_or(0);
        let sign = if mantissa.starts_with('-') { "" } else { " " };
        format!("{sign}{mantissa}e{exp:+03}")
    };
    Ok(match n {
        Number::Int(i) => float(*i as f64),
        Number::Float(f, _) if !f.is_finite() => hashes(),
        Number::Float(f, _) => float(*f),
        Number::BigInt(i) => numeric_scientific(&Decimal::from(*i), post)?,
        Number::Numeric(d) if !d.is_finite() => hashes(),
        Number::Numeric(d) => numeric_scientific(d, post)?,
    })
}

/// PostgreSQL's `numeric_out_sci`: the exponent of the first significant digit, then the
/// significand rounded to `post` decimals (half away from zero), with a blank for a sign.
fn numeric_scientific(d: &Decimal, post: i64) -> SqlResult<String> {
    let text = d.to_string();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(u) => (true, u),
        None => (false, text.as_str()),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int_digits = int_part.trim_start_matches('0');
    let (exponent, significant) = if !int_digits.is_empty() {
        (
            int_digits.len() as i64 - 1,
            format!("{int_digits}{frac_part}"),
        )
    } else {
        let significant = frac_part.trim_start_matches('0');
        if significant.is_empty() {
            (0, "0".to_string())
        } else {
            (
                -((frac_part.len() - significant.len()) as i64 + 1),
                significant.to_string(),
            )
        }
    };
    let (first, rest) = significant.split_at(1);
    let mantissa: Decimal = format!("{first}.{rest}0")
        .parse()
        .map_err(|_| SqlError::internal("numeric significand"))?;
    let mantissa = super::numeric::round(&mantissa, post, false)?;
    let sign = if negative { "-" } else { " " };
    Ok(format!("{sign}{mantissa}e{exponent:+03}"))
}

/// PostgreSQL's `NUMProc` for one `to_char` call.
struct Processor {
    number: Vec<u8>,
    /// The next character of `number` to print.
    at: usize,
    out: Vec<u8>,
    sign: u8,
    sign_wrote: bool,
    num_count: i64,
    num_in: bool,
    num_curr: i64,
    pre_blanks: i64,
    /// In fill mode, the last digit after the point worth printing.
    last_relevant: Option<usize>,
}

impl Processor {
    fn new(t: &mut Template, number: Vec<u8>, sign: char, pre_blanks: i64) -> Processor {
        if t.zero_start > 0 {
            t.zero_start -= 1;
        }
        let sign = if sign == '-' { b'-' } else { b'+' };
        let sign_wrote = if t.plus || t.minus {
            // PL alone leaves the sign to the digits too.
            !t.plus || t.minus
        } else {
            if sign != b'-' && t.bracket && t.fill {
                t.bracket = false;
            }
            if t.lsign == AnchoredSign::Before && t.pre == t.pre_lsign {
                t.lsign = AnchoredSign::After;
            }
            sign == b'+' && t.fill && !t.anchored
        };
        let mut p = Processor {
            number,
            at: 0,
            out: Vec::new(),
            sign,
            sign_wrote,
            num_count: t.post + t.pre - 1,
            num_in: false,
            num_curr: 0,
            pre_blanks,
            last_relevant: None,
        };
        if t.fill && t.point {
            p.last_relevant = p.last_relevant_decimal();
            if let Some(relevant) = p.last_relevant {
                if t.zero_end > pre_blanks {
                    let last_zero = (p.number.len() as i64 - 1).min(t.zero_end - pre_blanks);
                    if (relevant as i64) < last_zero {
                        p.last_relevant = Some(last_zero as usize);
                    }
                }
            }
        }
        if !p.sign_wrote && pre_blanks == 0 {
            p.num_count += 1;
        }
        p
    }

    /// The position of the last non-zero digit after the point (the point itself if none).
    fn last_relevant_decimal(&self) -> Option<usize> {
        let point = self.number.iter().position(|&b| b == b'.')?;
        Some(
            (point + 1..self.number.len())
                .rev()
                .find(|&i| self.number[i] != b'0')
                .unwrap_or(point),
        )
    }

    /// The current character of the number, NUL at its end (as the C string it mirrors).
    fn current(&self) -> u8 {
        self.number.get(self.at).copied().unwrap_or(0)
    }

    fn relevant_is_point(&self) -> bool {
        self.last_relevant
            .is_some_and(|i| self.number.get(i) == Some(&b'.'))
    }

    fn run(mut self, t: &Template) -> String {
        for node in &t.nodes {
            match *node {
                Node::Nine | Node::Zero | Node::Point => self.digit(t, *node),
                Node::Group => {
                    if self.num_in {
                        self.out.push(b',');
                    } else if !t.fill {
                        self.out.push(b' ');
                    }
                }
                Node::Minus => {
                    if self.sign == b'-' {
                        self.out.push(b'-');
                    } else if !t.fill {
                        self.out.push(b' ');
                    }
                }
                Node::Plus => {
                    if self.sign == b'+' {
                        self.out.push(b'+');
                    } else if !t.fill {
                        self.out.push(b' ');
                    }
                }
                Node::SignEither => self.out.push(self.sign),
                Node::Ordinal(upper) => {
                    // Not for a negative value, a decimal template or a too-wide value.
                    if self.sign != b'-' && !t.point && self.number.first() != Some(&b'#') {
                        self.out
                            .extend_from_slice(ordinal_suffix(&self.number, upper));
                    }
                }
                Node::Silent | Node::Roman(_) => {}
                Node::Char(c) => {
                    let mut buf = [0; 4];
                    self.out
                        .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        // A digit pattern past the end of the number wrote a NUL, which ends PostgreSQL's
        // C string there.
        if let Some(nul) = self.out.iter().position(|&b| b == 0) {
            self.out.truncate(nul);
        }
        String::from_utf8(self.out).unwrap_or_default()
    }

    /// `NUM_numpart_to_char`: one digit or point pattern.
    fn digit(&mut self, t: &Template, node: Node) {
        let predec_space =
            !t.zero && self.at == 0 && self.number.first() == Some(&b'0') && t.post != 0;
        if !self.sign_wrote
            && (self.num_curr >= self.pre_blanks || (t.zero && t.zero_start == self.num_curr))
            && (!predec_space || self.relevant_is_point())
        {
            if t.anchored {
                if t.lsign == AnchoredSign::Before {
                    self.out.push(self.sign);
                    self.sign_wrote = true;
                }
            } else if t.bracket {
                self.out.push(if self.sign == b'+' { b' ' } else { b'<' });
                self.sign_wrote = true;
            } else if self.sign == b'+' {
                if !t.fill {
                    self.out.push(b' ');
                }
                self.sign_wrote = true;
            } else {
                self.out.push(b'-');
                self.sign_wrote = true;
            }
        }
        if self.num_curr < self.pre_blanks && (t.zero_start > self.num_curr || !t.zero) {
            if !t.fill {
                self.out.push(b' ');
            }
        } else if t.zero && self.num_curr < self.pre_blanks && t.zero_start <= self.num_curr {
            self.out.push(b'0');
            self.num_in = true;
        } else {
            if self.current() == b'.' {
                if !self.relevant_is_point() || t.fill {
                    self.out.push(b'.');
                }
            } else if self.last_relevant.is_some_and(|r| self.at > r) && node != Node::Zero {
                // A trailing zero fill mode drops.
            } else if predec_space {
                if !t.fill {
                    self.out.push(b' ');
                } else if self.relevant_is_point() {
                    self.out.push(b'0');
                }
            } else {
                self.out.push(self.current());
                self.num_in = true;
            }
            if self.current() != 0 {
                self.at += 1;
            }
        }
        let mut end = self.num_count + i64::from(self.pre_blanks > 0) + i64::from(t.point);
        if self.last_relevant == Some(self.at) {
            end = self.num_curr;
        }
        if self.num_curr + 1 == end {
            if self.sign_wrote && t.bracket {
                self.out.push(if self.sign == b'+' { b' ' } else { b'>' });
            } else if t.anchored && t.lsign == AnchoredSign::After {
                self.out.push(self.sign);
            }
        }
        self.num_curr += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roman_numerals_and_ordinals() {
        for (n, out) in [(1, "I"), (4, "IV"), (1994, "MCMXCIV"), (3999, "MMMCMXCIX")] {
            assert_eq!(roman_numeral(&Number::Int(n)).ok().as_deref(), Some(out));
        }
        assert_eq!(
            roman_numeral(&Number::Int(4000)).ok().as_deref(),
            Some("###############")
        );
        for (digits, out) in [
            ("1", "st"),
            ("12", "th"),
            ("22", "nd"),
            ("113", "th"),
            ("3", "rd"),
        ] {
            assert_eq!(ordinal_suffix(digits.as_bytes(), false), out.as_bytes());
        }
    }

    #[test]
    fn follows_postgres_corners() {
        // Each: value, template, what PostgreSQL 15 prints.
        for (n, f, out) in [
            (12, "999", "  12"),
            (-12, "999", " -12"),
            (0, "9.9", "  .0"),
            (12345, "999", " ###"),
            (12, "FM999", "12"),
            (-5, "999PR", "  <5>"),
        ] {
            assert_eq!(
                format(&Number::Int(n), f).ok().as_deref(),
                Some(out),
                "{n} {f}"
            );
        }
    }
}
