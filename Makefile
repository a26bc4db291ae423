# baton — see README.md. Every target works on a fresh Debian machine with Go,
# as root: scripts/ensure-engine.sh installs docker.io, nginx and wrk when
# missing and starts a private dockerd when none answers.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/baton-orchestrator/baton/commands.Version=$(VERSION)

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all build install demo demo-clean test test-unit test-integration loadtest bench fuzz vet clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/baton .

## install: the binary, shell completions, the man page and the spec's JSON Schema in the standard places
install: build
	install -D -m 0755 bin/baton $(DESTDIR)$(PREFIX)/bin/baton
	install -D -m 0644 completions/baton.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/baton
	install -D -m 0644 completions/_baton $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_baton
	install -D -m 0644 completions/baton.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/baton.fish
	install -D -m 0644 docs/man/baton.1 $(DESTDIR)$(PREFIX)/share/man/man1/baton.1
	install -D -m 0644 docs/baton.schema.json $(DESTDIR)$(PREFIX)/share/baton/baton.schema.json

## demo: run baton on the demo spec against a real dockerd and nginx
demo:
	scripts/demo.sh

demo-clean:
	scripts/demo-clean.sh

## test: unit and integration tests against a real dockerd and nginx
test: vet
	scripts/ensure-engine.sh
	scripts/build-image.sh baton-test:v1 v1
	scripts/build-image.sh baton-test:v2 v2
	scripts/build-image.sh baton-test:hc hc healthcheck
	$(GO) test -race -count=1 -timeout 45m ./...
	$(MAKE) fuzz FUZZTIME=10s

test-unit:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...

## loadtest: replica changes and rollouts under wrk through nginx, nginx over
## HTTPS and haproxy (LOADTEST_MODES); writes docs/LOADTEST.md figures
LOADTEST_MODES ?= nginx https haproxy
loadtest: build
	scripts/ensure-engine.sh
	scripts/build-image.sh baton-demo:v1 v1
	scripts/build-image.sh baton-demo:v2 v2
	scripts/build-image.sh baton-test:v1 v1
	@set -e; for m in $(LOADTEST_MODES); do scripts/loadtest.sh $$m; done
	BATON_CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(GO) test -count=1 -timeout 30m -run '^TestChaosUnderLoadNeverTakesTheAppDown$$' -v ./commands

## CHAOS_ROUNDS: how many times the chaos load test repeats its sequence
## (make test runs it once).
CHAOS_ROUNDS ?= 4

## fuzz: each fuzz target for FUZZTIME (make test runs them for 10s each);
## a new input's minimization is capped at FUZZMINTIME (Go's default, 60s,
## would take a whole short run for one input of a large spec)
FUZZTIME ?= 2m
FUZZMINTIME ?= 3s
FUZZ_TARGETS := FuzzParse:./internal/spec FuzzDecode:./state FuzzDryRunOnAnyState:./commands FuzzRender:./templates FuzzSpecConfig:./templates FuzzParseLine:./internal/metrics
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg; \
	done

## bench: Go benchmarks (benchstat-comparable), then the pass-cost, heal and load figures
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...
	scripts/ensure-engine.sh
	scripts/build-image.sh baton-demo:v1 v1
	scripts/build-image.sh baton-demo:v2 v2
	scripts/bench-pass.sh 100 500 1000
	scripts/bench-memory.sh 1000
	scripts/bench-heal.sh 100 0 10 25 50 100
	scripts/loadtest.sh

clean: demo-clean
	rm -rf bin .loadtest
