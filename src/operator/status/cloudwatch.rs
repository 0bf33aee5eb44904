//! The stack's alarms and the relay's metrics of the last hour.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};

use crate::operator::error::OperatorError;
use crate::relay::metrics::{COUNT_METRICS, NAMESPACE};

use super::{Check, Level, read_failure};

pub(super) async fn alarms_check(cloudwatch: &aws_sdk_cloudwatch::Client, stack: &str) -> Check {
    // CloudFormation names a stack's alarms `<stack>-<LogicalId>-<suffix>`.
    let prefix = format!("{stack}-");
    let alarms = match cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) => {
            let error = OperatorError::aws("cannot read the alarms", error);
            return Check::new("alarms", Level::Red, read_failure(&error));
        }
    };
    let all = alarms.metric_alarms();
    let firing: Vec<&str> = all
        .iter()
        .filter(|a| a.state_value() == Some(&StateValue::Alarm))
        .filter_map(|a| a.alarm_name())
        .collect();
    if firing.is_empty() {
        Check::new(
            "alarms",
            Level::Green,
            format!("{} alarm(s), none in ALARM", all.len()),
        )
    } else {
        Check::new(
            "alarms",
            Level::Red,
            format!("in ALARM: {}", firing.join(", ")),
        )
    }
}

/// One statistic of one metric over the last `window` (None: no data).
pub(super) async fn metric_value(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    name: &str,
    dimension: &str,
    value: &str,
    stat: &str,
    window: Duration,
) -> Result<Option<f64>, OperatorError> {
    let values = metric_values(
        cloudwatch,
        namespace,
        &[name],
        dimension,
        value,
        stat,
        window,
    )
    .await?;
    Ok(values.into_iter().next().flatten())
}

pub(super) async fn metric_values(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    names: &[&str],
    dimension: &str,
    value: &str,
    stat: &str,
    window: Duration,
) -> Result<Vec<Option<f64>>, OperatorError> {
    // The window ends a minute ahead: datapoints of the current second count (CloudWatch
    // compares timestamps to the end time at second precision), and the future holds none.
    let now = std::time::SystemTime::now();
    let (start, end) = (now - window, now + Duration::from_secs(60));
    let period = i32::try_from(window.as_secs() + 60).unwrap_or(3660);
    let mut request = cloudwatch
        .get_metric_data()
        .start_time(start.into())
        .end_time(end.into());
    for (i, name) in names.iter().enumerate() {
        let metric = Metric::builder()
            .namespace(namespace)
            .metric_name(*name)
            .dimensions(Dimension::builder().name(dimension).value(value).build())
            .build();
        request = request.metric_data_queries(
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .build(),
        );
    }
    let output = request
        .send()
        .await
        .map_err(|e| OperatorError::aws("cannot read the metrics", e))?;
    Ok((0..names.len())
        .map(|i| {
            let id = format!("m{i}");
            output
                .metric_data_results()
                .iter()
                .find(|r| r.id() == Some(id.as_str()))
                .and_then(|r| {
                    let values = r.values();
                    match stat {
                        "Sum" if !values.is_empty() => Some(values.iter().sum()),
                        _ => values.iter().copied().reduce(f64::max),
                    }
                })
        })
        .collect())
}

pub(super) async fn metrics_check(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    function_name: &str,
) -> Check {
    let sums = match metric_values(
        cloudwatch,
        NAMESPACE,
        &COUNT_METRICS,
        "FunctionName",
        function_name,
        "Sum",
        Duration::from_secs(3600),
    )
    .await
    {
        Ok(sums) => sums,
        Err(error) => return Check::new("last hour", Level::Red, read_failure(&error)),
    };
    let sum = |name: &str| {
        COUNT_METRICS
            .iter()
            .position(|m| *m == name)
            .and_then(|i| sums[i])
            .unwrap_or(0.0)
    };
    let summary = COUNT_METRICS
        .iter()
        .map(|name| format!("{name} {}", sum(name)))
        .collect::<Vec<_>>()
        .join(", ");
    let level = if sum("Failed") > 0.0 || sum("QuarantineDropped") > 0.0 {
        Level::Red
    } else if sum("Spilled") > 0.0 || sum("Quarantined") > 0.0 {
        Level::Yellow
    } else {
        Level::Green
    };
    Check::new("last hour", level, summary)
}
