# pufa — two commands: `make run` serves the demo month, `make test` runs every check.
SHELL := /bin/bash
CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080

APT_PACKAGES := pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev \
	libavfilter-dev libavdevice-dev libswscale-dev libswresample-dev ffmpeg \
	chromium chromium-driver fonts-wqy-zenhei sqlite3 ca-certificates curl python3-venv
# tests/api/proxy.rs runs nginx (its own configuration, on free ports) in front of pufa with a
# throwaway certificate made by openssl. Debian's nginx package would also start a site on
# port 80: deps installs these with a policy-rc.d that refuses service starts, so nothing is
# left listening (the live benchmarks' static baseline uses the same nginx).
# tests/api/notify_delivery.rs sends notification mail to a real SMTP server: aiosmtpd
# (tests/support/smtp_sink.py) run by /usr/bin/python3 on a free port. tests/api/certificates.rs
# reads the PDF certificate back with pdftotext (poppler-utils). tests/api/postgres.rs starts a
# throwaway cluster of Debian's PostgreSQL (initdb, pg_ctl) for the tests on PostgreSQL.
TEST_APT_PACKAGES := nginx-light openssl python3-aiosmtpd poppler-utils postgresql
# Only the benchmarks need these: tesseract reads the burned clock for the live latency
# (`cargo bench --bench live`); wrk is the client of benches/segments.sh.
BENCH_APT_PACKAGES := tesseract-ocr wrk

# tests/api/axe.rs scans every page with axe-core (npm, major version 4), installed once into
# this cache; the test reads $(AXE_JS), or the same default path when run by hand.
AXE_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/pufa-axe
AXE_JS := $(AXE_DIR)/node_modules/axe-core/axe.min.js

# tests/api/object_storage.rs runs a real S3-compatible server: s3s-fs, installed once with
# cargo install into this cache (0.14.1: the newest that builds with rustc 1.92–1.95).
TOOLS_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/pufa-tools
S3S_FS := $(TOOLS_DIR)/bin/s3s-fs
S3S_FS_VERSION := 0.14.1

# cargo-deny, pinned: 0.20.2 builds with the toolchain in use (needs rustc >= 1.88).
CARGO_DENY_VERSION := 0.20.2
# Where cargo-deny keeps the RustSec advisory database (its default).
ADVISORY_DBS := $(or $(CARGO_HOME),$(HOME)/.cargo)/advisory-dbs

.PHONY: run test deps bench-deps deny-tool axe s3-tool build release fmt check bench clean

## Install missing system packages (Debian; uses sudo when not root).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@missing=$$(for p in $(TEST_APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages (no service started):" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' | $$SUDO tee /usr/sbin/policy-rc.d >/dev/null; \
			$$SUDO chmod 755 /usr/sbin/policy-rc.d; \
			trap "$$SUDO rm -f /usr/sbin/policy-rc.d" EXIT; \
		fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

build: deps
	$(CARGO) build --release --features demo

## Serve the demo month on http://$(LISTEN)
run: build
	./target/release/pufa serve --demo --listen $(LISTEN)

## fmt, clippy -D warnings (with and without features), cargo-deny (deny.toml), all tests
## (the integration tests generate clips with the `demo` feature), then the API contract:
## schemathesis against `pufa serve --demo` (tests/schemathesis/run.sh)
test: deps deny-tool axe s3-tool
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --all-features -- -D warnings
	$(CARGO) deny --locked check --hide-inclusion-graph licenses bans sources
	@# The advisory database is a git repository on GitHub; without a copy on this machine
	@# the advisories check cannot run, so it is skipped with a note rather than failing.
	@if ls -d "$(ADVISORY_DBS)"/*/.git >/dev/null 2>&1; then \
		echo "$(CARGO) deny --locked check --hide-inclusion-graph advisories"; $(CARGO) deny --locked check --hide-inclusion-graph advisories; \
	else \
		echo "cargo deny: advisories SKIPPED: no RustSec database in $(ADVISORY_DBS)" \
			"('cargo deny fetch db' needs GitHub)"; \
	fi
	PUFA_AXE_JS=$(AXE_JS) PUFA_S3S_FS=$(S3S_FS) $(CARGO) test --all-features
	@# the integration suite again, every server on a database of a throwaway PostgreSQL
	PUFA_AXE_JS=$(AXE_JS) PUFA_S3S_FS=$(S3S_FS) scripts/with-postgres.sh $(CARGO) test --all-features --test api
	$(CARGO) build --features demo
	tests/schemathesis/run.sh

## Install axe-core (for the accessibility scan of tests/api/axe.rs) unless it is already there.
axe: $(AXE_JS)
$(AXE_JS):
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (Debian: nodejs npm)"; exit 1; }
	mkdir -p $(AXE_DIR)
	cd $(AXE_DIR) && npm install --silent --no-audit --no-fund axe-core@4

## Install s3s-fs $(S3S_FS_VERSION) (the S3 server of the object-storage tests) unless it is there.
s3-tool: deps
	@$(S3S_FS) --version 2>/dev/null | grep -q '$(S3S_FS_VERSION)' || \
		$(CARGO) install --locked s3s-fs --version $(S3S_FS_VERSION) --features binary --root $(TOOLS_DIR)

## Install cargo-deny $(CARGO_DENY_VERSION) from crates.io unless it is already there.
deny-tool: deps
	@$(CARGO) deny --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)' || \
		$(CARGO) install --locked cargo-deny --version $(CARGO_DENY_VERSION)

## The system packages of the live benchmarks (besides those of deps).
bench-deps: deps
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench: bench-deps
	$(CARGO) bench

clean:
	$(CARGO) clean
