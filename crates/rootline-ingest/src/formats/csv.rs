//! CSV (or TSV / semicolon-separated) logs with a header row. Columns are chosen by a
//! [`CsvMapping`], guessed from the header names when none is given (`timestamp`, `Date` +
//! `Time`, `level`, `message`/`Content`, ...). Fields follow RFC 4180: quoted fields may hold
//! delimiters, doubled quotes and newlines (the reader joins physical lines until quotes balance).

use std::borrow::Cow;

use super::timestamp::parse_value;
use crate::parse::{LineContext, ParseError, ParsedLine};

/// Column names for the fields of a CSV log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvMapping {
    /// One column, or several joined with a space (`Date`, `Time`).
    pub time: Vec<String>,
    pub level: Option<String>,
    /// When `None`, the message is the other (unmapped) columns joined with spaces.
    pub message: Option<String>,
    pub service: Option<String>,
    pub host: Option<String>,
    pub trace: Option<String>,
    /// The logger or code component that wrote the line.
    pub module: Option<String>,
    /// `None`: sniffed from the header (`,`, tab or `;`).
    pub delimiter: Option<u8>,
}

fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl CsvMapping {
    /// Guesses the columns from header names; `None` when no time column is recognisable.
    pub fn guess(header: &[&str]) -> Option<CsvMapping> {
        let names: Vec<String> = header.iter().map(|h| norm(h)).collect();
        let find = |cands: &[&str]| {
            cands
                .iter()
                .find_map(|c| names.iter().position(|n| n == c))
                .map(|i| header[i].to_string())
        };
        let time = match (find(&["date"]), find(&["time"])) {
            (Some(d), Some(t)) if find(&["timestamp", "datetime"]).is_none() => vec![d, t],
            _ => vec![find(&[
                "timestamp",
                "datetime",
                "time",
                "ts",
                "eventtime",
                "logtime",
                "date",
                "timeunixnano",
                "createdat",
                "t",
            ])?],
        };
        Some(CsvMapping {
            time,
            level: find(&[
                "level",
                "severity",
                "loglevel",
                "lvl",
                "levelname",
                "severitytext",
            ]),
            message: find(&[
                "message",
                "msg",
                "content",
                "logmessage",
                "log",
                "text",
                "body",
            ]),
            service: find(&["service", "servicename", "app", "application"]),
            host: find(&["host", "hostname", "node", "instance", "pod", "podname"]),
            trace: find(&["traceid", "trace"]),
            module: find(&["logger", "loggername", "module", "component"]),
            delimiter: None,
        })
    }
}

/// Splits one CSV record into fields (borrowed unless a field has doubled quotes).
pub fn split_record<'a>(line: &'a str, delim: u8, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            let mut doubled = false;
            while j < b.len() {
                if b[j] == b'"' {
                    if b.get(j + 1) == Some(&b'"') {
                        doubled = true;
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let raw = &line[start..j.min(b.len())];
            out.push(if doubled {
                Cow::Owned(raw.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(raw)
            });
            // Skip the closing quote and anything up to the delimiter.
            i = j + 1;
            while i < b.len() && b[i] != delim {
                i += 1;
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != delim {
                i += 1;
            }
            out.push(Cow::Borrowed(&line[start..i]));
        }
        if i >= b.len() {
            return;
        }
        i += 1; // the delimiter
        if i == b.len() {
            out.push(Cow::Borrowed(""));
            return;
        }
    }
}

/// Whether `s` ends outside a quoted field (an odd number of quotes means it goes on).
pub fn is_complete(s: &str) -> bool {
    s.bytes().filter(|&c| c == b'"').count() % 2 == 0
}

/// The delimiter a header line uses: the most frequent of `,`, tab and `;`.
pub fn sniff_delimiter(header: &str) -> Option<u8> {
    [b',', b'\t', b';']
        .into_iter()
        .map(|d| (header.bytes().filter(|&c| c == d).count(), d))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, _)| *n)
        .map(|(_, d)| d)
}

/// A header resolved against a mapping: column indexes.
#[derive(Debug, Clone)]
pub(crate) struct CsvLayout {
    delimiter: u8,
    columns: usize,
    time: Vec<usize>,
    level: Option<usize>,
    message: Option<usize>,
    service: Option<usize>,
    host: Option<usize>,
    trace: Option<usize>,
    module: Option<usize>,
}

