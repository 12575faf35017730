/*
 * tls.c -- TLS on the RESP port `tls-port` (OpenSSL 3), with Redis's option
 * names: tls-cert-file, tls-key-file, tls-ca-cert-file, tls-auth-clients
 * (yes | no | optional) and tls-protocols ("TLSv1.2 TLSv1.3").
 *
 * A connection accepted on tls-port gets an SSL object in accept state; the
 * worker then reads and writes through tlsRead/tlsWrite instead of read/send.
 * The handshake happens inside the first SSL_read/SSL_write, non-blocking:
 * WANT_READ / WANT_WRITE come back as EAGAIN, and the level-triggered epoll
 * loop calls again.  Data OpenSSL already decrypted but not returned
 * (SSL_pending) is drained by the caller before it waits on the socket.
 */
#include "server.h"
#include "tls.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *ctx;

static void logSslError(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();
	ERR_error_string_n(e, buf, sizeof(buf));
	serverLog(LL_WARNING, "TLS: %s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

/* "TLSv1.2 TLSv1.3" -> min/max versions; -1 for a word it does not know. */
static int parseProtocols(const char *s, int *minv, int *maxv)
{
	char copy[64];
	snprintf(copy, sizeof(copy), "%s", s);
	*minv = *maxv = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		int v;
		if (!strcasecmp(t, "TLSv1.2"))
			v = TLS1_2_VERSION;
		else if (!strcasecmp(t, "TLSv1.3"))
			v = TLS1_3_VERSION;
		else
			return -1;
		if (*minv == 0 || v < *minv)
			*minv = v;
		if (v > *maxv)
			*maxv = v;
	}
	return *minv ? 0 : -1;
}

int tlsInit(void)
{
	serverConfig *cfg = &srv.cfg;
	if (cfg->tls_port == 0)
		return C_OK;
	if (!cfg->tls_cert_file[0] || !cfg->tls_key_file[0]) {
		serverLog(LL_WARNING, "TLS: tls-port needs tls-cert-file and tls-key-file");
		return C_ERR;
	}
	int minv, maxv;
	if (parseProtocols(cfg->tls_protocols, &minv, &maxv) != 0) {
		serverLog(LL_WARNING, "TLS: tls-protocols must list TLSv1.2 and/or TLSv1.3, not '%s'", cfg->tls_protocols);
		return C_ERR;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		logSslError("cannot create a context");
		return C_ERR;
	}
	SSL_CTX_set_min_proto_version(ctx, minv);
	SSL_CTX_set_max_proto_version(ctx, maxv);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
		logSslError(cfg->tls_cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		logSslError(cfg->tls_key_file);
		goto fail;
	}
	int verify = SSL_VERIFY_NONE;
	if (!strcasecmp(cfg->tls_auth_clients, "yes"))
		verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	else if (!strcasecmp(cfg->tls_auth_clients, "optional"))
		verify = SSL_VERIFY_PEER;
	if (verify != SSL_VERIFY_NONE) {
		if (!cfg->tls_ca_cert_file[0]) {
			serverLog(LL_WARNING, "TLS: tls-auth-clients %s needs tls-ca-cert-file (or tls-auth-clients no)",
			          cfg->tls_auth_clients);
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_cert_file, NULL) != 1) {
			logSslError(cfg->tls_ca_cert_file);
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, verify, NULL);
	return C_OK;
fail:
	SSL_CTX_free(ctx);
	ctx = NULL;
	return C_ERR;
}

void tlsCleanup(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

void *tlsConnNew(int fd)
{
	if (ctx == NULL)
		return NULL;
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

void tlsConnFree(void *conn)
{
	SSL *ssl = conn;
	if (ssl == NULL)
		return;
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl); /* one close_notify, never waiting for the peer's */
	SSL_free(ssl);
	ERR_clear_error();
}

/* As read(2)/send(2): bytes, 0 at the end of the stream, -1 with errno (EAGAIN: call again). */
static ssize_t result(SSL *ssl, int r)
{
	if (r > 0)
		return r;
	int e = SSL_get_error(ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = ECONNRESET;
		ERR_clear_error();
		return -1;
	default:
		if (atomic_load(&srv.loglevel) <= LL_VERBOSE)
			logSslError("connection closed");
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

ssize_t tlsRead(void *conn, void *buf, size_t len)
{
	ERR_clear_error();
	errno = 0;
	return result(conn, SSL_read(conn, buf, len > INT32_MAX ? INT32_MAX : (int)len));
}

ssize_t tlsWrite(void *conn, const void *buf, size_t len)
{
	ERR_clear_error();
	errno = 0;
	return result(conn, SSL_write(conn, buf, len > INT32_MAX ? INT32_MAX : (int)len));
}

int tlsPending(void *conn)
{
	return SSL_pending(conn) > 0;
}
