# One entry point for people and CI. `make setup` is idempotent; every other target depends on it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

STAMP := .tools/.setup-stamp

.PHONY: help setup demo test unit e2e bench cli build pack clean

help:
	@echo "make setup   install everything (npm packages, Envoy, services, CLI bundle); safe to re-run"
	@echo "make demo    the four stock filters chained in a real Envoy, with a scripted tour (KEEP=1 leaves it running)"
	@echo "make test    all tests: unit (emulator) and e2e (real Envoy)"
	@echo "make unit    unit tests only"
	@echo "make e2e     tests against real Envoy processes"
	@echo "make build   compile every stock filter and template"
	@echo "make pack    the npm packages proxy-wasm-as, pwas and create-proxy-wasm-as as tarballs in dist/packages"
	@echo "make bench   benchmarks vs native Envoy filters and the Go/solo/Rust SDKs (QUICK=1: the CI smoke run)"

setup: $(STAMP)

$(STAMP): package.json package-lock.json scripts/setup*.sh scripts/verdaccio/package-lock.json src/envoy/version.ts
	bash scripts/setup.sh
	@mkdir -p .tools && touch $(STAMP)

demo: setup
	node scripts/bundle-cli.mjs
	node dist/demo.js

cli: setup
	node scripts/bundle-cli.mjs

test: setup
	npx jest --ci

unit: setup
	npx jest --ci --testPathIgnorePatterns '/e2e/' '/node_modules/'

e2e: setup
	npx jest --ci e2e

bench: setup
	bash scripts/setup-bench.sh
	node bench/run.mjs $(if $(QUICK),--quick)

build: setup
	@for d in templates/* filters/*; do [ -f $$d/assembly/index.ts ] && node dist/pwas.js build $$d || exit 1; done

pack: setup
	node scripts/pack.mjs

clean:
	rm -rf dist build templates/*/build filters/*/build .cache bench/build bench/sdks/rust/target
