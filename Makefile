# The entry point for everything a person does here. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO       ?= go
# Race detector and shuffled order on every run: flakiness found here is a bug found early.
TESTFLAGS ?= -race -shuffle=on -count=1 -timeout 15m

.PHONY: help deps node-deps mod-dl mod-tidy build local-dev-stack run run-producer run-consumer run-console \
        test test-short fuzz soak replay-dlq bench bench-micro lint docs screenshots compose-config compose-up \
        compose-down clean
.PHONY: image

# The version stamped into the binaries (-h, /healthz, patient_profile_build_info) by `make build`
# and `make image`: the nearest tag, else the commit, marked -dirty for uncommitted changes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/ankitamadan/patient-profile/internal/version.stamped=$(VERSION)

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: node-deps mod-dl ## Install everything the build and the tests need (dynalite, Go modules)

node-deps: ## Install the pinned dynalite and axe-core into devstack/node_modules (npm ci)
	npm ci --prefix devstack --no-audit --no-fund

mod-dl: ## Download the Go modules
	$(GO) mod download

mod-tidy: ## Tidy go.mod and go.sum
	$(GO) mod tidy

build: ## Build the binaries (producer, consumer, replay-dlq, console) into bin/, stamped with VERSION
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/producer ./cmd/consumer ./cmd/replay-dlq ./cmd/console

local-dev-stack: ## Run Kafka (kfake, :9092), DynamoDB (dynalite, :4566) and the console (:8080) in the foreground
	@[[ -x devstack/node_modules/.bin/dynalite ]] || $(MAKE) --no-print-directory node-deps
	$(GO) build -o bin/ ./devstack
	exec bin/devstack

# devstack builds the producer and the consumer into bin/ itself, then starts them beside the stack
# and stops them first on Ctrl-C; `bin/devstack -h` says more.
run: ## Run the stack, the producer, the consumer and the console (http://localhost:8080); Ctrl-C stops all
	@[[ -x devstack/node_modules/.bin/dynalite ]] || $(MAKE) --no-print-directory node-deps
	$(GO) build -o bin/ ./devstack
	exec bin/devstack -run

