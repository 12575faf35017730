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
