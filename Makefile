# shop: one entry point for building, running, testing and measuring the workspace.
# `make` alone lists the targets. Every target that builds first runs `make tools`, so a fresh
# Debian machine with a Rust toolchain needs no manual step.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# debug (default) or release; any other cargo profile name works too.
PROFILE ?= debug
CARGO ?= cargo
# nextest profile (.config/nextest.toml): `ci` when CI=true.
NEXTEST_PROFILE ?= $(if $(CI),ci,default)

# Debian packages the build needs: mold is the linker named in .cargo/config.toml, so without it
# every link fails. (PostgreSQL, Redis and the broker are scripts/infra's business.)
APT_PACKAGES := mold curl
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

ifeq ($(PROFILE),release)
  CARGO_PROFILE_FLAG := --release
else ifneq ($(filter debug dev,$(PROFILE)),)
  CARGO_PROFILE_FLAG :=
else
  CARGO_PROFILE_FLAG := --profile $(PROFILE)
endif

.PHONY: help tools run test bench lint down clean-run dlq monitoring-check

help: ## list the targets (default)
	@echo "usage: make <target>   (PROFILE=release for optimised binaries in run)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

tools: ## install missing build/test tools (Debian mold and curl, cargo-nextest)
	@missing=""; \
	for pkg in $(APT_PACKAGES); do dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [[ -n "$$missing" ]]; then \
	    echo "tools: installing$$missing (apt-get)"; \
	    if ! DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; then \
	        echo "tools: install failed; refreshing the package lists and retrying"; \
	        $(SUDO) apt-get update; \
	        DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	    fi; \
	fi; \
	if ! $(CARGO) nextest --version >/dev/null 2>&1; then \
	    echo "tools: installing cargo-nextest (cargo install, a few minutes)"; \
	    $(CARGO) install --locked cargo-nextest; \
	fi

run: tools ## start infra, build, run every service and the gateway (Ctrl-C stops all)
	scripts/infra up
	$(CARGO) build --workspace --bins $(CARGO_PROFILE_FLAG)
	PROFILE=$(PROFILE) scripts/run

test: tools ## start infra, run the whole test suite (cargo nextest)
	scripts/infra up
	@$(MAKE) --no-print-directory monitoring-check
	@# The system tests start the real binaries as processes: build them first.
	$(CARGO) build --workspace --bins
	$(CARGO) nextest run --workspace --no-fail-fast --profile $(NEXTEST_PROFILE)
	@# The web UI: Vitest unit tests, then Playwright end-to-end tests in headless Debian chromium
	@# against a stack of their own (target/debug/e2e_stack, built above; fresh databases, free ports).
	frontend/tasks.sh test

.PHONY: frontend frontend-test

frontend: ## build the web UI into frontend/dist (npm ci when node_modules is missing or stale)
	frontend/tasks.sh build

frontend-test: tools ## web UI tests only: Vitest, then Playwright e2e in headless chromium (installs it when missing)
	scripts/infra up
	$(CARGO) build --workspace --bins
	frontend/tasks.sh test

monitoring-check: ## promtool checks of deploy/prometheus (installs Debian's prometheus when missing)
	@if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then \
	    echo "monitoring-check: installing prometheus (apt-get; promtool, and the server the target test starts)"; \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends prometheus \
	        || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends prometheus; }; \
	fi
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts.test.yml

bench: tools ## release build; gateway, auth, catalogue and checkout benchmarks; writes bench/RESULTS.md
	scripts/infra up
	$(CARGO) build --workspace --bins --release
	scripts/bench-gateway
	scripts/bench-catalog
	scripts/bench-checkout

lint: tools ## rustfmt check and clippy with warnings as errors
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

dlq: ## list dead-lettered events; replay: make dlq ARGS="replay <id>..." or ARGS="replay --all"
	scripts/infra up
	$(CARGO) run -q -p shop-dlq -- $(or $(ARGS),list)

down: ## stop a running `make run` stack and the broker
	scripts/run stop
	scripts/infra down

clean-run: ## remove .run/ (logs and pid files; refuses while something recorded there runs)
	@for f in .run/*.pid; do \
	    [[ -f "$$f" ]] || continue; \
	    pid=$$(<"$$f"); \
	    if [[ "$$pid" =~ ^[0-9]+$$ ]] && kill -0 "$$pid" 2>/dev/null; then \
	        echo "error: $$f: pid $$pid is still running; run 'make down' first" >&2; exit 1; \
	    fi; \
	done
	rm -rf .run
