//! S3 keys for events that do not travel through SQS as they are: spills and claim checks.

/// Where an event goes when SQS fails: `undelivered/{yyyy}/{mm}/{dd}/{timestampMs}-{sha256}.json`,
/// dated by the receive time (`now_ms`); `timestamp_ms` is the event's own when it has one.
pub fn undelivered_key(now_ms: i64, timestamp_ms: i64, sha256_hex: &str) -> String {
    let (year, month, day) = civil_date(now_ms.div_euclid(86_400_000));
    format!("undelivered/{year:04}/{month:02}/{day:02}/{timestamp_ms}-{sha256_hex}.json")
}

/// Prefix under which `relayctl redrive` finds spilled events.
pub const UNDELIVERED_PREFIX: &str = "undelivered/";

/// Where a body too large for SQS is kept; the SQS message carries this key instead.
pub fn claim_check_key(sha256_hex: &str) -> String {
    format!("events/oversize/{sha256_hex}.json")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    fn undelivered_key_is_dated_by_receive_time() {
        assert_eq!(
            undelivered_key(1_638_463_486_489, 1_638_463_486_000, "ab12"),
            "undelivered/2021/12/02/1638463486000-ab12.json"
        );
    }

    #[test]
    fn claim_check_key_is_content_addressed() {
        assert_eq!(claim_check_key("ff"), "events/oversize/ff.json");
    }
}
