/*
 * batch.c -- a pipeline's consecutive GETs and simple string writes as one
 * engine batch.
 *
 * WHICH COMMANDS
 *   GET key; SET key value, alone or with EX seconds / PX milliseconds; SETEX;
 *   PSETEX; DEL and UNLINK (up to CMD_BATCH keys); INCR; DECR; INCRBY; DECRBY.
 *   A command joins only when the normal handler would certainly run it as one
 *   engine call per key with no reply of its own before it: its arguments
 *   parse (an INCRBY increment, a positive expire time that the engine can
 *   hold; DECRBY of LLONG_MIN and anything else that would fail takes the
 *   normal path, which answers the error) and the client may run commands as
 *   is (commandMayBatch: not queueing a MULTI, replies on ...).  An expiring
 *   SET joins only while no generic keyspace events are wanted: the normal
 *   handler sends "expire" after the engine's "set", between two items of a
 *   batch.  MSET and MSETNX stay one all-or-nothing batch per command
 *   (t_string.c): in a best-effort batch another client could see half of one.
 *
 * HOW IT RUNS
 *   Each joining command adds its kv_op items (a DEL one per key) to one
 *   best-effort kv_batch, applied in request order: each item runs as its
 *   single-key call (kv_get, kv_set, kv_del, kv_incr) with its own status, and
 *   the engine prefetches the keys ahead, so the cache misses of random keys
 *   overlap.  Any other command, the end of the input and a protocol error
 *   flush the batch first, so replies stay in request order.  The keys and
 *   values point into the client's query buffer, which does not move while
 *   networking.c runs the commands of one read.
 *
 *   A batch with writes is one write command for the server's bookkeeping: one
 *   multiWriteBegin/End (WATCH's gate) and one aofCommandBegin/End, so the AOF
 *   logs its keys' final states (value, type, absolute expiry) as one record,
 *   which replays to the same state as one record per command.  The engine's
 *   change hook fires for each item in order, as the single calls do, so
 *   keyspace events and WATCH see every write.  Each command names itself in
 *   CLIENT LIST's cmd when it joins, counts in total_commands_processed when
 *   the batch runs (one atomic add per batch), and is answered
 *   as its handler would: a DEL the count of its keys that existed, or the
 *   first error of its keys (delCommand tries every key too).  A relative
 *   expiry becomes absolute when the batch runs, as the handler computes it
 *   when it runs.
 */
#include "server.h"
#include "aof.h"

#include <limits.h>
#include <string.h>

/* What a batched command is: it decides the reply of its ops. */
enum { BC_GET, BC_SET, BC_SETEX, BC_PSETEX, BC_SETX, BC_DEL, BC_INCR };

/* Lower-case ASCII name comparison of a command name of known length. */
static int nameIs(const char *name, size_t len, const char *lit, size_t litlen)
{
	if (len != litlen)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((name[i] | 0x20) != lit[i])
			return 0;
	return 1;
}
#define NAME_IS(lit) nameIs(name, len, lit, sizeof(lit) - 1)

/* An expire argument that expireArgOrReply would accept (positive, relative), in ms. */
static int ttlArg(const char *s, size_t len, long long unit_ms, int64_t *ttl_ms)
{
	long long v;
	int64_t at;
	if (!respParseLL(s, len, &v) || v <= 0 || v > LLONG_MAX / unit_ms)
		return 0;
	*ttl_ms = v * unit_ms;
	return kv_expiry_from_ttl_ms(*ttl_ms, &at) == KV_OK;
}

/* The events the normal SETEX path sends beside the engine's ("expire") are wanted. */
static int expireEventsOn(void)
{
	int f = atomic_load_explicit(&srv.notify_flags, memory_order_relaxed);
	return (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) && (f & NOTIFY_GENERIC);
}

static kv_op *addOp(cmdBatch *b, int cmd, int op, const char *key, size_t klen)
{
	kv_op *o = &b->ops[b->n];
	memset(o, 0, sizeof(*o));
	o->op = op;
	o->key = key;
	o->klen = klen;
	b->cmd[b->n] = (unsigned char)cmd;
	b->nkeys[b->n] = 1;
	b->writes |= op != KV_OP_GET;
	b->n++;
	return o;
}

