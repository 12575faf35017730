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

LIB       := $(BUILD)/libshardkv.a
SOLIB     := $(BUILD)/libshardkv.so
LIB_ASAN  := $(BUILD)/asan/libshardkv.a
LIB_TSAN  := $(BUILD)/tsan/libshardkv.a

ALL_TARGETS := $(LIB) $(SOLIB)
TEST_DEPS   :=
FUZZ_TARGETS :=  # libFuzzer binaries (clang); `make fuzz` runs each for FUZZ_SECONDS
FUZZ_SECONDS ?= 300

.PHONY: all test deps asan tsan clean run fuzz stress bench bench-engine bench-pg bench-sqlite bench-resp
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
$(SOLIB): $(ENGINE_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)
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
