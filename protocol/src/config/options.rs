//! The table of `imapd.conf` options: name, type and default (reference §7.1, §7.3).
//!
//! Every option Cyrus knows is listed, so that a tool can tell a typo from a real option, plus
//! the libsasl options our daemons read themselves (`sasl_mech_list`, `sasl_sasldb_path`, ...).
//! The names, types, allowed values and defaults are those of Cyrus's option list; two
//! deliberate differences: `sendmail` defaults to `/usr/sbin/sendmail`, and options that became
//! byte sizes or durations in later Cyrus releases use the later, more permissive type (a plain
//! number still means what it meant in 3.6, because the default unit is kept).
//!
//! ```
//! use protocol::config::options::{self, OptionType, OptionValue};
//!
//! let spec = options::lookup("mupdate_retry_delay").unwrap();
//! assert_eq!(spec.ty, OptionType::Int);
//! assert_eq!(spec.default_value(), Some(OptionValue::Int(20)));
//! assert_eq!(options::lookup("timeout").unwrap().ty.parse("1h"), Ok(OptionValue::Duration(3600)));
//! assert_eq!(options::lookup("maxword").unwrap().ty.parse("128K"), Ok(OptionValue::ByteSize(131072)));
//! ```

use thiserror::Error;

/// The unit a DURATION option assumes when its value ends in a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
}

impl DurationUnit {
    /// The suffix letter Cyrus uses for this unit.
    pub fn letter(self) -> char {
        match self {
            DurationUnit::Seconds => 's',
            DurationUnit::Minutes => 'm',
            DurationUnit::Hours => 'h',
            DurationUnit::Days => 'd',
        }
    }
}

/// The unit a BYTESIZE option assumes when its value ends in a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeUnit {
    /// bytes (`B`)
    Bytes,
    /// kibibytes (`K`)
    Kibi,
    /// mebibytes (`M`)
    Mebi,
    /// gibibytes (`G`)
    Gibi,
}

impl SizeUnit {
    /// The suffix letter Cyrus uses for this unit.
    pub fn letter(self) -> char {
        match self {
            SizeUnit::Bytes => 'B',
            SizeUnit::Kibi => 'K',
            SizeUnit::Mebi => 'M',
            SizeUnit::Gibi => 'G',
        }
    }
}

/// The type of an option, which decides how its value is read (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionType {
    /// `1`/`y…`/`t…`/`on` or `0`/`n…`/`f…`/`off`.
    Switch,
    /// An integer read like C `strtol` with base 0 (`0x1f`, `017`, `-3`).
    Int,
    /// A duration such as `30s`, `5m`, `1h30m`, `2d`; a bare number is in the given unit.
    Duration(DurationUnit),
    /// A size such as `128K`, `10MB`, `1GiB`; a bare number is in the given unit.
    ByteSize(SizeUnit),
    /// Exactly one of the listed words (`1`/`yes`/`t`/`true` read as `on`, `0`/`no`/`f`/`false`
    /// as `off`).
    Enum(&'static [&'static str]),
    /// Exactly one of the listed strings.
    StringList(&'static [&'static str]),
    /// A whitespace-separated set of the listed words. `a=b` in the list means `b` is another
    /// spelling of `a`.
    BitField(&'static [&'static str]),
    /// Any text, taken verbatim.
    String,
}

/// A value read according to its [`OptionType`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OptionValue {
    /// A switch.
    Switch(bool),
    /// An integer.
    Int(i64),
    /// A duration in seconds (may be negative: Cyrus uses `-1` for "never").
    Duration(i64),
    /// A size in bytes (may be negative: Cyrus uses `-1` for "unlimited" or "off").
    ByteSize(i64),
    /// The chosen word of an enum.
    Enum(String),
    /// The chosen string of a string list.
    StringList(String),
    /// The chosen words of a bit field, each in its first spelling.
    BitField(Vec<String>),
    /// Verbatim text.
    String(String),
}

/// Why a value does not fit its option's type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// Not one of the switch words.
    #[error("'{0}' is not a switch value (use 1/yes/true/on or 0/no/false/off)")]
    NotSwitch(String),
    /// Not an integer, or out of range.
    #[error("'{0}' is not an integer")]
    NotInt(String),
    /// Not a duration.
    #[error("'{value}' is not a duration ({reason}); use e.g. 30s, 5m, 1h30m, 2d")]
    BadDuration {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a byte size.
    #[error("'{value}' is not a byte size ({reason}); use e.g. 512, 128K, 10M, 1G")]
    BadByteSize {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not one of the allowed words.
    #[error("'{value}' is not one of: {}", .allowed.join(" "))]
    NotAllowed {
        /// The word given.
        value: String,
        /// The words that would be accepted.
        allowed: Vec<String>,
    },
}

/// One known option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// The option name, lower case.
    pub name: &'static str,
    /// How its value is read.
    pub ty: OptionType,
    /// The default as Cyrus writes it (`None`: unset, Cyrus's NULL).
    pub default: Option<&'static str>,
    /// Deprecated: still read, but another option should be used.
    pub deprecated: bool,
    /// The option that replaces a deprecated one; its value is used when the replacement is
    /// not set.
    pub replaced_by: Option<&'static str>,
}

impl OptionSpec {
    const fn new(name: &'static str, ty: OptionType, default: Option<&'static str>) -> Self {
        OptionSpec {
            name,
            ty,
            default,
            deprecated: false,
            replaced_by: None,
        }
    }

    const fn deprecated(
        name: &'static str,
        ty: OptionType,
        default: Option<&'static str>,
        replaced_by: Option<&'static str>,
    ) -> Self {
        OptionSpec {
            name,
            ty,
            default,
            deprecated: true,
            replaced_by,
        }
    }

    /// The default, read according to the option's type (`None` when the default is unset).
    pub fn default_value(&self) -> Option<OptionValue> {
        self.default.and_then(|d| self.ty.parse(d).ok())
    }
}

/// Finds an option by its (lower-case) name.
pub fn lookup(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .and_then(|i| OPTIONS.get(i))
}

/// Every known option, sorted by name.
pub fn all() -> &'static [OptionSpec] {
    OPTIONS
}

/// The deprecated options that `name` replaces (Cyrus copies their value to `name` when `name`
/// itself is not set).
pub fn replaced_names(name: &str) -> impl Iterator<Item = &'static OptionSpec> + '_ {
    // Daemons look unset options up on every connection, and each miss asks this: scan the
    // few deprecated options, not the whole table.
    static DEPRECATED: std::sync::OnceLock<Vec<&'static OptionSpec>> = std::sync::OnceLock::new();
    DEPRECATED
        .get_or_init(|| OPTIONS.iter().filter(|s| s.replaced_by.is_some()).collect())
        .iter()
        .copied()
        .filter(move |s| s.replaced_by == Some(name))
}

/// Reads a switch the way Cyrus does: only the first character (two for `on`/`off`) counts.
pub fn parse_switch(value: &str) -> Option<bool> {
    let b = value.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'0' | b'n' | b'f'), _) | (Some(b'o'), Some(b'f')) => Some(false),
        (Some(b'1' | b'y' | b't'), _) | (Some(b'o'), Some(b'n')) => Some(true),
        _ => None,
    }
}

/// Reads an integer like C `strtol(value, &end, 0)` requiring the whole text to be used:
/// optional sign, then `0x` hexadecimal, `0` octal or decimal.
pub fn parse_int(value: &str) -> Option<i64> {
    let (neg, rest) = match value.as_bytes().first() {
        Some(b'-') => (true, value.get(1..)?),
        Some(b'+') => (false, value.get(1..)?),
        _ => (false, value),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, rest.get(1..)?)
        } else {
            (10, rest)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    if neg {
        magnitude.checked_neg()
    } else {
        Some(magnitude)
    }
}

/// Reads a duration in seconds: digits each followed by `d`, `h`, `m` or `s` (`1h30m`), an
/// optional leading `-`; a trailing bare number is in `unit`. The result must fit in 32 bits,
/// as in Cyrus.
pub fn parse_duration(value: &str, unit: DurationUnit) -> Result<i64, ValueError> {
    let bad = |reason: &str| ValueError::BadDuration {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let (neg, body) = match value.strip_prefix('-') {
        Some(rest) => {
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(bad("no digit after '-'"));
            }
            (true, rest)
        }
        None => (false, value),
    };
    let mut total: i64 = 0;
    let mut accum: i64 = 0;
    let mut saw_digit = false;
    let limit = i64::from(i32::MAX);
    let mut chars: Vec<char> = body.chars().collect();
    if chars.last().is_some_and(|c| c.is_ascii_digit()) {
        chars.push(unit.letter());
    }
    for c in chars {
        if let Some(d) = c.to_digit(10) {
            accum = accum
                .checked_mul(10)
                .and_then(|a| a.checked_add(i64::from(d)))
                .filter(|a| *a <= limit)
                .ok_or_else(|| bad("too large"))?;
            saw_digit = true;
            continue;
        }
        if !saw_digit {
            return Err(bad(&format!("no digit before '{c}'")));
        }
        saw_digit = false;
        let factor: i64 = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad(&format!("bad unit '{c}'"))),
        };
        total = accum
            .checked_mul(factor)
            .and_then(|a| a.checked_add(total))
            .filter(|t| *t <= limit)
            .ok_or_else(|| bad("too large"))?;
        accum = 0;
    }
    Ok(if neg { -total } else { total })
}