static void addSet(cmdBatch *b, int cmd, const char *key, size_t klen, const char *val, size_t vlen,
                   int64_t ttl_ms)
{
	kv_op *o = addOp(b, cmd, KV_OP_SET, key, klen);
	o->val = val;
	o->vlen = vlen;
	o->type = KV_T_BYTES;
	o->expires_at = cmd == BC_SET ? KV_EXPIRE_DEFAULT : ttl_ms; /* made absolute at the flush */
}

int batchTryAdd(client *c, cmdBatch *b, int argc, const char **argv, const size_t *lens)
{
	const char *name = argv[0], *cmdname;
	size_t len = lens[0];
	int cmd;
	int64_t arg = 0;
	if (argc == 2 && NAME_IS("get")) {
		cmd = BC_GET, cmdname = "get";
	} else if (argc == 3 && NAME_IS("set")) {
		cmd = BC_SET, cmdname = "set";
	} else if (argc == 5 && NAME_IS("set") && (argEq(argv[3], lens[3], "ex") || argEq(argv[3], lens[3], "px"))) {
		cmd = BC_SETX, cmdname = "set";
		if (!ttlArg(argv[4], lens[4], (argv[3][0] | 0x20) == 'e' ? 1000 : 1, &arg))
			return 0;
	} else if (argc == 4 && NAME_IS("setex")) {
		cmd = BC_SETEX, cmdname = "setex";
		if (!ttlArg(argv[2], lens[2], 1000, &arg))
			return 0;
	} else if (argc == 4 && NAME_IS("psetex")) {
		cmd = BC_PSETEX, cmdname = "psetex";
		if (!ttlArg(argv[2], lens[2], 1, &arg))
			return 0;
	} else if (argc >= 2 && argc <= CMD_BATCH + 1 && (NAME_IS("del") || NAME_IS("unlink"))) {
		cmd = BC_DEL, cmdname = len == 3 ? "del" : "unlink";
	} else if (argc == 2 && (NAME_IS("incr") || NAME_IS("decr"))) {
		cmd = BC_INCR, cmdname = (name[0] | 0x20) == 'i' ? "incr" : "decr";
		arg = cmdname[0] == 'i' ? 1 : -1;
	} else if (argc == 3 && (NAME_IS("incrby") || NAME_IS("decrby"))) {
		long long by;
		cmd = BC_INCR, cmdname = (name[0] | 0x20) == 'i' ? "incrby" : "decrby";
		if (!respParseLL(argv[2], lens[2], &by) || (cmdname[0] == 'd' && by == LLONG_MIN))
			return 0;
		arg = cmdname[0] == 'i' ? by : -by;
	} else {
		return 0;
	}
	if (!commandMayBatch(c))
		return 0;
	if (cmd != BC_GET && aofWriteError())
		return 0; /* the normal path refuses it */
	if ((cmd == BC_SETX || cmd == BC_SETEX || cmd == BC_PSETEX) && expireEventsOn())
		return 0;
	size_t need = cmd == BC_DEL ? (size_t)argc - 1 : 1;
	if (b->n + need > CMD_BATCH)
		batchFlush(c, b);
	b->ncmds++;
	atomic_store_explicit(&c->last_cmd, cmdname, memory_order_relaxed);
	switch (cmd) {
	case BC_GET:
		addOp(b, cmd, KV_OP_GET, argv[1], lens[1]);
		break;
	case BC_SET:
	case BC_SETX:
		addSet(b, cmd, argv[1], lens[1], argv[2], lens[2], arg);
		break;
	case BC_SETEX:
	case BC_PSETEX:
		addSet(b, cmd, argv[1], lens[1], argv[3], lens[3], arg);
		break;
	case BC_INCR:
		addOp(b, cmd, KV_OP_INCR, argv[1], lens[1])->by = arg;
		break;
	case BC_DEL: {
		size_t first = b->n;
		for (int i = 1; i < argc; i++)
			addOp(b, cmd, KV_OP_DEL, argv[i], lens[i]);
		for (size_t i = first; i < b->n; i++)
			b->nkeys[i] = 0;
		b->nkeys[first] = (unsigned char)need;
		break;
	}
	}
	if (b->n == CMD_BATCH)
		batchFlush(c, b);
	return 1;
}

static const char *expireCmdName(int cmd)
{
	return cmd == BC_SETEX ? "setex" : cmd == BC_PSETEX ? "psetex" : "set";
}

