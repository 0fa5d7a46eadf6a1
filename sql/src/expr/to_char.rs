//! `to_char(timestamp | timestamptz | date, format)`: PostgreSQL's template patterns.
//!
//! The format is read left to right; at each position the longest pattern that matches
//! (case as listed: `Month`, `MONTH` and `month` are three patterns) is replaced by its
//! field, anything else is copied, `"quoted text"` is copied without its quotes and a
//! backslash copies the character after it:
//!
//! ```text
//!   'FMDay, DDth "of" FMMonth YYYY HH12:MI AM'  →  'Tuesday, 05th of March 2024 02:07 PM'
//! ```
//!
//! Numeric fields are zero-padded to their width and text fields (month and day names)
//! blank-padded to 9 characters; the `FM` prefix drops the padding of the next pattern, and
//! a `TH`/`th` suffix adds the ordinal ending. Times are in UTC (tessera's only time zone),
//! so `TZ` prints `UTC` for a `timestamptz` and nothing for a `timestamp`, as PostgreSQL does
//! in a UTC session. Not supported: the ISO year patterns (`IYYY` …), `Y,YYY`, `CC`, `RM`,
//! and `to_char` of intervals. Numbers have their own patterns (`to_char_num.rs`).

use tessera_encoding::datum::MICROS_PER_DAY;

use crate::types::civil_from_days;

/// Julian day number of 2000-01-01, the epoch of day numbers.
const JULIAN_2000: i64 = 2_451_545;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The patterns, longest first where one is a prefix of another.
const PATTERNS: &[&str] = &[
    "A.M.", "P.M.", "a.m.", "p.m.", "B.C.", "A.D.", "b.c.", "a.d.", "HH24", "HH12", "hh24", "hh12",
    "MONTH", "Month", "month", "YYYY", "yyyy", "SSSS", "ssss", "DAY", "Day", "day", "DDD", "ddd",
    "MON", "Mon", "mon", "YYY", "yyy", "AM", "PM", "am", "pm", "BC", "AD", "bc", "ad", "DY", "Dy",
    "dy", "DD", "dd", "HH", "hh", "IW", "iw", "MI", "mi", "MM", "mm", "MS", "ms", "SS", "ss", "TZ",
    "tz", "OF", "US", "us", "WW", "ww", "YY", "yy", "D", "d", "J", "j", "Q", "q", "W", "w", "Y",
    "y",
];

/// The calendar fields of one instant.
struct Fields {
    /// Astronomical year (0 is 1 BC).
    year: i64,
    month: u32,
    day: u32,
    /// Day number since 2000-01-01.
    days: i64,
    micros_of_day: i64,
}

impl Fields {
    fn new(ts: i64) -> Self {
        let days = ts.div_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Fields {
            year,
            month,
            day,
            days,
            micros_of_day: ts.rem_euclid(MICROS_PER_DAY),
        }
    }

    /// The year as written: BC years count down from 1.
    fn display_year(&self) -> i64 {
        if self.year <= 0 {
            1 - self.year
        } else {
            self.year
        }
    }

    fn hour(&self) -> i64 {
        self.micros_of_day / 3_600_000_000
    }

    /// 0 = Sunday.
    fn weekday(&self) -> i64 {
        // 2000-01-01 was a Saturday.
        (self.days + 6).rem_euclid(7)
    }

    fn day_of_year(&self) -> i64 {
        self.days - crate::types::days_from_civil(self.year, 1, 1) + 1
    }

    /// ISO 8601 week number (weeks start on Monday; week 1 holds the year's first Thursday).
    fn iso_week(&self) -> i64 {
        let iso_weekday = (self.weekday() + 6).rem_euclid(7) + 1; // Monday = 1
        let thursday = self.days - iso_weekday + 4;
        let (y, _, _) = civil_from_days(thursday);
        (thursday - crate::types::days_from_civil(y, 1, 1)) / 7 + 1
    }
}

/// A number zero-padded to `width` (unless `fill` mode), with an optional ordinal suffix.
fn number(n: i64, width: usize, fm: bool) -> String {
    if fm {
        n.to_string()
    } else {
        format!("{n:0width$}")
    }
}

fn ordinal(n: i64, upper: bool) -> &'static str {
    let s = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    match (upper, s) {
        (false, s) => s,
        (true, "st") => "ST",
        (true, "nd") => "ND",
        (true, "rd") => "RD",
        (true, _) => "TH",
    }
}

/// A name in the pattern's case (`Month`, `MONTH`, `month`), blank-padded to 9 unless `fm`.
fn name(full: &str, pattern: &str, fm: bool, abbreviate: bool) -> String {
    let text: String = if abbreviate {
        full.chars().take(3).collect()
    } else {
        full.to_string()
    };
    let mut chars = pattern.chars();
    let cased = match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_uppercase() => text.to_uppercase(),
        (Some(a), _) if a.is_lowercase() => text.to_lowercase(),
        _ => text,
    };
    if fm || abbreviate {
        cased
    } else {
        format!("{cased:<9}")
    }
}

