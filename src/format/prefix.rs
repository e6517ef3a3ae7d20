//! Framing of Python `logging` records: recognising where a record starts and
//! splitting its prefix (time, thread, logger, level) from its message.
//!
//! The four formats people actually get from boto3 are parsed by hand, since
//! this runs on every line; a custom `--log-format` compiles to a regex.

use regex::bytes::Regex;
use serde::Serialize;

use crate::error::ConfigError;

/// A Python logging line format bfx knows how to frame.
#[derive(Debug, Clone)]
pub enum LineFormat {
    /// `boto3.set_stream_logger`: `%(asctime)s %(name)s [%(levelname)s] %(message)s`.
    SetStreamLogger,
    /// botocore's session logger: `%(asctime)s - %(name)s - %(levelname)s - %(message)s`.
    BotocoreSession,
    /// AWS CLI `--debug`: `%(asctime)s - %(threadName)s - %(name)s - %(levelname)s - %(message)s`.
    AwsCli,
    /// `logging.basicConfig()` default: `%(levelname)s:%(name)s:%(message)s` (no time).
    BasicConfig,
    /// A user-given `--log-format`.
    Custom(Box<CustomFormat>),
}

/// Stable names of the line formats, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum FormatName {
    /// See [`LineFormat::SetStreamLogger`].
    SetStreamLogger,
    /// See [`LineFormat::BotocoreSession`].
    BotocoreSession,
    /// See [`LineFormat::AwsCli`].
    AwsCli,
    /// See [`LineFormat::BasicConfig`].
    BasicConfig,
    /// See [`LineFormat::Custom`].
    Custom,
}

impl LineFormat {
    /// The built-in formats, in the order they are tried.
    pub fn builtins() -> [LineFormat; 4] {
        [LineFormat::AwsCli, LineFormat::BotocoreSession, LineFormat::SetStreamLogger, LineFormat::BasicConfig]
    }

    /// This format's reported name.
    pub fn name(&self) -> FormatName {
        match self {
            LineFormat::SetStreamLogger => FormatName::SetStreamLogger,
            LineFormat::BotocoreSession => FormatName::BotocoreSession,
            LineFormat::AwsCli => FormatName::AwsCli,
            LineFormat::BasicConfig => FormatName::BasicConfig,
            LineFormat::Custom(_) => FormatName::Custom,
        }
    }

    /// Whether records in this format carry a thread name.
    pub fn has_thread(&self) -> bool {
        match self {
            LineFormat::AwsCli => true,
            LineFormat::Custom(c) => c.has_thread,
            _ => false,
        }
    }

    /// Splits a line into its record prefix and message, or `None` when the
    /// line does not start a record in this format (a continuation line).
    pub fn split<'a>(&self, line: &'a [u8]) -> Option<Prefix<'a>> {
        match self {
            LineFormat::SetStreamLogger => {
                let ts = parse_asctime(line)?;
                let rest = line.get(24..).filter(|_| line[23] == b' ')?;
                let sp = memchr::memchr(b' ', rest)?;
                let (logger, rest) = (&rest[..sp], &rest[sp + 1..]);
                let rest = rest.strip_prefix(b"[")?;
                let close = memchr::memchr(b']', rest)?;
                let level = level(&rest[..close])?;
                let message = rest[close + 1..].strip_prefix(b" ").unwrap_or(&rest[close + 1..]);
                Some(Prefix { ts_ms: Some(ts), thread: None, logger, level, message })
            }
            LineFormat::BotocoreSession | LineFormat::AwsCli => {
                let ts = parse_asctime(line)?;
                let rest = line.get(23..)?.strip_prefix(b" - ")?;
                let (a, rest) = split_dash(rest)?;
                let (b, rest2) = split_dash(rest)?;
                if let (LineFormat::BotocoreSession, Some(level)) = (self, level(b)) {
                    return Some(Prefix { ts_ms: Some(ts), thread: None, logger: a, level, message: rest2 });
                }
                if let LineFormat::AwsCli = self {
                    let (c, message) = split_dash(rest2)?;
                    let level = level(c)?;
                    return Some(Prefix { ts_ms: Some(ts), thread: Some(a), logger: b, level, message });
                }
                None
            }
            LineFormat::BasicConfig => {
                let c1 = memchr::memchr(b':', line)?;
                let level = level(&line[..c1])?;
                let rest = &line[c1 + 1..];
                let c2 = memchr::memchr(b':', rest)?;
                let logger = &rest[..c2];
                if logger.is_empty() || logger.contains(&b' ') {
                    return None;
                }
                Some(Prefix { ts_ms: None, thread: None, logger, level, message: &rest[c2 + 1..] })
            }
            LineFormat::Custom(c) => c.split(line),
        }
    }
}

