//! One deadline per request, drawn from the function's own (the Lambda context's deadline, less
//! a margin to write the record and answer), that every step of the request respects.
//!
//! The SDK bounds each call on its own (sdk.rs), but a request makes several calls in a row —
//! a secret re-read, a write, a send, a spill, `latest.jpg`'s compare-and-write rounds — and the
//! sum of their bounds is no bound on the request. Each step runs here with the time it may
//! take: what is left before the deadline, less what must stay for the steps after it (a send
//! keeps the time of its spill). A step that would end after that is cut short, so the fallback
//! still runs and the answer is written before Lambda stops the function.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::IoError;

/// What the deadline keeps back from the function's own: time to write the request's record
/// (an "event lost" record carries the whole body) and answer.
pub const MARGIN: Duration = Duration::from_secs(1);

/// The budget of a request when no Lambda context says otherwise (relayctl's replays, tests):
/// the template's function timeout, 30 s, less [`MARGIN`].
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(29);

/// The longest an S3 call may take, retries included (the SDK's operation timeout, aws/sdk.rs).
pub const S3_CALL: Duration = Duration::from_secs(10);
/// The longest an SQS call may take, retries included.
pub const SQS_CALL: Duration = Duration::from_secs(5);
/// The longest a Secrets Manager read may take, retries included.
pub const SECRETS_CALL: Duration = Duration::from_secs(3);

/// What a send keeps for its spill.
pub const SPILL_RESERVE: Duration = S3_CALL;

/// What a write that an announcement follows keeps for it: the send and the send's spill.
pub const ANNOUNCEMENT_RESERVE: Duration =
    Duration::from_secs(SQS_CALL.as_secs() + S3_CALL.as_secs());

/// The longest path after verification, a thumbnail's (image, announcement, its spill): what a
/// secret re-read keeps back.
pub const DELIVERY_RESERVE: Duration =
    Duration::from_secs(S3_CALL.as_secs() + ANNOUNCEMENT_RESERVE.as_secs());

/// When the request must be answered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
        }
    }

    /// The deadline of a Lambda invocation whose context says it ends at `deadline_epoch_ms`,
    /// [`MARGIN`] before it. No context, or a "deadline" that had passed before the request
    /// came (`0`; cargo-lambda's emulator sends its timeout, `600000`, not a time): the
    /// [`DEFAULT_BUDGET`].
    pub fn for_invocation(deadline_epoch_ms: Option<u64>, now_epoch_ms: i64) -> Self {
        let left_ms = deadline_epoch_ms
            .and_then(|ms| i64::try_from(ms).ok())
            .map(|ms| ms.saturating_sub(now_epoch_ms))
            .filter(|&left| left > 0);
        let budget = match left_ms {
            Some(left) => Duration::from_millis(left.unsigned_abs()).saturating_sub(MARGIN),
            None => DEFAULT_BUDGET,
        };
        Self::after(budget)
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time a step may take when `reserve` should be left for what follows it: what remains
    /// less the reserve, but never less than half of what remains — with the function's
    /// 30 s the reserves always fit; with less (late in a slow request), the step and the
    /// steps after it share what is left.
    pub fn allowance(&self, reserve: Duration) -> Duration {
        let remaining = self.remaining();
        remaining.saturating_sub(reserve).max(remaining / 2)
    }

    /// Runs `step` (named `what` in the error) for at most its allowance; cut short, or not
    /// started when no time is left, it fails as an I/O failure, which takes the fallback.
    pub async fn run<T>(
        &self,
        what: &str,
        reserve: Duration,
        step: impl Future<Output = Result<T, IoError>>,
    ) -> Result<T, IoError> {
        let allowance = self.allowance(reserve);
        if allowance.is_zero() {
            return Err(IoError(format!(
                "{what}: not started, the request's deadline is too near"
            )));
        }
        // On the heap: a request runs several steps, each an SDK call whose future is large,
        // and a debug build's test threads (2 MB of stack) overflowed with them inline.
        match tokio::time::timeout(allowance, Box::pin(step)).await {
            Ok(result) => result,
            Err(_) => Err(IoError(format!(
                "{what}: cut short after {} ms by the request's deadline",
                allowance.as_millis()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invocation_deadline_keeps_the_margin() {
        let now = 1_700_000_000_000;
        let deadline = Deadline::for_invocation(Some(now as u64 + 30_000), now);
        let left = deadline.remaining();
        assert!(left <= Duration::from_secs(29) && left > Duration::from_millis(28_900));
        // Inside the margin: nothing left, not a panic.
        assert_eq!(
            Deadline::for_invocation(Some(now as u64 + 500), now).remaining(),
            Duration::ZERO
        );
        // Not a time at all (the emulator's 600000, or past before the request came).
        for not_a_deadline in [Some(600_000), Some(1), Some(u64::MAX), None] {
            let budget = Deadline::for_invocation(not_a_deadline, now).remaining();
            assert!(
                budget > DEFAULT_BUDGET - Duration::from_millis(100),
                "{not_a_deadline:?}"
            );
        }
        assert!(Deadline::for_invocation(Some(0), now).remaining() > Duration::from_secs(28));
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_gets_what_is_left_less_its_reserve() {
        let deadline = Deadline::after(Duration::from_secs(25));
        let slow = |seconds| async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            Ok::<_, IoError>("done")
        };
        let cut = deadline.run("s3 PutObject", SPILL_RESERVE, slow(20)).await;
        let error = cut.unwrap_err().0;
        assert!(error.contains("cut short after 15000 ms"), "{error}");
        // The spill after it still has its 10 s.
        assert!(deadline.remaining() >= SPILL_RESERVE);
        // Less left than the reserve: the step still gets half of it.
        let cut = deadline
            .run("sqs SendMessage", SPILL_RESERVE, slow(20))
            .await;
        assert!(cut.unwrap_err().0.contains("cut short after 5000 ms"));
        assert_eq!(deadline.remaining(), Duration::from_secs(5));
        let quick = deadline
            .run("spill", Duration::ZERO, async { Ok::<_, IoError>(1) })
            .await;
        assert_eq!(quick, Ok(1));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let not_started = deadline
            .run("send", Duration::ZERO, async { Ok::<_, IoError>(2) })
            .await;
        assert!(not_started.unwrap_err().0.contains("not started"));
    }
}
