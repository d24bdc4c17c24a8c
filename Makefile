# pufa — two commands: `make run` serves the demo month, `make test` runs every check.
SHELL := /bin/bash
CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080

APT_PACKAGES := pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev \
	libavfilter-dev libavdevice-dev libswscale-dev libswresample-dev ffmpeg \
	chromium chromium-driver fonts-wqy-zenhei sqlite3 ca-certificates

.PHONY: run test deps build release fmt check bench clean

## Install missing system packages (Debian; uses sudo when not root).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

build: deps
	$(CARGO) build --release --features demo

## Serve the demo month on http://$(LISTEN)
run: build
	./target/release/pufa serve --demo --listen $(LISTEN)

## fmt, clippy -D warnings (with and without features), all tests (the clip tests need `demo`)
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --all-features -- -D warnings
	$(CARGO) test --all-features

bench: deps
	$(CARGO) bench

clean:
	$(CARGO) clean
