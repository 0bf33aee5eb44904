//! Wall-clock time as epoch milliseconds, and its calendar form.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    // Both are small and positive by construction (1..=31, 1..=12).
    let day = u32::try_from(day_of_year - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let (year, month, day) = civil_date(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    let (hours, minutes) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (seconds, millis) = (in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_gnu_date() {
        // Each pair checked with `date -u -d @SECONDS +%Y-%m-%d`.
        let cases = [
            (0, (1970, 1, 1)),
            (951_782_400, (2000, 2, 29)),
            (1_638_463_486, (2021, 12, 2)),
            (1_709_251_199, (2024, 2, 29)),
            (1_709_251_200, (2024, 3, 1)),
            (1_798_761_599, (2026, 12, 31)),
            (4_102_444_800, (2100, 1, 1)),
            (-1, (1969, 12, 31)),
        ];
        for (seconds, expected) in cases {
            assert_eq!(
                civil_date(i64::div_euclid(seconds, 86_400)),
                expected,
                "{seconds}"
            );
        }
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
