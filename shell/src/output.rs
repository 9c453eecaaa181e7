//! Output formats: cyradm's text (the default, byte-compatible with cyradm for `lm`, `lam`,
//! `lq`, `lqr`, `info`, `getmetadata` and `version`), tables, and JSON lines.
//!
//! Every listing command produces [`Record`]s. In `json` format each record is one JSON
//! object on its own line, as it arrives from the server, with a `"type"` field naming the
//! kind of record; the schema is `shell/schema/output.schema.json` and is described in
//! `shell/OUTPUT.md`. In `table` format records are collected into pages of
//! [`TABLE_PAGE_ROWS`] rows, each page drawn as a table fitted to the terminal; memory stays
//! bounded by one page. In `cyradm` format each command prints what cyradm prints (see the
//! command implementations in [`crate::session`]): `listmailbox` needs every name before it
//! can sort and lay out its columns, so in that format (and only there) the entries are held
//! until the listing ends.
//!
//! Only data goes to standard output; errors, notices and progress of the shell itself go to
//! standard error.
//!
//! ```
//! use murder_shell::output::{Format, Record, Sink};
//!
//! let mut buf = Vec::new();
//! {
//!     let mut sink = Sink::new(Format::Json, &mut buf, None);
//!     sink.record(&Record::Acl {
//!         mailbox: "user.alice".into(),
//!         identifier: "alice".into(),
//!         rights: "lrswipkxtecdan".into(),
//!     })
//!     .unwrap();
//!     sink.finish().unwrap();
//! }
//! assert_eq!(
//!     String::from_utf8(buf).unwrap(),
//!     "{\"type\":\"acl\",\"mailbox\":\"user.alice\",\"identifier\":\"alice\",\"rights\":\"lrswipkxtecdan\"}\n"
//! );
//! ```

use std::io::{self, Write};

use serde::Serialize;

/// Rows per table page: the most the table format holds in memory.
pub const TABLE_PAGE_ROWS: usize = 1000;

/// How listings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// cyradm's text formats.
    #[default]
    Cyradm,
    /// Tables fitted to the terminal.
    Table,
    /// One JSON object per line.
    Json,
}

/// One quota resource: name, usage and limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaUsage {
    /// `STORAGE`, `MESSAGE`, ...
    pub resource: String,
    /// Current usage (KiB for STORAGE).
    pub usage: u64,
    /// The limit.
    pub limit: u64,
}

/// One item of output. The JSON form is `{"type": "<variant in snake case>", ...fields}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A mailbox from `listmailbox`.
    Mailbox {
        /// The name as the server sent it.
        name: String,
        /// The hierarchy delimiter, `null` for a flat name space.
        delimiter: Option<String>,
        /// Attributes such as `\HasNoChildren`.
        attributes: Vec<String>,
        /// LIST-EXTENDED data, verbatim (such as `"CHILDINFO" ("SUBSCRIBED")`), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        extended: Option<String>,
    },
    /// An ACL entry from `listacl`.
    Acl {
        /// The mailbox.
        mailbox: String,
        /// Who.
        identifier: String,
        /// Their rights.
        rights: String,
    },
    /// A quota root from `listquota` or `listquotaroot`.
    Quota {
        /// For `listquotaroot`, the mailbox asked about; absent for `listquota`.
        #[serde(skip_serializing_if = "Option::is_none")]
        mailbox: Option<String>,
        /// The quota root (empty when the mailbox has none).
        root: String,
        /// Its resources.
        resources: Vec<QuotaUsage>,
    },
    /// A metadata entry from `info` or `getmetadata`.
    Metadata {
        /// The mailbox, empty for server entries.
        mailbox: String,
        /// The full entry name (`/shared/vendor/cmu/cyrus-imapd/server`).
        entry: String,
        /// The value, `null` for NIL.
        value: Option<String>,
    },
    /// One field of the server's ID answer (`version`).
    Version {
        /// The field name (`name`, `version`, ...).
        field: String,
        /// Its value, `null` for NIL.
        value: Option<String>,
    },
    /// The outcome of one step of a command that iterates over mailboxes (`dm user.x.*`).
    Result {
        /// The command's canonical name.
        command: String,
        /// The mailbox.
        mailbox: String,
        /// Whether the step succeeded.
        ok: bool,
        /// The server's text when it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The current server (`server` without an argument).
    Server {
        /// Host name, or `null` when not connected.
        server: Option<String>,
    },
    /// One Sieve script of a user (`sieve list`).
    SieveScript {
        /// Whose script.
        user: String,
        /// The script's name.
        name: String,
        /// Whether it is the active script.
        active: bool,
    },
    /// A Sieve script's text (`sieve get` to standard output, JSON format).
    SieveText {
        /// Whose script.
        user: String,
        /// The script's name.
        name: String,
        /// The script.
        script: String,
    },
}

