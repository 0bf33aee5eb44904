# millicast-webhook-relay — every command a developer or CI needs.
# Python tools (moto, cfn-lint, cargo-lambda, SAM CLI) live in a project-local virtualenv,
# pinned in requirements-dev.txt; nothing is installed globally.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: test venv lint template scan unit events run package bench fuzz fuzz-check lock lock-scan clean domain-crate vendor-client-test contract contract-test consumers-test quickstart-test wall-test-deps wall-test

CARGO_FUZZ := .tools/bin/cargo-fuzz
FUZZ_TARGETS := signature_header envelope thumbnail_key handler
FUZZ_SECONDS ?= 60
VENDOR_CLIENT_STAMP := tests/vendor-client/node_modules/.installed
CONTRACT_TEST_STAMP := tests/contract/node_modules/.installed
CONSUMER_NODE_STAMP := consumers/node/node_modules/.installed
WALL_TEST_STAMP := tests/wall/node_modules/.installed
CHROMIUM := /usr/bin/chromium
# The template scanners platform teams run (make scan): checkov in its own virtualenv (its pins
# conflict with aws-sam-cli's), cfn-guard built from crates.io, the AWS Guard Rules Registry's
# rules vendored in scripts/guard-rules (CI cannot reach GitHub).
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
CFN_GUARD := .tools/bin/cfn-guard
SCAN_DIR := target/scan

# The three tiers (unit, integration against moto, end-to-end under cargo-lambda's emulator),
# with the operator CLI (`cli` feature) built and tested too. The integration and end-to-end tiers
# are one test binary (tests/it/). The benchmarks are not timed here (make bench): lint's
# `clippy --all-targets` compiles them, and the relay's criterion benchmark runs each case once
# (criterion's test mode), so a case that no longer runs fails here.
test: venv lint template scan fuzz-check vendor-client-test contract-test consumers-test wall-test-deps
	$(VENV)/bin/python -m unittest scripts/test_local_platform.py scripts/test_moto_iam.py scripts/test_contract.py
	$(VENV)/bin/python scripts/check_elf.py --self-test
	cargo test --features cli --lib --bins --tests --examples
	cargo test --features cli --bench relay
	cargo test --features cli --doc
	$(MAKE) domain-crate
	$(MAKE) quickstart-test

# The README's quick start, command by command, against the local stack (tests/it/quickstart.rs:
# `sam deploy --guided` replaced by the local deploy). Last and alone: it runs `cargo install`
# (into a temporary root, with target/) and `sam build` (what `make package` then reuses).
quickstart-test: venv
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	cargo test --features cli --test it quickstart:: -- --ignored --nocapture

# The platform's webhooks crate on its own: its tests, its README example and rustdoc examples as
# doctests, and its documentation without a warning (what docs.rs would render).
domain-crate:
	cargo test -p millicast-webhooks --all-features --all-targets
	cargo test -p millicast-webhooks --all-features --doc
	RUSTDOCFLAGS="-D warnings" cargo doc -p millicast-webhooks --all-features --no-deps

template: venv
	cfn-lint template.yaml
	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test sam validate --lint
	$(VENV)/bin/python scripts/check_template.py --self-test