impl CsvLayout {
    /// Resolves `mapping` (or a guess) against the header line. The error names what is missing.
    pub(crate) fn from_header(
        header: &str,
        mapping: Option<&CsvMapping>,
    ) -> Result<CsvLayout, String> {
        let delimiter = mapping
            .and_then(|m| m.delimiter)
            .or_else(|| sniff_delimiter(header))
            .ok_or_else(|| "csv header has no delimiter (, tab or ;)".to_string())?;
        let mut fields = Vec::new();
        split_record(header, delimiter, &mut fields);
        let names: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
        let guessed;
        let mapping = match mapping {
            Some(m) => m,
            None => {
                guessed = CsvMapping::guess(&names).ok_or_else(|| {
                    format!(
                        "csv header names no time column (columns: {})",
                        names.join(", ")
                    )
                })?;
                &guessed
            }
        };
        let col = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| format!("csv column {name:?} is not in the header"))
        };
        let opt = |name: &Option<String>| name.as_deref().map(col).transpose();
        if mapping.time.is_empty() {
            return Err("csv mapping names no time column".to_string());
        }
        Ok(CsvLayout {
            delimiter,
            columns: names.len(),
            time: mapping
                .time
                .iter()
                .map(|t| col(t))
                .collect::<Result<_, _>>()?,
            level: opt(&mapping.level)?,
            message: opt(&mapping.message)?,
            service: opt(&mapping.service)?,
            host: opt(&mapping.host)?,
            trace: opt(&mapping.trace)?,
            module: opt(&mapping.module)?,
        })
    }

    /// Whether a line looks like this file's header's data: same number of fields and a time
    /// value that parses.
    pub(crate) fn fits(&self, line: &str, ctx: &LineContext<'_>) -> bool {
        self.parse(line, ctx, &mut Vec::new()).is_ok()
    }

    pub(crate) fn parse<'a>(
        &self,
        line: &'a str,
        ctx: &LineContext<'_>,
        fields: &mut Vec<Cow<'a, str>>,
    ) -> Result<ParsedLine, ParseError> {
        split_record(line, self.delimiter, fields);
        if fields.len() != self.columns {
            return Err(ParseError::BadCsv(format!(
                "expected {} fields, found {}",
                self.columns,
                fields.len()
            )));
        }
        let time_text: Cow<'_, str> = if self.time.len() == 1 {
            Cow::Borrowed(fields[self.time[0]].trim())
        } else {
            Cow::Owned(
                self.time
                    .iter()
                    .map(|&i| fields[i].trim())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        let ts_ns = parse_value(&time_text, super::year_rule(ctx))
            .ok_or_else(|| ParseError::BadTimestamp(time_text.to_string()))?;
        let get = |i: Option<usize>| {
            i.map(|i| fields[i].trim())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let message = match self.message {
            Some(i) => fields[i].to_string(),
            None => {
                let mapped = [self.level, self.service, self.host, self.trace, self.module];
                fields
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !self.time.contains(i) && !mapped.contains(&Some(*i)))
                    .map(|(_, f)| f.as_ref())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        let level = self
            .level
            .and_then(|i| super::text::level_word(fields[i].trim()))
            .unwrap_or_else(|| super::text::level_from_text(&message));
        let host = get(self.host).or_else(|| ctx.default_host.map(str::to_string));
        Ok(ParsedLine {
            ts_ns,
            service: get(self.service).unwrap_or_else(|| ctx.default_service.to_string()),
            host,
            level,
            message,
            trace_id: get(self.trace),
            module: get(self.module),
            stream: None,
        })
    }
}

/// Recognises a CSV header among the first lines of a file: a delimiter, no timestamp in the
/// header itself, a guessable time column, and a next line that fits.
pub(crate) fn sniff(lines: &[&str], ctx: &LineContext<'_>) -> Option<CsvLayout> {
    let header = *lines.first()?;
    if header.starts_with(['{', '<', '[', ' ', '\t']) {
        return None;
    }
    let delimiter = sniff_delimiter(header)?;
    let mut fields = Vec::new();
    split_record(header, delimiter, &mut fields);
    let names_ok = fields.len() >= 2
        && fields.iter().all(|f| {
            let f = f.trim();
            !f.is_empty()
                && f.len() <= 64
                && f.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b" _.-@/()".contains(&c))
        });
    if !names_ok {
        return None;
    }
    let layout = CsvLayout::from_header(header, None).ok()?;
    match lines.get(1) {
        Some(second) => layout.fits(second, ctx).then_some(layout),
        None => Some(layout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        split_record(s, b',', &mut out);
        out.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn rfc4180_fields() {
        assert_eq!(split("a,b,c"), ["a", "b", "c"]);
        assert_eq!(split(r#""a,1","say ""hi""",x"#), ["a,1", "say \"hi\"", "x"]);
        assert_eq!(split("a,,"), ["a", "", ""]);
        assert!(!is_complete("1,\"multi"));
        assert!(is_complete("1,\"multi\nline\",x"));
    }

    #[test]
    fn guesses_columns() {
        let m = CsvMapping::guess(&["LineId", "Date", "Time", "Level", "Component", "Content"])
            .unwrap();
        assert_eq!(m.time, ["Date", "Time"]);
        assert_eq!(m.level.as_deref(), Some("Level"));
        assert_eq!(m.message.as_deref(), Some("Content"));
        let m = CsvMapping::guess(&["@timestamp", "severity", "msg", "service.name"]).unwrap();
        assert_eq!(m.time, ["@timestamp"]);
        assert_eq!(m.service.as_deref(), Some("service.name"));
        assert!(CsvMapping::guess(&["a", "b"]).is_none());
    }
}
