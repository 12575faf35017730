# sqlite_ext/sqlite.mk -- the SQLite extension, its tests, fuzz target and benchmark.
# Included by the top-level Makefile.
#
#   make build/shardkv.so     loadable extension: `.load ./build/shardkv` in sqlite3
#   make sqlite-tests         C tests (static -DSQLITE_CORE build: plain, ASan, TSan)
#   make bench-sqlite         vtab / kv_get vs a native WITHOUT ROWID table (QUICK=1: small)
#   tests/suite-sqlite.sh     the suite `make test` runs

SQLITE_EXT       := $(BUILD)/shardkv.so
# the same extension built with ASan+UBSan; the suite runs the SQL cases with it
# too (the shell gets libasan through LD_PRELOAD)
SQLITE_EXT_ASAN  := $(BUILD)/asan/shardkv.so
SQLITE_SRC       := $(sort $(wildcard sqlite_ext/*.c))
SQLITE_HDR       := $(wildcard sqlite_ext/*.h) engine/kv.h
SQLITE_INC       := -Iengine -Isqlite_ext
SQLITE_OBJ       := $(SQLITE_SRC:sqlite_ext/%.c=$(BUILD)/obj/sqlite_ext/%.o)
SQLITE_EXT_ASAN_OBJ := $(SQLITE_SRC:sqlite_ext/%.c=$(BUILD)/asan/sqlite_ext/%.o)
SQLITE_CORE_OBJ  := $(SQLITE_SRC:sqlite_ext/%.c=$(BUILD)/obj/sqlite_core/%.o)
SQLITE_LDLIBS    := -lsqlite3 -ldl $(LDLIBS)

SQLITE_TEST_DIR   := $(BUILD)/sqlite-tests
SQLITE_CTESTS     := test_sharing test_lifetime
SQLITE_CTEST_BINS := $(SQLITE_CTESTS:%=$(SQLITE_TEST_DIR)/%) $(SQLITE_TEST_DIR)/asan/test_sharing
# Not in TEST_DEPS (as for the engine's TSan tests): gcc cannot build the
# engine with -fsanitize=thread, so tests/suite-sqlite.sh builds this one
# itself and falls back to clang in build/clang-tsan.
SQLITE_TSAN_TEST  := $(SQLITE_TEST_DIR)/tsan/test_sharing

SQLITE_FUZZ       := $(BUILD)/fuzz/fuzz_vtab_args
SQLITE_BENCH      := $(BUILD)/bench/bench_sqlite

ALL_TARGETS  += $(SQLITE_EXT)
FUZZ_TARGETS += $(SQLITE_FUZZ)
TEST_DEPS    += $(SQLITE_EXT) $(SQLITE_EXT_ASAN) $(SQLITE_CTEST_BINS) $(SQLITE_FUZZ)

.PHONY: sqlite-tests bench-sqlite

# objects of every variant (see "build variants" in the Makefile): the loadable
# extension (sqlite_ext/) and the static -DSQLITE_CORE build (sqlite_core/)
$(call object_rules,sqlite_ext,sqlite_ext,$(SQLITE_INC),$(SQLITE_HDR))
$(call object_rules,sqlite_core,sqlite_ext,-DSQLITE_CORE $(SQLITE_INC),$(SQLITE_HDR))

# The engine objects are -fPIC, so the static library links into the extension.
$(SQLITE_EXT): $(SQLITE_OBJ) $(LIB) sqlite_ext/shardkv.map
	$(CC) -shared -o $@ $(SQLITE_OBJ) $(LIB) -Wl,--version-script=sqlite_ext/shardkv.map \
		-Wl,--no-undefined $(SQLITE_LDLIBS)
$(SQLITE_EXT_ASAN): $(SQLITE_EXT_ASAN_OBJ) $(LIB_ASAN) sqlite_ext/shardkv.map
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -shared -o $@ $(SQLITE_EXT_ASAN_OBJ) $(LIB_ASAN) \
		-Wl,--version-script=sqlite_ext/shardkv.map $(SQLITE_LDLIBS)

sqlite-tests: $(SQLITE_CTEST_BINS) $(SQLITE_TSAN_TEST)

define sqlite_test_link
$(call variant_dir,$(1),$(SQLITE_TEST_DIR))/test_sharing: tests/sqlite/test_sharing.c tests/sqlite/ctest.h \
		$(SQLITE_SRC:sqlite_ext/%.c=$(BUILD)/$(1)/sqlite_core/%.o) $(VARIANT_LIB_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(VARIANT_FLAGS_$(1)) -DSQLITE_CORE $$(SQLITE_INC) $$< $$(filter %.o %.a,$$^) -o $$@ $$(SQLITE_LDLIBS)
endef
$(foreach v,$(VARIANTS),$(eval $(call sqlite_test_link,$(v))))
# test_lifetime loads the real build/shardkv.so with sqlite3_load_extension.
$(SQLITE_TEST_DIR)/test_lifetime: tests/sqlite/test_lifetime.c tests/sqlite/ctest.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(SQLITE_LDLIBS)

# libFuzzer target for the vtab argument parser (no SQLite; the engine's
# sources, built with the fuzz flags, give it the shared vocabulary).
# Without a working clang/libFuzzer the build goes on; the suite reports the
# missing binary as a failure (see $@.failed).
$(SQLITE_FUZZ): tests/fuzz/fuzz_vtab_args.c sqlite_ext/kvargs.c sqlite_ext/kvargs.h $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	@rm -f $@.failed
	$(FUZZ_CC) $(FUZZ_FLAGS) $(SQLITE_INC) tests/fuzz/fuzz_vtab_args.c \
		sqlite_ext/kvargs.c $(ENGINE_SRC) -o $@ $(LDLIBS) >$@.log 2>&1 \
		|| { mv $@.log $@.failed; rm -f $@; echo "fuzz_vtab_args: build failed, see $@.failed" >&2; }
	@rm -f $@.log

$(SQLITE_BENCH): bench/sqlite/bench_sqlite.c $(SQLITE_CORE_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSQLITE_CORE $(SQLITE_INC) -Iengine $< $(SQLITE_CORE_OBJ) $(LIB) -o $@ $(SQLITE_LDLIBS) -lm

# QUICK=1: 100k keys and fewer rounds (a smoke run); default 1M keys.
BENCH_TARGETS += bench-sqlite
bench-sqlite: $(SQLITE_BENCH)
	sh bench/sqlite/run.sh $(if $(QUICK),--quick)
