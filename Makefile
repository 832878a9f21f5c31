# bootfs build and test entry points. `make test` is what CI runs.

GO       ?= go
PKGS     ?= ./...
TESTFLAGS ?=
# The commands built by `make build`, each from ./cmd/NAME.
CMDS     := bootfs-region bootfs

.PHONY: all build deps test vet bench demo clean

all: build

# Builds bin/NAME for every cmd/NAME that holds a main package (the mains
# are written separately; an empty directory is reported and skipped).
build:
	@mkdir -p bin
	@for c in $(CMDS); do \
		if grep -qsl '^package main$$' cmd/$$c/*.go; then \
			echo "$(GO) build -o bin/$$c ./cmd/$$c"; \
			$(GO) build -o bin/$$c ./cmd/$$c || exit 1; \
		else \
			echo "build: cmd/$$c has no main package yet, skipped"; \
		fi; \
	done

# Installs missing Debian packages (a quick no-op when all are present).
deps:
	@scripts/install-deps.sh

# Runs every test against a throwaway PostgreSQL that is always removed.
# Narrow it with e.g. `make test PKGS=./region/... TESTFLAGS=-v`.
test: deps
	@scripts/with-postgres.sh $(GO) test -race -count=1 -timeout 45m $(TESTFLAGS) $(PKGS)

# The chaos soak (test/e2e TestSoak, needs root): regions and racks killed,
# stalled and starved of disk while readers check every byte. SOAK is the
# length of the fault schedule (CI runs `make soak SOAK=2m`);
# BOOTFS_SOAK_SEED=<n> replays a schedule; SOAKFLAGS=-race adds the race
# detector (slower).
.PHONY: soak
SOAK ?= 10m
SOAKFLAGS ?=
soak: deps
	@BOOTFS_SOAK=$(SOAK) scripts/with-postgres.sh $(GO) test -count=1 -v -timeout 60m $(SOAKFLAGS) -run '^TestSoak$$' ./test/e2e/

# go vet, then staticcheck at a pinned version: `go run` fetches it through
# the module proxy the first time and reuses the cached build afterwards.
# Override with e.g. `make vet STATICCHECK=staticcheck` to use an installed one.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

vet:
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

bench: deps build
	@if [ -f scripts/bench.sh ]; then bash scripts/bench.sh; \
	else echo "bench: scripts/bench.sh does not exist yet" >&2; exit 1; fi

demo: deps build
	bash scripts/demo.sh

clean:
	rm -rf bin
