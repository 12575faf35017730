/*
 * pubsub.c -- channels, patterns, PUBLISH delivery across worker threads, and
 * keyspace notifications fed by the engine's change hook.
 *
 * HOW IT WORKS
 *   One registry, guarded by one mutex (pubsub is not on the GET/SET path):
 *   a hash of channel entries and a list of pattern entries, each with the
 *   clients subscribed to it; every client also points back at its entries.
 *   A message for a client owned by another worker is encoded for that client's
 *   protocol, appended to its mailbox (mbox_lock) and the worker is woken; the
 *   worker appends the mailbox to the client's replies and writes them.  A
 *   client that is closing first leaves the registry (dead = 1, under the
 *   registry lock), so no delivery can reach a freed client.
 *
 *   Glob patterns are matched with no lock held: a PUBLISH (or PUBSUB
 *   CHANNELS) takes a reference on every entry it must match, matches outside
 *   the registry lock, then delivers under it.  A referenced entry is not freed
 *   even when its last subscriber leaves, so its name stays valid.  A hostile
 *   pattern against a long channel name therefore costs only the publisher's
 *   worker, never the other workers' SUBSCRIBE, PUBLISH, keyspace events or
 *   closing clients.
 *
 *   Lock order: registry lock, then a client's mbox_lock, then a worker's lock.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

typedef struct subEntry {
	struct subEntry *next;   /* hash chain, or pattern list */
	char            *name;
	size_t           len;
	client         **subs;
	size_t           n, cap;
	size_t           refs;   /* publishers matching it outside the lock */
} subEntry;

#define CHAN_BUCKETS 4096

static pthread_mutex_t regLock = PTHREAD_MUTEX_INITIALIZER;
static subEntry *channels[CHAN_BUCKETS];
static subEntry *patterns;
static size_t nchannels, npatterns;

static uint32_t chanHash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h & (CHAN_BUCKETS - 1);
}

static subEntry *findEntry(subEntry *list, const char *name, size_t len)
{
	for (; list; list = list->next)
		if (list->len == len && memcmp(list->name, name, len) == 0)
			return list;
	return NULL;
}

static int arrPush(void ***arr, size_t *n, size_t *cap, void *item)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		void **na = realloc(*arr, ncap * sizeof(void *));
		if (na == NULL)
			return -1;
		*arr = na;
		*cap = ncap;
	}
	(*arr)[(*n)++] = item;
	return 0;
}

static void arrRemove(void **arr, size_t *n, void *item)
{
	for (size_t i = 0; i < *n; i++)
		if (arr[i] == item) {
			arr[i] = arr[--*n];
			return;
		}
}

size_t pubsubSubscriptionCount(client *c)
{
	return c->nchannels + c->npatterns;
}

/* Subscribe c to a channel (pattern != 0: a pattern).  1 added, 0 already, -1 oom. */
static int subscribeLocked(client *c, const char *name, size_t len, int pattern)
{
	subEntry **head = pattern ? &patterns : &channels[chanHash(name, len)];
	subEntry *e = findEntry(*head, name, len);
	if (e) {
		for (size_t i = 0; i < e->n; i++)
			if (e->subs[i] == c)
				return 0;
	} else {
		e = calloc(1, sizeof(*e));
		if (e == NULL || (e->name = malloc(len + 1)) == NULL) {
			free(e);
			return -1;
		}
		memcpy(e->name, name, len);
		e->name[len] = '\0';
		e->len = len;
		e->next = *head;
		*head = e;
		if (pattern)
			npatterns++;
		else
			nchannels++;
	}
	if (arrPush((void ***)&e->subs, &e->n, &e->cap, c) != 0)
		return -1;
	int rc = pattern ? arrPush(&c->patterns, &c->npatterns, &c->cappatterns, e)
	                 : arrPush(&c->channels, &c->nchannels, &c->capchannels, e);
	if (rc != 0) {
		arrRemove((void **)e->subs, &e->n, c);
		return -1;
	}
	return 1;
}

