# server/server.mk -- shardkv-server, the Redis-protocol server; included by the
# top-level Makefile.
#
#   make                    builds build/shardkv-server
#   make run                runs it in the foreground on 127.0.0.1:6379, snapshots in ./data
#   make bench-resp         bench/resp/run.sh: shardkv-server vs redis-server, interleaved
#                           (BENCH_RESP_ARGS=--quick for a short smoke run)
#   make fuzz               includes build/fuzz/fuzz_resp (the RESP parser, libFuzzer)
#   build/asan/shardkv-server   the server under AddressSanitizer + UBSan
#   build/tsan/shardkv-server   the server under ThreadSanitizer

SERVER_SRC := $(sort $(wildcard server/*.c))
SERVER_HDR := $(wildcard server/*.h) engine/kv.h
SERVER_BIN := $(BUILD)/shardkv-server
SERVER_BIN_ASAN := $(BUILD)/asan/shardkv-server
SERVER_BIN_TSAN := $(BUILD)/tsan/shardkv-server

include server/http.mk

# objects of every variant (see "build variants" in the Makefile), then one
# binary per variant linked with that variant's engine library
$(call object_rules,server,server,-Iengine -Iserver,$(SERVER_HDR) $(SERVER_HTTP_DEPS))
define server_link
$(call variant_dir,$(1),$(BUILD))/shardkv-server: $(SERVER_SRC:server/%.c=$(BUILD)/$(1)/server/%.o) $(VARIANT_LIB_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(VARIANT_FLAGS_$(1)) -o $$@ $$^ $$(LDLIBS) $$(SERVER_HTTP_LIBS) -lssl -lm
endef
$(foreach v,$(VARIANTS),$(eval $(call server_link,$(v))))

ALL_TARGETS += $(SERVER_BIN)

# The RESP parser alone, under libFuzzer (no sockets, no engine).
FUZZ_RESP := $(BUILD)/fuzz/fuzz_resp
$(FUZZ_RESP): tests/fuzz/fuzz_resp.c server/resp.c server/resp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iserver -o $@ tests/fuzz/fuzz_resp.c server/resp.c
FUZZ_TARGETS += $(FUZZ_RESP)

# The suite also runs the ASan build (protocol abuse, random commands), the TSan
# build (concurrent clients) and the fuzzer.
TEST_DEPS += $(SERVER_BIN) $(SERVER_BIN_ASAN) $(SERVER_BIN_TSAN) $(FUZZ_RESP)

run: $(SERVER_BIN)
	$(SERVER_BIN) --port 6379 --bind 127.0.0.1 --dir ./data

BENCH_TARGETS += bench-resp bench-tls
BENCH_RESP_ARGS ?=
bench-resp: $(SERVER_BIN)
	bench/resp/run.sh $(BENCH_RESP_ARGS)

# The same rows over TLS, against redis-server's TLS (certificates made in the run).
.PHONY: bench-tls
bench-tls: $(SERVER_BIN)
	bench/resp/run.sh --tls $(BENCH_RESP_ARGS)
