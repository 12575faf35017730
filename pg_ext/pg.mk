# pg_ext/pg.mk -- included by the top-level Makefile.
# Builds the PostgreSQL extension with PGXS, linking the engine's static library.
#   make pg-ext        build pg_ext/shardkv.so
#   make pg-install    install it into the system PostgreSQL (as root)
#   make bench-pg      pgbench comparisons (bench/pg/run.sh; QUICK=1 for a smoke run)
# Skipped when pg_config is missing (tests/deps.sh installs postgresql-server-dev-15).

PG_CONFIG ?= pg_config
PG_EXT_SO := pg_ext/shardkv.so
PG_EXT_SRC := $(wildcard pg_ext/*.c pg_ext/*.h) pg_ext/Makefile engine/kv.h
# PGXS compiles with PostgreSQL's own (gcc) CFLAGS; clang needs a plain set.
PG_EXT_MAKE = $(MAKE) --no-print-directory -C pg_ext TOP=$(CURDIR) \
	ENGINE_LIB=$(CURDIR)/$(LIB) PG_CONFIG=$(PG_CONFIG) CC="$(CC)" \
	$(if $(findstring clang,$(CC)),CFLAGS="-O2 -g -fno-strict-aliasing -fwrapv")

ifneq ($(shell command -v $(PG_CONFIG) 2>/dev/null),)
ALL_TARGETS += $(PG_EXT_SO)
clean: pg-clean
endif

.PHONY: pg-ext pg-install pg-clean
pg-ext: $(PG_EXT_SO)

$(PG_EXT_SO): $(LIB) $(PG_EXT_SRC)
	$(PG_EXT_MAKE)

pg-install: $(PG_EXT_SO)
	$(PG_EXT_MAKE) install

pg-clean:
	$(PG_EXT_MAKE) clean

BENCH_TARGETS += bench-pg
bench-pg: $(PG_EXT_SO)
	sh bench/pg/run.sh
	sh bench/pg/wal.sh