static void freeEntryIfEmpty(subEntry *e, int pattern)
{
	if (e->n || e->refs)
		return;
	subEntry **pp = pattern ? &patterns : &channels[chanHash(e->name, e->len)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	if (pattern)
		npatterns--;
	else
		nchannels--;
	free(e->subs);
	free(e->name);
	free(e);
}

/* Unsubscribe c from an entry it holds. */
static void unsubscribeEntryLocked(client *c, subEntry *e, int pattern)
{
	arrRemove((void **)e->subs, &e->n, c);
	if (pattern)
		arrRemove(c->patterns, &c->npatterns, e);
	else
		arrRemove(c->channels, &c->nchannels, e);
	freeEntryIfEmpty(e, pattern);
}

static void replySubscription(client *c, const char *kind, const char *name, size_t len)
{
	addReplyPushLen(&c->rb, 3);
	addReplyBulkCString(&c->rb, kind);
	if (name)
		addReplyBulk(&c->rb, name, len);
	else
		addReplyNull(&c->rb);
	addReplyLongLong(&c->rb, (long long)(c->nchannels + c->npatterns));
}

static void subscribeGeneric(client *c, int argc, const char **argv, const size_t *lens, int pattern)
{
	pthread_mutex_lock(&regLock);
	for (int i = 1; i < argc; i++) {
		if (subscribeLocked(c, argv[i], lens[i], pattern) < 0) {
			pthread_mutex_unlock(&regLock);
			replyKvError(c, KV_ENOMEM);
			return;
		}
		replySubscription(c, pattern ? "psubscribe" : "subscribe", argv[i], lens[i]);
	}
	pthread_mutex_unlock(&regLock);
}

static void unsubscribeGeneric(client *c, int argc, const char **argv, const size_t *lens, int pattern)
{
	const char *kind = pattern ? "punsubscribe" : "unsubscribe";
	pthread_mutex_lock(&regLock);
	if (argc == 1) {
		void **arr = pattern ? c->patterns : c->channels;
		size_t *n = pattern ? &c->npatterns : &c->nchannels;
		if (*n == 0)
			replySubscription(c, kind, NULL, 0);
		while (*n) {
			subEntry *e = arr[*n - 1];
			/* reply after the removal, with the name copied first */
			char *name = malloc(e->len + 1);
			size_t len = e->len;
			if (name)
				memcpy(name, e->name, len);
			unsubscribeEntryLocked(c, e, pattern);
			replySubscription(c, kind, name ? name : "", name ? len : 0);
			free(name);
		}
	} else {
		for (int i = 1; i < argc; i++) {
			subEntry *head = pattern ? patterns : channels[chanHash(argv[i], lens[i])];
			subEntry *e = findEntry(head, argv[i], lens[i]);
			if (e) {
				for (size_t k = 0; k < e->n; k++)
					if (e->subs[k] == c) {
						unsubscribeEntryLocked(c, e, pattern);
						break;
					}
			}
			replySubscription(c, kind, argv[i], lens[i]);
		}
	}
	pthread_mutex_unlock(&regLock);
}

void pubsubUnsubscribeAll(client *c, int notify, int closing)
{
	pthread_mutex_lock(&regLock);
	while (c->nchannels) {
		subEntry *e = c->channels[c->nchannels - 1];
		if (notify)
			replySubscription(c, "unsubscribe", e->name, e->len);
		unsubscribeEntryLocked(c, e, 0);
	}
	while (c->npatterns) {
		subEntry *e = c->patterns[c->npatterns - 1];
		if (notify)
			replySubscription(c, "punsubscribe", e->name, e->len);
		unsubscribeEntryLocked(c, e, 1);
	}
	if (closing) {
		/* never deliver again */
		c->dead = 1;
		free(c->channels);
		free(c->patterns);
		c->channels = c->patterns = NULL;
		c->capchannels = c->cappatterns = 0;
	}
	pthread_mutex_unlock(&regLock);
}

/* SUBSCRIBE channel [channel ...] */
void subscribeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	subscribeGeneric(c, argc, argv, lens, 0);
}

/* PSUBSCRIBE pattern [pattern ...] */
void psubscribeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	subscribeGeneric(c, argc, argv, lens, 1);
}

/* UNSUBSCRIBE [channel [channel ...]] */
void unsubscribeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	unsubscribeGeneric(c, argc, argv, lens, 0);
}

