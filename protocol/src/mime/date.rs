//! The `Date:` header (RFC 5322 §3.3, with the obsolete forms of §4.3) as an IMAP
//! [`DateTime`], for SENTBEFORE / SENTON / SENTSINCE and for sorting.
//!
//! Accepted beyond the strict grammar: comments anywhere, a missing day of week, a missing
//! seconds field, two- and three-digit years (`96` is 1996, `04` is 2004, `104` is 2004),
//! alphabetic zones (`GMT`, `EST`, ... and military letters, read as `+0000` as §4.3 advises),
//! a missing zone (`+0000`), and `17-Jul-1996` with hyphens.

use super::MimeError;
use crate::imap::types::{Date, DateTime};

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

fn strip_comments(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut depth = 0usize;
    for &c in v {
        match c {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn digits(t: &[u8]) -> Option<u32> {
    if t.is_empty() || t.len() > 4 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(t.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
}

fn zone(t: &[u8]) -> Option<i16> {
    match t.first() {
        Some(&s @ (b'+' | b'-')) if t.len() == 5 => {
            let n = digits(t.get(1..)?)?;
            let (h, m) = (n / 100, n % 100);
            if m > 59 {
                return None;
            }
            let z = (h * 60 + m) as i16;
            Some(if s == b'-' { -z } else { z })
        }
        Some(c) if c.is_ascii_alphabetic() => {
            let named: &[(&[u8], i16)] = &[
                (b"UT", 0),
                (b"UTC", 0),
                (b"GMT", 0),
                (b"EST", -300),
                (b"EDT", -240),
                (b"CST", -360),
                (b"CDT", -300),
                (b"MST", -420),
                (b"MDT", -360),
                (b"PST", -480),
                (b"PDT", -420),
            ];
            Some(
                named
                    .iter()
                    .find(|(n, _)| t.eq_ignore_ascii_case(n))
                    .map_or(0, |(_, z)| *z),
            )
        }
        _ => None,
    }
}

/// Parses a `Date:` header value.
///
/// ```
/// use protocol::mime::{parse_date, unix_time};
/// let d = parse_date(b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)").unwrap();
/// assert_eq!(d.zone_minutes(), -420);
/// assert_eq!(unix_time(d), 837595405);
/// ```
pub fn parse_date(value: &[u8]) -> Result<DateTime, MimeError> {
    let bad = || MimeError::BadDate;
    let clean = strip_comments(value);
    let mut toks: Vec<&[u8]> = Vec::new();
    for t in clean.split(|&b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' || b == b',') {
        if t.is_empty() {
            continue;
        }
        // `17-Jul-1996`: split on inner hyphens, but keep a leading sign (a zone).
        if t.len() > 1 && t.get(1..).is_some_and(|r| r.contains(&b'-')) && t.first() != Some(&b'-')
        {
            toks.extend(t.split(|&b| b == b'-').filter(|p| !p.is_empty()));
        } else {
            toks.push(t);
        }
        if toks.len() > 16 {
            return Err(bad());
        }
    }
    let mut it = toks.into_iter().peekable();
    // Day of week, if any.
    if it
        .peek()
        .is_some_and(|t| t.first().is_some_and(u8::is_ascii_alphabetic))
    {
        it.next();
    }
    let day = it.next().and_then(digits).ok_or_else(bad)?;
    let month_tok = it.next().ok_or_else(bad)?;
    let month = MONTHS
        .iter()
        .position(|m| {
            month_tok.len() >= 3
                && month_tok
                    .get(..3)
                    .is_some_and(|p| p.eq_ignore_ascii_case(m.as_bytes()))
        })
        .ok_or_else(bad)?;
    let year_tok = it.next().ok_or_else(bad)?;
    let mut year = digits(year_tok).ok_or_else(bad)?;
    year = match year_tok.len() {
        1 | 2 if year < 50 => year + 2000,
        1 | 2 => year + 1900,
        3 => year + 1900,
        _ => year,
    };
    let time = it.next().ok_or_else(bad)?;
    let mut hms = time.split(|&b| b == b':');
    let hour = hms.next().and_then(digits).ok_or_else(bad)?;
    let minute = hms.next().and_then(digits).ok_or_else(bad)?;
    let second = match hms.next() {
        Some(s) => digits(s).ok_or_else(bad)?,
        None => 0,
    };
    let zone_minutes = match it.next() {
        Some(z) => zone(z).ok_or_else(bad)?,
        None => 0,
    };
    let date = Date::new(
        u16::try_from(year).map_err(|_| bad())?,
        month as u8 + 1,
        u8::try_from(day).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let small = |n: u32| u8::try_from(n).map_err(|_| bad());
    DateTime::new(
        date,
        small(hour)?,
        small(minute)?,
        small(second)?,
        zone_minutes,
    )
    .map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the UNIX epoch (UTC) of a date-time, its zone applied.
pub fn unix_time(dt: DateTime) -> i64 {
    let d = dt.date();
    let (h, m, s) = dt.time();
    let days = days_from_civil(
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)
        - i64::from(dt.zone_minutes()) * 60
}

/// Writes a date-time as an RFC 5322 `Date:` value (`Wed, 17 Jul 1996 02:23:25 -0700`).
pub fn format_date(dt: DateTime) -> String {
    let d = dt.date();
    let (h, m, s) = dt.time();
    let days = days_from_civil(
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    let dow = DAYS
        .get(days.rem_euclid(7) as usize)
        .copied()
        .unwrap_or("Thu");
    let month = MONTHS
        .get(usize::from(d.month()).saturating_sub(1))
        .copied()
        .unwrap_or("jan");
    let mut mon = month.to_owned();
    if let Some(f) = mon.get_mut(..1) {
        f.make_ascii_uppercase();
    }
    let z = dt.zone_minutes();
    format!(
        "{dow}, {:02} {mon} {:04} {h:02}:{m:02}:{s:02} {}{:02}{:02}",
        d.day(),
        d.year(),
        if z < 0 { '-' } else { '+' },
        z.unsigned_abs() / 60,
        z.unsigned_abs() % 60
    )
}
