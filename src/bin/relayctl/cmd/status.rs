//! `relayctl status`: the relay's health at a glance, one line per check.

use std::io::IsTerminal;

use clap::Args;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::status::{Level, StatusClients, checks};

use crate::aws_clients::{clients, sdk_config};
use crate::error::Error;
use crate::target::StackArgs;

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// One JSON document instead of the screen.
    #[arg(long)]
    json: bool,
}

fn marker(level: Level, color: bool) -> String {
    let (word, code) = match level {
        Level::Green => ("ok", "32"),
        Level::Yellow => ("warn", "33"),
        Level::Red => ("FAIL", "31"),
    };
    if color {
        format!("\x1b[{code}m{word:<4}\x1b[0m")
    } else {
        format!("{word:<4}")
    }
}

impl StatusArgs {
    pub async fn run(self) -> Result<(), Error> {
        let Some(outputs) = self.stack.outputs().await? else {
            return Err(OperatorError::usage("status needs --stack NAME (or RELAY_STACK)").into());
        };
        let sdk = sdk_config().await?;
        let clients = clients().await?;
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        // The webhook check needs the platform's API secret; without it, it is skipped with a note.
        let platform = match std::env::var("MILLICAST_API_SECRET") {
            Ok(secret) if !secret.trim().is_empty() => Some(crate::platform::platform()?),
            _ => None,
        };
        let aws = StatusClients {
            clients: &clients,
            cloudwatch: &cloudwatch,
            lambda: &lambda,
        };
        let checks = checks(&outputs, &aws, platform.as_ref()).await;
        let red = checks.iter().filter(|c| c.level == Level::Red).count();
        if self.json {
            let report = serde_json::json!({
                "stack": outputs.stack_name,
                "healthy": red == 0,
                "checks": checks,
            });
            out!("{report}");
        } else {
            let color = std::io::stdout().is_terminal();
            for check in &checks {
                out!(
                    "{} {:<12} {}",
                    marker(check.level, color),
                    check.name,
                    check.summary
                );
                if let Some(command) = &check.command {
                    out!("{:<17} → {command}", "");
                }
            }
        }
        if red == 0 {
            Ok(())
        } else {
            Err(Error::failed(format!("{red} check(s) red")))
        }
    }
}