/* PUNSUBSCRIBE [pattern [pattern ...]] */
void punsubscribeCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	unsubscribeGeneric(c, argc, argv, lens, 1);
}

/* Deliver one encoded message to target (registry lock held). */
static void deliverLocked(client *target, client *self, const replyBuf *enc2, const replyBuf *enc3)
{
	int resp = target == self ? self->rb.resp : atomic_load_explicit(&target->info_resp, memory_order_relaxed);
	const replyBuf *enc = resp >= 3 ? enc3 : enc2;
	if (target->dead)
		return;
	if (target == self) {
		addReplyRaw(&self->rb, enc->buf, enc->len);
		return;
	}
	mailMsg *m = malloc(sizeof(*m) + enc->len);
	if (m == NULL)
		return;
	m->next = NULL;
	m->len = enc->len;
	memcpy(m->data, enc->buf, enc->len);
	pthread_mutex_lock(&target->mbox_lock);
	if (target->mbox_bytes + enc->len > atomic_load(&srv.obuf_limit)) {
		target->mbox_overflow = 1;
		free(m);
	} else {
		if (target->mbox_tail)
			target->mbox_tail->next = m;
		else
			target->mbox_head = m;
		target->mbox_tail = m;
		target->mbox_bytes += enc->len;
	}
	pthread_mutex_unlock(&target->mbox_lock);
	workerNotifyMail(target);
}

/*
 * Take a reference on every entry of a list (registry lock held) into *out
 * (stack when it fits, else allocated); returns how many, or -1 out of memory.
 */
#define REF_STACK 32
static long refEntries(subEntry *list, subEntry **stack, subEntry ***out)
{
	size_t n = 0;
	for (subEntry *e = list; e; e = e->next)
		n++;
	subEntry **arr = n <= REF_STACK ? stack : malloc(n * sizeof(*arr));
	if (arr == NULL)
		return -1;
	n = 0;
	for (subEntry *e = list; e; e = e->next) {
		e->refs++;
		arr[n++] = e;
	}
	*out = arr;
	return (long)n;
}

/* Drop references taken by refEntries (registry lock held). */
static void unrefEntries(subEntry **arr, size_t n, subEntry **stack, int pattern)
{
	for (size_t i = 0; i < n; i++) {
		arr[i]->refs--;
		freeEntryIfEmpty(arr[i], pattern);
	}
	if (arr != stack)
		free(arr);
}

/* Publish to channel subscribers and matching patterns; returns receivers. */
static long long publishMessage(client *self, const char *chan, size_t clen, const char *msg, size_t mlen)
{
	long long receivers = 0;
	replyBuf e2, e3;
	replyInit(&e2);
	replyInit(&e3);
	e3.resp = 3;
	subEntry *stack[REF_STACK], **pats = NULL;
	unsigned char matched[REF_STACK], *hit = matched;

	pthread_mutex_lock(&regLock);
	subEntry *e = findEntry(channels[chanHash(chan, clen)], chan, clen);
	if (e && e->n) {
		addReplyPubsubMessage(&e2, "message", NULL, 0, chan, clen, msg, mlen);
		addReplyPubsubMessage(&e3, "message", NULL, 0, chan, clen, msg, mlen);
		if (!e2.oom && !e3.oom)
			for (size_t i = 0; i < e->n; i++) {
				deliverLocked(e->subs[i], self, &e2, &e3);
				receivers++;
			}
	}
	long np = patterns ? refEntries(patterns, stack, &pats) : 0;
	pthread_mutex_unlock(&regLock);

	/* match with no lock held (names of referenced entries do not change) */
	if (np > REF_STACK && (hit = malloc((size_t)np)) == NULL)
		np = -1;
	for (long i = 0; i < np; i++)
		hit[i] = (unsigned char)kv_glob_match(pats[i]->name, pats[i]->len, chan, clen, 0);

	pthread_mutex_lock(&regLock);
	for (long i = 0; i < np; i++) {
		subEntry *p = pats[i];
		if (!hit[i] || p->n == 0 || e2.oom || e3.oom)
			continue;
		e2.len = e3.len = 0;
		addReplyPubsubMessage(&e2, "pmessage", p->name, p->len, chan, clen, msg, mlen);
		addReplyPubsubMessage(&e3, "pmessage", p->name, p->len, chan, clen, msg, mlen);
		if (e2.oom || e3.oom)
			break;
		for (size_t k = 0; k < p->n; k++) {
			deliverLocked(p->subs[k], self, &e2, &e3);
			receivers++;
		}
	}
	if (pats)
		unrefEntries(pats, np < 0 ? 0 : (size_t)np, stack, 1);
	pthread_mutex_unlock(&regLock);
	if (hit != matched)
		free(hit);
	replyFree(&e2);
	replyFree(&e3);
	return receivers;
}

