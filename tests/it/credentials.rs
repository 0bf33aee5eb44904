//! relayctl finds credentials and the region the way the AWS CLI does, proven against moto with
//! IAM enforced (scripts/moto_iam.py): relayctl runs with an empty environment but for a home
//! directory, its shared config and credentials files and the endpoint, so the only keys that
//! can pass moto's IAM check are the ones the profile under test leads to.
//!
//! - `credential_process`: a script prints the operator user's keys;
//! - `role_arn` + `source_profile`: the source profile's user may only assume the operator role;
//!   STS AssumeRole (moto's) hands out the role session relayctl then signs with;
//! - IAM Identity Center (`sso_session`): the token cache `aws sso login` writes, and the SSO
//!   portal's GetRoleCredentials answered by a stand-in on 127.0.0.1 (`AWS_ENDPOINT_URL_SSO`;
//!   aws-config builds the SSO client from the same service configuration, endpoint overrides
//!   included), handing out a session of the operator role;
//! - `aws login` (`login_session`): a cached, unexpired session of the operator role in the
//!   login cache (`AWS_LOGIN_CACHE_DIRECTORY`); its refresh (Sign-In's CreateOAuth2Token with a
//!   DPoP proof) is not stood in for;
//! - the region from `--region`, the profile, or the `samconfig.toml` of the stack in the
//!   working directory.
//!
//! Each success has a control that fails with other keys (the source profile's, a consumer's, a
//! token the portal does not know), so a success cannot come from anywhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::iam::IamMoto;
use crate::support::stand_in::StandIn;

/// A home directory of its own (removed when dropped).
struct Home(PathBuf);

