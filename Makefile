# bootfs build and test entry points. `make test` is what CI runs.

GO       ?= go
PKGS     ?= ./...
TESTFLAGS ?=
# The commands built by `make build`, each from ./cmd/NAME.
CMDS     := bootfs-region bootfs
# The version stamped into the binaries (bootfs --version, bootfs-region
# --version, logged at start): git describe, or VERSION=... from outside.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X github.com/bootfs/bootfs/internal/version.Version=$(VERSION)
# The Debian package version (scripts/deb-version.sh).
DEB_VERSION ?= $(shell scripts/deb-version.sh $(VERSION))
DEB_ARCH := amd64
# nfpm is pinned in tools/go.mod (a module of its own: its dependencies stay
# out of bootfs's).
NFPM     := $(GO) tool -modfile=tools/go.mod nfpm

.PHONY: all build deps test vet bench demo clean deb docs

all: build

# Builds bin/NAME for every cmd/NAME that holds a main package (the mains
# are written separately; an empty directory is reported and skipped).
build:
	@mkdir -p bin
	@for c in $(CMDS); do \
		if grep -qsl '^package main$$' cmd/$$c/*.go; then \
			echo "CGO_ENABLED=0 $(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o bin/$$c ./cmd/$$c"; \
			CGO_ENABLED=0 $(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o bin/$$c ./cmd/$$c || exit 1; \
		else \
			echo "build: cmd/$$c has no main package yet, skipped"; \
		fi; \
	done

# Man pages and bash completion, generated from the commands' definitions
# (their hidden generate-docs command).
docs: build
	@mkdir -p bin/docs
	@for c in $(CMDS); do \
		bin/$$c generate-docs man | gzip -9n >bin/docs/$$c.8.gz && \
		bin/$$c generate-docs bash >bin/docs/$$c.bash || exit 1; \
	done

# Debian packages dist/bootfs-region_VERSION_amd64.deb (the region) and
# dist/bootfs_VERSION_amd64.deb (the rack), from packaging/nfpm/*.yaml.
deb: build docs
	@mkdir -p dist
	@date=$$(git log -1 --format=%aD 2>/dev/null || date -R); \
	for p in bootfs-region bootfs; do \
		mkdir -p bin/docs/$$p && \
		printf '%s (%s) unstable; urgency=medium\n\n  * Built from git %s.\n\n -- %s  %s\n' \
			$$p '$(DEB_VERSION)' '$(VERSION)' 'bootfs developers <bootfs@users.noreply.github.com>' "$$date" \
			| gzip -9n >bin/docs/$$p/changelog.gz && \
		echo "nfpm: dist/$${p}_$(DEB_VERSION)_$(DEB_ARCH).deb" && \
		VERSION='$(DEB_VERSION)' ARCH=$(DEB_ARCH) $(NFPM) package --config packaging/nfpm/$$p.yaml \
			--packager deb --target dist/$${p}_$(DEB_VERSION)_$(DEB_ARCH).deb >/dev/null || exit 1; \
	done

# Installs missing Debian packages (a quick no-op when all are present).
deps:
	@scripts/install-deps.sh

# Runs every test (fuzz seeds in testdata/fuzz included) against a
# throwaway PostgreSQL that is always removed, shows each failure in full
# and ends with "tests: N passed, N failed, N skipped" (scripts/test-summary,
# outside with-postgres so that the count is the last line).
# Narrow it with e.g. `make test PKGS=./region/... TESTFLAGS=-run=TestX`.
test: deps
	@mkdir -p bin && $(GO) build -o bin/test-summary ./scripts/test-summary
	@bin/test-summary scripts/with-postgres.sh $(GO) test -json -race -count=1 -timeout 45m $(TESTFLAGS) $(PKGS)

# Runs every native fuzz target (scripts/fuzz.sh finds them) for FUZZTIME
# each; a crasher is left in the package's testdata/fuzz to commit with the
# fix. CI runs them for 10s each (scripts/fuzz.sh from .ci/run).
FUZZTIME ?= 2m
.PHONY: fuzz
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

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
	rm -rf bin dist