/* PUBLISH channel message */
void publishCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	(void)argc;
	addReplyLongLong(&c->rb, publishMessage(c, argv[1], lens[1], argv[2], lens[2]));
}

/* PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP */
void pubsubCommand(client *c, int argc, const char **argv, const size_t *lens)
{
	if (argEq(argv[1], lens[1], "channels")) {
		if (argc > 3) {
			replyArity(c, "pubsub|channels");
			return;
		}
		replyBuf tmp;
		replyInit(&tmp);
		tmp.resp = c->rb.resp;
		long long n = 0;
		/* reference every channel, then match with no lock held */
		pthread_mutex_lock(&regLock);
		size_t nch = 0, k = 0;
		for (size_t b = 0; b < CHAN_BUCKETS; b++)
			for (subEntry *e = channels[b]; e; e = e->next)
				nch += e->n > 0;
		subEntry **all = malloc((nch ? nch : 1) * sizeof(*all));
		if (all)
			for (size_t b = 0; b < CHAN_BUCKETS; b++)
				for (subEntry *e = channels[b]; e; e = e->next)
					if (e->n) {
						e->refs++;
						all[k++] = e;
					}
		pthread_mutex_unlock(&regLock);
		if (all == NULL) {
			replyFree(&tmp);
			replyKvError(c, KV_ENOMEM);
			return;
		}
		for (size_t i = 0; i < k; i++)
			if (argc == 2 || kv_glob_match(argv[2], lens[2], all[i]->name, all[i]->len, 0)) {
				addReplyBulk(&tmp, all[i]->name, all[i]->len);
				n++;
			}
		pthread_mutex_lock(&regLock);
		unrefEntries(all, k, NULL, 0);
		pthread_mutex_unlock(&regLock);
		addReplyArrayLen(&c->rb, n);
		addReplyRaw(&c->rb, tmp.buf, tmp.len);
		replyFree(&tmp);
	} else if (argEq(argv[1], lens[1], "numsub")) {
		addReplyArrayLen(&c->rb, (argc - 2) * 2); /* a flat array in RESP3 too, as Redis */
		pthread_mutex_lock(&regLock);
		for (int i = 2; i < argc; i++) {
			subEntry *e = findEntry(channels[chanHash(argv[i], lens[i])], argv[i], lens[i]);
			addReplyBulk(&c->rb, argv[i], lens[i]);
			addReplyLongLong(&c->rb, e ? (long long)e->n : 0);
		}
		pthread_mutex_unlock(&regLock);
	} else if (argEq(argv[1], lens[1], "numpat")) {
		if (argc != 2) {
			replyArity(c, "pubsub|numpat");
			return;
		}
		addReplyLongLong(&c->rb, (long long)pubsubNumPatterns());
	} else if (argEq(argv[1], lens[1], "help")) {
		static const char *help[] = {
			"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"CHANNELS [<pattern>]",
			"    Return the currently active channels matching a <pattern> (default: '*').",
			"NUMPAT",
			"    Return number of subscriptions to patterns.",
			"NUMSUB [<channel> ...]",
			"    Return the number of subscribers for the specified channels, excluding",
			"    pattern subscriptions(default: no channels).",
			"HELP",
			"    Print this help.",
		};
		addReplyStatusArray(&c->rb, help, sizeof(help) / sizeof(help[0]));
	} else {
		addReplyErrorFormat(&c->rb, "unknown subcommand '%.128s'. Try PUBSUB HELP.", argv[1]);
	}
}

