# Escapement developer targets. `make help` lists them.
GO      ?= go
PKGS    ?= ./...
LINT    ?= $(shell command -v golangci-lint 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/golangci-lint)
BENCH   ?= .
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help build fmt lint vet test test-race bench generate tidy-check model ci

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/escapement
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/escapement ./cmd/escapement

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet $(PKGS)

lint: ## golangci-lint (scripts/ci-deps installs it)
	$(LINT) run $(PKGS)

test: ## unit and end-to-end tests (integration tests against Apache Kafka run when KAFKA_BROKERS is set)
	$(GO) test -p 1 $(PKGS)

test-race: ## tests under the race detector
	$(GO) test -race $(PKGS)

bench: ## benchmarks of the hot paths (events/s, vectors/s per core)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./events/ ./features/ ./models/... ./scoring/

generate: ## regenerate generated docs (feature catalog)
	UPDATE_DOCS=1 $(GO) test ./features/ -run TestDocsUpToDate

tidy-check: ## fail when go mod tidy would change go.mod/go.sum
	$(GO) mod tidy -diff

model: ## retrain the default model shipped in models/default (see docs/detection.md)
	$(GO) run ./cmd/escapement train --default-model

ci: ## what .ci/run does after installing dependencies
	bash .ci/run
