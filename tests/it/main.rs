//! The integration and end-to-end tiers, one test binary: each module is one area (named as the
//! file it was before, so `cargo test --test it relay_moto::` runs what `--test relay_moto` did),
//! and `support` is the rig they share (moto, the Lambda emulator, the local platform).
//!
//! One binary links the AWS SDK, hyper and rustls once instead of once per area. Areas that
//! drive relayctl or the platform client need their feature (`make test` builds with
//! `--features cli`); without it each is listed as an ignored test that names the feature.

mod support;

// The relay itself: the handler against moto, under the emulator, faults, hostile input.
mod dashboard;
mod domain_crate;
mod e2e_emulator;
mod events_files;
mod faults;
mod hostile;
mod properties;
mod relay_moto;
mod tls;

#[cfg(feature = "cli")]
mod bus;
#[cfg(feature = "schema")]
mod contract_files;
#[cfg(feature = "operator")]
mod durability;
#[cfg(feature = "operator")]
mod platform_client;
#[cfg(feature = "operator")]
mod secrets_quarantine;

// relayctl and the operator's life: register, rotate, status, IAM, consumers, the docs' commands.
#[cfg(feature = "cli")]
mod consumers;
#[cfg(feature = "cli")]
mod credentials;
#[cfg(feature = "cli")]
mod docs;
#[cfg(feature = "cli")]
mod iam_enforced;
#[cfg(feature = "cli")]
mod quickstart;
#[cfg(feature = "cli")]
mod register_rotate;
#[cfg(feature = "cli")]
mod relayctl_cli;
#[cfg(feature = "cli")]
mod several_webhooks;
#[cfg(feature = "cli")]
mod status;
#[cfg(feature = "cli")]
mod wall;

/// What a build without a feature leaves out, reported by `cargo test` as ignored tests whose
/// reason names the feature (instead of areas that silently vanish).
#[allow(unused_macros)] // with every feature on, nothing is left out
macro_rules! needs_feature {
    ($reason:literal: $($area:ident),+) => {
        $(
            #[test]
            #[ignore = $reason]
            fn $area() {
                unreachable!($reason);
            }
        )+
    };
}

#[cfg(not(feature = "schema"))]
mod skipped_without_schema {
    needs_feature!("needs --features schema (make test builds with --features cli)": contract_files);
}

#[cfg(not(feature = "operator"))]
mod skipped_without_operator {
    needs_feature!("needs --features operator (make test builds with --features cli)": durability, platform_client, secrets_quarantine);
}

#[cfg(not(feature = "cli"))]
mod skipped_without_cli {
    needs_feature!("needs --features cli (make test builds with it)": bus, consumers, credentials, docs, iam_enforced, quickstart, register_rotate, relayctl_cli, several_webhooks, status, wall);
}