size_t pubsubNumChannels(void)
{
	pthread_mutex_lock(&regLock);
	size_t n = nchannels;
	pthread_mutex_unlock(&regLock);
	return n;
}

size_t pubsubNumPatterns(void)
{
	pthread_mutex_lock(&regLock);
	size_t n = 0;
	for (subEntry *p = patterns; p; p = p->next)
		n += p->n;
	pthread_mutex_unlock(&regLock);
	return n;
}

void pubsubDrainMailbox(client *c)
{
	pthread_mutex_lock(&c->mbox_lock);
	mailMsg *m = c->mbox_head;
	/* the bytes move from the mailbox to the reply buffer: count them in
	 * info_obl before the mailbox forgets them, so a producer that checks
	 * mbox_bytes + info_obl against the limit (http_feed.c) never sees them
	 * in neither (only the owner stores info_obl) */
	atomic_fetch_add_explicit(&c->info_obl, c->mbox_bytes, memory_order_relaxed);
	c->mbox_head = c->mbox_tail = NULL;
	c->mbox_bytes = 0;
	pthread_mutex_unlock(&c->mbox_lock);
	while (m) {
		mailMsg *next = m->next;
		addReplyRaw(&c->rb, m->data, m->len);
		free(m);
		m = next;
	}
}

/* ------------------------------------------------------ keyspace notifications */

/*
 * Every engine event's Redis name and notify-keyspace-events class, in one
 * table (kv.h KV_EV_*).  A collection emptied by its op gets its own event,
 * then KV_EV_DEL ("del", class g), as Redis sends them.  KV_EV_FLUSH has none
 * (Redis sends no per-key event for FLUSHDB).
 */
static const struct {
	const char *name;
	int         cls;
} eventTable[] = {
	[KV_EV_SET]              = {"set", NOTIFY_STRING},
	[KV_EV_DEL]              = {"del", NOTIFY_GENERIC},
	[KV_EV_EXPIRE]           = {"expire", NOTIFY_GENERIC},
	[KV_EV_INCR]             = {"incrby", NOTIFY_STRING},
	[KV_EV_APPEND]           = {"append", NOTIFY_STRING},
	[KV_EV_EXPIRED]          = {"expired", NOTIFY_EXPIRED},
	[KV_EV_EVICTED]          = {"evicted", NOTIFY_EVICTED},
	[KV_EV_RENAME_FROM]      = {"rename_from", NOTIFY_GENERIC},
	[KV_EV_RENAME_TO]        = {"rename_to", NOTIFY_GENERIC},
	[KV_EV_HSET]             = {"hset", NOTIFY_HASH},
	[KV_EV_HDEL]             = {"hdel", NOTIFY_HASH},
	[KV_EV_HINCRBY]          = {"hincrby", NOTIFY_HASH},
	[KV_EV_HINCRBYFLOAT]     = {"hincrbyfloat", NOTIFY_HASH},
	[KV_EV_SADD]             = {"sadd", NOTIFY_SET},
	[KV_EV_SREM]             = {"srem", NOTIFY_SET},
	[KV_EV_SPOP]             = {"spop", NOTIFY_SET},
	[KV_EV_SINTERSTORE]      = {"sinterstore", NOTIFY_SET},
	[KV_EV_SUNIONSTORE]      = {"sunionstore", NOTIFY_SET},
	[KV_EV_SDIFFSTORE]       = {"sdiffstore", NOTIFY_SET},
	[KV_EV_ZADD]             = {"zadd", NOTIFY_ZSET},
	[KV_EV_ZINCR]            = {"zincr", NOTIFY_ZSET},
	[KV_EV_ZREM]             = {"zrem", NOTIFY_ZSET},
	[KV_EV_ZREMRANGEBYSCORE] = {"zremrangebyscore", NOTIFY_ZSET},
	[KV_EV_ZREMRANGEBYRANK]  = {"zremrangebyrank", NOTIFY_ZSET},
	[KV_EV_ZREMRANGEBYLEX]   = {"zremrangebylex", NOTIFY_ZSET},
	[KV_EV_ZPOPMIN]          = {"zpopmin", NOTIFY_ZSET},
	[KV_EV_ZPOPMAX]          = {"zpopmax", NOTIFY_ZSET},
	[KV_EV_ZINTERSTORE]      = {"zinterstore", NOTIFY_ZSET},
	[KV_EV_ZUNIONSTORE]      = {"zunionstore", NOTIFY_ZSET},
	[KV_EV_ZDIFFSTORE]       = {"zdiffstore", NOTIFY_ZSET},
	[KV_EV_ZRANGESTORE]      = {"zrangestore", NOTIFY_ZSET},
	[KV_EV_LPUSH]            = {"lpush", NOTIFY_LIST},
	[KV_EV_RPUSH]            = {"rpush", NOTIFY_LIST},
	[KV_EV_LPOP]             = {"lpop", NOTIFY_LIST},
	[KV_EV_RPOP]             = {"rpop", NOTIFY_LIST},
	[KV_EV_LINSERT]          = {"linsert", NOTIFY_LIST},
	[KV_EV_LSET]             = {"lset", NOTIFY_LIST},
	[KV_EV_LREM]             = {"lrem", NOTIFY_LIST},
	[KV_EV_LTRIM]            = {"ltrim", NOTIFY_LIST},
};

