//! When EVENTS entries run: `period=` minutes, `at=hhmm` and `cron=` (reference §7.2).
//!
//! `at=` and `cron=` are matched against the local wall clock one minute at a time (chrono
//! reads `TZ` and `/etc/localtime`; with neither, local time is UTC). A local minute that a
//! daylight-saving change skips is skipped, and one it repeats runs once.
//!
//! ```
//! use daemons::master::schedule::{CronSpec, Minute};
//!
//! let nightly = CronSpec::parse("30 4 * * 1-5")?;
//! // Monday 2024-01-01 04:30
//! assert!(nightly.matches(&Minute { month: 1, day: 1, weekday: 1, hour: 4, minute: 30 }));
//! assert!(!nightly.matches(&Minute { month: 1, day: 6, weekday: 6, hour: 4, minute: 30 }));
//! # Ok::<(), daemons::master::schedule::CronError>(())
//! ```

use chrono::{Datelike, Timelike};

/// When an event runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// At start-up, then every `minutes` minutes; 0 means at start-up only.
    Period {
        /// The period.
        minutes: u32,
    },
    /// Every day at this local time.
    At {
        /// 0–23
        hour: u8,
        /// 0–59
        minute: u8,
    },
    /// At every local minute the expression matches.
    Cron(CronSpec),
}

impl When {
    /// Whether a wall-clock schedule (`at=`, `cron=`) fires in this minute. A period never
    /// does: it runs on its own clock.
    pub fn fires_at(&self, m: &Minute) -> bool {
        match self {
            When::Period { .. } => false,
            When::At { hour, minute } => m.hour == *hour && m.minute == *minute,
            When::Cron(c) => c.matches(m),
        }
    }
}

/// One local minute, as a cron expression sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Minute {
    /// 1–12
    pub month: u8,
    /// 1–31
    pub day: u8,
    /// 0–6, Sunday = 0
    pub weekday: u8,
    /// 0–23
    pub hour: u8,
    /// 0–59
    pub minute: u8,
}

impl Minute {
    /// The minute a local date-time falls in.
    pub fn of<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> Minute {
        // chrono's ranges fit in u8; the fallbacks are unreachable but keep this total.
        let small = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
        Minute {
            month: small(t.month()),
            day: small(t.day()),
            weekday: small(t.weekday().num_days_from_sunday()),
            hour: small(t.hour()),
            minute: small(t.minute()),
        }
    }

    /// The current local minute.
    pub fn now() -> Minute {
        Minute::of(&chrono::Local::now())
    }
}

/// A `cron=` expression we cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Not five fields.
    #[error("expected 5 fields (minute hour day-of-month month day-of-week), found {0}")]
    FieldCount(usize),
    /// A field that is not `*`, a number, a range, a list or a step.
    #[error("bad {field} field '{text}'")]
    BadField {
        /// Which field.
        field: &'static str,
        /// Its text.
        text: String,
    },
    /// A value outside the field's range.
    #[error("{field} value {value} out of range {min}-{max}")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The value.
        value: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
}

/// A parsed five-field cron expression (`min hour dom mon dow`) with `*`, numbers, names
/// (`jan`, `mon`), ranges `a-b`, lists `a,b` and steps `*/n`, `a-b/n`, `a/n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSpec {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    // Classic cron: when both day fields are restricted, either one matching is enough.
    days_restricted: bool,
    weekdays_restricted: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTH_NAMES,
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &DAY_NAMES,
    },
];

impl Field {
    fn value(&self, text: &str) -> Result<u32, CronError> {
        let lower = text.to_ascii_lowercase();
        let v = if let Some(i) = self.names.iter().position(|n| *n == lower) {
            // Month names count from 1, day names from 0.
            u32::try_from(i).unwrap_or(0) + self.min.min(1)
        } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().map_err(|_| self.bad(text))?
        } else {
            return Err(self.bad(text));
        };
        if v < self.min || v > self.max {
            return Err(CronError::OutOfRange {
                field: self.name,
                value: v,
                min: self.min,
                max: self.max,
            });
        }
        Ok(v)
    }

    fn bad(&self, text: &str) -> CronError {
        CronError::BadField {
            field: self.name,
            text: text.to_owned(),
        }
    }

    /// The set of values as a bit mask, and whether it was `*`.
    fn parse(&self, text: &str) -> Result<(u64, bool), CronError> {
        let mut mask = 0u64;
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s.parse().map_err(|_| self.bad(item))?;
                    if step == 0 {
                        return Err(self.bad(item));
                    }
                    (r, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                (self.value(a)?, self.value(b)?)
            } else {
                let v = self.value(range)?;
                // `a/n` means from a to the end in steps of n.
                (v, if step.is_some() { self.max } else { v })
            };
            if lo > hi {
                return Err(self.bad(item));
            }
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                mask |= 1u64 << v;
                v = v.saturating_add(step);
            }
        }
        Ok((mask, text == "*"))
    }
}

