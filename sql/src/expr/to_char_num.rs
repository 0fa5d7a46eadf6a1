//! `to_char(number, format)` for `smallint`, `integer`, `bigint`, `real`, `double precision`
//! and `numeric`: PostgreSQL's number template patterns.
//!
//! Supported patterns: `9` (a digit, blank when it is a leading zero), `0` (a digit, zero
//! kept), `.` and `D` (decimal point), `,` and `G` (group separator), `FM` (fill mode: no
//! padding blanks, no trailing zeros after the point unless `0` asks for them), `S` (sign
//! anchored to the number), `MI`/`PL`/`SG` (minus / plus / either at that place), `PR`
//! (a negative value in angle brackets); anything else is copied (`"quoted text"` without
//! its quotes, `\"` as a quote). `B`, `C`, `L`, `V`, `RN`, `TH`, `SP` and `EEEE`, and
//! non-finite floats and numerics, are 0A000. The locale is C: `.`, `,`, `-` and `+`.
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
    /// `S`, `PR`, `FM`: they act through [`Template`]'s flags.
    Silent,
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
}

/// The argument of `to_char`.
pub enum Number<'a> {
    /// An integer of any width.
    Int(i64),
    /// A float with the decimal digits its type guarantees (6 for `real`, 15 for `double
    /// precision`).
    Float(f64, i64),
    /// A numeric.
    Numeric(&'a Decimal),
}

fn syntax(message: &str) -> SqlError {
    SqlError::new(SqlState::SYNTAX_ERROR, message)
}

/// The patterns, longest first where one is a prefix of another; `None`: not supported.
const KEYWORDS: &[(&str, Option<Node>)] = &[
    ("EEEE", None),
    ("eeee", None),
    ("FM", Some(Node::Silent)),
    ("fm", Some(Node::Silent)),
    ("MI", Some(Node::Minus)),
    ("mi", Some(Node::Minus)),
    ("PL", Some(Node::Plus)),
    ("pl", Some(Node::Plus)),
    ("PR", Some(Node::Silent)),
    ("pr", Some(Node::Silent)),
    ("RN", None),
    ("rn", None),
    ("SG", Some(Node::SignEither)),
    ("sg", Some(Node::SignEither)),
    ("SP", None),
    ("sp", None),
    ("TH", None),
    ("th", None),
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
    ("V", None),
    ("v", None),
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
        match word {
            "9" => {
                if self.bracket {
                    return Err(syntax("\"9\" must be ahead of \"PR\""));
                }
                if self.point {
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
                self.point = true;
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
    let text = match n {
        Number::Int(i) => {
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
                Node::Silent => {}
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
