/*
 * t_expire.c -- expiry commands: (P)EXPIRE(AT) with NX/XX/GT/LT, (P)TTL,
 * (P)EXPIRETIME, PERSIST.  Times become absolute ms since the epoch through
 * the engine's TTL arithmetic (expireArgOrReply), and the engine applies the
 * condition (kv_expire), so the check and the change are one atomic step.
 */
#include "server.h"


/* EXPIRE key seconds [NX | XX | GT | LT] and its three siblings. */
static void expireGenericCommand(client *c, int argc, const char **argv, const size_t *lens,
                                 long long unit_ms, int absolute, const char *name)
{
	int64_t when;
	unsigned cond = 0;

	for (int j = 3; j < argc; j++) {
		if (argEq(argv[j], lens[j], "nx")) cond |= KV_EXPIRE_NX;
		else if (argEq(argv[j], lens[j], "xx")) cond |= KV_EXPIRE_XX;
		else if (argEq(argv[j], lens[j], "gt")) cond |= KV_EXPIRE_GT;
		else if (argEq(argv[j], lens[j], "lt")) cond |= KV_EXPIRE_LT;
		else {
			addReplyErrorFormat(&c->rb, "Unsupported option %s", argv[j]);
			return;
		}
	}
	if ((cond & KV_EXPIRE_NX) && (cond & (KV_EXPIRE_XX | KV_EXPIRE_GT | KV_EXPIRE_LT))) {
		addReplyError(&c->rb, "NX and XX, GT or LT options at the same time are not compatible");
		return;
	}
	if ((cond & KV_EXPIRE_GT) && (cond & KV_EXPIRE_LT)) {
		addReplyError(&c->rb, "GT and LT options at the same time are not compatible");
		return;
	}
	if (expireArgOrReply(c, argv[2], lens[2], unit_ms, absolute, 0, name, &when) != C_OK)
		return;
	int rc = kv_expire(c->db, argv[1], lens[1], when, cond);
	if (rc == KV_NOTFOUND || rc == KV_UNCHANGED) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, 1);
}

void expireCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	expireGenericCommand(c, argc, argv, lens, 1000, 0, "expire");
}

void pexpireCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	expireGenericCommand(c, argc, argv, lens, 1, 0, "pexpire");
}

void expireatCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	expireGenericCommand(c, argc, argv, lens, 1000, 1, "expireat");
}

void pexpireatCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	expireGenericCommand(c, argc, argv, lens, 1, 1, "pexpireat");
}

/* The shared body of TTL, PTTL, EXPIRETIME, PEXPIRETIME. */
static void ttlGenericCommand(client *c, const char **argv, const size_t *lens, int ms, int abs)
{
	int64_t at;
	int rc = kv_ttl(c->db, argv[1], lens[1], &at);
	if (rc == KV_NOTFOUND) {
		addReplyLongLong(&c->rb, -2);
		return;
	}
	if (replyKvError(c, rc))
		return;
	if (at == 0) {
		addReplyLongLong(&c->rb, -1);
		return;
	}
	if (abs) {
		addReplyLongLong(&c->rb, ms ? at : at / 1000);
		return;
	}
	addReplyLongLong(&c->rb, kv_ttl_remaining(at, kv_now_ms(), ms ? 1 : 1000));
}

void ttlCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	ttlGenericCommand(c, argv, lens, 0, 0);
}

void pttlCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	ttlGenericCommand(c, argv, lens, 1, 0);
}

void expiretimeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	ttlGenericCommand(c, argv, lens, 0, 1);
}

void pexpiretimeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	ttlGenericCommand(c, argv, lens, 1, 1);
}

/* PERSIST key */
void persistCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	pubsubRenameEvents(KV_EV_EXPIRE, "persist");
	int rc = kv_persist(c->db, argv[1], lens[1]);
	pubsubRenameEvents(0, NULL);
	if (rc == KV_NOTFOUND || rc == KV_UNCHANGED) {
		addReplyLongLong(&c->rb, 0);
		return;
	}
	if (replyKvError(c, rc))
		return;
	addReplyLongLong(&c->rb, 1);
}
