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

# ------------------------------------------------------------ build variants
# Every C object is built in up to three variants, each in its own tree:
#   $(BUILD)/obj/TREE/x.o    plain
#   $(BUILD)/asan/TREE/x.o   AddressSanitizer + UBSan ($(ASAN_FLAGS))
#   $(BUILD)/tsan/TREE/x.o   ThreadSanitizer ($(TSAN_FLAGS))
# A build file states a source directory once:
#   $(call object_rules,TREE,SRCDIR,EXTRA_FLAGS,DEPS)
# and gets the three rules $(BUILD)/{obj,asan,tsan}/TREE/%.o: SRCDIR/%.c DEPS.
# A variant's binaries go to $(call variant_dir,VARIANT,DIR): DIR itself for
# obj, DIR/asan and DIR/tsan for the others; VARIANT_LIB_v is its engine library.
VARIANTS           := obj asan tsan
VARIANT_FLAGS_obj  :=
VARIANT_FLAGS_asan := $(ASAN_FLAGS)
VARIANT_FLAGS_tsan := $(TSAN_FLAGS)
variant_dir         = $(if $(filter obj,$(1)),$(2),$(2)/$(1))

define object_rule
$(BUILD)/$(1)/$(2)/%.o: $(3)/%.c $(5)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(VARIANT_FLAGS_$(1)) $(4) -c $$< -o $$@
endef
object_rules = $(foreach v,$(VARIANTS),$(eval $(call object_rule,$(v),$(1),$(2),$(3),$(4))))

# libFuzzer targets (clang): one compiler and one flag set for every target.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

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
VARIANT_LIB_obj  := $(LIB)
VARIANT_LIB_asan := $(LIB_ASAN)
VARIANT_LIB_tsan := $(LIB_TSAN)

ALL_TARGETS := $(LIB) $(SOLIB)
INSTALL_TARGETS :=  # each host's .mk appends its own install target
TEST_DEPS   :=
FUZZ_TARGETS :=  # libFuzzer binaries (clang); `make fuzz` runs each for FUZZ_SECONDS
FUZZ_SECONDS ?= 300

.PHONY: all test deps asan tsan clean run fuzz stress bench bench-engine bench-pg bench-sqlite bench-resp \
        install install-lib
.DEFAULT_GOAL := all

$(call object_rules,engine,engine,,$(ENGINE_HDR))

# the engine library of each variant
$(LIB) $(LIB_ASAN) $(LIB_TSAN):
	@rm -f $@
	ar rcs $@ $^
$(LIB): $(ENGINE_OBJ)
$(LIB_ASAN): $(ENGINE_OBJ_ASAN)
$(LIB_TSAN): $(ENGINE_OBJ_TSAN)
$(SOLIB_REAL): $(ENGINE_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)
$(SOLIB): $(SOLIB_REAL)
	ln -sf $(notdir $(SOLIB_REAL)) $(BUILD)/$(SONAME)
	ln -sf $(notdir $(SOLIB_REAL)) $@

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
