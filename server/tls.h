/*
 * tls.h -- TLS connections on tls-port (tls.c, OpenSSL 3).
 */
#ifndef SHARDKV_TLS_H
#define SHARDKV_TLS_H

#include <sys/types.h>

/* Build the server context from the tls-* options; C_OK (also when tls-port is 0). */
int     tlsInit(void);
void    tlsCleanup(void);
/* An accept-state connection over fd, or NULL. */
void   *tlsConnNew(int fd);
void    tlsConnFree(void *conn);
/* read(2) / send(2) semantics: n, 0 at end of stream, -1 with errno (EAGAIN). */
ssize_t tlsRead(void *conn, void *buf, size_t len);
ssize_t tlsWrite(void *conn, const void *buf, size_t len);
/* Bytes already decrypted that the next tlsRead returns without the socket. */
int     tlsPending(void *conn);

#endif /* SHARDKV_TLS_H */