/// `to_char` of a timestamp (`with_tz`: a `timestamptz`) in the template `format`.
pub fn format(ts: i64, format: &str, with_tz: bool) -> String {
    let f = Fields::new(ts);
    let mut out = String::new();
    let mut rest = format;
    while !rest.is_empty() {
        let fm = rest.starts_with("FM") || rest.starts_with("fm");
        let after_fm = if fm { &rest[2..] } else { rest };
        let Some(pattern) = PATTERNS.iter().find(|p| after_fm.starts_with(**p)) else {
            if fm {
                // A lone FM is dropped.
                rest = after_fm;
                continue;
            }
            let mut chars = rest.chars();
            match chars.next() {
                Some('"') => {
                    let body = chars.as_str();
                    let end = body.find('"').unwrap_or(body.len());
                    out.push_str(&body[..end]);
                    rest = body.get(end + 1..).unwrap_or("");
                }
                Some('\\') => {
                    if let Some(c) = chars.next() {
                        out.push(c);
                    }
                    rest = chars.as_str();
                }
                Some(c) => {
                    out.push(c);
                    rest = chars.as_str();
                }
                None => break,
            }
            continue;
        };
        rest = &after_fm[pattern.len()..];
        let upper = pattern.chars().next().is_some_and(char::is_uppercase);
        let secs = f.micros_of_day / 1_000_000;
        let value: Option<(i64, usize)> = match pattern.to_ascii_uppercase().as_str() {
            "YYYY" => Some((f.display_year(), 4)),
            "YYY" => Some((f.display_year() % 1000, 3)),
            "YY" => Some((f.display_year() % 100, 2)),
            "Y" => Some((f.display_year() % 10, 1)),
            "MM" => Some((i64::from(f.month), 2)),
            "DD" => Some((i64::from(f.day), 2)),
            "DDD" => Some((f.day_of_year(), 3)),
            "D" => Some((f.weekday() + 1, 1)),
            "HH" | "HH12" => Some(((f.hour() + 11) % 12 + 1, 2)),
            "HH24" => Some((f.hour(), 2)),
            "MI" => Some((secs / 60 % 60, 2)),
            "SS" => Some((secs % 60, 2)),
            "SSSS" => Some((secs, 1)),
            "MS" => Some((f.micros_of_day % 1_000_000 / 1000, 3)),
            "US" => Some((f.micros_of_day % 1_000_000, 6)),
            "Q" => Some((i64::from(f.month - 1) / 3 + 1, 1)),
            "WW" => Some(((f.day_of_year() - 1) / 7 + 1, 2)),
            "W" => Some(((i64::from(f.day) - 1) / 7 + 1, 1)),
            "IW" => Some((f.iso_week(), 2)),
            "J" => Some((f.days + JULIAN_2000, 1)),
            _ => None,
        };
        if let Some((n, width)) = value {
            out.push_str(&number(n, width, fm));
            for suffix in ["TH", "th"] {
                if let Some(after) = rest.strip_prefix(suffix) {
                    out.push_str(ordinal(n, suffix == "TH"));
                    rest = after;
                    break;
                }
            }
            continue;
        }
        let pm = f.hour() >= 12;
        let bc = f.year <= 0;
        let month = MONTHS[(f.month - 1) as usize];
        let day = DAYS[f.weekday() as usize];
        let text = match pattern.to_ascii_uppercase().as_str() {
            "AM" | "PM" => (if pm { "PM" } else { "AM" }).to_string(),
            "A.M." | "P.M." => (if pm { "P.M." } else { "A.M." }).to_string(),
            "BC" | "AD" => (if bc { "BC" } else { "AD" }).to_string(),
            "B.C." | "A.D." => (if bc { "B.C." } else { "A.D." }).to_string(),
            "MONTH" => name(month, pattern, fm, false),
            "MON" => name(month, pattern, fm, true),
            "DAY" => name(day, pattern, fm, false),
            "DY" => name(day, pattern, fm, true),
            "TZ" if with_tz => "UTC".to_string(),
            "OF" if with_tz => "+00".to_string(),
            _ => String::new(),
        };
        // Names are cased by `name`; markers and zone names take the pattern's case.
        let named = matches!(
            pattern.to_ascii_uppercase().as_str(),
            "MONTH" | "MON" | "DAY" | "DY"
        );
        let text = if named || upper {
            text
        } else {
            text.to_lowercase()
        };
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::days_from_civil;

    fn at(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64, us: i64) -> i64 {
        days_from_civil(y, m, d) * MICROS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1_000_000 + us
    }

    /// PostgreSQL 15's output for the same templates (checked with pg-oracle).
    #[test]
    fn templates_as_postgresql_prints_them() {
        let t = at(2024, 3, 5, 14, 7, 9, 123_456);
        assert_eq!(
            format(t, "YYYY-MM-DD HH24:MI:SS.MS US", false),
            "2024-03-05 14:07:09.123 123456"
        );
        assert_eq!(
            format(
                at(2024, 3, 5, 4, 7, 9, 0),
                "HH12:MI AM PM am p.m. A.M.",
                false
            ),
            "04:07 AM AM am a.m. A.M."
        );
        assert_eq!(
            format(at(2024, 3, 5, 0, 7, 9, 0), "HH HH12 AM", false),
            "12 12 AM"
        );
        assert_eq!(
            format(
                at(2024, 3, 5, 0, 0, 0, 0),
                "Month|MONTH|month|Mon|MON|mon|Day|Dy",
                false
            ),
            "March    |MARCH    |march    |Mar|MAR|mar|Tuesday  |Tue"
        );
        assert_eq!(
            format(
                at(2024, 3, 5, 0, 0, 0, 0),
                "DDD D Q WW IW J YYY YY Y",
                false
            ),
            "065 3 1 10 10 2460375 024 24 4"
        );
        assert_eq!(
            format(at(2024, 3, 1, 0, 0, 0, 0), "DDth DDTH FMDDth", false),
            "01st 01ST 1st"
        );
        assert_eq!(
            format(at(-43, 3, 15, 0, 0, 0, 0), "YYYY BC AD b.c.", false),
            "0044 BC BC b.c."
        );
        assert_eq!(
            format(at(2024, 3, 5, 10, 0, 0, 0), "YYYY TZ tz OF", true),
            "2024 UTC utc +00"
        );
    }
}