/* Event name and notify class of an engine event (NULL: not notified). */
static const char *eventName(int event, int *cls)
{
	if (event < 0 || (size_t)event >= sizeof(eventTable) / sizeof(eventTable[0]) ||
	    eventTable[event].name == NULL)
		return NULL;
	*cls = eventTable[event].cls;
	return eventTable[event].name;
}

/*
 * The engine's events are coarser than Redis's in a few places (PERSIST is an
 * expiry change, SETRANGE a set, INCRBYFLOAT an increment).  The command that
 * knows better names its event for the calls it makes, in this thread only.
 */
static _Thread_local int evRenameFrom, evRenameFrom2;
static _Thread_local const char *evRenameTo, *evRenameTo2;

void pubsubRenameEvents(int event, const char *name)
{
	pubsubRenameEvents2(event, name, 0, NULL);
}

/* Two renames at once (MOVE: del -> move_from, set -> move_to). */
void pubsubRenameEvents2(int event, const char *name, int event2, const char *name2)
{
	evRenameFrom = event;
	evRenameTo = name;
	evRenameFrom2 = event2;
	evRenameTo2 = name2;
}

static void notifyEvent(int flags, const char *ns, const void *key, size_t klen, const char *ev)
{
	size_t nslen = strlen(ns), evlen = strlen(ev);
	size_t cap = 32 + nslen + (klen > evlen ? klen : evlen);
	char stackbuf[512];
	char *chan = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
	if (chan == NULL)
		return;
	if (flags & NOTIFY_KEYSPACE) {
		int n = snprintf(chan, cap, "__keyspace@%s__:", ns);
		memcpy(chan + n, key, klen);
		publishMessage(NULL, chan, (size_t)n + klen, ev, evlen);
	}
	if (flags & NOTIFY_KEYEVENT) {
		int n = snprintf(chan, cap, "__keyevent@%s__:%s", ns, ev);
		publishMessage(NULL, chan, (size_t)n, key, klen);
	}
	if (chan != stackbuf)
		free(chan);
}

void pubsubKeyspaceHook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	(void)ctx;
	int flags = atomic_load_explicit(&srv.notify_flags, memory_order_relaxed);
	if (!(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)))
		return;
	int cls = 0;
	const char *ev = eventName(event, &cls);
	if (ev == NULL || !(flags & cls))
		return;
	if (evRenameTo && event == evRenameFrom)
		ev = evRenameTo;
	else if (evRenameTo2 && event == evRenameFrom2)
		ev = evRenameTo2;
	notifyEvent(flags, ns, key, klen, ev);
}

void pubsubNotifyGeneric(client *c, const void *key, size_t klen, const char *ev)
{
	int flags = atomic_load_explicit(&srv.notify_flags, memory_order_relaxed);
	if (!(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) || !(flags & NOTIFY_GENERIC))
		return;
	notifyEvent(flags, c->dbname, key, klen, ev);
}
