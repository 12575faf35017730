# bench/bench.mk -- benchmarks; included by the top-level Makefile.
#
# Benchmarks are not tests: nothing here is in ALL_TARGETS or TEST_DEPS.
#   make bench-engine                               engine vs the reference table
#   make bench-engine BENCH_ENGINE_ARGS=--quick     a short smoke run
#   make bench                                      every bench target that exists, then charts
#   make bench-charts                               bench/charts/<host>.svg from build/bench/*.tsv
#
# Each host's .mk appends its own target to BENCH_TARGETS (bench-pg, bench-sqlite,
# bench-resp).  Those files are read after this one, so `bench` runs the list from
# its recipe, where the variable is complete, rather than as prerequisites.

BENCH_TARGETS += bench-engine
.PHONY: bench-charts bench-insn

BENCH_ENGINE_SRC := $(sort $(wildcard bench/engine/*.c))
BENCH_ENGINE_HDR := $(wildcard bench/engine/*.h)
BENCH_ENGINE     := $(BUILD)/bench-engine
BENCH_ENGINE_ARGS ?=

# rculfhash, the concurrent peer: liburcu's default flavour (memb) and its cds library
BENCH_URCU_LIBS := -lurcu-cds -lurcu-memb -lurcu-common

$(BENCH_ENGINE): $(BENCH_ENGINE_SRC) $(BENCH_ENGINE_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iengine -o $@ $(BENCH_ENGINE_SRC) \
		$(LIB) $(BENCH_URCU_LIBS) $(LDLIBS) -lm

bench-engine: $(BENCH_ENGINE)
	@mkdir -p $(BUILD)/bench
	$(BENCH_ENGINE) --tsv $(BUILD)/bench/engine.tsv $(BENCH_ENGINE_ARGS)

# make bench-coll: redis-benchmark's collection rows (HSET, SADD; LPUSH, LPOP,
# ZADD, ZPOPMIN when the server has them) at -P 16, shardkv-server beside
# redis-server (BENCH_COLL_ARGS=--quick for a smoke run).  Not in make bench's
# list until the collections are merged everywhere.
BENCH_COLL_ARGS ?=
.PHONY: bench-coll
bench-coll: $(BUILD)/shardkv-server
	sh bench/coll/run.sh $(BENCH_COLL_ARGS)

# Bytes per element of hashes and sets against redis-server's MEMORY USAGE
# (bench/coll/memory.py starts its own redis-server on REDIS_PORT, default 6392).
BENCH_COLL_MEMORY := $(BUILD)/bench-coll-memory
$(BENCH_COLL_MEMORY): bench/coll/coll_memory.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iengine -o $@ bench/coll/coll_memory.c $(LIB) $(LDLIBS) -lm

.PHONY: bench-coll-memory
bench-coll-memory: $(BENCH_COLL_MEMORY)
	BENCH_COLL_MEMORY=$(BENCH_COLL_MEMORY) /usr/bin/python3 bench/coll/memory.py

# Each bench target leaves its figures in $(BUILD)/bench/<host>.tsv; bench/charts.py
# draws bench/charts/<host>.svg from them (from bench/charts/seed/ for a host
# without fresh results, which the chart's title says).
bench-charts:
	/usr/bin/python3 bench/charts.py --fresh $(BUILD)/bench

bench:
	@failed=""; \
	for t in $(BENCH_TARGETS); do \
		echo "== make $$t"; \
		$(MAKE) --no-print-directory $$t || failed="$$failed $$t"; \
	done; \
	$(MAKE) --no-print-directory bench-charts || failed="$$failed bench-charts"; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed"; exit 1; fi

# make bench-scale: throughput through twemproxy with 1, 2 and 3 backends,
# shardkv-server beside redis-server (BENCH_SCALE_ARGS=--quick for a smoke run).
BENCH_TARGETS += bench-scale
BENCH_SCALE_ARGS ?=
.PHONY: bench-scale
bench-scale: $(BUILD)/shardkv-server
	sh bench/scale/run.sh $(BENCH_SCALE_ARGS)

# Instructions per single-key op under callgrind (bench/insn/): exact on a shared machine.
BENCH_INSN := $(BUILD)/bench-insn
$(BENCH_INSN): bench/insn/insn.c bench/engine/benchutil.c bench/engine/reftable.c $(BENCH_ENGINE_HDR) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iengine -o $@ bench/insn/insn.c bench/engine/benchutil.c bench/engine/reftable.c \
		$(LIB) $(LDLIBS) -lm

bench-insn: $(BENCH_INSN)
	bench/insn/run.sh $(BENCH_INSN)

# Sorted sets: bytes per element against redis-server's MEMORY USAGE.
BENCH_ZSET_MEM := $(BUILD)/bench/zset_mem
$(BENCH_ZSET_MEM): bench/zset/zset_mem.c $(LIB) $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iengine -o $@ $< $(LIB) $(LDLIBS)
.PHONY: bench-zset-mem
bench-zset-mem: $(BENCH_ZSET_MEM)
	sh bench/zset/zset_mem.sh $(BENCH_ZSET_MEM)

# Bytes per list element against redis-server's MEMORY USAGE (bench/README.md,
# "Lists"); bench/coll/list_memory.sh starts its own redis-server on
# LIST_MEM_PORT (default 6395).
BENCH_LIST_MEMORY := $(BUILD)/bench-list-memory
$(BENCH_LIST_MEMORY): bench/coll/list_memory.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iengine -o $@ bench/coll/list_memory.c $(LIB) $(LDLIBS)

.PHONY: bench-list-memory
bench-list-memory: $(BENCH_LIST_MEMORY)
	BENCH_LIST_MEMORY=$(BENCH_LIST_MEMORY) sh bench/coll/list_memory.sh

# make bench-queue: a job queue (50 producers LPUSH, 50 consumers BRPOP, 100
# connections) and a 1M-member leaderboard (ZADD, ZINCRBY, ZREVRANGE 0 9),
# shardkv-server beside redis-server, interleaved (BENCH_QUEUE_ARGS=--quick).
BENCH_TARGETS += bench-queue
BENCH_QUEUE_ARGS ?=
BENCH_QUEUE_CLIENT := $(BUILD)/bench/queue_client
.PHONY: bench-queue
$(BENCH_QUEUE_CLIENT): bench/queue/queue_client.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<
bench-queue: $(BUILD)/shardkv-server $(BENCH_QUEUE_CLIENT)
	@mkdir -p $(BUILD)/bench
	/usr/bin/python3 bench/queue/bench_queue.py $(BENCH_QUEUE_CLIENT) --tsv $(BUILD)/bench/queue.tsv $(BENCH_QUEUE_ARGS)

# make bench-memlat: this machine's memory limits for a get (bench/memlat/memlat.c,
# no engine code): dependent-load latency, memory-level parallelism, and a model
# of a get's two dependent misses at a given instruction count, with 2 MiB and
# 4 KiB pages.  BENCH_MEMLAT_ARGS=--quick for a smoke run (seconds).
BENCH_MEMLAT := $(BUILD)/bench-memlat
BENCH_MEMLAT_ARGS ?=
$(BENCH_MEMLAT): bench/memlat/memlat.c bench/engine/benchutil.c bench/engine/benchutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench/engine -o $@ bench/memlat/memlat.c bench/engine/benchutil.c -lm

.PHONY: bench-memlat
bench-memlat: $(BENCH_MEMLAT)
	$(BENCH_MEMLAT) $(BENCH_MEMLAT_ARGS)
