# millicast-webhook-relay — every command a developer or CI needs.
# Python tools (moto, cfn-lint, cargo-lambda, SAM CLI) live in a project-local virtualenv,
# pinned in requirements-dev.txt; nothing is installed globally.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: test venv lint template unit events run package bench fuzz fuzz-check lock clean domain-crate vendor-client-test contract contract-test consumers-test

CARGO_FUZZ := .tools/bin/cargo-fuzz
FUZZ_TARGETS := signature_header envelope thumbnail_key handler
FUZZ_SECONDS ?= 60
VENDOR_CLIENT_STAMP := tests/vendor-client/node_modules/.installed
CONTRACT_TEST_STAMP := tests/contract/node_modules/.installed
CONSUMER_NODE_STAMP := consumers/node/node_modules/.installed

# The three tiers (unit, integration against moto, end-to-end under cargo-lambda's emulator),
# with the operator CLI (`cli` feature) built and tested too.
test: venv lint template fuzz-check vendor-client-test contract-test consumers-test
	$(VENV)/bin/python -m unittest scripts/test_local_platform.py scripts/test_moto_iam.py scripts/test_contract.py
	$(VENV)/bin/python scripts/check_elf.py --self-test
	cargo test --features cli --all-targets
	cargo test --features cli --doc
	$(MAKE) domain-crate

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

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam tests/vendor-client/node_modules tests/contract/node_modules consumers/node/node_modules
