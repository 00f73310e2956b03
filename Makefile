# mamori — every target has a "## description"; `make help` lists them.
GO       ?= go
FUZZTIME ?= 30s
# Minimising each new input takes up to 60 s by default: longer than a short run.
FUZZMINTIME ?= 2s
PKGS     := ./...
SAMPLE   := testdata/pcaps/recorded/*.pcap
PREFIX   ?= /usr/local

.DEFAULT_GOAL := build

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/mamori (no clang needed: generated files are committed)
	$(GO) build -o bin/mamori ./cmd/mamori

.PHONY: sample
sample: build ## replay the bundled captures with the embedded defaults (the README's first command)
	./bin/mamori replay -o sample-flows.ndjson $(SAMPLE)
	@echo "first records:"; head -c 1200 sample-flows.ndjson; echo

.PHONY: test
test: ## run every test with the race detector (privileged tests need root; strict with MAMORI_TEST_STRICT=1)
	$(GO) test -race -count=1 $(PKGS)

.PHONY: golden
golden: ## rewrite golden files from the current output, then show what changed
	$(GO) test -count=1 $(PKGS) -update
	@git diff --stat -- '*golden*'

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 30s); fails on any failing input found
	GO=$(GO) .ci/fuzz $(FUZZTIME) $(FUZZMINTIME) $(PKGS)

.PHONY: bench
bench: ## micro-benchmarks (ns/op, allocs/op) and the peer-ratio scripts under bench/
	$(GO) test -run='^$$' -bench=. -benchmem ./pipeline/... ./sensor/...
	bench/offline.sh

.PHONY: lint
lint: ## go vet, gofmt and staticcheck
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 $(PKGS)

.PHONY: generate
generate: ## regenerate generated files (go generate)
	$(GO) generate $(PKGS)

.PHONY: check
check: lint test ## lint and test

.PHONY: install
install: build ## install bin/mamori, the systemd unit and (when absent) /etc/mamori/mamori.yaml; DESTDIR and PREFIX as usual
	install -D -m 0755 bin/mamori $(DESTDIR)$(PREFIX)/bin/mamori
	install -d -m 0755 $(DESTDIR)/etc/systemd/system $(DESTDIR)$(PREFIX)/share/doc/mamori
	sed 's#/usr/local/bin/mamori#$(PREFIX)/bin/mamori#g' appliance/systemd/mamori.service > $(DESTDIR)/etc/systemd/system/mamori.service
	install -m 0644 README.md examples/hospital-500.yaml $(DESTDIR)$(PREFIX)/share/doc/mamori/
	test -e $(DESTDIR)/etc/mamori/mamori.yaml || { install -d -m 0750 $(DESTDIR)/etc/mamori && \
	  bin/mamori config > $(DESTDIR)/etc/mamori/mamori.yaml && chmod 0640 $(DESTDIR)/etc/mamori/mamori.yaml; }
	@echo "next: set capture.interface, networks and the site facts in /etc/mamori/mamori.yaml"
	@echo "      (example: $(PREFIX)/share/doc/mamori/hospital-500.yaml), then"
	@echo "      systemctl daemon-reload && systemctl enable --now mamori"

.PHONY: clean
clean: ## remove build outputs
	rm -rf bin sample-flows.ndjson
