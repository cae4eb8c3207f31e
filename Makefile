# shm-admin: `make run` serves on 127.0.0.1:8080; `make test` runs every test; `make stress` runs the
# soak (Tests/stress, about 80 s, against a release build). Each installs what a fresh Debian machine
# lacks first (scripts/setup, idempotent and quiet).
SWIFT ?= swift
PORT ?= 8080
ARGS ?=
PYTEST ?= python3 -m pytest
TEST_OUT ?= test-output

.PHONY: all build release run test test-swift test-live stress lint format bench bench-smoke setup-run setup-test setup-stress setup-bench clean install uninstall deb

all: build

setup-run:
	@scripts/setup run

setup-test:
	@scripts/setup test

setup-stress:
	@scripts/setup stress

setup-bench:
	@scripts/setup bench

build: setup-run
	@$(SWIFT) build --product shm-admin

# Release builds link the Swift runtime statically: one binary whose pages are touched only as used,
# instead of several shared libraries each mapped and relocated whole (bench/RESULTS.md 8).
RELEASE_FLAGS = -c release --static-swift-stdlib

release: setup-run
	@$(SWIFT) build $(RELEASE_FLAGS) --product shm-admin

run: build
	@"$$($(SWIFT) build --show-bin-path)/shm-admin" serve --port $(PORT) $(ARGS)

test: setup-test
	@$(SWIFT) build --build-tests
	@$(MAKE) --no-print-directory test-swift test-live

test-swift:
	@$(SWIFT) test --skip-build --parallel --num-workers 2

test-live:
	@mkdir -p $(TEST_OUT)
	@SHM_ADMIN_BIN="$$($(SWIFT) build --show-bin-path)/shm-admin" TEST_OUT="$(abspath $(TEST_OUT))" \
		$(PYTEST) -q -p no:cacheprovider Tests/live

# The soak (issue 6, suite 3): wrk -c64 for 60 s plus writers, against the release build.
stress: setup-stress
	@$(SWIFT) build $(RELEASE_FLAGS) --product shm-admin
	@SHM_ADMIN_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/shm-admin" python3 Tests/stress/soak.py

# `make install` (PREFIX=/usr/local, DESTDIR) puts the release binary, man pages and completions made
# from its command definitions, the systemd units, the example environment file and the docs in
# place; `make uninstall` removes exactly that (scripts/install-files). `make deb` builds
# shm-admin_VERSION_ARCH.deb (scripts/build-deb). BIN=PATH installs or packages that binary instead
# of the release build (the tests use the binary under test).
PREFIX ?= /usr/local
BIN ?=
export PREFIX DESTDIR BINDIR MANDIR DOCDIR UNITDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR
INSTALL_BIN = $(or $(BIN),$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/shm-admin)
MAN_DATE := $(shell git log -1 --format=%cs 2>/dev/null || date +%F)

install: setup-run
	@$(if $(BIN),true,$(SWIFT) build $(RELEASE_FLAGS) --product shm-admin)
	@$(SWIFT) build --product generate-manual >/dev/null
	@GENERATE_MANUAL="$$($(SWIFT) build --show-bin-path)/generate-manual" MAN_DATE=$(MAN_DATE) \
		scripts/install-files install "$(INSTALL_BIN)"

uninstall:
	@scripts/install-files uninstall

deb: setup-run
	@$(if $(BIN),true,$(SWIFT) build $(RELEASE_FLAGS) --product shm-admin)
	@$(SWIFT) build --product generate-manual >/dev/null
	@GENERATE_MANUAL="$$($(SWIFT) build --show-bin-path)/generate-manual" MAN_DATE=$(MAN_DATE) \
		scripts/build-deb "$(INSTALL_BIN)"

lint:
	@$(SWIFT) format lint --strict --recursive Sources Tests Plugins Package.swift
	@python3 -m json.tool openapi.json >/dev/null

format:
	@$(SWIFT) format --in-place --recursive Sources Tests Plugins Package.swift

bench: setup-bench release
	@python3 bench/shmbench

bench-smoke: setup-bench release
	@python3 bench/shmbench --smoke

clean:
	@rm -rf .build $(TEST_OUT)