run-producer: ## Run the producer against the local stack (DDB_HOST, for its keys, defaults to localhost:4566)
	$(GO) build -o bin/ ./cmd/producer
	DDB_HOST=$${DDB_HOST-http://localhost:4566} exec bin/producer

run-consumer: ## Run the consumer against the local stack (DDB_HOST defaults to localhost:4566)
	$(GO) build -o bin/ ./cmd/consumer
	DDB_HOST=$${DDB_HOST-http://localhost:4566} exec bin/consumer

# The console against whatever the environment names (KAFKA_BROKERS, the TLS/SASL variables, DDB_HOST,
# DDB_NAME, CONSOLE_PRODUCER_URL, ...; `bin/console -h` lists them): the compose stack, a real cluster.
run-console: ## Run the console (http://localhost:8080) against the local stack or whatever the environment says
	$(GO) build -o bin/ ./cmd/console
	DDB_HOST=$${DDB_HOST-http://localhost:4566} exec bin/console

test: ## Run every test, unit and integration (kfake in-process, dynalite spawned), with -race
	@[[ -x devstack/node_modules/.bin/dynalite ]] || $(MAKE) --no-print-directory node-deps
	$(GO) test $(TESTFLAGS) ./...

test-short: ## Run the unit tests only (no dynalite, no broker)
	$(GO) test -short $(TESTFLAGS) ./...

# Each fuzz target in turn (go test -fuzz takes one at a time). `make test` runs their seed
# corpora (testdata/fuzz) as ordinary tests; this explores beyond them. Failures are written to
# testdata/fuzz as new seeds: commit them with the fix.
FUZZTIME ?= 30s
fuzz: ## Fuzz the JSON object reader, the request decoder and the event decoder, FUZZTIME each (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./internal/jsonobject
	$(GO) test -run '^$$' -fuzz '^FuzzEqualFold$$' -fuzztime $(FUZZTIME) ./internal/jsonobject
	$(GO) test -run '^$$' -fuzz '^FuzzAppendString$$' -fuzztime $(FUZZTIME) ./internal/jsonobject
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZTIME) ./internal/api
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/profile

# The large convergence run. A small one is part of `make test`. SOAK_FLAGS adds to or overrides
# these, for example SOAK_FLAGS='-seed 42 -log soak.log'.
SOAK_FLAGS ?=
soak: ## Convergence under SIGKILLs, crash loops and network faults: 20,000 events, 2,000 patients
	@[[ -x devstack/node_modules/.bin/dynalite ]] || $(MAKE) --no-print-directory node-deps
	$(GO) build -o bin/ ./cmd/consumer ./cmd/producer ./cmd/soak
	bin/soak -consumer bin/consumer -producer bin/producer -events 20000 -patients 2000 -poison 25 -kills 3 \
		-consumers 2 -crash-loops 3 -network-faults -fault-duration 4s $(SOAK_FLAGS)

# What to replay; empty replays every dead letter that can be. For example
# REPLAY_FLAGS='-dry-run -patient 42' or REPLAY_FLAGS='-error IsPregnant'. The environment says
# where (KAFKA_BROKERS, TOPIC_NAME, DLQ_TOPIC, ...), as for the consumer.
REPLAY_FLAGS ?=
replay-dlq: ## Publish dead letters back to the event topic; REPLAY_FLAGS='-dry-run -patient 42' chooses
	$(GO) build -o bin/ ./cmd/replay-dlq
	bin/replay-dlq $(REPLAY_FLAGS)

# The system benchmark: the real binaries on the embedded stack, one table of figures and ratios
# to baselines measured in the same run, docs/bench.md and docs/bench.png. It takes several
# minutes, most of them draining 1,000,000 events; BENCH_FLAGS='-drain 0' skips that, and
# `bin/bench -h` lists the other flags.
BENCH_FLAGS ?=
bench: ## The system benchmark: consumer, producer, end to end and memory against same-run baselines
	@[[ -x devstack/node_modules/.bin/dynalite ]] || $(MAKE) --no-print-directory node-deps
	$(GO) build -o bin/ ./cmd/bench
	bin/bench $(BENCH_FLAGS)

bench-micro: ## Go micro-benchmarks of the hot paths (decode, the HTTP handler); compare with benchstat
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./internal/profile ./internal/api

lint: ## golangci-lint, pinned in go.mod; .golangci.yml says which linters and why
	$(GO) tool golangci-lint run ./...

# docs/configuration.md is generated from the desc and default tags in internal/config, and the
# package graph in docs/architecture.md from the imports; `go test ./docs` (part of `make test`)
# fails while either is stale.
docs: ## Regenerate docs/configuration.md and the package graph in docs/architecture.md
	$(GO) test ./docs -run '^(TestConfigurationReference|TestPackageGraph)$$' -count=1 -update

# The browser test of the console, on the embedded stack, writing a PNG of each page to docs/console/.
screenshots: ## Write screenshots of the console's pages to docs/console/ (needs Chromium)
	@[[ -x devstack/node_modules/.bin/dynalite ]] || $(MAKE) --no-print-directory node-deps
	mkdir -p docs/console
	$(GO) test ./internal/e2e -run '^TestConsoleInABrowser$$' -count=1 -v -args -screenshots $(CURDIR)/docs/console

# Compose v2 (`docker compose`, the plugin) if installed, else v1 (`docker-compose`, Debian's).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
compose-config: ## Validate localstack-compose.yml (with docker compose, or docker-compose)
	$(COMPOSE) -f localstack-compose.yml config -q

# Waits on the containers' healthchecks with `docker inspect`, which both Compose versions allow
# (v1 has no `up --wait`); then creates the topics and the table through the code that sets up
# the embedded stack. Running it again leaves what exists as it is.
compose-up: ## Start Kafka, Kafka UI and LocalStack in Docker, wait for them, create the topics and the table
	$(COMPOSE) -f localstack-compose.yml up -d kafka kafka-ui localstack
	@for service in kafka localstack; do \
	  id=$$($(COMPOSE) -f localstack-compose.yml ps -q $$service); status=; \
	  for _ in $$(seq 120); do \
	    status=$$(docker inspect -f '{{.State.Health.Status}}' "$$id"); \
	    [[ $$status == healthy ]] && break; \
	    sleep 1; \
	  done; \
	  echo "$$service: $$status"; \
	  [[ $$status == healthy ]] || { \
	    echo "$$service is not healthy after 120s; see $(COMPOSE) -f localstack-compose.yml logs $$service"; exit 1; }; \
	done
	$(GO) build -o bin/ ./devstack
	KAFKA_BROKERS=localhost:9092 DDB_HOST=http://localhost:4566 bin/devstack -provision

compose-down: ## Stop and remove the Docker stack of compose-up, and its data
	$(COMPOSE) -f localstack-compose.yml down

# The images, one per binary, from the Dockerfile (Go, then scratch with CA certificates and a
# non-root user), tagged $(IMAGE_REPO)/<binary>:$(VERSION). With docker if its daemon answers,
# else podman, else buildah. Where no registry can be reached for GO_IMAGE, build one from this
# machine's Go: make image GO_IMAGE=$$(deploy/image/go-builder.sh). docs/deploying.md says more.
IMAGE_REPO ?= patient-profile
GO_IMAGE   ?= docker.io/library/golang:1.26.8-bookworm
IMAGE_TOOL ?= $(shell if docker info >/dev/null 2>&1; then echo docker; \
                elif command -v podman >/dev/null 2>&1; then echo podman; else echo buildah; fi)
image: ## Build the images of producer, consumer and replay-dlq: IMAGE_REPO/<binary>:VERSION
	@for b in producer consumer replay-dlq; do \
	  echo "--- $(IMAGE_REPO)/$$b:$(VERSION) ($(IMAGE_TOOL))"; \
	  $(IMAGE_TOOL) build $(if $(filter docker,$(IMAGE_TOOL)),,--network host) --build-arg BINARY=$$b \
	    --build-arg VERSION=$(VERSION) --build-arg GO_IMAGE=$(GO_IMAGE) -t $(IMAGE_REPO)/$$b:$(VERSION) . || exit 1; \
	done

clean: ## Remove built binaries
	rm -rf bin/