# checkov and cfn-guard (every rule of the AWS Guard Rules Registry) on what a pipeline may scan:
# template.yaml as written (checkov reads SAM's AWS::Serverless::Function) and the CloudFormation
# its SAM transform makes (cfn-guard's rules only select CloudFormation types, so on template.yaml
# alone they never see the function, its role or its URL). Any finding fails: every one is fixed
# or suppressed beside its resource, with the reason (docs/security.md, "Scanners").
scan: venv $(SCAN_STAMP) $(CFN_GUARD)
	mkdir -p $(SCAN_DIR)
	$(VENV)/bin/python scripts/transform_template.py template.yaml > $(SCAN_DIR)/template.transformed.json
	for data in template.yaml $(SCAN_DIR)/template.transformed.json; do \
	  echo "== checkov $$data"; \
	  $(SCAN_VENV)/bin/checkov --file $$data --framework cloudformation --compact --skip-download || exit 1; \
	  echo "== cfn-guard $$data"; \
	  $(CFN_GUARD) validate --rules scripts/guard-rules/rules --data $$data --show-summary fail || exit 1; \
	  echo "cfn-guard: no rule failed"; \
	done
	# And they still find what they look for: without the bucket's suppressions, both must fail.
	$(VENV)/bin/python -c 'import json, sys; from samtranslator.yaml_helper import yaml_parse; \
	  t = yaml_parse(open("template.yaml").read()); del t["Resources"]["Bucket"]["Metadata"]; print(json.dumps(t))' \
	  > $(SCAN_DIR)/template.unsuppressed.json
	! $(SCAN_VENV)/bin/checkov --file $(SCAN_DIR)/template.unsuppressed.json --framework cloudformation --quiet --compact --skip-download > $(SCAN_DIR)/checkov.unsuppressed.txt
	! $(CFN_GUARD) validate --rules scripts/guard-rules/rules --data $(SCAN_DIR)/template.unsuppressed.json --show-summary fail > $(SCAN_DIR)/guard.unsuppressed.txt
	grep -q CKV_AWS_21 $(SCAN_DIR)/checkov.unsuppressed.txt
	grep -q S3_BUCKET_VERSIONING_ENABLED $(SCAN_DIR)/guard.unsuppressed.txt
	@echo "scan: checkov and cfn-guard pass template.yaml and its transform, and fail it without the bucket's suppressions"

$(SCAN_STAMP): requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

$(CFN_GUARD):
	cargo install cfn-guard --version 3.2.1 --locked --root .tools

# Regenerate the message contract's JSON Schema from the typed model (a test fails when the
# committed file drifts).
contract:
	cargo run --quiet --features cli --bin relayctl -- contract --dir contract

# contract/asyncapi.yaml through the official AsyncAPI parser (@asyncapi/parser, pinned by its
# package-lock.json): fails on any error diagnostic, and on any broken variant it must catch.
contract-test: $(CONTRACT_TEST_STAMP)
	node tests/contract/validate.mjs --self-test

# --ignore-scripts: nothing in that tree needs an install script, and one dependency's
# (@scarf/scarf, via Spectral) would report the install over the network.
$(CONTRACT_TEST_STAMP): tests/contract/package.json tests/contract/package-lock.json
	cd tests/contract && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# Regenerate the function-URL sample events (a test fails when they are out of date).
events:
	cargo run --quiet --features cli --bin relayctl -- events --dir events

# The relay on this machine: moto + cargo lambda watch + the samples; Ctrl-C stops it.
run: venv
	scripts/run-local.sh

# What `sam build` deploys: an arm64 bootstrap, cross-built offline with cargo-lambda's zig;
# fails when it needs a glibc symbol newer than provided.al2023's glibc 2.34 (scripts/check_elf.py).
package: venv
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	sam build
	$(VENV)/bin/python scripts/check_elf.py .aws-sam/build/WebhookRelayFunction/bootstrap aarch64

# The platform vendor's Node client (pinned by its package-lock.json) against the local platform,
# through a TLS front on 127.0.0.1:443 (binding it needs root).
vendor-client-test: venv $(VENDOR_CLIENT_STAMP)
	node tests/vendor-client/run.mjs

$(VENDOR_CLIENT_STAMP): tests/vendor-client/package.json tests/vendor-client/package-lock.json
	cd tests/vendor-client && npm ci --no-audit --no-fund
	touch $@

# The Python and Node consumers' unit tests; installs what tests/it/consumers.rs (under cargo test)
# needs to run all three consumers on what the relay sent.
consumers-test: venv $(CONSUMER_NODE_STAMP)
	$(VENV)/bin/python -m unittest discover -s consumers/python
	cd consumers/node && node --test

