/*
 * http_page.c -- GET /: the status page, server/status_page.html, embedded in the
 * binary at build time (.incbin; the build runs from the repository root) so the
 * server needs no files and the page no network: it is self-contained.
 */
#include "http.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        "shardkv_status_page:\n"
        ".incbin \"server/status_page.html\"\n"
        "shardkv_status_page_end:\n"
        ".byte 0\n"
        ".previous\n");
extern const char shardkv_status_page[] __asm__("shardkv_status_page");
extern const char shardkv_status_page_end[] __asm__("shardkv_status_page_end");

void httpPageRequest(client *c, httpReq *rq)
{
	httpRespond(c, rq, 200, "text/html; charset=utf-8",
	            "Cache-Control: no-cache\r\nContent-Security-Policy: default-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:\r\n",
	            shardkv_status_page, (size_t)(shardkv_status_page_end - shardkv_status_page));
}