/// Reads a byte size: a decimal number, optional spaces, an optional `K`/`M`/`G` multiplier
/// (powers of 1024, optionally followed by `i`) and an optional `B`. A bare number is in
/// `unit`.
pub fn parse_bytesize(value: &str, unit: SizeUnit) -> Result<i64, ValueError> {
    let bad = |reason: String| ValueError::BadByteSize {
        value: value.to_string(),
        reason,
    };
    let mut text: Vec<char> = value.chars().collect();
    if text.last().is_some_and(|c| c.is_ascii_digit()) {
        text.push(unit.letter());
    }
    let mut i = 0;
    // strtoll skips leading white space and takes a sign.
    while text.get(i).is_some_and(|c| is_c_space(*c)) {
        i += 1;
    }
    let neg = match text.get(i) {
        Some('-') => {
            i += 1;
            true
        }
        Some('+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut n: i64 = 0;
    while let Some(d) = text.get(i).and_then(|c| c.to_digit(10)) {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d)))
            .ok_or_else(|| bad("too large".into()))?;
        i += 1;
    }
    if i == start {
        return Err(bad(match text.get(i) {
            Some(c) => format!("no digit before '{c}'"),
            None => "no digit".into(),
        }));
    }
    if neg {
        n = -n;
    }
    while text.get(i).is_some_and(|c| is_c_space(*c)) {
        i += 1;
    }
    let shifts = match text.get(i) {
        Some('g' | 'G') => 3,
        Some('m' | 'M') => 2,
        Some('k' | 'K') => 1,
        _ => 0,
    };
    for _ in 0..shifts {
        n = n.checked_mul(1024).ok_or_else(|| bad("too large".into()))?;
    }
    if shifts > 0 {
        i += 1;
        if matches!(text.get(i), Some('i' | 'I')) {
            i += 1;
        }
    }
    if matches!(text.get(i), Some('b' | 'B')) {
        i += 1;
    }
    match text.get(i) {
        None => Ok(n),
        Some(c) => Err(bad(format!("bad unit '{c}'"))),
    }
}

