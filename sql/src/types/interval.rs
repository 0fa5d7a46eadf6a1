//! Text forms of `time` and `interval`, as PostgreSQL's input and output functions have
//! them with the default `IntervalStyle = postgres`.
//!
//! An interval keeps PostgreSQL's three fields — months, days, microseconds — because they
//! do not convert into each other exactly (a month is not always 30 days, a day is not
//! always 24 hours across a DST change). Output prints years and months from the month
//! field, days from the day field and `[-]HH:MM:SS[.ffffff]` from the microseconds, each
//! part with its own sign; a positive part after a negative one gets a `+`:
//!
//! ```text
//!   (14, 3, 14_706_500_000)  →  1 year 2 mons 3 days 04:05:06.5
//!   (0, -1, 7_200_000_000)   →  -1 days +02:00:00
//!   (0, 0, 0)                →  00:00:00
//! ```
//!
//! Input accepts PostgreSQL's verbose form (`1 year 2 months`, `3 days 04:05:06`, `90
//! minutes`, `1.5 days`, `1 day ago`, a bare number of seconds) and ISO 8601 durations
//! (`P1Y2M3DT4H5M6S`). A fractional unit spills into the smaller fields the way PostgreSQL
//! does: `1.5 years` is `1 year 6 mons`, `1.5 days` is `1 day 12:00:00`.

use std::fmt::Write as _;

use tessera_encoding::datum::{DAYS_PER_MONTH, MICROS_PER_DAY};

/// Microseconds in an hour.
const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Formats `[-]HH:MM:SS[.ffffff]` of a microsecond count (hours may exceed 24).
pub(crate) fn format_clock(out: &mut String, micros: i64) {
    if micros < 0 {
        out.push('-');
    }
    let m = micros.unsigned_abs();
    let secs = m / 1_000_000;
    let frac = m % 1_000_000;
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

/// PostgreSQL's interval output (IntervalStyle postgres).
pub fn format_interval(months: i32, days: i32, micros: i64) -> String {
    let mut out = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let _ = write!(
            out,
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value != 1 { "s" } else { "" }
        );
        is_before = value < 0;
        is_zero = false;
    };
    let months = i64::from(months);
    part(&mut out, months / 12, "year");
    part(&mut out, months % 12, "mon");
    part(&mut out, i64::from(days), "day");
    if micros != 0 || is_zero {
        if !is_zero {
            out.push(' ');
        }
        if micros > 0 && is_before {
            out.push('+');
        }
        format_clock(&mut out, micros);
    }
    out
}

/// Parses `HH:MM[:SS[.ffffff]]` into microseconds since midnight; the caller checks the
/// range (up to `24:00:00`).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.starts_with(['-', '+']) {
        return None;
    }
    parse_clock(s)
}

/// `[-]H+:MM[:SS[.f]]` as signed microseconds (no range limit on the hours).
fn parse_clock(s: &str) -> Option<i64> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut parts = s.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next().unwrap_or("0");
    if parts.next().is_some() || m > 59 {
        return None;
    }
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let whole: i64 = whole.parse().ok()?;
    if whole > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Round to microseconds.
    let frac_micros = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<7}");
        let v: i64 = padded[..7].parse().ok()?;
        (v + 5) / 10
    };
    let v = h
        .checked_mul(MICROS_PER_HOUR)?
        .checked_add(m * 60_000_000 + whole * 1_000_000 + frac_micros)?;
    Some(if negative { -v } else { v })
}

/// An interval being assembled from fields, with fractions spilled downward.
#[derive(Default)]
struct Acc {
    months: f64,
    days: f64,
    micros: f64,
}

impl Acc {
    fn add_months(&mut self, v: f64) {
        let whole = v.trunc();
        self.months += whole;
        self.add_days((v - whole) * DAYS_PER_MONTH as f64);
    }

    fn add_days(&mut self, v: f64) {
        let whole = v.trunc();
        self.days += whole;
        self.micros += (v - whole) * MICROS_PER_DAY as f64;
    }

    fn add_unit(&mut self, v: f64, unit: &str) -> Option<()> {
        let u = unit.to_ascii_lowercase();
        let u = u.as_str();
        match u {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" => self.micros += v,
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => self.micros += v * 1e3,
            "second" | "seconds" | "s" | "sec" | "secs" => self.micros += v * 1e6,
            "minute" | "minutes" | "m" | "min" | "mins" => self.micros += v * 6e7,
            "hour" | "hours" | "h" | "hr" | "hrs" => self.micros += v * 3.6e9,
            "day" | "days" | "d" => self.add_days(v),
            "week" | "weeks" | "w" => self.add_days(v * 7.0),
            "month" | "months" | "mon" | "mons" => self.add_months(v),
            "year" | "years" | "y" | "yr" | "yrs" => self.add_months(v * 12.0),
            "decade" | "decades" => self.add_months(v * 120.0),
            "century" | "centuries" => self.add_months(v * 1200.0),
            "millennium" | "millennia" => self.add_months(v * 12000.0),
            _ => return None,
        }
        Some(())
    }