/* The reply of the command whose ops are ops[0 .. nkeys), st their statuses. */
static void replyCommand(client *c, int cmd, const kv_op *ops, const int *st, size_t nkeys,
                         const kv_buf *arena)
{
	switch (cmd) {
	case BC_GET:
		if (st[0] == KV_OK) {
			countLookup(c, 1);
			/* an arena that only ever held empty values may still be NULL */
			addReplyBulk(&c->rb, ops[0].out_len ? arena->data + ops[0].out_off : "", ops[0].out_len);
		} else if (st[0] == KV_NOTFOUND) {
			countLookup(c, 0);
			addReplyNull(&c->rb);
		} else {
			replyKvError(c, st[0]);
		}
		break;
	case BC_SET:
	case BC_SETX:
	case BC_SETEX:
	case BC_PSETEX:
		if (st[0] == KV_OK)
			addReplyStatus(&c->rb, "OK");
		else if (st[0] == KV_EINVAL && cmd != BC_SET) /* the time ran past KV_EXPIRES_MAX */
			addReplyErrorFormat(&c->rb, "invalid expire time in '%s' command", expireCmdName(cmd));
		else if (!replyKvError(c, st[0]))
			addReplyNull(&c->rb);
		break;
	case BC_INCR:
		if (!replyKvError(c, st[0]))
			addReplyLongLong(&c->rb, ops[0].out_int);
		break;
	case BC_DEL: {
		long long n = 0;
		for (size_t i = 0; i < nkeys; i++) {
			if (st[i] == KV_OK)
				n++;
			else if (st[i] != KV_NOTFOUND && replyKvError(c, st[i]))
				return;
		}
		addReplyLongLong(&c->rb, n);
		break;
	}
	}
}

/* The AOF cannot take writes: each write command is refused as commandExecute
 * refuses it, each GET still runs. */
static void refuseWrites(client *c, cmdBatch *b, size_t n)
{
	for (size_t i = 0; i < n; i += b->nkeys[i]) {
		if (b->cmd[i] == BC_GET) {
			const char *argv[2] = {"get", b->ops[i].key};
			size_t lens[2] = {3, b->ops[i].klen};
			getCommand(c, 2, argv, lens);
		} else {
			aofReplyMisconf(&c->rb);
		}
	}
}

void batchFlush(client *c, cmdBatch *b)
{
	size_t n = b->n;
	int writes = b->writes;
	if (n == 0)
		return;
	/* one locked add per batch, before any reply can let a client read INFO */
	atomic_fetch_add_explicit(&c->w->stat_commands, b->ncmds, memory_order_relaxed);
	b->n = 0;
	b->writes = 0;
	b->ncmds = 0;
	if (n == 1 && !writes) { /* one GET: no batch bookkeeping */
		const char *argv[2] = {"get", b->ops[0].key};
		size_t lens[2] = {3, b->ops[0].klen};
		getCommand(c, 2, argv, lens);
		return;
	}
	if (writes && aofWriteError()) {
		refuseWrites(c, b, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int cmd = b->cmd[i];
		if ((cmd == BC_SETX || cmd == BC_SETEX || cmd == BC_PSETEX) &&
		    kv_expiry_from_ttl_ms(b->ops[i].expires_at, &b->ops[i].expires_at) != KV_OK)
			b->ops[i].expires_at = KV_EXPIRES_MAX + 1; /* the engine refuses it: KV_EINVAL */
	}
	kv_buf *arena = &c->w->buf;
	kv_error err;
	int gated = 0;
	if (writes) {
		gated = multiWriteBegin(c->w);
		aofCommandBegin();
	}
	int rc = kv_batch(c->db, b->ops, n, KV_BATCH_BEST_EFFORT, arena, &err);
	if (writes) {
		aofCommandEnd();
		multiWriteEnd(c->w, gated);
	}
	int st[CMD_BATCH];
	for (size_t i = 0; i < n; i++)
		st[i] = rc == KV_OK ? b->ops[i].status : rc;
	for (size_t i = 0; i < n; i += b->nkeys[i])
		replyCommand(c, b->cmd[i], &b->ops[i], &st[i], b->nkeys[i], arena);
	if (writes)
		blockingServeReady(c->w); /* as after every command (strings fill no waiter today) */
}