$(CONSUMER_NODE_STAMP): consumers/node/package.json consumers/node/package-lock.json
	cd consumers/node && npm ci --no-audit --no-fund
	touch $@

# What tests/it/wall.rs needs to drive relayctl wall in a real browser (under cargo test, so make
# test runs it): playwright-core pinned by tests/wall/package-lock.json (it downloads no browser)
# and Debian's chromium.
wall-test-deps: $(WALL_TEST_STAMP) $(CHROMIUM)

# The wall's tests alone (over HTTP and in the browser).
wall-test: venv wall-test-deps
	cargo test --features cli --test it wall::

$(WALL_TEST_STAMP): tests/wall/package.json tests/wall/package-lock.json
	cd tests/wall && npm ci --no-audit --no-fund
	touch $@

# The browser the wall's test drives (tests/wall/): Debian's chromium, installed once with apt-get
# (root, as on CI) when missing. Not pinned: Debian's security archive keeps only the current
# build, so a pin would stop installing at its next update; the test prints the version it drove.
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation
	$(CHROMIUM) --version

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

lint:
	cargo fmt --all -- --check
	cargo clippy --features cli --all-targets -- -D warnings
	cargo clippy -p millicast-webhooks --all-features --all-targets -- -D warnings

unit:
	cargo test --lib

# Performance figures, one table (not part of make test): criterion micro-benchmarks, the
# cold-start / first-invoke / RSS harness against moto, openssl's SHA-1 speed, the arm64 package.
bench: venv
	cargo build --release --bin webhook-relay
	# Keep the production build: `cargo bench` relinks target/release with dev-dependency features.
	mkdir -p target/bench-bin && cp target/release/webhook-relay target/bench-bin/webhook-relay
	cargo bench --bench relay
	RELAY_BIN=target/bench-bin/webhook-relay cargo bench --bench cold_start > target/bench-system.json
	$(MAKE) package
	$(VENV)/bin/python scripts/bench_report.py target/bench-system.json

# libFuzzer on each target for FUZZ_SECONDS (stable Rust, no sanitizer); crashes land in
# fuzz/artifacts/<target>/ and become regression tests.
fuzz: $(CARGO_FUZZ)
	for target in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$target ($(FUZZ_SECONDS) s)"; \
	  $(CARGO_FUZZ) run --sanitizer none $$target -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    2>&1 | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY)|panicked' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# The fuzz targets still compile (part of make test, so they cannot rot).
fuzz-check:
	cargo check --quiet --manifest-path fuzz/Cargo.toml --bins

$(CARGO_FUZZ):
	cargo install cargo-fuzz --version 0.13.2 --locked --root .tools

# Re-resolve the pinned set from the top-level pins in requirements-dev.in.
lock:
	rm -rf $(VENV).lock && $(PYTHON) -m venv $(VENV).lock
	$(VENV).lock/bin/pip install --quiet -r requirements-dev.in
	{ echo '# Generated by `make lock` from requirements-dev.in: the full pinned set installed into .venv.'; \
	  $(VENV).lock/bin/pip freeze; } > requirements-dev.txt
	rm -rf $(VENV).lock

# Re-resolve the scanners' pinned set from requirements-scan.in.
lock-scan:
	rm -rf $(SCAN_VENV).lock && $(PYTHON) -m venv $(SCAN_VENV).lock
	$(SCAN_VENV).lock/bin/pip install --quiet -r requirements-scan.in
	{ echo '# Generated by `make lock-scan` from requirements-scan.in: the full pinned set installed into .venv-scan.'; \
	  $(SCAN_VENV).lock/bin/pip freeze; } > requirements-scan.txt
	rm -rf $(SCAN_VENV).lock

clean:
	cargo clean
	rm -rf $(VENV) $(SCAN_VENV) .aws-sam tests/vendor-client/node_modules tests/contract/node_modules consumers/node/node_modules tests/wall/node_modules