    fn finish(self, negate: bool) -> Option<(i32, i32, i64)> {
        let sign = if negate { -1.0 } else { 1.0 };
        let months = (self.months * sign).round();
        let days = (self.days * sign).round();
        let micros = (self.micros * sign).round();
        if months.abs() > f64::from(i32::MAX)
            || days.abs() > f64::from(i32::MAX)
            || micros.abs() >= 9.2e18
        {
            return None;
        }
        Some((months as i32, days as i32, micros as i64))
    }
}

/// Parses an interval's text; `None` if it is not one.
pub fn parse_interval(s: &str) -> Option<(i32, i32, i64)> {
    let s = s.trim();
    if let Some(iso) = s.strip_prefix('P').or_else(|| s.strip_prefix('p')) {
        return parse_iso(iso);
    }
    let s = s.strip_prefix('@').unwrap_or(s).trim();
    let mut acc = Acc::default();
    let mut tokens: Vec<&str> = s.split_whitespace().collect();
    let mut negate = false;
    if tokens.last().is_some_and(|t| t.eq_ignore_ascii_case("ago")) {
        negate = true;
        tokens.pop();
    }
    if tokens.is_empty() {
        return None;
    }
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if t.contains(':') {
            acc.micros += parse_clock(t)? as f64;
            i += 1;
            continue;
        }
        // A number, with its unit either attached (`10d`) or in the next token.
        let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let v: f64 = num.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        if !unit.is_empty() {
            acc.add_unit(v, unit)?;
            i += 1;
        } else if let Some(next) = tokens.get(i + 1).filter(|n| !n.contains(':')) {
            acc.add_unit(v, next)?;
            i += 2;
        } else {
            // A bare number is seconds.
            acc.micros += v * 1e6;
            i += 1;
        }
    }
    acc.finish(negate)
}

/// `P[nY][nM][nW][nD][T[nH][nM][nS]]` (after the `P`).
fn parse_iso(s: &str) -> Option<(i32, i32, i64)> {
    let mut acc = Acc::default();
    let mut in_time = false;
    let mut num = String::new();
    let mut seen = false;
    for c in s.chars() {
        match c {
            'T' | 't' => in_time = true,
            '0'..='9' | '.' | '-' | '+' => num.push(c),
            unit => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                seen = true;
                let unit = match (unit.to_ascii_uppercase(), in_time) {
                    ('Y', false) => "year",
                    ('M', false) => "month",
                    ('W', false) => "week",
                    ('D', false) => "day",
                    ('H', true) => "hour",
                    ('M', true) => "minute",
                    ('S', true) => "second",
                    _ => return None,
                };
                acc.add_unit(v, unit)?;
            }
        }
    }
    if !num.is_empty() || !seen {
        return None;
    }
    acc.finish(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> String {
        let (m, d, u) = parse_interval(s).unwrap_or_else(|| panic!("{s} does not parse"));
        format_interval(m, d, u)
    }

    #[test]
    fn intervals_print_as_postgres_does() {
        // Expected values are PostgreSQL 15's.
        for (input, shown) in [
            (
                "1 year 2 months 3 days 04:05:06.5",
                "1 year 2 mons 3 days 04:05:06.5",
            ),
            ("-1 day 2 hours", "-1 days +02:00:00"),
            ("1 mon -1 day", "1 mon -1 days"),
            ("0", "00:00:00"),
            ("1.5 days", "1 day 12:00:00"),
            ("2 weeks", "14 days"),
            ("90 minutes", "01:30:00"),
            ("-00:00:01", "-00:00:01"),
            ("1 day ago", "-1 days"),
            ("1 year 13 months", "2 years 1 mon"),
            ("100 hours", "100:00:00"),
            ("10", "00:00:10"),
            ("1.5 years", "1 year 6 mons"),
            (
                "-1 year -2 mons +3 days -04:00:00",
                "-1 years -2 mons +3 days -04:00:00",
            ),
            ("P1Y2M3DT4H5M6S", "1 year 2 mons 3 days 04:05:06"),
            ("1 day -1 second", "1 day -00:00:01"),
        ] {
            assert_eq!(round_trip(input), shown, "{input}");
        }
        assert_eq!(parse_interval("1 fortnight"), None);
        assert_eq!(parse_interval(""), None);
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("24:00"), Some(MICROS_PER_DAY));
        assert_eq!(parse_time("10:00:01.5"), Some(36_001_500_000));
        assert_eq!(parse_time("25:00"), Some(25 * MICROS_PER_HOUR));
        assert_eq!(parse_time("10:61"), None);
    }
}
