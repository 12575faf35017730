# tests/tests.mk -- the engine's tests, included by the top-level Makefile.
#
#   make test      builds every binary below (TEST_DEPS); tests/suite-engine.sh and
#                  tests/suite-engine-sanitizers.sh run them
#   make asan      unit + concurrency tests under AddressSanitizer + UBSan
#   make tsan      the same under ThreadSanitizer
#   make stress    long multi-thread / multi-process stress (not part of make test)
#   make fuzz      every $(FUZZ_TARGETS) binary for $(FUZZ_SECONDS) s on its corpus
#
# Tests see the engine only through engine/kv.h.

TEST_DIR      := $(BUILD)/tests
# every tests/unit/test_*.c is one binary
ENGINE_TESTS      := $(sort $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c)))
# the tests worth running under ThreadSanitizer
ENGINE_TESTS_TSAN := test_concurrency test_batch test_scan test_hooks test_snapshot test_nshelpers test_tick \
                     test_ops_locks test_bits test_batch_incr test_coll_concurrency test_set test_hash \
                     test_zset_conc test_lists test_load_threads test_setpath

TEST_BINS      := $(ENGINE_TESTS:%=$(TEST_DIR)/%)
TEST_BINS_ASAN := $(ENGINE_TESTS:%=$(TEST_DIR)/asan/%)
TEST_BINS_TSAN := $(ENGINE_TESTS_TSAN:%=$(TEST_DIR)/tsan/%)
TEST_HDRS      := tests/unit/test.h engine/kv.h

FUZZ_SNAPSHOT := $(BUILD)/fuzz/fuzz_snapshot
FUZZ_GLOB     := $(BUILD)/fuzz/fuzz_glob
FUZZ_TARGETS += $(FUZZ_SNAPSHOT) $(FUZZ_GLOB)

# The sanitizer builds are not TEST_DEPS: tests/suite-engine-sanitizers.sh
# builds them itself, so that a sanitizer build failure is a failed test in the
# report instead of stopping `make test` for every suite.
TEST_DEPS += $(TEST_BINS) $(FUZZ_SNAPSHOT) $(FUZZ_GLOB)

.PHONY: engine-tests asan-build tsan-build crash tsan-list

# the TSan test names, for tests/suite-engine-sanitizers.sh (one list, here)
tsan-list:
	@echo $(ENGINE_TESTS_TSAN)

engine-tests: $(TEST_BINS)
asan-build: $(TEST_BINS_ASAN)
tsan-build: $(TEST_BINS_TSAN)

# objects in $(BUILD)/{obj,asan,tsan}/tests/unit/, binaries in $(TEST_DIR)[/asan|/tsan]
$(call object_rules,tests/unit,tests/unit,-Iengine,$(TEST_HDRS))
define test_link
$(call variant_dir,$(1),$(TEST_DIR))/%: $(BUILD)/$(1)/tests/unit/%.o $(VARIANT_LIB_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(VARIANT_FLAGS_$(1)) $$< $(VARIANT_LIB_$(1)) -o $$@ $$(LDLIBS)
endef
$(foreach v,$(VARIANTS),$(eval $(call test_link,$(v))))

# The objects are not intermediates for make to delete.
.SECONDARY: $(foreach v,$(VARIANTS),$(ENGINE_TESTS:%=$(BUILD)/$(v)/tests/unit/%.o))

# Sanitizer runs.  ASAN_OPTIONS etc. make any report fatal, so a report is a
# failed binary in tests/unit/run.sh.
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0

asan: $(TEST_BINS_ASAN)
	@$(SAN_ENV) sh tests/unit/run.sh $(TEST_DIR)/asan $(ENGINE_TESTS)
tsan: $(TEST_BINS_TSAN)
	@$(SAN_ENV) sh tests/unit/run.sh $(TEST_DIR)/tsan $(ENGINE_TESTS_TSAN)

# Long stress: bigger thread, process and operation counts (TEST_STRESS=1).
stress: $(TEST_BINS) $(TEST_BINS_TSAN)
	@sh tests/stress/run.sh

# The snapshot-loader fuzzer: engine sources compiled in directly with clang.
$(FUZZ_SNAPSHOT): tests/fuzz/fuzz_snapshot.c $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(filter-out -Werror,$(WARN)) -Iengine \
		tests/fuzz/fuzz_snapshot.c $(ENGINE_SRC) -o $@ $(LDLIBS)

# The glob fuzzer: kv_glob_match against a reference matcher (glob.c compiled in).
$(FUZZ_GLOB): tests/fuzz/fuzz_glob.c engine/glob.c $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(filter-out -Werror,$(WARN)) -Iengine \
		tests/fuzz/fuzz_glob.c engine/glob.c -o $@ $(LDLIBS)

# Run every fuzz target for FUZZ_SECONDS on tests/fuzz/corpus/<name without fuzz_>/.
# The prerequisites are built by a sub-make, so FUZZ_TARGETS added by build
# files included after this one count too.
fuzz:
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$$(basename $$t); n=$${n#fuzz_}; d=tests/fuzz/corpus/$$n; \
		if [ ! -x $$t ]; then echo "fuzz: $$t was not built" >&2; exit 1; fi; \
		mkdir -p $$d; echo "fuzz: $$t for $(FUZZ_SECONDS)s on $$d"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 $$d; \
	done

# Crash and fault tests in full: every tests/crash/*.sh with its long loops
# (kill -9 20 times in a row, full disks, killed backends).  `make test` runs
# the same scripts quickly through tests/suite-crash.sh.
crash:
	@$(MAKE) --no-print-directory all $(TEST_DEPS)
	@CRASH_QUICK=0 sh tests/suite-crash.sh
