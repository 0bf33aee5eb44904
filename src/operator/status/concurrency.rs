//! The account's Lambda concurrency (GetAccountSettings): the template reserves none for the
//! relay (a throttled delivery is answered 429, and the platform does not retry: it is lost), so
//! the relay shares the account's unreserved concurrency. New accounts can start with a quota
//! as low as 10.

use super::{Check, Level, read_failure};
use crate::operator::error::OperatorError;

/// Below this many unreserved concurrent executions the check warns. Lambda keeps at least 100
/// unreserved in an account at the default quota (1,000), and one relay instance serves one
/// delivery at a time.
pub const UNRESERVED_CONCURRENCY_YELLOW: i32 = 100;

/// Service Quotas' code of Lambda's "Concurrent executions" quota.
pub const CONCURRENCY_QUOTA_CODE: &str = "L-B99A9384";

/// (the account's concurrency quota, its unreserved part).
pub async fn account_concurrency(
    lambda: &aws_sdk_lambda::Client,
) -> Result<(i32, i32), OperatorError> {
    let settings = lambda
        .get_account_settings()
        .send()
        .await
        .map_err(|e| OperatorError::aws("cannot read the account's Lambda settings", e))?;
    let limit = settings.account_limit().ok_or_else(|| {
        OperatorError::usage("Lambda's GetAccountSettings answered without AccountLimit")
    })?;
    let quota = limit.concurrent_executions();
    Ok((
        quota,
        limit.unreserved_concurrent_executions().unwrap_or(quota),
    ))
}

pub(super) async fn concurrency_check(lambda: &aws_sdk_lambda::Client) -> Check {
    match account_concurrency(lambda).await {
        Ok((quota, unreserved)) => concurrency_level(quota, unreserved),
        Err(error) => Check::new("concurrency", Level::Yellow, read_failure(&error)),
    }
}

fn concurrency_level(quota: i32, unreserved: i32) -> Check {
    let summary = format!("account quota {quota} concurrent executions, {unreserved} unreserved");
    if unreserved >= UNRESERVED_CONCURRENCY_YELLOW {
        return Check::new("concurrency", Level::Green, summary);
    }
    Check::new(
        "concurrency",
        Level::Yellow,
        format!(
            "{summary}: more than {unreserved} deliveries at once are throttled (429) and lost; \
             ask for 1000 (Service Quotas, Lambda, Concurrent executions)"
        ),
    )
    .with_command(format!(
        "aws service-quotas request-service-quota-increase --service-code lambda \
         --quota-code {CONCURRENCY_QUOTA_CODE} --desired-value 1000"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_quota_or_its_unreserved_part_warns() {
        assert_eq!(concurrency_level(1000, 1000).level, Level::Green);
        assert_eq!(concurrency_level(1000, 100).level, Level::Green);
        let new_account = concurrency_level(10, 10);
        assert_eq!(new_account.level, Level::Yellow);
        assert!(new_account.summary.contains("quota 10"), "{new_account:?}");
        assert!(
            new_account
                .command
                .as_deref()
                .unwrap_or_default()
                .contains("L-B99A9384"),
            "{new_account:?}"
        );
        assert_eq!(concurrency_level(1000, 99).level, Level::Yellow);
    }
}
