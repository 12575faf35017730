# shardkv top-level build.  `make` builds the engine (static + shared library)
# and every host whose build file is present; `make test` installs missing Debian
# packages (as root), builds everything and runs every test suite.
#
# Host and test build files are included from their own directories:
#   tests/tests.mk, bench/bench.mk, server/server.mk, sqlite_ext/sqlite.mk, pg_ext/pg.mk
# Each appends its default targets to ALL_TARGETS.

CC      ?= cc
BUILD   := build
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g -fPIC -fvisibility=hidden $(WARN) $(EXTRA_CFLAGS)
LDLIBS  := -lpthread

ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -O1 -fsanitize=thread -fno-omit-frame-pointer

ENGINE_SRC := $(sort $(wildcard engine/*.c))
ENGINE_HDR := $(wildcard engine/*.h)

ENGINE_OBJ      := $(ENGINE_SRC:engine/%.c=$(BUILD)/obj/engine/%.o)
ENGINE_OBJ_ASAN := $(ENGINE_SRC:engine/%.c=$(BUILD)/asan/engine/%.o)
ENGINE_OBJ_TSAN := $(ENGINE_SRC:engine/%.c=$(BUILD)/tsan/engine/%.o)

# The version is kv.h's; the soname carries major.minor while the major is 0
# (every 0.x minor may change the ABI), then the major alone.
KV_VERSION := $(shell sed -n 's/^\#define KV_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' engine/kv.h | paste -sd.)
KV_MAJOR   := $(word 1,$(subst ., ,$(KV_VERSION)))
SONAME     := libshardkv.so.$(if $(filter 0,$(KV_MAJOR)),$(KV_MAJOR).$(word 2,$(subst ., ,$(KV_VERSION))),$(KV_MAJOR))

LIB       := $(BUILD)/libshardkv.a
SOLIB     := $(BUILD)/libshardkv.so
SOLIB_REAL := $(BUILD)/libshardkv.so.$(KV_VERSION)
LIB_ASAN  := $(BUILD)/asan/libshardkv.a
LIB_TSAN  := $(BUILD)/tsan/libshardkv.a

ALL_TARGETS := $(LIB) $(SOLIB)
INSTALL_TARGETS :=  # each host's .mk appends its own install target
TEST_DEPS   :=
FUZZ_TARGETS :=  # libFuzzer binaries (clang); `make fuzz` runs each for FUZZ_SECONDS
FUZZ_SECONDS ?= 300

.PHONY: all test deps asan tsan clean run fuzz stress bench bench-engine bench-pg bench-sqlite bench-resp \
        install install-lib
.DEFAULT_GOAL := all

$(BUILD)/obj/engine/%.o: engine/%.c $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/asan/engine/%.o: engine/%.c $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c $< -o $@
$(BUILD)/tsan/engine/%.o: engine/%.c $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) -c $< -o $@

$(LIB): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(SOLIB_REAL): $(ENGINE_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)
$(SOLIB): $(SOLIB_REAL)
	ln -sf $(notdir $(SOLIB_REAL)) $(BUILD)/$(SONAME)
	ln -sf $(notdir $(SOLIB_REAL)) $@
$(LIB_ASAN): $(ENGINE_OBJ_ASAN)
	@rm -f $@
	ar rcs $@ $^
$(LIB_TSAN): $(ENGINE_OBJ_TSAN)
	@rm -f $@
	ar rcs $@ $^

-include tests/tests.mk
-include bench/bench.mk
-include server/server.mk
-include sqlite_ext/sqlite.mk
-include pg_ext/pg.mk

all: $(ALL_TARGETS)

# Debian packages the build and tests need; installed when missing (as root).
deps:
	@tests/deps.sh

test: deps
	@$(MAKE) --no-print-directory all $(TEST_DEPS)
	@tests/run-all.sh

clean:
	rm -rf $(BUILD)

# `make install` puts the engine library (static and shared, with its soname),
# kv.h and a pkg-config file under PREFIX (default /usr/local; DESTDIR for
# staging), plus every host's own install target that exists (pg-install,
# server-install, sqlite-install).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PCDIR      ?= $(LIBDIR)/pkgconfig

$(BUILD)/shardkv.pc: engine/shardkv.pc.in engine/kv.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(KV_VERSION)|' $< >$@

install-lib: $(LIB) $(SOLIB) $(BUILD)/shardkv.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/shardkv $(DESTDIR)$(PCDIR)
	install -m 644 engine/kv.h $(DESTDIR)$(INCLUDEDIR)/shardkv/kv.h
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libshardkv.a
	install -m 755 $(SOLIB_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SOLIB_REAL)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libshardkv.so
	install -m 644 $(BUILD)/shardkv.pc $(DESTDIR)$(PCDIR)/shardkv.pc

install: install-lib $(INSTALL_TARGETS)