impl Record {
    fn headers(&self) -> &'static [&'static str] {
        match self {
            Record::Mailbox { .. } => &["mailbox", "attributes", "extended"],
            Record::Acl { .. } => &["mailbox", "identifier", "rights"],
            Record::Quota { .. } => &["mailbox", "root", "resource", "usage", "limit", "%"],
            Record::Metadata { .. } => &["mailbox", "entry", "value"],
            Record::Version { .. } => &["field", "value"],
            Record::Result { .. } => &["command", "mailbox", "result"],
            Record::Server { .. } => &["server"],
            Record::SieveScript { .. } => &["user", "script", "active"],
            Record::SieveText { .. } => &["user", "script", "text"],
        }
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "NIL".into());
        match self {
            Record::Mailbox {
                name,
                attributes,
                extended,
                ..
            } => vec![vec![
                name.clone(),
                attributes.join(" "),
                extended.clone().unwrap_or_default(),
            ]],
            Record::Acl {
                mailbox,
                identifier,
                rights,
            } => vec![vec![mailbox.clone(), identifier.clone(), rights.clone()]],
            Record::Quota {
                mailbox,
                root,
                resources,
            } => {
                if resources.is_empty() {
                    return vec![vec![
                        mailbox.clone().unwrap_or_default(),
                        root.clone(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]];
                }
                resources
                    .iter()
                    .map(|r| {
                        vec![
                            mailbox.clone().unwrap_or_default(),
                            root.clone(),
                            r.resource.clone(),
                            r.usage.to_string(),
                            r.limit.to_string(),
                            percent(r.usage, r.limit).unwrap_or_default(),
                        ]
                    })
                    .collect()
            }
            Record::Metadata {
                mailbox,
                entry,
                value,
            } => vec![vec![mailbox.clone(), entry.clone(), opt(value)]],
            Record::Version { field, value } => vec![vec![field.clone(), opt(value)]],
            Record::Result {
                command,
                mailbox,
                ok,
                error,
            } => vec![vec![
                command.clone(),
                mailbox.clone(),
                if *ok {
                    "OK".into()
                } else {
                    error.clone().unwrap_or_else(|| "failed".into())
                },
            ]],
            Record::Server { server } => vec![vec![server.clone().unwrap_or_default()]],
            Record::SieveScript { user, name, active } => vec![vec![
                user.clone(),
                name.clone(),
                if *active { "yes".into() } else { String::new() },
            ]],
            Record::SieveText { user, name, script } => {
                vec![vec![user.clone(), name.clone(), script.clone()]]
            }
        }
    }
}

/// A number as Perl prints it (`%.15g`, so integers have no fraction): cyradm prints quota
/// percentages this way, e.g. `9.765625`.
pub fn perl_number(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else {
            "Inf".into()
        };
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-4..15).contains(&exp) {
        let s = format!("{:.14e}", x);
        // Rust writes 1.23400000000000e-7; Perl writes 1.234e-07.
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    let decimals = usize::try_from(14 - exp).unwrap_or(0);
    let s = format!("{:.*}", decimals, x);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The percentage cyradm shows for a quota resource: `None` when the limit is 0.
pub fn percent(usage: u64, limit: u64) -> Option<String> {
    (limit != 0).then(|| perl_number(usage as f64 * 100.0 / limit as f64))
}

/// cyradm's ` RES used/limit (pct%)` items of `listquota` and `listquotaroot`.
pub fn quota_items(resources: &[QuotaUsage]) -> String {
    let mut s = String::new();
    for r in resources {
        s.push_str(&format!(" {} {}/{}", r.resource, r.usage, r.limit));
        if let Some(p) = percent(r.usage, r.limit) {
            s.push_str(&format!(" ({p}%)"));
        }
    }
    s
}

/// cyradm's `listmailbox` layout: sorted bytewise, in columns, column-major; the column
/// width is the longest entry plus one, capped at `columns`; each cell is padded to the
/// width plus one.
pub fn cyradm_columns(
    entries: &mut [String],
    columns: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    entries.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let columns = columns.max(1);
    // cyradm measures Perl string length, which for names from the server is bytes.
    let longest = entries.iter().map(|e| e.len()).max().unwrap_or(0);
    let width = (longest + 1).min(columns);
    let per_row = (columns / width).max(1);
    let rows = entries.len().div_ceil(per_row);
    let mut line = Vec::with_capacity(columns + 64);
    for r in 0..rows {
        line.clear();
        let mut c = 0;
        while c < entries.len() {
            if let Some(e) = entries.get(r + c) {
                line.extend_from_slice(e.as_bytes());
                let pad = (width + 1).saturating_sub(e.len());
                line.extend(std::iter::repeat_n(b' ', pad));
            }
            c += rows;
        }
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// Where a command's records go, in one format.
pub struct Sink<'a> {
    format: Format,
    out: &'a mut dyn Write,
    width: Option<u16>,
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
    wrote_any: bool,
}

impl<'a> Sink<'a> {
    /// A sink writing to `out`; `width` fits tables to that many columns (`Some(0)`: to the
    /// terminal standard output is; `None`: no fitting).
    pub fn new(format: Format, out: &'a mut dyn Write, width: Option<u16>) -> Sink<'a> {
        Sink {
            format,
            out,
            width,
            headers: &[],
            rows: Vec::new(),
            wrote_any: false,
        }
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The underlying writer, for cyradm text.
    pub fn writer(&mut self) -> &mut dyn Write {
        self.out
    }

    /// Whether any record has been written.
    pub fn wrote_any(&self) -> bool {
        self.wrote_any
    }

    /// Writes one record (JSON: at once; table: into the current page).
    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        let first = !self.wrote_any;
        self.wrote_any = true;
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut *self.out, r)?;
                self.out.write_all(b"\n")?;
                if first {
                    // The first line shows at once; later ones go out as the buffer fills.
                    self.out.flush()?;
                }
            }
            Format::Table | Format::Cyradm => {
                let headers = r.headers();
                if !self.rows.is_empty() && !std::ptr::eq(headers, self.headers) {
                    self.flush_table()?;
                }
                self.headers = headers;
                self.rows.extend(r.rows());
                if self.rows.len() >= TABLE_PAGE_ROWS {
                    self.flush_table()?;
                }
            }
        }
        Ok(())
    }

    fn flush_table(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let t = table_page(self.width, self.headers, self.rows.drain(..));
        writeln!(self.out, "{t}")?;
        self.out.flush()
    }

    /// Ends the command's output: draws the last table page and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush_table()?;
        self.out.flush()
    }
}