/// The parts of a record's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix<'a> {
    /// `asctime` as ms since the epoch, read as if it were UTC.
    pub ts_ms: Option<i64>,
    /// `threadName`, where the format has one.
    pub thread: Option<&'a [u8]>,
    /// The logger `name`.
    pub logger: &'a [u8],
    /// The level.
    pub level: Level,
    /// The message's first line.
    pub message: &'a [u8],
}

/// Python logging levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// DEBUG
    Debug,
    /// INFO
    Info,
    /// WARNING
    Warning,
    /// ERROR
    Error,
    /// CRITICAL
    Critical,
}

fn level(b: &[u8]) -> Option<Level> {
    Some(match b {
        b"DEBUG" => Level::Debug,
        b"INFO" => Level::Info,
        b"WARNING" | b"WARN" => Level::Warning,
        b"ERROR" => Level::Error,
        b"CRITICAL" => Level::Critical,
        _ => return None,
    })
}

/// Built once: `memmem::find` would build a searcher on every line.
static DASH: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b" - "));

fn split_dash(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = DASH.find(b)?;
    Some((&b[..i], &b[i + 3..]))
}

/// Parses Python's default `asctime` (`2026-11-21 21:00:21,465`, also with a
/// `.` before the milliseconds) into ms since the epoch, as if it were UTC.
pub fn parse_asctime(b: &[u8]) -> Option<i64> {
    if b.len() < 23 {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' || !matches!(b[19], b',' | b'.')
    {
        return None;
    }
    // Runs on every line: plain byte arithmetic, and the date's day number
    // reused while the date stays the same (it nearly always does).
    let (h, mi, s, ms) = (two(b, 11)?, two(b, 14)?, two(b, 17)?, two(b, 20)? * 10 + digit(b[22])?);
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let date: [u8; 10] = b[..10].try_into().ok()?;
    let days = LAST_DATE.with(|c| {
        let (d, n) = c.get();
        if d == date {
            return Some(n);
        }
        let (y, mo, da) = (two(b, 0)? * 100 + two(b, 2)?, two(b, 5)?, two(b, 8)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
            return None;
        }
        let n = days_from_civil(y, mo, da);
        c.set((date, n));
        Some(n)
    })?;
    Some(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
}

thread_local! {
    /// The last date parsed on this thread and its day number.
    static LAST_DATE: std::cell::Cell<([u8; 10], i64)> = const { std::cell::Cell::new(([0; 10], 0)) };
}

#[inline]
fn digit(c: u8) -> Option<i64> {
    let d = c.wrapping_sub(b'0');
    (d < 10).then_some(d as i64)
}

#[inline]
fn two(b: &[u8], i: usize) -> Option<i64> {
    Some(digit(b[i])? * 10 + digit(b[i + 1])?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats ms since the epoch back as `YYYY-MM-DD HH:MM:SS.mmm`.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// A custom Python logging format, compiled to a regex.
#[derive(Debug, Clone)]
pub struct CustomFormat {
    regex: Regex,
    has_thread: bool,
}

impl CustomFormat {
    /// Compiles a Python `%`-style logging format. It must contain
    /// `%(name)s` and `%(message)s`; `%(asctime)s` must use the default date
    /// format. Other attributes match loosely.
    pub fn new(format: &str) -> Result<Self, ConfigError> {
        let err = |reason: &str| ConfigError::LogFormat { format: format.to_string(), reason: reason.to_string() };
        let attr = Regex::new(r"%\((\w+)\)-?\d*(?:\.\d+)?[sdfr]").expect("static regex");
        let mut pattern = String::from("^");
        let mut last = 0;
        let bytes = format.as_bytes();
        let mut seen = std::collections::HashSet::new();
        for m in attr.captures_iter(bytes) {
            let whole = m.get(0).expect("group 0");
            let name = std::str::from_utf8(&m[1]).expect("ascii");
            pattern.push_str(&regex::escape(&format[last..whole.start()]));
            last = whole.end();
            let first = seen.insert(name.to_string());
            let group = |re: &str| {
                if first { format!("(?P<{name}>{re})") } else { format!("(?:{re})") }
            };
            pattern.push_str(&match name {
                "asctime" => group(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{3}"),
                // Padded widths such as `%(levelname)-8s` leave spaces after the level.
                "levelname" => group(r"[A-Z]+") + " *",
                "name" => group(r"[^\s\[\]:]+"),
                "message" => group(r".*"),
                "threadName" => group(r".+?"),
                "msecs" | "thread" | "process" | "lineno" | "relativeCreated" | "created" | "levelno" => {
                    r"[\d.]+".to_string()
                }
                _ => r".*?".to_string(),
            });
        }
        pattern.push_str(&regex::escape(&format[last..]));
        pattern.push('$');
        for required in ["name", "message", "levelname"] {
            if !seen.contains(required) {
                return Err(err(&format!("must contain %({required})s")));
            }
        }
        let regex = Regex::new(&pattern).map_err(|e| err(&e.to_string()))?;
        Ok(CustomFormat { regex, has_thread: seen.contains("threadName") })
    }

    fn split<'a>(&self, line: &'a [u8]) -> Option<Prefix<'a>> {
        let c = self.regex.captures(line)?;
        let ts_ms = match c.name("asctime") {
            Some(m) => Some(parse_asctime(m.as_bytes())?),
            None => None,
        };
        Some(Prefix {
            ts_ms,
            thread: c.name("threadName").map(|m| m.as_bytes()),
            logger: c.name("name")?.as_bytes(),
            level: level(c.name("levelname")?.as_bytes())?,
            message: c.name("message")?.as_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_builtin_formats() {
        let p = LineFormat::SetStreamLogger
            .split(b"2025-04-07 07:22:26,519 botocore.retryhandler [DEBUG] retry needed, x")
            .unwrap();
        assert_eq!((p.logger, p.message), (&b"botocore.retryhandler"[..], &b"retry needed, x"[..]));
        let p = LineFormat::AwsCli
            .split(b"2021-10-05 17:09:04,878 - MainThread - botocore.endpoint - DEBUG - Sending http")
            .unwrap();
        assert_eq!(p.thread, Some(&b"MainThread"[..]));
        assert_eq!(p.logger, b"botocore.endpoint");
        assert!(
            LineFormat::BotocoreSession
                .split(b"2021-10-05 17:09:04,878 - MainThread - botocore.endpoint - DEBUG - x")
                .is_none()
        );
        let p =
            LineFormat::BotocoreSession.split(b"2021-10-05 17:09:04,878 - botocore.endpoint - DEBUG - a - b").unwrap();
        assert_eq!(p.message, b"a - b");
        let p = LineFormat::BasicConfig
            .split(b"DEBUG:urllib3.connectionpool:Starting new HTTPS connection (1): h:443")
            .unwrap();
        assert_eq!(p.logger, b"urllib3.connectionpool");
        assert!(LineFormat::BasicConfig.split(b"b'{\"message\":\"x\"}'").is_none());
    }

    #[test]
    fn asctime_round_trips() {
        let ms = parse_asctime(b"2026-11-21 21:00:21,465").unwrap();
        assert_eq!(format_ms(ms), "2026-11-21 21:00:21.465");
        assert_eq!(parse_asctime(b"1970-01-01 00:00:01,000"), Some(1000));
        // The cached date must not leak into a different or invalid one.
        assert_eq!(parse_asctime(b"1970-01-02 00:00:01,000"), Some(86_401_000));
        assert_eq!(parse_asctime(b"1970-13-02 00:00:01,000"), None);
        assert_eq!(parse_asctime(b"1970-01-02 00:00:01,00x"), None);
        assert_eq!(parse_asctime(b"1970-01-02 24:00:01,000"), None);
    }

    #[test]
    fn custom_format() {
        let f = CustomFormat::new("%(asctime)s [%(threadName)s] %(levelname)-8s %(name)s: %(message)s").unwrap();
        let p = f.split(b"2026-11-21 21:00:21,465 [worker-1] DEBUG    botocore.endpoint: hello").unwrap();
        assert_eq!(p.thread, Some(&b"worker-1"[..]));
        assert_eq!(p.message, b"hello");
        assert!(CustomFormat::new("%(message)s").is_err());
    }
}
