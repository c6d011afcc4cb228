# CapeControl Auth - build, lint, local stack and tests.
#
#   make dev        local stack: API on http://127.0.0.1:9000 (see infra/dev.sh)
#   make test       everything CI runs: lint + cargo tests + e2e
#   make lint       fmt + clippy + template lint (cfn-lint, sam validate, checkov) + openapi.yaml
#   make sam-build  sam build for x86_64 (slow; not part of `make test`)
#   make bench      performance figures of the release build (README, "Performance")
#   make routes     the HTTP routes of template.yaml (what the router serves)
#   make admin EMAIL=... PASSWORD=... [TABLE=... REGION=...]   the first admin (README)
#   make purge      finish pending account deletions in the `make dev` stack (README)
#
# Python tools live in three project-local venvs, pinned by the lock files in
# infra/requirements/ (moto and SAM CLI and checkov pin boto3 differently, so
# they cannot share one venv).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
REQ := infra/requirements

VENV := .venv
VENV_SAM := .venv-sam
VENV_CHECKOV := .venv-checkov
STAMP := .installed

TABLE_DEF := target/table-definition.json

# Fake AWS environment for every tool run from here.
export AWS_ACCESS_KEY_ID := testing
export AWS_SECRET_ACCESS_KEY := testing
export AWS_REGION := us-east-1
export AWS_DEFAULT_REGION := us-east-1
export AWS_EC2_METADATA_DISABLED := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# checkov: no Prisma Cloud download, no PyPI update check.
export BC_SKIP_MAPPING := TRUE
export CKV_SKIP_PACKAGE_UPDATE_CHECK := true

# Ports (127.0.0.1). dev: MOTO_PORT DEV_PORT WATCH_PORT; test: the others.
export MOTO_PORT ?= 5000
export DEV_PORT ?= 9000
export WATCH_PORT ?= 9001
export TEST_MOTO_PORT ?= 5100
export E2E_MOTO_PORT ?= 5200
export E2E_WATCH_PORT ?= 9100
export E2E_PORT ?= 9101

.PHONY: shellcheck help venvs dev test test-unit test-e2e lint lint-rust lint-infra fmt-check \
	clippy cfn-lint sam-validate checkov infra-check lint-api table-def routes sam-build lock clean \
	clean-venvs admin purge bench bench-timing

help:
	@sed -n '3,11p' Makefile | sed 's/^# \{0,1\}//'

# ------------------------------------------------------------------ venvs
# One rule per venv; the stamp is newer than the lock file once installed.
$(VENV)/$(STAMP): $(REQ)/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --no-input -r $<
	touch $@

$(VENV_SAM)/$(STAMP): $(REQ)/sam.txt
	$(PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/pip install --quiet --no-input -r $<
	touch $@

$(VENV_CHECKOV)/$(STAMP): $(REQ)/checkov.txt
	$(PYTHON) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/pip install --quiet --no-input -r $<
	touch $@

venvs: $(VENV)/$(STAMP) $(VENV_SAM)/$(STAMP) $(VENV_CHECKOV)/$(STAMP)

# Regenerate the lock files from the top-level pins in infra/requirements/*.in.
lock:
	@for name in dev sam checkov; do \
	  tmp=$$(mktemp -d); \
	  $(PYTHON) -m venv $$tmp/venv; \
	  $$tmp/venv/bin/pip install --quiet -r $(REQ)/$$name.in; \
	  { echo "# Generated from $$name.in by 'make lock' (pip freeze of a fresh venv). Do not edit."; \
	    $$tmp/venv/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)=='; } > $(REQ)/$$name.txt; \
	  rm -rf $$tmp; echo "locked $(REQ)/$$name.txt"; \
	done

# ------------------------------------------------------------ local stack
dev: $(VENV)/$(STAMP)
	infra/dev.sh

$(TABLE_DEF): template.yaml infra/table_definition.py infra/cfn_yaml.py $(VENV)/$(STAMP)
	$(VENV)/bin/python infra/table_definition.py --out $@

table-def: $(TABLE_DEF)

routes: $(VENV)/$(STAMP)
	@$(VENV)/bin/python infra/router.py --list

# Creates a verified admin, or promotes an existing account (its password must match), in the
# running `make dev` stack's table; with TABLE and REGION, in a deployed stack's (see README).
admin:
	infra/admin.sh

# One run of the scheduled purge (functions/purge) on the running `make dev` stack's table.
purge:
	infra/purge.sh

# ------------------------------------------------------------------- lint
lint: lint-rust lint-infra lint-api

lint-rust: fmt-check clippy

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

lint-infra: cfn-lint sam-validate checkov infra-check

cfn-lint: $(VENV)/$(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

sam-validate: $(VENV_SAM)/$(STAMP)
	infra/sam.sh validate --lint --template template.yaml

checkov: $(VENV_CHECKOV)/$(STAMP)
	$(VENV_CHECKOV)/bin/checkov --config-file .checkov.yaml

# openapi.yaml is valid OpenAPI 3.1 (the routes' agreement with the template is a cargo test,
# tests/tests/contract.rs).
lint-api: $(VENV)/$(STAMP)
	$(VENV)/bin/openapi-spec-validator openapi.yaml

# Self-checks of the infra scripts against template.yaml.
infra-check: $(VENV)/$(STAMP)
	$(VENV)/bin/python -m py_compile infra/*.py
	$(VENV)/bin/python infra/check_infra.py

# Optional (needs Debian's shellcheck): lint the shell scripts.
shellcheck:
	shellcheck -x infra/*.sh .ci/run

# ------------------------------------------------------------------- test
test: lint test-unit test-e2e

test-unit: $(VENV)/$(STAMP) $(TABLE_DEF)
	infra/test.sh unit

test-e2e: $(VENV)/$(STAMP) $(TABLE_DEF)
	infra/test.sh e2e

# Figures, not assertions (README, "Performance"): sizes, cold starts, round trips, hashing.
bench: $(VENV)/$(STAMP)
	infra/bench.sh all

# Figures, not assertions: medians of the answers whose timing could reveal an account.
bench-timing: $(VENV)/$(STAMP)
	infra/bench.sh timing

# ------------------------------------------------------------------ build
# Needs cargo-lambda (from .venv) on PATH; infra/sam.sh arranges that.
sam-build: $(VENV)/$(STAMP) $(VENV_SAM)/$(STAMP)
	infra/sam.sh build --template template.yaml --parameter-overrides Architecture=x86_64

clean:
	rm -rf .aws-sam target/dev target/test target/sam-cli-home $(TABLE_DEF)

clean-venvs:
	rm -rf $(VENV) $(VENV_SAM) $(VENV_CHECKOV)
