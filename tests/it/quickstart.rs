//! The README's quick start, run command by command as the README shows it, in the repository,
//! against the local stack: a quick start that does not run fails `make test`
//! (`make quickstart-test`, after the other tests: it builds).
//!
//! The test reads the quick start's code block and runs each line; a line it does not know
//! fails it, so a changed quick start is run as changed or this test is changed with it. What it
//! substitutes, and nothing else:
//! - `sam deploy --guided` is the local deploy: moto holds what the stack creates (bucket, event
//!   and dead-letter queues, the webhook secret with a placeholder no sender has, a CloudFormation
//!   stack with the template's outputs), the relay runs under cargo-lambda's emulator reading its
//!   secret from moto (the x86 debug `webhook-relay` of this build: the arm64 bootstrap
//!   `sam build` made cannot run here), and `samconfig.toml` is written as the guided deploy writes
//!   it (stack name, region), unless the repository has one: then `AWS_REGION` says the region.
//!   `<stack-name>` is that stack's name.
//! - `cargo install` gets `--debug --root <temporary directory>` and the repository's
//!   `target/`: the same code, without the release profile's minutes of link-time optimization,
//!   installed where the test finds it instead of `~/.cargo/bin`.
//! - The `…` of `MILLICAST_API_SECRET` is the local platform's API secret, and
//!   `MILLICAST_API_URL` points at the local platform; `AWS_ENDPOINT_URL` points at moto, with its
//!   test keys.
//! - `relayctl tail` is stopped with Ctrl-C (SIGINT), as the README says, once the round trip's
//!   thumbnail announcement is printed; `relayctl wall --open` once the test has read the
//!   page's streams itself, the browser it opens being `true` (`BROWSER`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::emulator::Deployment;
use crate::support::platform::{API_SECRET, LocalPlatform};
use crate::support::*;

/// The lines of the first ```sh block after `## Quick start`, comments and blank lines removed.
fn quick_start(readme: &str) -> Vec<String> {
    let section = readme
        .split("\n## Quick start\n")
        .nth(1)
        .expect("README.md has a ## Quick start section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the quick start has a ```sh block");
    block
        .lines()
        .map(|line| match line.find("  #") {
            Some(comment) => line[..comment].trim(),
            None => line.trim(),
        })
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// What the quick start's commands run with: this process's environment (the toolchain's PATH)
/// without anything naming an AWS account, region, stack or platform, plus `set`.
struct Shell {
    dir: PathBuf,
    env: Vec<(String, String)>,
    path: String,
}

impl Shell {
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.current_dir(&self.dir);
        for name in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "RELAY_STACK",
            "MILLICAST_API_SECRET",
            "MILLICAST_API_URL",
            "EVENT_QUEUE_URL",
            "THUMBNAIL_BUCKET",
            "WEBHOOK_SECRET_ID",
            "WEBHOOK_SECRET",
            "CARGO_TARGET_DIR",
        ] {
            command.env_remove(name);
        }
        command
            .env("PATH", &self.path)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `line` through bash, as typed: its success and its output.
    fn bash(&self, line: &str, extra: &[(&str, &str)]) -> (bool, String) {
        let output = self
            .command("bash")
            .args(["-c", line])
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }
}

/// The samconfig.toml this test wrote (removed when dropped), or none.
struct WrittenSamConfig(Option<PathBuf>);

