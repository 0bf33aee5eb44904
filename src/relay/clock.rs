//! Wall-clock time as epoch milliseconds, and its calendar form (UTC, through the `time`
//! crate the SDK already links; no hand-written calendar arithmetic).

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The UTC instant of epoch milliseconds; `None` outside the years -9999..=9999.
fn utc(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// `yyyy/mm/dd` (UTC) of epoch milliseconds: the dated folders of `undelivered/` and
/// `quarantine/`. Instants outside the calendar's range are dated at the epoch.
pub fn date_path(ms: i64) -> String {
    let date = utc(ms).unwrap_or(OffsetDateTime::UNIX_EPOCH).date();
    format!(
        "{:04}/{:02}/{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds (the number itself when out of range).
pub fn rfc3339_ms(ms: i64) -> String {
    let Some(at) = utc(ms) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_gnu_date() {
        // Each pair checked with `date -u -d @SECONDS +%Y/%m/%d`.
        let cases = [
            (0, "1970/01/01"),
            (951_782_400, "2000/02/29"),
            (1_638_463_486, "2021/12/02"),
            (1_709_251_199, "2024/02/29"),
            (1_709_251_200, "2024/03/01"),
            (1_798_761_599, "2026/12/31"),
            (4_102_444_800, "2100/01/01"),
            (-1, "1969/12/31"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(date_path(seconds * 1000), expected, "{seconds}");
        }
    }

    #[test]
    fn out_of_range_instants_do_not_panic() {
        assert_eq!(date_path(i64::MAX), "1970/01/01");
        assert_eq!(date_path(i64::MIN), "1970/01/01");
        assert_eq!(rfc3339_ms(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn rfc3339_matches_gnu_date() {
        // `date -u -d @1638463486.489 +%Y-%m-%dT%H:%M:%S.%3NZ`
        assert_eq!(rfc3339_ms(1_638_463_486_489), "2021-12-02T16:44:46.489Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn now_is_after_2025() {
        assert!(now_ms() > 1_735_689_600_000);
    }
}
