//! moto with IAM enforced (scripts/moto_iam.py): users whose policies are template.yaml's own,
//! resolved against real resources, so a test can run the relay and relayctl with exactly the
//! permissions a deployment grants them.

use std::collections::HashMap;
use std::process::Child;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use millicast_webhook_relay::aws::sdk as aws;

use super::{Fixture, start_script};

/// One IAM-enforcing moto server (stopped when dropped: its stdin closes).
pub struct IamMoto {
    process: Child,
    pub endpoint: String,
    pub bucket: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub dlq_arn: String,
    pub queue_arn: String,
    pub secret_arn: String,
    /// The CloudFormation stack with the template's outputs (`relayctl --stack`).
    pub stack_name: String,
    /// A role holding the OperatorPolicy document, which only the user `assumer` may assume.
    pub operator_role_arn: String,
    /// One session of that role, made at setup: (access key id, secret, session token).
    pub operator_session: (String, String, String),
    /// The customer-managed key every resource is under (`start_with_kms_key`), else None.
    pub kms_key_arn: Option<String>,
    users: HashMap<String, (String, String)>,
    pub sids: Vec<String>,
    /// The Sids of ConsumerPolicy (a `consumer-without-<Sid>` user each).
    pub consumer_sids: Vec<String>,
    /// The Sids of OperatorPolicy (an `operator-without-<Sid>` user each).
    pub operator_sids: Vec<String>,
}

impl Drop for IamMoto {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl IamMoto {
    /// Starts scripts/moto_iam.py on a free loopback port and reads its one JSON line.
    pub fn start() -> Self {
        Self::start_args(&[])
    }

    /// The same with the template deployed under a customer-managed key (KmsKeyArn) that the
    /// rig creates in moto; the rig then also authorizes the KMS use of S3, SQS and Secrets
    /// Manager calls, which moto does not (scripts/moto_iam.py, "kmsAuthorization").
    pub fn start_with_kms_key() -> Self {
        let moto = Self::start_args(&["--kms-key", "--stack-name", "relay-kms"]);
        assert!(
            moto.kms_key_arn.is_some(),
            "moto_iam.py --kms-key made no key"
        );
        moto
    }

    /// With more arguments for scripts/moto_iam.py (`--param Name=Value`, …).
    pub fn start_args(args: &[&str]) -> Self {
        let (process, line) = start_script("moto_iam.py", args.iter());
        let setup: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("moto_iam.py: {e}: {line}"));
        let text = |name: &str| setup[name].as_str().expect(name).to_owned();
        let users = setup["users"]
            .as_object()
            .expect("users")
            .iter()
            .map(|(name, user)| {
                let key = |field: &str| user[field].as_str().expect(field).to_owned();
                (name.clone(), (key("accessKeyId"), key("secretAccessKey")))
            })
            .collect::<HashMap<_, _>>();
        let without = |base: &str| -> Vec<String> {
            let prefix = format!("{base}-without-");
            users
                .keys()
                .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
                .collect()
        };
        let sids = without("relay");
        let consumer_sids = without("consumer");
        let operator_sids = without("operator");
        Self {
            endpoint: text("endpoint"),
            bucket: text("bucket"),
            queue_url: text("queueUrl"),
            dlq_url: text("dlqUrl"),
            dlq_arn: text("dlqArn"),
            queue_arn: text("queueArn"),
            secret_arn: text("secretArn"),
            stack_name: text("stackName"),
            operator_role_arn: text("operatorRoleArn"),
            operator_session: {
                let session = &setup["operatorSession"];
                let field = |name: &str| session[name].as_str().expect(name).to_owned();
                (
                    field("accessKeyId"),
                    field("secretAccessKey"),
                    field("sessionToken"),
                )
            },
            kms_key_arn: setup["kmsKeyArn"].as_str().map(str::to_owned),
            users,
            sids,
            consumer_sids,
            operator_sids,
            process,
        }
    }

    /// The access key of `user` (`relay`, `operator`, `relay-without-<Sid>`, …).
    pub fn keys(&self, user: &str) -> (&str, &str) {
        let (id, secret) = self
            .users
            .get(user)
            .unwrap_or_else(|| panic!("no user {user} in moto_iam.py's setup"));
        (id, secret)
    }

    /// An SDK config for `user`, pointed at `endpoint` (this moto, or a dead port for a fault).
    pub async fn sdk_as(&self, user: &str, endpoint: &str) -> aws_config::SdkConfig {
        let (id, secret) = self.keys(user);
        aws_config::defaults(BehaviorVersion::latest())
            .retry_config(aws::retry_config())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(id, secret, None, None, "moto-iam"))
            .load()
            .await
    }

    /// The bucket and queue, read back with the admin user.
    pub async fn fixture(&self) -> Fixture {
        let admin = self.sdk_as("admin", &self.endpoint).await;
        Fixture::existing(admin, &self.endpoint, &self.bucket, &self.queue_url)
    }
}