impl Drop for WrittenSamConfig {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The local deploy, in place of `sam deploy --guided`: the stack's resources in moto, the relay
/// under the emulator, the stack's outputs; its name.
async fn local_deploy(shell: &mut Shell, written: &mut WrittenSamConfig) -> (Deployment, String) {
    let fixture = Fixture::new(false).await;
    let dlq_url = fixture.create_queue("dlq").await;
    let secret_id = fixture.create_secret(rig::PLACEHOLDER).await;
    let deployment = Deployment::start_at(
        fixture,
        &[
            ("WEBHOOK_SECRET", ""),
            ("WEBHOOK_SECRET_ID", &secret_id),
            ("SECRET_REFRESH_SECONDS", "1"),
        ],
    )
    .await;
    let fixture = &deployment.fixture;
    let stack = fixture
        .create_stack(&[
            ("FunctionUrl", &deployment.url()),
            ("FunctionName", "_"),
            ("QueueUrl", &fixture.queue_url),
            ("DeadLetterQueueUrl", &dlq_url),
            ("BucketName", &fixture.bucket),
            ("WebhookSecretArn", &secret_id),
            ("RelaySettings", r#"{"SECRET_REFRESH_SECONDS":"1"}"#),
        ])
        .await;
    let samconfig = shell.dir.join("samconfig.toml");
    if samconfig.exists() {
        eprintln!(
            "quickstart: {} exists: AWS_REGION instead",
            samconfig.display()
        );
        shell.set("AWS_REGION", "us-east-1");
    } else {
        // What `sam deploy --guided` saves (SAM CLI 1.170.0), less the parameters.
        std::fs::write(
            &samconfig,
            format!(
                "version = 0.1\n\n[default.deploy.parameters]\nstack_name = \"{stack}\"\n\
                 resolve_s3 = true\ns3_prefix = \"{stack}\"\nregion = \"us-east-1\"\n\
                 confirm_changeset = true\ncapabilities = \"CAPABILITY_IAM\"\nimage_repositories = []\n"
            ),
        )
        .unwrap();
        written.0 = Some(samconfig);
    }
    (deployment, stack)
}

/// `line` (a command that runs until Ctrl-C) until it prints a line containing `until`.
fn start_until(
    shell: &Shell,
    line: &str,
    until: &str,
    env: &[(&str, &str)],
) -> (std::process::Child, Vec<String>) {
    let mut child = shell
        .command("bash")
        .args(["-c", &format!("exec {line}")])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.contains(until)) {
        match receiver.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => printed.push(line),
            Err(_) if started.elapsed() > Duration::from_secs(60) => {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "{line}: no line with {until} in 60 s: {printed:?} {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Err(_) => {}
        }
    }
    (child, printed)
}

/// Ctrl-C (SIGINT), as the README says: it must exit 0.
fn interrupt(line: &str, child: std::process::Child) {
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{line} after Ctrl-C: {:?} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "make quickstart-test runs it after the other tests (it runs cargo install and sam build)"]
async fn the_readme_quick_start_runs() {
    let dir = project_dir();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let lines = quick_start(&readme);
    assert!(lines.len() >= 5, "{lines:?}");
    let root = std::env::temp_dir().join(format!("relayctl-quickstart-{}", std::process::id()));
    let platform = LocalPlatform::start(&[]);
    let mut shell = Shell {
        dir: dir.clone(),
        env: vec![],
        path: std::env::var("PATH").unwrap_or_default(),
    };
    shell.set("AWS_ENDPOINT_URL", &moto().endpoint);
    shell.set("AWS_ACCESS_KEY_ID", "test");
    shell.set("AWS_SECRET_ACCESS_KEY", "test");
    let mut written = WrittenSamConfig(None);
    let mut deployment = None;
    let mut stack = String::new();
    let mut ran = Vec::new();
    for line in &lines {
        eprintln!("quickstart: $ {line}");
        let line = line.replace("<stack-name>", &stack);
        if line.starts_with("cargo install ") {
            let target = dir.join("target");
            let target = target.to_str().unwrap();
            let root_arg = root.to_str().unwrap();
            let (ok, output) = shell.bash(
                &format!("{line} --debug --root {root_arg}"),
                &[("CARGO_TARGET_DIR", target)],
            );
            assert!(ok, "{line}:\n{output}");
            assert!(root.join("bin/relayctl").exists(), "{output}");
            let installed: Vec<_> = std::fs::read_dir(root.join("bin")).unwrap().collect();
            assert_eq!(installed.len(), 1, "{line} installed more than relayctl");
            shell.path = format!("{}:{}", root.join("bin").display(), shell.path);
        } else if line == "make venv && export PATH=$PWD/.venv/bin:$PATH" {
            let (ok, output) = shell.bash("make venv", &[]);
            assert!(ok, "{line}:\n{output}");
            shell.path = format!("{}:{}", dir.join(".venv/bin").display(), shell.path);
        } else if line == "sam build && sam deploy --guided" {
            let (ok, output) = shell.bash("sam build", &[]);
            assert!(ok, "sam build:\n{output}");
            assert!(
                Path::new(&dir.join(".aws-sam/build/WebhookRelayFunction/bootstrap")).exists(),
                "{output}"
            );
            // The one substitution of a command: the local deploy instead of `sam deploy --guided`.
            let (deployed, name) = local_deploy(&mut shell, &mut written).await;
            deployment = Some(deployed);
            stack = name;
        } else if line == "export MILLICAST_API_SECRET=…" {
            shell.set("MILLICAST_API_SECRET", API_SECRET);
            shell.set("MILLICAST_API_URL", &platform.url);
        } else if line.starts_with("relayctl register --stack ") {
            let (ok, output) = shell.bash(&line, &[]);
            assert!(ok, "{line}:\n{output}");
            assert!(output.contains("round trip proven"), "{output}");
            if written.0.is_some() {
                assert!(
                    output.contains("region us-east-1 from") && output.contains("samconfig.toml"),
                    "{output}"
                );
            }
        } else if line.starts_with("relayctl tail --stack ") {
            // The round trip's thumbnail was announced on the queue.
            let (child, printed) = start_until(&shell, &line, "thumbnail/stored", &[]);
            assert!(
                printed.join("\n").contains("relayctl-probe-"),
                "{printed:?}"
            );
            interrupt(&line, child);
        } else if line.starts_with("relayctl wall --stack ") && line.ends_with(" --open") {
            // The browser --open starts is `true` ($BROWSER): the test reads what the page
            // shows itself, the streams of its API, where the round trip's probe is one.
            let (child, printed) =
                start_until(&shell, &line, "wall: http://", &[("BROWSER", "true")]);
            let url = printed
                .iter()
                .find_map(|l| l.strip_prefix("wall: ")?.split(' ').next())
                .expect("the wall's address")
                .to_owned();
            let streams = reqwest::get(format!("{url}api/streams"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(streams.contains("relayctl-probe-"), "{streams}");
            interrupt(&line, child);
        } else {
            panic!("the quick start has a line this test does not run: {line}");
        }
        ran.push(line);
    }
    assert!(deployment.is_some(), "the quick start deploys nothing");
    let _ = std::fs::remove_dir_all(&root);
    eprintln!("quickstart: ran {} command lines", ran.len());
}
