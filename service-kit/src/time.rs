//! Timestamps: stored as UTC `TIMESTAMP` (microseconds) on both backends, written the way the
//! course app's pydantic writes `timestamptz` (`2026-11-25T20:36:20.768598+00:00`).

use chrono::{NaiveDateTime, Timelike, Utc};

/// Now, in UTC, truncated to the microseconds both backends store.
pub fn now_utc() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// ISO-8601 with `+00:00`, microseconds omitted when zero (as Python's `isoformat`).
/// Written field by field: this runs for every timestamp of every response.
pub fn iso(ts: &NaiveDateTime) -> String {
    use chrono::Datelike;
    use std::fmt::Write;
    let mut out = String::with_capacity(32);
    let micros = ts.nanosecond() % 1_000_000_000 / 1_000;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        ts.year(),
        ts.month(),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    );
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out.push_str("+00:00");
    out
}

/// `#[serde(serialize_with = "service_kit::time::serialize")]` for `NaiveDateTime` fields.
pub fn serialize<S: serde::Serializer>(ts: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_python_isoformat() {
        let ts =
            NaiveDateTime::parse_from_str("2026-11-25 20:36:20.768598", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        assert_eq!(iso(&ts), "2026-11-25T20:36:20.768598+00:00");
        let whole =
            NaiveDateTime::parse_from_str("2026-11-25 20:36:20", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(iso(&whole), "2026-11-25T20:36:20+00:00");
    }
}