/// C `isspace` in the "C" locale (Rust's `is_ascii_whitespace` leaves out vertical tab).
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// The first spelling of the allowed word `word` matches, if any (`a=b=c` lists spellings).
fn canonical(allowed: &[&'static str], word: &str) -> Option<&'static str> {
    allowed.iter().find_map(|entry| {
        let mut spellings = entry.split('=');
        let first = spellings.next()?;
        if first == word || spellings.any(|s| s == word) {
            Some(first)
        } else {
            None
        }
    })
}

fn allowed_list(allowed: &[&'static str]) -> Vec<String> {
    allowed
        .iter()
        .filter_map(|a| a.split('=').next())
        .map(str::to_string)
        .collect()
}

impl OptionType {
    /// Reads `value` (already trimmed) as this type.
    pub fn parse(&self, value: &str) -> Result<OptionValue, ValueError> {
        match *self {
            OptionType::Switch => parse_switch(value)
                .map(OptionValue::Switch)
                .ok_or_else(|| ValueError::NotSwitch(value.to_string())),
            OptionType::Int => parse_int(value)
                .map(OptionValue::Int)
                .ok_or_else(|| ValueError::NotInt(value.to_string())),
            OptionType::Duration(unit) => parse_duration(value, unit).map(OptionValue::Duration),
            OptionType::ByteSize(unit) => parse_bytesize(value, unit).map(OptionValue::ByteSize),
            OptionType::Enum(allowed) => {
                // Cyrus reads the usual switch words as on/off for every enum.
                let word = match value {
                    "1" | "yes" | "t" | "true" => "on",
                    "0" | "no" | "f" | "false" => "off",
                    other => other,
                };
                canonical(allowed, word)
                    .map(|w| OptionValue::Enum(w.to_string()))
                    .ok_or_else(|| ValueError::NotAllowed {
                        value: value.to_string(),
                        allowed: allowed_list(allowed),
                    })
            }
            OptionType::StringList(allowed) => canonical(allowed, value)
                .map(|w| OptionValue::StringList(w.to_string()))
                .ok_or_else(|| ValueError::NotAllowed {
                    value: value.to_string(),
                    allowed: allowed_list(allowed),
                }),
            OptionType::BitField(allowed) => value
                .split(is_c_space)
                .filter(|w| !w.is_empty())
                .map(|w| {
                    canonical(allowed, w).map(str::to_string).ok_or_else(|| {
                        ValueError::NotAllowed {
                            value: w.to_string(),
                            allowed: allowed_list(allowed),
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(OptionValue::BitField),
            OptionType::String => Ok(OptionValue::String(value.to_string())),
        }
    }
}

#[rustfmt::skip]
static OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("acl_admin_implies_write", OptionType::Switch, Some("0")),
    OptionSpec::new("addressbookprefix", OptionType::String, Some("#addressbooks")),
    OptionSpec::new("admins", OptionType::String, Some("")),
    OptionSpec::new("admins_get_internal_seen", OptionType::Switch, Some("0")),
    OptionSpec::new("afspts_localrealms", OptionType::String, None),
    OptionSpec::new("afspts_mycell", OptionType::String, None),
    OptionSpec::new("allowallsubscribe", OptionType::Switch, Some("0")),
    OptionSpec::new("allowanonymouslogin", OptionType::Switch, Some("0")),
    OptionSpec::new("allowapop", OptionType::Switch, Some("1")),
    OptionSpec::new("allowdeleted", OptionType::Switch, Some("0")),
    OptionSpec::new("allownewnews", OptionType::Switch, Some("0")),
    OptionSpec::new("allowplaintext", OptionType::Switch, Some("0")),
    OptionSpec::new("allowsetacl", OptionType::Switch, Some("1")),
    OptionSpec::new("allowspecialusesubfolder", OptionType::Switch, Some("0")),
    OptionSpec::new("allowstarttls", OptionType::Switch, Some("0")),
    OptionSpec::new("allowusermoves", OptionType::Switch, Some("0")),
    OptionSpec::new("altnamespace", OptionType::Switch, Some("1")),
    OptionSpec::new("altprefix", OptionType::String, Some("Alt Folders")),
    OptionSpec::new("annotation_allow_undefined", OptionType::Switch, Some("0")),
    OptionSpec::new("annotation_callout", OptionType::String, None),
    OptionSpec::new("annotation_callout_disable_append", OptionType::Switch, Some("0")),
    OptionSpec::new("annotation_db", OptionType::StringList(&["skiplist", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("annotation_db_path", OptionType::String, None),
    OptionSpec::new("annotation_definitions", OptionType::String, None),
    OptionSpec::new("annotation_enable_legacy_commands", OptionType::Switch, Some("0")),
    OptionSpec::new("anyoneuseracl", OptionType::Switch, Some("1")),
    OptionSpec::new("anysievefolder", OptionType::Switch, Some("0")),
    OptionSpec::new("aps_expiry", OptionType::Duration(DurationUnit::Days), Some("1d")),
    OptionSpec::new("aps_topic", OptionType::String, None),
    OptionSpec::new("aps_topic_caldav", OptionType::String, None),
    OptionSpec::new("aps_topic_carddav", OptionType::String, None),
    OptionSpec::new("archive_after", OptionType::Duration(DurationUnit::Days), Some("7d")),
    OptionSpec::deprecated("archive_days", OptionType::Duration(DurationUnit::Days), None, Some("archive_after")),
    OptionSpec::new("archive_enabled", OptionType::Switch, Some("0")),
    OptionSpec::new("archive_keepflagged", OptionType::Switch, Some("0")),
    OptionSpec::new("archive_maxsize", OptionType::ByteSize(SizeUnit::Kibi), Some("1024K")),
    OptionSpec::new("auditlog", OptionType::Switch, Some("0")),
    OptionSpec::new("auth_mech", OptionType::StringList(&["unix", "pts", "krb5", "mboxgroups"]), Some("unix")),
    OptionSpec::new("autocreate_inbox_folders", OptionType::String, None),
    OptionSpec::new("autocreate_post", OptionType::Switch, Some("0")),
    OptionSpec::new("autocreate_quota", OptionType::ByteSize(SizeUnit::Kibi), Some("-1")),
    OptionSpec::new("autocreate_quota_messages", OptionType::Int, Some("-1")),
    OptionSpec::deprecated("autocreate_sieve_compiled_script", OptionType::String, None, Some("autocreate_sieve_script_compiled")),
    OptionSpec::new("autocreate_sieve_folders", OptionType::String, None),
    OptionSpec::new("autocreate_sieve_script", OptionType::String, None),
    OptionSpec::new("autocreate_sieve_script_compile", OptionType::Switch, Some("0")),
    OptionSpec::new("autocreate_sieve_script_compiled", OptionType::String, None),
    OptionSpec::new("autocreate_subscribe_folders", OptionType::String, None),
    OptionSpec::new("autocreate_subscribe_sharedfolders", OptionType::String, None),
    OptionSpec::new("autocreate_subscribe_sharedfolders_all", OptionType::Switch, Some("0")),
    OptionSpec::new("autocreate_users", OptionType::String, Some("anyone")),
    OptionSpec::deprecated("autocreateinboxfolders", OptionType::String, None, Some("autocreate_inbox_folders")),
    OptionSpec::deprecated("autocreatequota", OptionType::ByteSize(SizeUnit::Kibi), None, Some("autocreate_quota")),
    OptionSpec::deprecated("autocreatequotamsg", OptionType::Int, Some("-1"), Some("autocreate_quota_messages")),
    OptionSpec::new("autoexpunge", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("autosievefolders", OptionType::String, None, Some("autocreate_sieve_folders")),
    OptionSpec::deprecated("autosubscribe_all_sharedfolders", OptionType::Switch, Some("0"), Some("autocreate_subscribe_sharedfolders_all")),
    OptionSpec::deprecated("autosubscribeinboxfolders", OptionType::String, None, Some("autocreate_subscribe_folders")),
    OptionSpec::deprecated("autosubscribesharedfolders", OptionType::String, None, Some("autocreate_subscribe_sharedfolders")),
    OptionSpec::deprecated("backup_compact_maxsize", OptionType::ByteSize(SizeUnit::Kibi), Some("0"), None),
    OptionSpec::deprecated("backup_compact_minsize", OptionType::ByteSize(SizeUnit::Kibi), Some("0"), None),
    OptionSpec::deprecated("backup_compact_work_threshold", OptionType::Int, Some("1"), None),
    OptionSpec::deprecated("backup_db", OptionType::StringList(&["skiplist", "sql", "twoskip"]), Some("twoskip"), None),
    OptionSpec::deprecated("backup_db_path", OptionType::String, None, None),
    OptionSpec::deprecated("backup_keep_previous", OptionType::Switch, Some("0"), None),
    OptionSpec::deprecated("backup_retention", OptionType::Duration(DurationUnit::Days), Some("7d"), None),
    OptionSpec::deprecated("backup_retention_days", OptionType::Duration(DurationUnit::Days), None, None),
    OptionSpec::deprecated("backup_staging_path", OptionType::String, None, None),
    OptionSpec::new("boundary_limit", OptionType::Int, Some("1000")),
    OptionSpec::new("caldav_accept_invalid_rrules", OptionType::Switch, Some("0")),
    OptionSpec::new("caldav_alarm_db_path", OptionType::String, None),
    OptionSpec::new("caldav_alarm_support_components", OptionType::BitField(&["VEVENT", "VTODO"]), Some("VEVENT VTODO")),
    OptionSpec::new("caldav_alarm_suppress_file", OptionType::String, None),
    OptionSpec::new("caldav_allowattach", OptionType::Switch, Some("1")),
    OptionSpec::new("caldav_allowcalendaradmin", OptionType::Switch, Some("0")),
    OptionSpec::new("caldav_allowscheduling", OptionType::Enum(&["off", "on", "apple"]), Some("on")),
    OptionSpec::new("caldav_create_attach", OptionType::Switch, Some("1")),
    OptionSpec::new("caldav_create_default", OptionType::Switch, Some("1")),
    OptionSpec::new("caldav_create_sched", OptionType::Switch, Some("1")),
    OptionSpec::new("caldav_historical_age", OptionType::Duration(DurationUnit::Days), Some("7d")),
    OptionSpec::new("caldav_maxdatetime", OptionType::String, Some("20380119T031407Z")),
    OptionSpec::new("caldav_mindatetime", OptionType::String, Some("19011213T204552Z")),
    OptionSpec::new("caldav_realm", OptionType::String, None),
    OptionSpec::new("calendar_component_set", OptionType::BitField(&["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY", "VPOLL"]), Some("VEVENT VTODO VJOURNAL VFREEBUSY VAVAILABILITY VPOLL")),
    OptionSpec::new("calendar_default_displayname", OptionType::String, Some("personal")),
    OptionSpec::new("calendar_minimum_alarm_interval", OptionType::Duration(DurationUnit::Minutes), Some("5m")),
    OptionSpec::new("calendar_suppress_duplicate_alarms", OptionType::Switch, Some("1")),
    OptionSpec::new("calendar_user_address_set", OptionType::String, None),
    OptionSpec::new("calendarprefix", OptionType::String, Some("#calendars")),
    OptionSpec::new("carddav_allowaddmember", OptionType::Switch, Some("0")),
    OptionSpec::new("carddav_allowaddressbookadmin", OptionType::Switch, Some("0")),
    OptionSpec::new("carddav_realm", OptionType::String, None),
    OptionSpec::deprecated("carddav_repair_vcard", OptionType::Switch, Some("0"), None),
    OptionSpec::deprecated("caringo_hostname", OptionType::String, None, None),
    OptionSpec::deprecated("caringo_port", OptionType::Int, Some("80"), None),
    OptionSpec::new("chatty", OptionType::Switch, Some("0")),
    OptionSpec::new("client_bind", OptionType::Switch, Some("0")),
    OptionSpec::new("client_bind_name", OptionType::String, None),
    OptionSpec::new("client_timeout", OptionType::Duration(DurationUnit::Seconds), Some("10s")),
    OptionSpec::new("commandmintimer", OptionType::String, None),
    OptionSpec::new("configdirectory", OptionType::String, None),
    OptionSpec::new("conversations", OptionType::Switch, Some("0")),
    OptionSpec::new("conversations_counted_flags", OptionType::String, None),
    OptionSpec::new("conversations_db", OptionType::StringList(&["skiplist", "sql", "twom", "twoskip"]), Some("skiplist")),
    OptionSpec::new("conversations_expire_after", OptionType::Duration(DurationUnit::Days), Some("90d")),
    OptionSpec::deprecated("conversations_expire_days", OptionType::Duration(DurationUnit::Days), None, Some("conversations_expire_after")),
    OptionSpec::new("conversations_keep_existing", OptionType::Switch, Some("1")),
    OptionSpec::new("conversations_max_guidexists", OptionType::Int, Some("100")),
    OptionSpec::new("conversations_max_guidinfolder", OptionType::Int, Some("10")),
    OptionSpec::new("conversations_max_guidrecords", OptionType::Int, Some("5000")),
    OptionSpec::new("conversations_max_thread", OptionType::Int, Some("100")),
    OptionSpec::deprecated("createonpost", OptionType::Switch, Some("0"), Some("autocreate_post")),
    OptionSpec::new("crossdomains", OptionType::Switch, Some("0")),
    OptionSpec::new("crossdomains_onlyother", OptionType::Switch, Some("0")),
    OptionSpec::new("cyrus_group", OptionType::String, None),
    OptionSpec::new("cyrus_user", OptionType::String, None),
    OptionSpec::new("cyrusdb_autoconvert", OptionType::Switch, Some("0")),
    OptionSpec::new("dav_lock_timeout", OptionType::Duration(DurationUnit::Seconds), Some("20s")),
    OptionSpec::new("dav_realm", OptionType::String, None),
    OptionSpec::new("davdriveprefix", OptionType::String, Some("#drive")),
    OptionSpec::new("davnotificationsprefix", OptionType::String, Some("#notifications")),
    OptionSpec::new("debug", OptionType::Switch, Some("0")),
    OptionSpec::new("debug_command", OptionType::String, None),
    OptionSpec::new("debug_log_sync_partition_choice", OptionType::Switch, Some("0")),
    OptionSpec::new("debug_slowio", OptionType::Switch, Some("0")),
    OptionSpec::new("debug_writefail_guid", OptionType::String, None),
    OptionSpec::new("defaultacl", OptionType::String, Some("anyone lrs")),
    OptionSpec::new("defaultdomain", OptionType::String, Some("internal")),
    OptionSpec::new("defaultpartition", OptionType::String, None),
    OptionSpec::new("defaultsearchtier", OptionType::String, Some("")),
    OptionSpec::new("defaultserver", OptionType::String, None),
    OptionSpec::new("delete_mode", OptionType::Enum(&["immediate", "delayed"]), Some("delayed")),
    OptionSpec::new("delete_unsubscribe", OptionType::Switch, Some("0")),
    OptionSpec::new("deletedprefix", OptionType::String, Some("DELETED")),
    OptionSpec::new("deleteright", OptionType::String, Some("c")),
    OptionSpec::new("disable_shared_namespace", OptionType::Switch, Some("0")),
    OptionSpec::new("disable_user_namespace", OptionType::Switch, Some("0")),
    OptionSpec::new("disconnect_on_vanished_mailbox", OptionType::Switch, Some("0")),
    OptionSpec::new("duplicate_db", OptionType::StringList(&["skiplist", "sql", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("duplicate_db_path", OptionType::String, None),
    OptionSpec::new("duplicatesuppression", OptionType::Switch, Some("1")),
    OptionSpec::new("event_content_inclusion_mode", OptionType::Enum(&["standard", "message", "header", "body", "headerbody"]), Some("standard")),
    OptionSpec::new("event_content_size", OptionType::ByteSize(SizeUnit::Bytes), Some("0")),
    OptionSpec::new("event_exclude_flags", OptionType::String, None),
    OptionSpec::new("event_exclude_specialuse", OptionType::String, Some("\\Junk")),
    OptionSpec::new("event_extra_params", OptionType::BitField(&["bodyStructure", "clientAddress", "diskUsed", "flagNames", "messageContent", "messageSize", "messages", "modseq", "service", "timestamp", "uidnext", "vnd.cmu.midset", "vnd.cmu.unseenMessages", "vnd.cmu.envelope", "vnd.cmu.sessionId", "vnd.cmu.mailboxACL", "vnd.cmu.mbtype", "vnd.cmu.davFilename", "vnd.cmu.davUid", "vnd.fastmail.clientId", "vnd.fastmail.sessionId", "vnd.fastmail.convExists", "vnd.fastmail.convUnseen", "vnd.fastmail.cid", "vnd.fastmail.counters", "vnd.fastmail.jmapEmail", "vnd.fastmail.jmapStates", "vnd.cmu.emailid", "vnd.cmu.threadid", "vnd.cmu.visibleUsers", "vnd.fastmail.traceId"]), Some("timestamp")),
    OptionSpec::new("event_groups", OptionType::BitField(&["message", "quota", "flags", "access", "mailbox", "subscription", "calendar", "applepushservice", "jmap"]), Some("message mailbox")),
    OptionSpec::new("event_notifier", OptionType::String, None),
    OptionSpec::new("expire_by_savedate", OptionType::Switch, Some("0")),
    OptionSpec::new("expire_keep_flagged", OptionType::Switch, Some("0")),
    OptionSpec::new("expunge_mode", OptionType::Enum(&["immediate", "semidelayed", "delayed"]), Some("delayed")),
    OptionSpec::new("failedloginpause", OptionType::Duration(DurationUnit::Seconds), Some("3s")),
    OptionSpec::new("fastmailsharing", OptionType::Switch, Some("0")),
    OptionSpec::new("fatals_abort", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("flushseenstate", OptionType::Switch, Some("1"), None),
    OptionSpec::new("foolstupidclients", OptionType::Switch, Some("0")),
    OptionSpec::new("force_sasl_client_mech", OptionType::String, None),
    OptionSpec::new("fulldirhash", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("generate_compiled_sieve_script", OptionType::Switch, Some("0"), Some("autocreate_sieve_script_compile")),
    OptionSpec::new("global_lock", OptionType::Switch, Some("1")),
    OptionSpec::new("hashimapspool", OptionType::Switch, Some("0")),
    OptionSpec::new("http_h2_altsvc", OptionType::String, None),
    OptionSpec::new("http_jwt_key_dir", OptionType::String, None),
    OptionSpec::new("http_jwt_max_age", OptionType::Duration(DurationUnit::Seconds), Some("0s")),
    OptionSpec::new("httpallowcompress", OptionType::Switch, Some("1")),
    OptionSpec::new("httpallowcors", OptionType::String, None),
    OptionSpec::new("httpallowedurls", OptionType::String, None),
    OptionSpec::new("httpallowtrace", OptionType::Switch, Some("0")),
    OptionSpec::new("httpcontentmd5", OptionType::Switch, Some("0")),
    OptionSpec::new("httpdocroot", OptionType::String, None),
    OptionSpec::new("httpkeepalive", OptionType::Duration(DurationUnit::Seconds), Some("20s")),
    OptionSpec::new("httplogheaders", OptionType::String, None),
    OptionSpec::new("httpmodules", OptionType::BitField(&["admin", "caldav", "carddav", "convert", "cgi", "domainkey", "freebusy", "ischedule", "jmap", "prometheus", "rss", "tzdist", "webdav"]), Some("")),
    OptionSpec::new("httpprettytelemetry", OptionType::Switch, Some("0")),
    OptionSpec::new("httppts_uri", OptionType::String, None),
    OptionSpec::new("httptimeout", OptionType::Duration(DurationUnit::Minutes), Some("5m")),
    OptionSpec::new("icalendar_max_size", OptionType::ByteSize(SizeUnit::Bytes), Some("0")),
    OptionSpec::new("idlesocket", OptionType::String, Some("{configdirectory}/socket/idle")),
    OptionSpec::new("ignorereference", OptionType::Switch, Some("0")),
    OptionSpec::new("imap_inprogress_interval", OptionType::Duration(DurationUnit::Seconds), Some("10s")),
    OptionSpec::new("imapidlepoll", OptionType::Duration(DurationUnit::Seconds), Some("60s")),
    OptionSpec::new("imapidletimeout", OptionType::Duration(DurationUnit::Minutes), None),
    OptionSpec::new("imapidresponse", OptionType::Switch, Some("1")),
    OptionSpec::new("imapmagicplus", OptionType::Switch, Some("0")),
    OptionSpec::new("imipnotifier", OptionType::String, None),
    OptionSpec::new("implicit_owner_rights", OptionType::String, Some("lkxan")),
    OptionSpec::deprecated("improved_mboxlist_sort", OptionType::Switch, Some("0"), None),
    OptionSpec::new("iolog", OptionType::Switch, Some("0")),
    OptionSpec::new("ischedule_dkim_domain", OptionType::String, None),
    OptionSpec::new("ischedule_dkim_key_file", OptionType::String, None),
    OptionSpec::new("ischedule_dkim_required", OptionType::Switch, Some("1")),
    OptionSpec::new("ischedule_dkim_selector", OptionType::String, None),
    OptionSpec::deprecated("jmap_emailsearch_db_path", OptionType::String, None, None),
    OptionSpec::new("jmap_imagesize_annot", OptionType::String, None),
    OptionSpec::new("jmap_inlinedcids_annot", OptionType::String, None),
    OptionSpec::new("jmap_mail_max_size_attachments_per_email", OptionType::ByteSize(SizeUnit::Kibi), Some("10M")),
    OptionSpec::new("jmap_max_calendareventnotifs", OptionType::Int, Some("200")),
    OptionSpec::new("jmap_max_calls_in_request", OptionType::Int, Some("50")),
    OptionSpec::new("jmap_max_catenate_items", OptionType::Int, Some("100")),
    OptionSpec::new("jmap_max_concurrent_requests", OptionType::Int, Some("5")),
    OptionSpec::new("jmap_max_concurrent_upload", OptionType::Int, Some("5")),
    OptionSpec::new("jmap_max_delayed_send", OptionType::Duration(DurationUnit::Seconds), Some("512d")),
    OptionSpec::new("jmap_max_objects_in_get", OptionType::Int, Some("4096")),
    OptionSpec::new("jmap_max_objects_in_set", OptionType::Int, Some("4096")),
    OptionSpec::new("jmap_max_size_blob_set", OptionType::ByteSize(SizeUnit::Kibi), Some("4M")),
    OptionSpec::new("jmap_max_size_request", OptionType::ByteSize(SizeUnit::Kibi), Some("10M")),
    OptionSpec::new("jmap_max_size_upload", OptionType::ByteSize(SizeUnit::Kibi), Some("1G")),
    OptionSpec::new("jmap_nonstandard_extensions", OptionType::Switch, Some("0")),
    OptionSpec::new("jmap_preview_annot", OptionType::String, None),
    OptionSpec::new("jmap_preview_length", OptionType::ByteSize(SizeUnit::Bytes), Some("64B")),
    OptionSpec::new("jmap_pushpoll", OptionType::Duration(DurationUnit::Seconds), Some("60s")),
    OptionSpec::new("jmap_querycache_max_age", OptionType::Duration(DurationUnit::Minutes), Some("0m")),
    OptionSpec::new("jmap_set_has_attachment", OptionType::Switch, Some("1")),
    OptionSpec::new("jmap_vacation", OptionType::Switch, Some("1")),
    OptionSpec::new("jmapaccess_url", OptionType::String, None),
    OptionSpec::new("jmapnotificationfolder", OptionType::String, Some("#jmapnotification")),
    OptionSpec::new("jmappushsubscriptionfolder", OptionType::String, Some("#jmappushsubscription")),
    OptionSpec::new("jmapsubmission_deleteonsend", OptionType::Switch, Some("1")),
    OptionSpec::new("jmapsubmissionfolder", OptionType::String, Some("#jmapsubmission")),
    OptionSpec::new("jmapuploadfolder", OptionType::String, Some("#jmap")),
    OptionSpec::new("ldap_authz", OptionType::String, None),
    OptionSpec::new("ldap_base", OptionType::String, Some("")),
    OptionSpec::new("ldap_bind_dn", OptionType::String, None),
    OptionSpec::new("ldap_ca_dir", OptionType::String, None),
    OptionSpec::new("ldap_ca_file", OptionType::String, None),
    OptionSpec::new("ldap_ciphers", OptionType::String, None),
    OptionSpec::new("ldap_client_cert", OptionType::String, None),
    OptionSpec::new("ldap_client_key", OptionType::String, None),
    OptionSpec::new("ldap_deref", OptionType::StringList(&["search", "find", "always", "never"]), Some("never")),
    OptionSpec::new("ldap_domain_base_dn", OptionType::String, Some("")),
    OptionSpec::new("ldap_domain_filter", OptionType::String, Some("(&(objectclass=domainrelatedobject)(associateddomain=%s))")),
    OptionSpec::new("ldap_domain_name_attribute", OptionType::String, Some("associateddomain")),
    OptionSpec::new("ldap_domain_result_attribute", OptionType::String, Some("inetdomainbasedn")),
    OptionSpec::new("ldap_domain_scope", OptionType::StringList(&["sub", "one", "base"]), Some("sub")),
    OptionSpec::new("ldap_filter", OptionType::String, Some("(uid=%u)")),
    OptionSpec::new("ldap_group_base", OptionType::String, Some("")),
    OptionSpec::new("ldap_group_filter", OptionType::String, Some("(cn=%u)")),
    OptionSpec::new("ldap_group_scope", OptionType::StringList(&["sub", "one", "base"]), Some("sub")),
    OptionSpec::new("ldap_groupmember_attribute", OptionType::String, Some("member")),
    OptionSpec::new("ldap_id", OptionType::String, None),
    OptionSpec::new("ldap_mech", OptionType::String, None),
    OptionSpec::new("ldap_member_attribute", OptionType::String, None),
    OptionSpec::new("ldap_member_base", OptionType::String, Some("")),
    OptionSpec::new("ldap_member_filter", OptionType::String, Some("(member=%D)")),
    OptionSpec::new("ldap_member_method", OptionType::StringList(&["attribute", "filter"]), Some("attribute")),
    OptionSpec::new("ldap_member_scope", OptionType::StringList(&["sub", "one", "base"]), Some("sub")),
    OptionSpec::new("ldap_password", OptionType::String, None),
    OptionSpec::new("ldap_realm", OptionType::String, None),
    OptionSpec::new("ldap_referrals", OptionType::Switch, Some("0")),
    OptionSpec::new("ldap_restart", OptionType::Switch, Some("1")),
    OptionSpec::new("ldap_sasl", OptionType::Switch, Some("1")),
    OptionSpec::deprecated("ldap_sasl_authc", OptionType::String, None, Some("ldap_id")),
    OptionSpec::deprecated("ldap_sasl_authz", OptionType::String, None, Some("ldap_authz")),
    OptionSpec::deprecated("ldap_sasl_mech", OptionType::String, None, Some("ldap_mech")),
    OptionSpec::deprecated("ldap_sasl_password", OptionType::String, None, Some("ldap_password")),
    OptionSpec::deprecated("ldap_sasl_realm", OptionType::String, None, Some("ldap_realm")),
    OptionSpec::new("ldap_scope", OptionType::StringList(&["sub", "one", "base"]), Some("sub")),
    OptionSpec::deprecated("ldap_servers", OptionType::String, Some("ldap://localhost/"), Some("ldap_uri")),
    OptionSpec::new("ldap_size_limit", OptionType::Int, Some("1")),
    OptionSpec::new("ldap_start_tls", OptionType::Switch, Some("0")),
    OptionSpec::new("ldap_time_limit", OptionType::Duration(DurationUnit::Seconds), Some("5s")),
    OptionSpec::new("ldap_timeout", OptionType::Duration(DurationUnit::Seconds), Some("5s")),
    OptionSpec::deprecated("ldap_tls_cacert_dir", OptionType::String, None, Some("ldap_ca_dir")),
    OptionSpec::deprecated("ldap_tls_cacert_file", OptionType::String, None, Some("ldap_ca_file")),
    OptionSpec::deprecated("ldap_tls_cert", OptionType::String, None, Some("ldap_client_cert")),
    OptionSpec::deprecated("ldap_tls_check_peer", OptionType::Switch, Some("0"), Some("ldap_verify_peer")),
    OptionSpec::deprecated("ldap_tls_ciphers", OptionType::String, None, Some("ldap_ciphers")),
    OptionSpec::deprecated("ldap_tls_key", OptionType::String, None, Some("ldap_client_key")),
    OptionSpec::new("ldap_uri", OptionType::String, None),
    OptionSpec::new("ldap_user_attribute", OptionType::String, None),
    OptionSpec::new("ldap_verify_peer", OptionType::Switch, Some("0")),
    OptionSpec::new("ldap_version", OptionType::Int, Some("3")),
    OptionSpec::new("literalminus", OptionType::Switch, Some("0")),
    OptionSpec::new("lmtp_catchall_mailbox", OptionType::String, None),
    OptionSpec::new("lmtp_downcase_rcpt", OptionType::Switch, Some("1")),
    OptionSpec::new("lmtp_exclude_specialuse", OptionType::String, Some("\\Drafts \\Scheduled \\Snoozed")),
    OptionSpec::new("lmtp_fuzzy_mailbox_match", OptionType::Switch, Some("0")),
    OptionSpec::new("lmtp_over_quota_perm_failure", OptionType::Switch, Some("0")),
    OptionSpec::new("lmtp_preparse", OptionType::Switch, Some("0")),
    OptionSpec::new("lmtp_strict_quota", OptionType::Switch, Some("0")),
    OptionSpec::new("lmtp_strict_rfc2821", OptionType::Switch, Some("1")),
    OptionSpec::new("lmtpsocket", OptionType::String, Some("{configdirectory}/socket/lmtp")),
    OptionSpec::new("lmtptxn_timeout", OptionType::Duration(DurationUnit::Seconds), Some("5m")),
    OptionSpec::new("lock_debugtime", OptionType::String, None),
    OptionSpec::new("loginrealms", OptionType::String, Some("")),
    OptionSpec::new("loginuseacl", OptionType::Switch, Some("0")),
    OptionSpec::new("logtimestamps", OptionType::Switch, Some("0")),
    OptionSpec::new("mailbox_default_options", OptionType::Int, Some("0")),
    OptionSpec::new("mailbox_initial_flags", OptionType::String, None),
    OptionSpec::new("mailbox_legacy_dirs", OptionType::Switch, Some("0")),
    OptionSpec::new("mailbox_maxmessages_addressbook", OptionType::Int, Some("0")),
    OptionSpec::new("mailbox_maxmessages_calendar", OptionType::Int, Some("0")),
    OptionSpec::new("mailbox_maxmessages_email", OptionType::Int, Some("0")),
    OptionSpec::new("mailnotifier", OptionType::String, None),
    OptionSpec::new("master_bind_errors_fatal", OptionType::Switch, Some("0")),
    OptionSpec::new("master_pid_file", OptionType::String, Some("{configdirectory}/master.pid")),
    OptionSpec::new("master_ready_file", OptionType::String, Some("{configdirectory}/master.ready")),
    OptionSpec::new("maxargssize", OptionType::ByteSize(SizeUnit::Bytes), Some("0")),
    OptionSpec::new("maxheaderlines", OptionType::Int, Some("1000")),
    OptionSpec::new("maxliteral", OptionType::ByteSize(SizeUnit::Bytes), Some("128K")),
    OptionSpec::new("maxlogins_per_host", OptionType::Int, Some("0")),
    OptionSpec::new("maxlogins_per_user", OptionType::Int, Some("0")),
    OptionSpec::new("maxmessagesize", OptionType::ByteSize(SizeUnit::Bytes), Some("0")),
    OptionSpec::new("maxquoted", OptionType::ByteSize(SizeUnit::Bytes), Some("128K")),
    OptionSpec::new("maxword", OptionType::ByteSize(SizeUnit::Bytes), Some("128K")),
    OptionSpec::deprecated("mboxkey_db", OptionType::StringList(&["skiplist", "twom", "twoskip"]), Some("twoskip"), None),
    OptionSpec::new("mboxlist_db", OptionType::StringList(&["flat", "skiplist", "sql", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("mboxlist_db_path", OptionType::String, None),
    OptionSpec::new("mboxname_lockpath", OptionType::String, None),
    OptionSpec::new("mboxname_userpath", OptionType::String, Some("{configdirectory}")),
    OptionSpec::new("metapartition_files", OptionType::BitField(&["header", "index", "cache", "expunge", "squat", "annotations", "lock", "dav", "archivecache"]), Some("")),
    OptionSpec::new("munge8bit", OptionType::Switch, Some("1")),
    OptionSpec::new("mupdate_authname", OptionType::String, None),
    OptionSpec::new("mupdate_config", OptionType::Enum(&["standard", "unified", "replicated"]), Some("standard")),
    OptionSpec::new("mupdate_connections_max", OptionType::Int, Some("128")),
    OptionSpec::new("mupdate_password", OptionType::String, None),
    OptionSpec::new("mupdate_port", OptionType::Int, Some("3905")),
    OptionSpec::new("mupdate_realm", OptionType::String, None),
    OptionSpec::new("mupdate_retry_delay", OptionType::Int, Some("20")),
    OptionSpec::new("mupdate_server", OptionType::String, None),
    OptionSpec::new("mupdate_username", OptionType::String, Some("")),
    OptionSpec::new("mupdate_workers_max", OptionType::Int, Some("50")),
    OptionSpec::new("mupdate_workers_maxspare", OptionType::Int, Some("10")),
    OptionSpec::new("mupdate_workers_minspare", OptionType::Int, Some("2")),
    OptionSpec::new("mupdate_workers_start", OptionType::Int, Some("5")),
    OptionSpec::new("netscapeurl", OptionType::String, None),
    OptionSpec::deprecated("newsaddheaders", OptionType::BitField(&["to", "replyto"]), Some("to"), None),
    OptionSpec::deprecated("newsgroups", OptionType::String, Some("*"), None),
    OptionSpec::deprecated("newsmaster", OptionType::String, Some("news"), None),
    OptionSpec::deprecated("newspeer", OptionType::String, None, None),
    OptionSpec::deprecated("newspostuser", OptionType::String, None, None),
    OptionSpec::deprecated("newsprefix", OptionType::String, None, None),
    OptionSpec::deprecated("newsrc_db_path", OptionType::String, None, None),
    OptionSpec::deprecated("nntptimeout", OptionType::Duration(DurationUnit::Minutes), Some("3m"), None),
    OptionSpec::new("notesmailbox", OptionType::String, None),
    OptionSpec::new("notify_external", OptionType::String, None),
    OptionSpec::new("notifysocket", OptionType::String, Some("{configdirectory}/socket/notify")),
    OptionSpec::deprecated("object_storage_dummy_spool", OptionType::String, None, None),
    OptionSpec::deprecated("object_storage_enabled", OptionType::Switch, Some("0"), None),
    OptionSpec::deprecated("openio_account", OptionType::String, None, None),
    OptionSpec::deprecated("openio_autocreate", OptionType::Switch, Some("0"), None),
    OptionSpec::deprecated("openio_namespace", OptionType::String, None, None),
    OptionSpec::deprecated("openio_proxy_timeout", OptionType::Duration(DurationUnit::Seconds), Some("5s"), None),
    OptionSpec::deprecated("openio_rawx_timeout", OptionType::Duration(DurationUnit::Seconds), Some("30s"), None),
    OptionSpec::deprecated("openio_verbosity", OptionType::String, None, None),
    OptionSpec::new("partition_select_exclude", OptionType::String, None),
    OptionSpec::new("partition_select_mode", OptionType::StringList(&["random", "freespace-most", "freespace-percent-most", "freespace-percent-weighted", "freespace-percent-weighted-delta"]), Some("freespace-most")),
    OptionSpec::new("partition_select_soft_usage_limit", OptionType::Int, Some("0")),
    OptionSpec::new("partition_select_usage_reinit", OptionType::Int, Some("0")),
    OptionSpec::new("plaintextloginalert", OptionType::String, None),
    OptionSpec::new("plaintextloginpause", OptionType::Duration(DurationUnit::Seconds), None),
    OptionSpec::new("popexpiretime", OptionType::Duration(DurationUnit::Days), Some("-1")),
    OptionSpec::new("popminpoll", OptionType::Duration(DurationUnit::Minutes), None),
    OptionSpec::new("poppollpadding", OptionType::Int, Some("1")),
    OptionSpec::new("popsubfolders", OptionType::Switch, Some("0")),
    OptionSpec::new("poptimeout", OptionType::Duration(DurationUnit::Minutes), Some("10m")),
    OptionSpec::new("popuseacl", OptionType::Switch, Some("0")),
    OptionSpec::new("popuseimapflags", OptionType::Switch, Some("0")),
    OptionSpec::new("postmaster", OptionType::String, Some("postmaster")),
    OptionSpec::deprecated("postspec", OptionType::String, None, None),
    OptionSpec::new("postuser", OptionType::String, Some("")),
    OptionSpec::new("proc_path", OptionType::String, Some("{configdirectory}/proc/")),
    OptionSpec::new("prometheus_enabled", OptionType::Switch, Some("0")),
    OptionSpec::new("prometheus_master_update_freq", OptionType::Duration(DurationUnit::Seconds), None),
    OptionSpec::new("prometheus_need_auth", OptionType::StringList(&["none", "user", "admin"]), Some("admin")),
    OptionSpec::new("prometheus_service_update_freq", OptionType::Duration(DurationUnit::Seconds), Some("10s")),
    OptionSpec::new("prometheus_stats_dir", OptionType::String, Some("{configdirectory}/stats/")),
    OptionSpec::deprecated("prometheus_update_freq", OptionType::Duration(DurationUnit::Seconds), Some("10s"), Some("prometheus_service_update_freq")),
    OptionSpec::new("prometheus_usage_update_freq", OptionType::Duration(DurationUnit::Seconds), None),
    OptionSpec::new("proxy_authname", OptionType::String, Some("proxy")),
    OptionSpec::new("proxy_compress", OptionType::Switch, Some("0")),
    OptionSpec::new("proxy_password", OptionType::String, None),
    OptionSpec::new("proxy_realm", OptionType::String, None),
    OptionSpec::new("proxyd_allow_status_referral", OptionType::Switch, Some("0")),
    OptionSpec::new("proxyd_disable_mailbox_referrals", OptionType::Switch, Some("0")),
    OptionSpec::new("proxyservers", OptionType::String, None),
    OptionSpec::new("ptloader_sock", OptionType::String, None),
    OptionSpec::new("pts_module", OptionType::StringList(&["afskrb", "ldap", "http"]), Some("afskrb")),
    OptionSpec::new("ptscache_db", OptionType::StringList(&["skiplist", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("ptscache_db_path", OptionType::String, None),
    OptionSpec::new("ptscache_timeout", OptionType::Duration(DurationUnit::Seconds), Some("3h")),
    OptionSpec::new("ptskrb5_convert524", OptionType::Switch, Some("1")),
    OptionSpec::new("ptskrb5_strip_default_realm", OptionType::Switch, Some("1")),
    OptionSpec::new("qosmarking", OptionType::Enum(&["cs0", "cs1", "cs2", "cs3", "cs4", "cs5", "cs6", "cs7", "af11", "af12", "af13", "af21", "af22", "af23", "af31", "af32", "af33", "af41", "af42", "af43", "ef"]), Some("cs0")),
    OptionSpec::new("quota_db", OptionType::StringList(&["flat", "skiplist", "sql", "quotalegacy", "twom", "twoskip"]), Some("quotalegacy")),
    OptionSpec::new("quota_db_path", OptionType::String, None),
    OptionSpec::new("quota_use_conversations", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("quotawarn", OptionType::Int, Some("90"), Some("quotawarnpercent")),
    OptionSpec::deprecated("quotawarnkb", OptionType::ByteSize(SizeUnit::Kibi), None, Some("quotawarnsize")),
    OptionSpec::new("quotawarnmsg", OptionType::Int, Some("0")),
    OptionSpec::new("quotawarnpercent", OptionType::Int, Some("90")),
    OptionSpec::new("quotawarnsize", OptionType::ByteSize(SizeUnit::Kibi), Some("0")),
    OptionSpec::new("readonly", OptionType::Switch, Some("0")),
    OptionSpec::new("reject8bit", OptionType::Switch, Some("0")),
    OptionSpec::new("replicaonly", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("restore_authname", OptionType::String, None, None),
    OptionSpec::deprecated("restore_password", OptionType::String, None, None),
    OptionSpec::deprecated("restore_realm", OptionType::String, None, None),
    OptionSpec::new("reverseacls", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("reverseuniqueids", OptionType::Switch, Some("1"), None),
    OptionSpec::new("rfc2046_strict", OptionType::Switch, Some("0")),
    OptionSpec::new("rfc2047_utf8", OptionType::Switch, Some("0")),
    OptionSpec::new("rfc3028_strict", OptionType::Switch, Some("1")),
    OptionSpec::new("rss_feedlist_template", OptionType::String, None),
    OptionSpec::new("rss_feeds", OptionType::String, Some("*")),
    OptionSpec::new("rss_maxage", OptionType::Duration(DurationUnit::Days), None),
    OptionSpec::new("rss_maxitems", OptionType::Int, Some("0")),
    OptionSpec::new("rss_maxsynopsis", OptionType::Int, Some("0")),
    OptionSpec::new("rss_realm", OptionType::String, None),
    OptionSpec::new("sasl_auto_transition", OptionType::Switch, Some("0")),
    OptionSpec::new("sasl_auxprop_plugin", OptionType::String, None),
    OptionSpec::new("sasl_maximum_layer", OptionType::Int, Some("256")),
    OptionSpec::new("sasl_mech_list", OptionType::String, None),
    OptionSpec::new("sasl_minimum_layer", OptionType::Int, Some("0")),
    OptionSpec::new("sasl_pwcheck_method", OptionType::String, None),
    OptionSpec::new("sasl_saslauthd_path", OptionType::String, None),
    OptionSpec::new("sasl_sasldb_path", OptionType::String, Some("/etc/sasldb2")),
    OptionSpec::new("search_attachment_extractor_idle_timeout", OptionType::Duration(DurationUnit::Seconds), Some("5m")),
    OptionSpec::new("search_attachment_extractor_request_timeout", OptionType::Duration(DurationUnit::Seconds), Some("5m")),
    OptionSpec::new("search_attachment_extractor_url", OptionType::String, None),
    OptionSpec::new("search_batchsize", OptionType::Int, Some("20")),
    OptionSpec::new("search_engine", OptionType::Enum(&["none", "squat", "xapian"]), Some("none")),
    OptionSpec::new("search_fuzzy_always", OptionType::Switch, Some("0")),
    OptionSpec::new("search_index_headers", OptionType::Switch, Some("1")),
    OptionSpec::new("search_index_language", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("search_index_parts", OptionType::Switch, Some("0"), None),
    OptionSpec::new("search_index_skip_domains", OptionType::String, None),
    OptionSpec::new("search_index_skip_users", OptionType::String, None),
    OptionSpec::new("search_indexed_db", OptionType::StringList(&["flat", "skiplist", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("search_maxsize", OptionType::ByteSize(SizeUnit::Kibi), Some("4M")),
    OptionSpec::new("search_maxtime", OptionType::String, None),
    OptionSpec::new("search_normalisation_max", OptionType::Int, Some("1000")),
    OptionSpec::deprecated("search_query_language", OptionType::Switch, Some("0"), None),
    OptionSpec::new("search_queryscan", OptionType::Int, Some("5000")),
    OptionSpec::new("search_skipdiacrit", OptionType::Switch, Some("1")),
    OptionSpec::new("search_skiphtml", OptionType::Switch, Some("0")),
    OptionSpec::new("search_snippet_length", OptionType::Int, Some("255")),
    OptionSpec::new("search_stopword_path", OptionType::String, None),
    OptionSpec::new("search_whitespace", OptionType::Enum(&["skip", "merge", "keep"]), Some("merge")),
    OptionSpec::new("seenstate_db", OptionType::StringList(&["flat", "skiplist", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("sendmail", OptionType::String, Some("/usr/sbin/sendmail")),
    OptionSpec::new("sendmail_auth_id", OptionType::String, Some("CYRUS_SENDMAIL_AUTH_ID")),
    OptionSpec::new("serverinfo", OptionType::Enum(&["off", "min", "on"]), Some("on")),
    OptionSpec::new("serverlist", OptionType::String, None),
    OptionSpec::new("serverlist_select_mode", OptionType::StringList(&["random", "freespace-most", "freespace-percent-most", "freespace-percent-weighted", "freespace-percent-weighted-delta"]), Some("freespace-most")),
    OptionSpec::new("serverlist_select_soft_usage_limit", OptionType::Int, Some("0")),
    OptionSpec::new("serverlist_select_usage_reinit", OptionType::Int, Some("0")),
    OptionSpec::new("servername", OptionType::String, None),
    OptionSpec::new("sharedprefix", OptionType::String, Some("Shared Folders")),
    OptionSpec::new("sieve_allowreferrals", OptionType::Switch, Some("1")),
    OptionSpec::new("sieve_duplicate_max_expiration", OptionType::Duration(DurationUnit::Seconds), Some("90d")),
    OptionSpec::new("sieve_extensions", OptionType::BitField(&["fileinto", "reject", "vacation", "vacation-seconds", "notify", "include", "envelope", "environment", "body", "relational", "regex", "subaddress", "copy", "date", "index", "imap4flags=imapflags", "mailbox", "mboxmetadata", "servermetadata", "variables", "editheader", "extlists", "duplicate", "ihave", "fcc", "special-use", "redirect-dsn", "redirect-deliverby", "mailboxid", "vnd.cyrus.log=x-cyrus-log", "vnd.cyrus.jmapquery=x-cyrus-jmapquery", "processcalendar=vnd.cyrus.imip", "snooze=vnd.cyrus.snooze=x-cyrus-snooze", "vnd.cyrus.implicit_keep_target", "vnd.cyrus.redirect-multiple"]), Some("fileinto reject vacation vacation-seconds notify include envelope environment body relational regex subaddress copy date index imap4flags mailbox mboxmetadata servermetadata variables editheader extlists duplicate ihave fcc special-use redirect-dsn redirect-deliverby mailboxid vnd.cyrus.log vnd.cyrus.jmapquery processcalendar snooze vnd.cyrus.implicit_keep_target vnd.cyrus.redirect-multiple")),
    OptionSpec::new("sieve_folder", OptionType::String, Some("#sieve")),
    OptionSpec::new("sieve_maxscripts", OptionType::Int, Some("5")),
    OptionSpec::new("sieve_maxscriptsize", OptionType::ByteSize(SizeUnit::Kibi), Some("32K")),
    OptionSpec::new("sieve_mdn_original_recipient_header", OptionType::String, Some("original-recipient")),
    OptionSpec::new("sieve_mdn_private", OptionType::Switch, Some("0")),
    OptionSpec::deprecated("sieve_sasl_send_unsolicited_capability", OptionType::Switch, Some("1"), None),
    OptionSpec::new("sieve_use_lmtp_reject", OptionType::Switch, Some("1")),
    OptionSpec::new("sieve_utf8fileinto", OptionType::Switch, Some("0")),
    OptionSpec::new("sieve_vacation_max_response", OptionType::Duration(DurationUnit::Seconds), Some("90d")),
    OptionSpec::new("sieve_vacation_min_response", OptionType::Duration(DurationUnit::Seconds), Some("3d")),
    OptionSpec::new("sievedir", OptionType::String, Some("/usr/sieve")),
    OptionSpec::new("sievenotifier", OptionType::String, None),
    OptionSpec::new("sieveusehomedir", OptionType::Switch, Some("0")),
    OptionSpec::new("singleinstancestore", OptionType::Switch, Some("1")),
    OptionSpec::new("skiplist_always_checkpoint", OptionType::Switch, Some("1")),
    OptionSpec::new("skiplist_unsafe", OptionType::Switch, Some("0")),
    OptionSpec::new("smtp_auth_authname", OptionType::String, None),
    OptionSpec::new("smtp_auth_password", OptionType::String, None),
    OptionSpec::new("smtp_auth_realm", OptionType::String, None),
    OptionSpec::new("smtp_backend", OptionType::StringList(&["host", "sendmail"]), Some("sendmail")),
    OptionSpec::new("smtp_host", OptionType::String, Some("localhost:587")),
    OptionSpec::new("soft_noauth", OptionType::Switch, Some("1")),
    OptionSpec::deprecated("sortcache_db", OptionType::StringList(&["skiplist", "twom", "twoskip"]), Some("twoskip"), None),
    OptionSpec::new("specialuse_extra", OptionType::String, None),
    OptionSpec::new("specialuse_nochildren", OptionType::String, Some("\\Scheduled \\Snoozed")),
    OptionSpec::new("specialuse_protect", OptionType::String, Some("\\Archive \\Drafts \\Important \\Junk \\Sent \\Scheduled \\Snoozed \\Trash")),
    OptionSpec::new("specialusealways", OptionType::Switch, Some("1")),
    OptionSpec::new("sql_database", OptionType::String, None),
    OptionSpec::new("sql_engine", OptionType::StringList(&["mysql", "pgsql", "sqlite"]), None),
    OptionSpec::new("sql_hostnames", OptionType::String, Some("")),
    OptionSpec::new("sql_passwd", OptionType::String, None),
    OptionSpec::new("sql_user", OptionType::String, None),
    OptionSpec::new("sql_usessl", OptionType::Switch, Some("0")),
    OptionSpec::new("srs_alwaysrewrite", OptionType::Switch, Some("0")),
    OptionSpec::new("srs_domain", OptionType::String, None),
    OptionSpec::new("srs_hashlength", OptionType::Int, Some("0")),
    OptionSpec::new("srs_secrets", OptionType::String, None),
    OptionSpec::new("srs_separator", OptionType::String, None),
    OptionSpec::deprecated("srvtab", OptionType::String, Some(""), None),
    OptionSpec::new("statuscache", OptionType::Switch, Some("0")),
    OptionSpec::new("statuscache_db", OptionType::StringList(&["skiplist", "sql", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("statuscache_db_path", OptionType::String, None),
    OptionSpec::new("submitservers", OptionType::String, None),
    OptionSpec::new("subscription_db", OptionType::StringList(&["flat", "skiplist", "twom", "twoskip"]), Some("flat")),
    OptionSpec::new("suppress_capabilities", OptionType::String, None),
    OptionSpec::new("sync_authname", OptionType::String, None),
    OptionSpec::new("sync_batchsize", OptionType::Int, Some("8192")),
    OptionSpec::new("sync_cache_db", OptionType::StringList(&["skiplist", "sql", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("sync_cache_db_path", OptionType::String, None),
    OptionSpec::new("sync_host", OptionType::String, None),
    OptionSpec::new("sync_log", OptionType::Switch, Some("0")),
    OptionSpec::new("sync_log_chain", OptionType::Switch, Some("0")),
    OptionSpec::new("sync_log_channels", OptionType::String, None),
    OptionSpec::new("sync_log_unsuppressable_channels", OptionType::String, Some("squatter")),
    OptionSpec::new("sync_password", OptionType::String, None),
    OptionSpec::new("sync_port", OptionType::String, None),
    OptionSpec::new("sync_realm", OptionType::String, None),
    OptionSpec::new("sync_reconnect_maxwait", OptionType::Duration(DurationUnit::Seconds), Some("20m")),
    OptionSpec::new("sync_repeat_interval", OptionType::Duration(DurationUnit::Seconds), Some("1s")),
    OptionSpec::new("sync_rightnow_channel", OptionType::String, None),
    OptionSpec::new("sync_shutdown_file", OptionType::String, None),
    OptionSpec::new("sync_timeout", OptionType::Duration(DurationUnit::Seconds), Some("30m")),
    OptionSpec::new("sync_try_imap", OptionType::Switch, Some("1")),
    OptionSpec::new("syslog_facility", OptionType::String, None),
    OptionSpec::new("syslog_prefix", OptionType::String, None),
    OptionSpec::new("tcp_keepalive", OptionType::Switch, Some("0")),
    OptionSpec::new("tcp_keepalive_cnt", OptionType::Int, Some("0")),
    OptionSpec::new("tcp_keepalive_idle", OptionType::Duration(DurationUnit::Seconds), Some("0")),
    OptionSpec::new("tcp_keepalive_intvl", OptionType::Duration(DurationUnit::Seconds), Some("0")),
    OptionSpec::new("telemetry_bysessionid", OptionType::Switch, Some("0")),
    OptionSpec::new("temp_path", OptionType::String, Some("/tmp")),
    OptionSpec::new("timeout", OptionType::Duration(DurationUnit::Minutes), Some("32m")),
    OptionSpec::deprecated("tls_ca_file", OptionType::String, None, Some("tls_client_ca_file")),
    OptionSpec::deprecated("tls_ca_path", OptionType::String, None, Some("tls_client_ca_dir")),
    OptionSpec::deprecated("tls_cert_file", OptionType::String, None, Some("tls_server_cert")),
    OptionSpec::deprecated("tls_cipher_list", OptionType::String, Some("DEFAULT"), Some("tls_ciphers")),
    OptionSpec::new("tls_ciphers", OptionType::String, Some("DEFAULT")),
    OptionSpec::new("tls_client_ca_dir", OptionType::String, None),
    OptionSpec::new("tls_client_ca_file", OptionType::String, None),
    OptionSpec::new("tls_client_cert", OptionType::String, None),
    OptionSpec::new("tls_client_certs", OptionType::Enum(&["off", "optional", "require"]), Some("optional")),
    OptionSpec::new("tls_client_key", OptionType::String, None),
    OptionSpec::new("tls_crl_file", OptionType::String, None),
    OptionSpec::new("tls_eccurve", OptionType::String, Some("prime256v1")),
    OptionSpec::deprecated("tls_key_file", OptionType::String, None, Some("tls_server_key")),
    OptionSpec::new("tls_prefer_server_ciphers", OptionType::Switch, Some("0")),
    OptionSpec::new("tls_required", OptionType::Switch, Some("0")),
    OptionSpec::new("tls_server_ca_dir", OptionType::String, None),
    OptionSpec::new("tls_server_ca_file", OptionType::String, None),
    OptionSpec::new("tls_server_cert", OptionType::String, None),
    OptionSpec::deprecated("tls_server_dhparam", OptionType::String, None, None),
    OptionSpec::new("tls_server_key", OptionType::String, None),
    OptionSpec::new("tls_session_timeout", OptionType::Duration(DurationUnit::Minutes), Some("24h")),
    OptionSpec::new("tls_sessions_db", OptionType::StringList(&["skiplist", "sql", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("tls_sessions_db_path", OptionType::String, None),
    OptionSpec::new("tls_versions", OptionType::String, Some("tls1_0 tls1_1 tls1_2 tls1_3")),
    OptionSpec::deprecated("tlscache_db", OptionType::StringList(&["skiplist", "sql", "twoskip"]), Some("twoskip"), Some("tls_sessions_db")),
    OptionSpec::deprecated("tlscache_db_path", OptionType::String, None, Some("tls_sessions_db_path")),
    OptionSpec::new("uidbatches_max_messages", OptionType::Int, Some("100000")),
    OptionSpec::new("uidbatches_min_batch", OptionType::Int, Some("500")),
    OptionSpec::new("uidl_format", OptionType::Enum(&["uidonly", "cyrus", "dovecot", "courier"]), Some("cyrus")),
    OptionSpec::new("umask", OptionType::String, Some("077")),
    OptionSpec::new("unix_group_enable", OptionType::Switch, Some("1")),
    OptionSpec::new("unixhierarchysep", OptionType::Switch, Some("1")),
    OptionSpec::new("userdeny_db", OptionType::StringList(&["flat", "skiplist", "sql", "twom", "twoskip"]), Some("flat")),
    OptionSpec::new("userdeny_db_path", OptionType::String, None),
    OptionSpec::new("username_tolower", OptionType::Switch, Some("1")),
    OptionSpec::new("userprefix", OptionType::String, Some("Other Users")),
    OptionSpec::new("vcard_max_size", OptionType::ByteSize(SizeUnit::Bytes), Some("0")),
    OptionSpec::new("virtdomains", OptionType::Enum(&["off", "userid", "on"]), Some("off")),
    OptionSpec::new("virusscan_notification_subject", OptionType::String, Some("Automatically deleted mail")),
    OptionSpec::new("virusscan_notification_template", OptionType::String, None),
    OptionSpec::new("webdav_attachments_baseurl", OptionType::String, None),
    OptionSpec::new("webdav_attachments_max_binary_attach_size", OptionType::ByteSize(SizeUnit::Kibi), Some("1024K")),
    OptionSpec::new("websocket_timeout", OptionType::Duration(DurationUnit::Minutes), Some("30m")),
    OptionSpec::deprecated("xbackup_enabled", OptionType::Switch, Some("0"), None),
    OptionSpec::new("zoneinfo_db", OptionType::StringList(&["flat", "skiplist", "twom", "twoskip"]), Some("twoskip")),
    OptionSpec::new("zoneinfo_db_path", OptionType::String, None),
    OptionSpec::new("zoneinfo_dir", OptionType::String, None),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_is_sorted_and_unique_so_binary_search_works() {
        for pair in OPTIONS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        for spec in OPTIONS {
            assert_eq!(lookup(spec.name), Some(spec));
        }
    }

    #[test]
    fn every_default_reads_under_its_own_type() {
        for spec in OPTIONS {
            if let Some(d) = spec.default {
                assert!(spec.ty.parse(d).is_ok(), "{}: default {d:?}", spec.name);
            }
        }
    }

    #[test]
    fn replacements_of_deprecated_options_exist() {
        for spec in OPTIONS.iter().filter(|s| s.deprecated) {
            if let Some(r) = spec.replaced_by {
                assert!(lookup(r).is_some(), "{} -> {r}", spec.name);
            }
        }
    }

    /// §7.3 and the options our daemons read: (name, type, default).
    #[test]
    fn murder_options_have_the_documented_type_and_default() {
        use OptionType as T;
        let s = |v: &'static str| Some(v);
        let table: &[(&str, OptionType, Option<&str>)] = &[
            ("mupdate_server", T::String, None),
            ("mupdate_port", T::Int, s("3905")),
            ("mupdate_username", T::String, s("")),
            ("mupdate_authname", T::String, None),
            ("mupdate_realm", T::String, None),
            ("mupdate_password", T::String, None),
            ("mupdate_retry_delay", T::Int, s("20")),
            ("mupdate_connections_max", T::Int, s("128")),
            ("mupdate_workers_start", T::Int, s("5")),
            ("mupdate_workers_minspare", T::Int, s("2")),
            ("mupdate_workers_maxspare", T::Int, s("10")),
            ("mupdate_workers_max", T::Int, s("50")),
            ("proxy_authname", T::String, s("proxy")),
            ("proxy_password", T::String, None),
            ("proxy_realm", T::String, None),
            ("proxy_compress", T::Switch, s("0")),
            ("force_sasl_client_mech", T::String, None),
            ("proxyservers", T::String, None),
            ("admins", T::String, s("")),
            ("loginuseacl", T::Switch, s("0")),
            ("loginrealms", T::String, s("")),
            ("serverlist", T::String, None),
            ("serverlist_select_soft_usage_limit", T::Int, s("0")),
            ("serverlist_select_usage_reinit", T::Int, s("0")),
            ("defaultserver", T::String, None),
            ("proxyd_allow_status_referral", T::Switch, s("0")),
            ("proxyd_disable_mailbox_referrals", T::Switch, s("0")),
            ("sieve_allowreferrals", T::Switch, s("1")),
            ("allowusermoves", T::Switch, s("0")),
            ("allowallsubscribe", T::Switch, s("0")),
            (
                "client_timeout",
                T::Duration(DurationUnit::Seconds),
                s("10s"),
            ),
            ("client_bind", T::Switch, s("0")),
            ("client_bind_name", T::String, None),
            (
                "lmtptxn_timeout",
                T::Duration(DurationUnit::Seconds),
                s("5m"),
            ),
            ("suppress_capabilities", T::String, None),
            ("servername", T::String, None),
            ("configdirectory", T::String, None),
            ("defaultpartition", T::String, None),
            ("unixhierarchysep", T::Switch, s("1")),
            ("altnamespace", T::Switch, s("1")),
            ("userprefix", T::String, s("Other Users")),
            ("sharedprefix", T::String, s("Shared Folders")),
            ("altprefix", T::String, s("Alt Folders")),
            ("defaultdomain", T::String, s("internal")),
            ("crossdomains", T::Switch, s("0")),
            ("crossdomains_onlyother", T::Switch, s("0")),
            ("username_tolower", T::Switch, s("1")),
            ("deletedprefix", T::String, s("DELETED")),
            ("improved_mboxlist_sort", T::Switch, s("0")),
            ("allowplaintext", T::Switch, s("0")),
            ("allowanonymouslogin", T::Switch, s("0")),
            ("sasl_pwcheck_method", T::String, None),
            ("sasl_mech_list", T::String, None),
            ("sasl_sasldb_path", T::String, s("/etc/sasldb2")),
            ("sasl_minimum_layer", T::Int, s("0")),
            ("sasl_maximum_layer", T::Int, s("256")),
            ("sasl_auto_transition", T::Switch, s("0")),
            (
                "failedloginpause",
                T::Duration(DurationUnit::Seconds),
                s("3s"),
            ),
            ("tls_server_cert", T::String, None),
            ("tls_server_key", T::String, None),
            ("tls_client_cert", T::String, None),
            ("tls_client_key", T::String, None),
            ("tls_client_ca_file", T::String, None),
            ("tls_server_ca_file", T::String, None),
            ("tls_required", T::Switch, s("0")),
            ("tls_versions", T::String, s("tls1_0 tls1_1 tls1_2 tls1_3")),
            ("lmtp_downcase_rcpt", T::Switch, s("1")),
            ("lmtp_fuzzy_mailbox_match", T::Switch, s("0")),
            ("lmtp_strict_quota", T::Switch, s("0")),
            ("lmtp_over_quota_perm_failure", T::Switch, s("0")),
            ("lmtp_strict_rfc2821", T::Switch, s("1")),
            ("lmtp_catchall_mailbox", T::String, None),
            (
                "lmtp_exclude_specialuse",
                T::String,
                s("\\Drafts \\Scheduled \\Snoozed"),
            ),
            ("lmtp_preparse", T::Switch, s("0")),
            ("lmtpsocket", T::String, s("{configdirectory}/socket/lmtp")),
            ("duplicatesuppression", T::Switch, s("1")),
            ("singleinstancestore", T::Switch, s("1")),
            ("maxword", T::ByteSize(SizeUnit::Bytes), s("128K")),
            ("maxquoted", T::ByteSize(SizeUnit::Bytes), s("128K")),
            ("maxliteral", T::ByteSize(SizeUnit::Bytes), s("128K")),
            ("literalminus", T::Switch, s("0")),
            ("timeout", T::Duration(DurationUnit::Minutes), s("32m")),
            ("sendmail", T::String, s("/usr/sbin/sendmail")),
            ("quotawarn", T::Int, s("90")),
            ("autocreate_quota", T::ByteSize(SizeUnit::Kibi), s("-1")),
            ("defaultacl", T::String, s("anyone lrs")),
        ];
        for (name, ty, default) in table {
            let spec = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(spec.ty, *ty, "{name}");
            assert_eq!(spec.default, *default, "{name}");
        }
        let enums: &[(&str, &[&str], &str)] = &[
            (
                "mupdate_config",
                &["standard", "unified", "replicated"],
                "standard",
            ),
            ("serverinfo", &["off", "min", "on"], "on"),
            ("virtdomains", &["off", "userid", "on"], "off"),
            ("delete_mode", &["immediate", "delayed"], "delayed"),
            (
                "tls_client_certs",
                &["off", "optional", "require"],
                "optional",
            ),
        ];
        for (name, allowed, default) in enums {
            let spec = lookup(name).unwrap();
            assert_eq!(spec.ty, OptionType::Enum(allowed), "{name}");
            assert_eq!(spec.default, Some(*default));
        }
        let spec = lookup("serverlist_select_mode").unwrap();
        assert!(matches!(spec.ty, OptionType::StringList(v) if v.contains(&"random")));
        assert_eq!(spec.default, Some("freespace-most"));
        assert!(matches!(
            lookup("partition_select_mode").unwrap().ty,
            OptionType::StringList(_)
        ));
        assert!(
            matches!(lookup("mboxlist_db").unwrap().ty, OptionType::StringList(v) if v.contains(&"twoskip"))
        );
    }

    #[test]
    fn switch_words_follow_cyrus() {
        for t in ["1", "yes", "y", "true", "t", "on", "tea"] {
            assert_eq!(parse_switch(t), Some(true), "{t}");
        }
        for t in ["0", "no", "n", "false", "f", "off", "offline"] {
            assert_eq!(parse_switch(t), Some(false), "{t}");
        }
        for t in ["", "o", "2", "Yes", "maybe", "ON"] {
            assert_eq!(parse_switch(t), None, "{t}");
        }
    }

    #[test]
    fn integers_read_like_strtol_base_0() {
        let table = [
            ("0", Some(0)),
            ("20", Some(20)),
            ("-1", Some(-1)),
            ("+7", Some(7)),
            ("0x1F", Some(31)),
            ("0X10", Some(16)),
            ("017", Some(15)),
            ("08", None),
            ("0x", None),
            ("-", None),
            ("12abc", None),
            ("1 2", None),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_int(text), want, "{text}");
        }
    }

    #[test]
    fn durations_combine_units_and_use_the_default_unit() {
        use DurationUnit::*;
        let ok = [
            ("30s", Seconds, 30),
            ("5m", Seconds, 300),
            ("1h", Seconds, 3600),
            ("2d", Seconds, 172_800),
            ("1h30m", Seconds, 5400),
            ("1d2h3m4s", Seconds, 93_784),
            ("90", Seconds, 90),
            ("32", Minutes, 1920),
            ("1h30", Minutes, 5400),
            ("-1", Days, -86_400),
            ("0", Seconds, 0),
        ];
        for (text, unit, want) in ok {
            assert_eq!(parse_duration(text, unit), Ok(want), "{text}");
        }
        for text in ["m", "5x", "-m", "1hh", "5 m", "99999999999", "30000d"] {
            assert!(parse_duration(text, Seconds).is_err(), "{text}");
        }
    }

    #[test]
    fn byte_sizes_accept_k_m_g_with_optional_i_and_b() {
        use SizeUnit::*;
        let ok = [
            ("128K", Bytes, 131_072),
            ("128k", Bytes, 131_072),
            ("10M", Bytes, 10 * 1024 * 1024),
            ("1G", Bytes, 1 << 30),
            ("1GiB", Bytes, 1 << 30),
            ("2KB", Bytes, 2048),
            ("512", Bytes, 512),
            ("512B", Bytes, 512),
            ("12 K", Bytes, 12_288),
            ("100", Kibi, 102_400),
            ("-1", Kibi, -1024),
        ];
        for (text, unit, want) in ok {
            assert_eq!(parse_bytesize(text, unit), Ok(want), "{text}");
        }
        for text in [
            "K",
            "12X",
            "0x10",
            "1Bi",
            "1KK",
            "99999999999999999999",
            "9000000000000000G",
        ] {
            assert!(parse_bytesize(text, Bytes).is_err(), "{text}");
        }
    }

    #[test]
    fn enums_take_switch_words_as_on_and_off() {
        let ty = lookup("virtdomains").unwrap().ty;
        assert_eq!(ty.parse("yes"), Ok(OptionValue::Enum("on".into())));
        assert_eq!(ty.parse("0"), Ok(OptionValue::Enum("off".into())));
        assert_eq!(ty.parse("userid"), Ok(OptionValue::Enum("userid".into())));
        let err = ty.parse("domains").unwrap_err();
        assert_eq!(err.to_string(), "'domains' is not one of: off userid on");
    }

    #[test]
    fn bitfields_take_several_words_and_aliases() {
        let ty = lookup("sieve_extensions").unwrap().ty;
        assert_eq!(
            ty.parse("fileinto  imapflags"),
            Ok(OptionValue::BitField(vec![
                "fileinto".into(),
                "imap4flags".into()
            ]))
        );
        assert!(ty.parse("fileinto nosuch").is_err());
    }

    proptest! {
        #[test]
        fn value_readers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_switch(&s);
            let _ = parse_int(&s);
            let _ = parse_duration(&s, DurationUnit::Minutes);
            let _ = parse_bytesize(&s, SizeUnit::Kibi);
            for spec in OPTIONS.iter().step_by(7) {
                let _ = spec.ty.parse(&s);
            }
        }

        #[test]
        fn durations_read_back(h in 0i64..1000, m in 0i64..60, sec in 0i64..60) {
            let text = format!("{h}h{m}m{sec}s");
            prop_assert_eq!(parse_duration(&text, DurationUnit::Seconds), Ok(h * 3600 + m * 60 + sec));
        }
    }
}