impl Home {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "relayctl-home-{}-{}",
            std::process::id(),
            crate::support::now_ms()
        ));
        std::fs::create_dir_all(dir.join(".aws/sso/cache")).unwrap();
        std::fs::create_dir_all(dir.join(".aws/login/cache")).unwrap();
        Self(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// relayctl with nothing of this process's environment: HOME, the endpoint, no IMDS (a failed
/// profile must not send anyone to 169.254.169.254), and `env`.
async fn relayctl_in(
    home: &Path,
    cwd: &Path,
    moto: &IamMoto,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    command
        .env_clear()
        .current_dir(cwd)
        .args(args)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join(".aws/credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

fn sha1_hex(text: &str) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(text.as_bytes()))
}

fn rfc3339_in(seconds: i64) -> String {
    millicast_webhook_relay::relay::clock::rfc3339_ms(crate::support::now_ms() + seconds * 1000)
}

/// The SSO portal's GetRoleCredentials (`GET /federation/credentials?role_name=…&account_id=…`
/// with the bearer token in `x-amz-sso_bearer_token`): the operator role's session for `token`,
/// 401 UnauthorizedException for any other.
async fn sso_portal(moto: &IamMoto, token: &'static str) -> StandIn {
    let (id, secret, session) = moto.operator_session.clone();
    StandIn::start(move |request| {
        let known = request.header("x-amz-sso_bearer_token") == Some(token);
        if request.method != "GET" || !request.target.starts_with("/federation/credentials?") {
            return (404, r#"{"message":"not stood in"}"#.to_owned());
        }
        if !known {
            return (
                401,
                r#"{"message":"Session token not found or invalid"}"#.to_owned(),
            );
        }
        let expiration = crate::support::now_ms() + 3_600_000;
        let body = serde_json::json!({"roleCredentials": {
            "accessKeyId": id, "secretAccessKey": secret, "sessionToken": session,
            "expiration": expiration,
        }});
        (200, body.to_string())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayctl_finds_credentials_and_region_as_the_aws_cli_does() {
    let moto = IamMoto::start();
    let home = Home::new();
    let stack = moto.stack_name.as_str();
    let (operator_id, operator_secret) = moto.keys("operator");
    let (consumer_id, consumer_secret) = moto.keys("consumer");
    let (assumer_id, assumer_secret) = moto.keys("assumer");
    let keys_script = |id: &str, secret: &str| {
        format!(
            "printf '%s' '{{\"Version\":1,\"AccessKeyId\":\"{id}\",\"SecretAccessKey\":\"{secret}\"}}'\n"
        )
    };
    let operator_keys = home.write(
        "operator-keys.sh",
        &keys_script(operator_id, operator_secret),
    );
    let consumer_keys = home.write(
        "consumer-keys.sh",
        &keys_script(consumer_id, consumer_secret),
    );
    let role = &moto.operator_role_arn;
    home.write(
        ".aws/config",
        &format!(
            "[profile by-process]\nregion = us-east-1\ncredential_process = /bin/sh {}\n\n\
             [profile consumer-process]\nregion = us-east-1\ncredential_process = /bin/sh {}\n\n\
             [profile no-region]\ncredential_process = /bin/sh {}\n\n\
             [profile base]\nregion = us-east-1\n\n\
             [profile by-role]\nregion = us-east-1\nrole_arn = {role}\nsource_profile = base\n\
             role_session_name = relayctl-test\n\n\
             [profile by-sso]\nregion = us-east-1\nsso_session = corp\nsso_account_id = 123456789012\n\
             sso_role_name = RelayOperator\n\n\
             [profile stale-sso]\nregion = us-east-1\nsso_session = stale\n\
             sso_account_id = 123456789012\nsso_role_name = RelayOperator\n\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.example/start\n\
             sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n\
             [sso-session stale]\nsso_start_url = https://corp.awsapps.example/start\n\
             sso_region = us-east-1\n\n\
             [profile by-login]\nregion = us-east-1\nlogin_session = arn:aws:iam::123456789012:user/operator\n",
            operator_keys.display(),
            consumer_keys.display(),
            operator_keys.display(),
        ),
    );
    home.write(
        ".aws/credentials",
        &format!(
            "[base]\naws_access_key_id = {assumer_id}\naws_secret_access_key = {assumer_secret}\n"
        ),
    );
    // What `aws sso login --sso-session corp` caches: ~/.aws/sso/cache/<sha1 of the session>.json.
    for (session, token) in [("corp", "portal-token"), ("stale", "revoked-token")] {
        home.write(
            &format!(".aws/sso/cache/{}.json", sha1_hex(session)),
            &serde_json::json!({
                "startUrl": "https://corp.awsapps.example/start",
                "region": "us-east-1",
                "accessToken": token,
                "expiresAt": rfc3339_in(3600),
            })
            .to_string(),
        );
    }
    // What `aws login` caches: <cache>/<sha256 of the login_session>.json, an unexpired session.
    let (session_id, session_secret, session_token) = &moto.operator_session;
    let login_session = "arn:aws:iam::123456789012:user/operator";
    home.write(
        &format!(
            ".aws/login/cache/{}.json",
            crate::support::sha256_hex(login_session.as_bytes())
        ),
        &serde_json::json!({
            "accessToken": {
                "accessKeyId": session_id, "secretAccessKey": session_secret,
                "sessionToken": session_token, "accountId": "123456789012",
                "expiresAt": rfc3339_in(3600),
            },
            "tokenType": "aws_sigv4",
            "refreshToken": "not-used-before-expiry",
            "clientId": "arn:aws:signin:::devtools/same-device",
            "dpopKey": "not-used-before-expiry",
        })
        .to_string(),
    );
    let portal = sso_portal(&moto, "portal-token").await;
    let sso_env = [("AWS_ENDPOINT_URL_SSO", portal.url.as_str())];
    let login_env = [(
        "AWS_LOGIN_CACHE_DIRECTORY",
        home.0.join(".aws/login/cache").to_str().unwrap().to_owned(),
    )];
    let login_env: Vec<(&str, &str)> = login_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Reading the stack's quarantine needs DescribeStacks and ListBucket: the operator policy.
    let list =
        |profile: &'static str| ["--profile", profile, "quarantine", "list", "--stack", stack];
    let cwd = home.0.clone();
    let run = |args: Vec<&str>, env: Vec<(&str, &str)>| {
        let (home, cwd) = (home.0.clone(), cwd.clone());
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let env: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let moto = &moto;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (ok, out, err) = relayctl_in(&home, &cwd, moto, &args, &env).await;
            // The transcript (`-- --nocapture`).
            println!(
                "$ relayctl {}\n{out}\n{err}\n(exit {})",
                args.join(" "),
                if ok { 0 } else { 1 }
            );
            (ok, out, err)
        }
    };
    let header = "RECEIVED";

    // credential_process.
    let (ok, out, err) = run(list("by-process").to_vec(), vec![]).await;
    assert!(ok && out.starts_with(header), "{out}\n{err}");
    let (ok, _, err) = run(list("consumer-process").to_vec(), vec![]).await;
    assert!(!ok && err.contains("access denied"), "{err}");

    // role_arn with source_profile: the source profile alone may do nothing but assume it.
    let (ok, out, err) = run(list("by-role").to_vec(), vec![]).await;
    assert!(ok && out.starts_with(header), "{out}\n{err}");
    let (ok, _, err) = run(list("base").to_vec(), vec![]).await;
    assert!(!ok && err.contains("access denied"), "{err}");

    // SSO: the cached token goes to the portal, whose role credentials sign every call.
    let (ok, out, err) = run(list("by-sso").to_vec(), sso_env.to_vec()).await;
    assert!(ok && out.starts_with(header), "{out}\n{err}");
    let asked = portal.requests();
    let first = asked.first().expect("relayctl never asked the SSO portal");
    assert_eq!(first.header("x-amz-sso_bearer_token"), Some("portal-token"));
    assert!(
        first.target.contains("account_id=123456789012")
            && first.target.contains("role_name=RelayOperator"),
        "{first:?}"
    );
    let (ok, _, err) = run(list("stale-sso").to_vec(), sso_env.to_vec()).await;
    assert!(!ok, "{err}");
    let (ok, _, err) = run(
        ["-v"].into_iter().chain(list("stale-sso")).collect(),
        sso_env.to_vec(),
    )
    .await;
    assert!(
        !ok && err.contains("Session token not found or invalid"),
        "{err}"
    );
    // The status screen with SSO credentials (the report's transcript): every AWS check reads.
    let (_, out, err) = run(
        vec!["--profile", "by-sso", "status", "--stack", stack],
        sso_env.to_vec(),
    )
    .await;
    assert!(
        !out.contains("access denied") && !out.contains("cannot read"),
        "{out}\n{err}"
    );

    // aws login: the cached session, before it needs refreshing.
    let (ok, out, err) = run(list("by-login").to_vec(), login_env.clone()).await;
    assert!(ok && out.starts_with(header), "{out}\n{err}");

    // The region: none in the profile, the environment or the flags, and no samconfig.toml.
    let no_region = [
        "--profile",
        "no-region",
        "quarantine",
        "list",
        "--stack",
        stack,
    ];
    let (ok, _, err) = run(no_region.to_vec(), vec![]).await;
    assert!(!ok && err.contains("no AWS region"), "{err}");
    // A guided deploy's samconfig.toml for this stack in the working directory names it.
    let samconfig = |region: &str| {
        format!(
            "version = 0.1\n\n[default.deploy.parameters]\nstack_name = \"{stack}\"\nresolve_s3 = true\n\
             region = \"{region}\"\ncapabilities = \"CAPABILITY_IAM\"\n"
        )
    };
    home.write("samconfig.toml", &samconfig("us-east-1"));
    let (ok, out, err) = run(no_region.to_vec(), vec![]).await;
    assert!(ok && out.starts_with(header), "{out}\n{err}");
    assert!(
        err.contains("region us-east-1 from") && err.contains("samconfig.toml (stack relay-iam)"),
        "{err}"
    );
    // The samconfig.toml of another region: the stack is not there; --region chooses.
    home.write("samconfig.toml", &samconfig("eu-west-1"));
    let (ok, _, err) = run(no_region.to_vec(), vec![]).await;
    assert!(!ok && err.contains("no stack relay-iam"), "{err}");
    let with_flag: Vec<&str> = ["--region", "us-east-1"]
        .into_iter()
        .chain(no_region)
        .collect();
    let (ok, out, err) = run(with_flag, vec![]).await;
    assert!(
        ok && out.starts_with(header) && !err.contains("samconfig"),
        "{out}\n{err}"
    );
    // AWS_REGION is "given" too; another stack's samconfig.toml is not read.
    let (ok, _, err) = run(no_region.to_vec(), vec![("AWS_REGION", "us-east-1")]).await;
    assert!(ok && !err.contains("samconfig"), "{err}");
    home.write(
        "samconfig.toml",
        &samconfig("us-east-1").replace(stack, "another-stack"),
    );
    let (ok, _, err) = run(no_region.to_vec(), vec![]).await;
    assert!(!ok && err.contains("no AWS region"), "{err}");
}