impl CronSpec {
    /// Reads `min hour dom mon dow`.
    pub fn parse(text: &str) -> Result<CronSpec, CronError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [mi, ho, dom, mo, dow] = words.as_slice() else {
            return Err(CronError::FieldCount(words.len()));
        };
        let [f_mi, f_ho, f_dom, f_mo, f_dow] = &FIELDS;
        let (minutes, _) = f_mi.parse(mi)?;
        let (hours, _) = f_ho.parse(ho)?;
        let (days, dom_star) = f_dom.parse(dom)?;
        let (months, _) = f_mo.parse(mo)?;
        let (mut weekdays, dow_star) = f_dow.parse(dow)?;
        // 7 is another name for Sunday.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(CronSpec {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted: !dom_star,
            weekdays_restricted: !dow_star,
        })
    }

    /// Whether the expression fires in minute `m`.
    pub fn matches(&self, m: &Minute) -> bool {
        let has = |mask: u64, v: u8| v < 64 && mask & (1u64 << v) != 0;
        if !(has(self.minutes, m.minute) && has(self.hours, m.hour) && has(self.months, m.month)) {
            return false;
        }
        let day = has(self.days, m.day);
        let weekday = has(self.weekdays, m.weekday);
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            (true, false) => day,
            (false, true) => weekday,
            (false, false) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(month: u8, day: u8, weekday: u8, hour: u8, minute: u8) -> Minute {
        Minute {
            month,
            day,
            weekday,
            hour,
            minute,
        }
    }

    #[test]
    fn every_minute_matches_everything() {
        let c = CronSpec::parse("* * * * *").unwrap();
        assert!(c.matches(&at(1, 1, 0, 0, 0)));
        assert!(c.matches(&at(12, 31, 6, 23, 59)));
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        let c = CronSpec::parse("*/15 9-17/2 * jan,Jul mon-fri").unwrap();
        assert!(c.matches(&at(1, 3, 3, 9, 45)));
        assert!(c.matches(&at(7, 3, 1, 17, 0)));
        assert!(!c.matches(&at(7, 3, 1, 10, 0)), "hour step of 2 from 9");
        assert!(!c.matches(&at(7, 3, 1, 9, 10)));
        assert!(!c.matches(&at(2, 3, 1, 9, 0)));
        assert!(!c.matches(&at(1, 3, 0, 9, 0)), "sunday");
    }

    #[test]
    fn start_slash_step_runs_to_the_end() {
        let c = CronSpec::parse("50/5 * * * *").unwrap();
        assert!(c.matches(&at(1, 1, 0, 0, 55)));
        assert!(!c.matches(&at(1, 1, 0, 0, 45)));
    }

    #[test]
    fn seven_is_sunday() {
        let c = CronSpec::parse("0 0 * * 7").unwrap();
        assert!(c.matches(&at(1, 7, 0, 0, 0)));
    }

    #[test]
    fn restricted_day_fields_match_either() {
        let c = CronSpec::parse("0 0 1 * mon").unwrap();
        assert!(c.matches(&at(5, 1, 3, 0, 0)), "the 1st");
        assert!(c.matches(&at(5, 13, 1, 0, 0)), "a monday");
        assert!(!c.matches(&at(5, 14, 2, 0, 0)));
    }

    #[test]
    fn bad_expressions_are_typed_errors() {
        assert_eq!(CronSpec::parse("* * *"), Err(CronError::FieldCount(3)));
        assert!(matches!(
            CronSpec::parse("60 * * * *"),
            Err(CronError::OutOfRange { value: 60, .. })
        ));
        assert!(matches!(
            CronSpec::parse("*/0 * * * *"),
            Err(CronError::BadField { .. })
        ));
        assert!(matches!(
            CronSpec::parse("5-1 * * * *"),
            Err(CronError::BadField { .. })
        ));
        assert!(matches!(
            CronSpec::parse("x * * * *"),
            Err(CronError::BadField { .. })
        ));
        assert!(matches!(
            CronSpec::parse("* * 0 * *"),
            Err(CronError::OutOfRange { .. })
        ));
    }

    #[test]
    fn at_fires_once_a_day() {
        let w = When::At { hour: 4, minute: 0 };
        assert!(w.fires_at(&at(3, 9, 2, 4, 0)));
        assert!(!w.fires_at(&at(3, 9, 2, 4, 1)));
        assert!(!When::Period { minutes: 1 }.fires_at(&at(3, 9, 2, 4, 0)));
    }

    #[test]
    fn minute_of_a_date_time() {
        use chrono::TimeZone;
        let t = chrono::Utc.with_ymd_and_hms(2024, 1, 1, 4, 30, 12).unwrap();
        assert_eq!(Minute::of(&t), at(1, 1, 1, 4, 30));
    }
}
