# server/http.mk -- the HTTP door of shardkv-server (server/http*.c); included by
# server/server.mk.
#
#   make bench-http      bench/http/run.sh: wrk against shardkv-server's HTTP door
#                        and webdis + redis-server, same run, ratios
#                        (BENCH_HTTP_ARGS=--quick for a short smoke run)
#   make fuzz            includes build/fuzz/fuzz_http (the HTTP request path)

# picohttpparser comes from libh2o-evloop, websocket frames from wslay, JSON
# from jansson, SHA-1/base64 of the websocket handshake from libcrypto.
SERVER_HTTP_LIBS := -lh2o-evloop -lwslay -ljansson -lcrypto
# the status page is embedded with .incbin (http_page.c)
SERVER_HTTP_DEPS := server/status_page.html

BENCH_TARGETS += bench-http
BENCH_HTTP_ARGS ?=
.PHONY: bench-http
bench-http: $(SERVER_BIN)
	sh bench/http/run.sh $(BENCH_HTTP_ARGS)

# The HTTP request path under libFuzzer: every server source but main.c, the
# engine, and the HTTP libraries (tests/fuzz/fuzz_http.c defines main.c's globals).
FUZZ_HTTP := $(BUILD)/fuzz/fuzz_http
$(FUZZ_HTTP): tests/fuzz/fuzz_http.c $(SERVER_SRC) $(SERVER_HDR) $(ENGINE_SRC) $(ENGINE_HDR) $(SERVER_HTTP_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iengine -Iserver -o $@ tests/fuzz/fuzz_http.c \
		$(filter-out server/main.c,$(SERVER_SRC)) $(ENGINE_SRC) $(LDLIBS) $(SERVER_HTTP_LIBS) -lssl -lm
FUZZ_TARGETS += $(FUZZ_HTTP)
TEST_DEPS += $(FUZZ_HTTP)