/// One page of a `--output table` listing: comfy-table fitted to `width` (`Some(0)`: standard
/// output is a terminal, comfy-table asks it; `Some(w)`: `w` columns; `None`: no fitting).
pub(crate) fn table_page(
    width: Option<u16>,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    match width {
        Some(0) => {
            t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
        }
        Some(w) => {
            t.force_no_tty();
            t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
            t.set_width(w);
        }
        None => {
            t.force_no_tty();
            t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        }
    }
    t.set_header(headers.iter().copied());
    for row in rows {
        t.add_row(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_numbers() {
        assert_eq!(perl_number(0.0), "0");
        assert_eq!(perl_number(100.0), "100");
        assert_eq!(perl_number(10000.0 * 100.0 / 102400.0), "9.765625");
        assert_eq!(perl_number(100.0 / 3.0), "33.3333333333333");
        assert_eq!(perl_number(200.0 / 3.0), "66.6666666666667");
        assert_eq!(perl_number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(perl_number(0.0001), "0.0001");
        assert_eq!(perl_number(0.00001234), "1.234e-05");
        assert_eq!(perl_number(1e20), "1e+20");
    }

    #[test]
    fn quota_items_as_cyradm() {
        let r = [QuotaUsage {
            resource: "STORAGE".into(),
            usage: 0,
            limit: 102400,
        }];
        assert_eq!(quota_items(&r), " STORAGE 0/102400 (0%)");
        let r = [QuotaUsage {
            resource: "MESSAGE".into(),
            usage: 3,
            limit: 0,
        }];
        assert_eq!(quota_items(&r), " MESSAGE 3/0");
    }

    #[test]
    fn columns_as_cyradm() {
        // From transcript 01: two rows, column-major, cells of width+1.
        let mut e: Vec<String> = [
            "user.bob.Drafts (\\HasNoChildren)",
            "user.alice (\\HasChildren)",
            "user.alice.Sent (\\HasNoChildren)",
            "user.bob (\\HasChildren)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut out = Vec::new();
        cyradm_columns(&mut e, 79, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "user.alice (\\HasChildren)         user.bob (\\HasChildren)           \n\
             user.alice.Sent (\\HasNoChildren)  user.bob.Drafts (\\HasNoChildren)  \n"
        );
        let mut one = vec!["x".repeat(100)];
        let mut out = Vec::new();
        cyradm_columns(&mut one, 79, &mut out).unwrap();
        assert_eq!(out.len(), 101);
    }

    #[test]
    fn table_pages_and_json() {
        let mut buf = Vec::new();
        {
            let mut s = Sink::new(Format::Table, &mut buf, Some(60));
            for i in 0..3 {
                s.record(&Record::Version {
                    field: format!("f{i}"),
                    value: None,
                })
                .unwrap();
            }
            s.finish().unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("field"));
        assert!(text.contains("f2"));
        assert_eq!(text.matches("field").count(), 1);
    }
}
