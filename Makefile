# One entry point for people and CI. `make setup` is idempotent; every other target depends on it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

STAMP := .tools/.setup-stamp

.PHONY: help setup demo test unit e2e e2e-container bench cli build pack clean

help:
	@echo "make setup   install everything (npm packages, Envoy, services, CLI bundle); safe to re-run"
	@echo "make demo    the four stock filters chained in a real Envoy, with a scripted tour (KEEP=1 leaves it running)"
	@echo "make test    all tests: unit (emulator) and e2e (real Envoy)"
	@echo "make unit    unit tests only"
	@echo "make e2e     tests against real Envoy processes"
	@echo "make e2e-container  the representative e2e set with Envoy in a container (Docker engine and local image from make setup)"
	@echo "make build   compile every stock filter and template"
	@echo "make pack    the npm packages proxy-wasm-as, pwas and create-proxy-wasm-as as tarballs in dist/packages"
	@echo "make bench   benchmarks vs native Envoy filters and the Go/solo/Rust SDKs (QUICK=1: the CI smoke run)"

setup: $(STAMP)

$(STAMP): package.json package-lock.json scripts/setup*.sh scripts/verdaccio/package-lock.json src/envoy/version.ts src/mesh/versions.ts tools/kube/go.mod
	bash scripts/setup.sh
	@mkdir -p .tools && touch $(STAMP)

demo: setup
	node scripts/bundle-cli.mjs
	node dist/demo.js

cli: setup
	node scripts/bundle-cli.mjs

# The type check first (about 10 s of CPU): jest runs ts-jest with diagnostics off, so it never checks types.
test: setup
	npm run --silent typecheck
	npx jest --ci

unit: setup
	npx jest --ci --testPathIgnorePatterns '/e2e/' '/node_modules/'

e2e: setup
	npx jest --ci e2e

# The representative e2e set on the container backend: pwas run, the conformance scenarios, failure policies,
# each stock filter, pwas preview (the whole suite runs on the process backend in `make test`).
E2E_CONTAINER_SET := e2e/run.test.ts e2e/conformance.test.ts e2e/failure-policy.test.ts e2e/fault.test.ts e2e/routing.test.ts \
	e2e/ratelimit.test.ts e2e/ratelimit-global.test.ts e2e/auth.test.ts e2e/preview.test.ts

e2e-container: setup
	bash scripts/e2e-container.sh $(E2E_CONTAINER_SET)

bench: setup
	bash scripts/setup-bench.sh
	node bench/run.mjs $(if $(QUICK),--quick)

build: setup
	@for d in templates/* filters/*; do [ -f $$d/assembly/index.ts ] && node dist/pwas.js build $$d || exit 1; done

pack: setup
	node scripts/pack.mjs

clean:
	rm -rf dist build templates/*/build filters/*/build .cache bench/build bench/sdks/rust/target
