/*
 * notify.c -- NOTIFY for the changes a session makes, from the engine's change
 * hook.
 *
 * Usage:
 *     LISTEN kv_events;                                  -- in any session
 *     SET shardkv.notify_channel = 'kv_events';          -- in the writing session
 *     SELECT kv.set('cache', 'user:1', 'x');
 *     -- listeners get: NOTIFY kv_events, 'set cache user:1'
 *
 * HOW IT WORKS
 *   The engine calls the hook once per changed key, inside the engine call but
 *   after it released its locks.  The hook may not ERROR (that would longjmp out
 *   of the engine), so it only appends the event to a malloc'd queue and marks
 *   an overflow when it cannot.  At pre-commit the queue becomes NOTIFYs, which
 *   PostgreSQL delivers at commit as it always does; an abort drops the queue.
 *   The writes themselves are not transactional, so after a ROLLBACK the keys
 *   stay changed but nobody is told.
 *
 *   Payload: "<event> <namespace> <key>", event one of set, del, expire, incr,
 *   append, expired, evicted, flush, rename_from, rename_to.  A key that is not
 *   UTF-8 text is sent as \x and hex digits.  PostgreSQL drops duplicates within
 *   a transaction, and a payload must stay under 8000 bytes: longer ones are
 *   skipped and counted in a WARNING.
 */
#include "shardkv.h"

#include "access/xact.h"
#include "commands/async.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/guc.h"

char	   *shardkv_notify_channel = NULL;

#define MAX_QUEUED_EVENTS 100000
#define PAYLOAD_MAX 7999

/* One queued event: header, then namespace and key bytes. */
typedef struct QueuedEvent
{
	uint32		klen;
	uint8		nslen;
	uint8		event;
} QueuedEvent;

static char *queue = NULL;		/* malloc'd */
static size_t queue_len = 0;
static size_t queue_cap = 0;
static int	queue_events = 0;
static bool queue_overflow = false;
static int	queue_skipped = 0;	/* payload too long */
static bool hook_installed = false;

/* Called inside engine calls: no ERROR, no palloc. */
static void
notify_hook(void *ctx, const char *ns, const void *key, size_t klen, int event)
{
	size_t		nslen = strlen(ns);
	size_t		need = sizeof(QueuedEvent) + nslen + klen;
	QueuedEvent ev;

	(void) ctx;
	if (shardkv_notify_channel == NULL || shardkv_notify_channel[0] == '\0')
		return;
	if (queue_overflow)
		return;
	if (nslen > 255 || klen > PAYLOAD_MAX)
	{
		queue_skipped++;
		return;
	}
	if (kv_event_name(event) == NULL)
		return;
	if (queue_events >= MAX_QUEUED_EVENTS)
	{
		queue_overflow = true;
		return;
	}
	if (queue_len + need > queue_cap)
	{
		size_t		cap = Max(queue_cap * 2, queue_len + need + 4096);
		char	   *q = realloc(queue, cap);

		if (q == NULL)
		{
			queue_overflow = true;
			return;
		}
		queue = q;
		queue_cap = cap;
	}
	ev.klen = (uint32) klen;
	ev.nslen = (uint8) nslen;
	ev.event = (uint8) event;
	memcpy(queue + queue_len, &ev, sizeof(ev));
	memcpy(queue + queue_len + sizeof(ev), ns, nslen);
	memcpy(queue + queue_len + sizeof(ev) + nslen, key, klen);
	queue_len += need;
	queue_events++;
}

static void
queue_reset(void)
{
	queue_len = 0;
	queue_events = 0;
	queue_overflow = false;
	queue_skipped = 0;
	if (queue_cap > 1024 * 1024)
	{
		free(queue);
		queue = NULL;
		queue_cap = 0;
	}
}

static void
queue_send(void)
{
	size_t		off = 0;
	int			skipped = queue_skipped;
	StringInfoData buf;
	const char *channel = shardkv_notify_channel;

	if (queue_len == 0 && !queue_overflow && queue_skipped == 0)
		return;
	if (channel == NULL || channel[0] == '\0')
	{
		queue_reset();
		return;
	}
	initStringInfo(&buf);
	while (off < queue_len)
	{
		QueuedEvent ev;
		const char *ns,
				   *key;

		memcpy(&ev, queue + off, sizeof(ev));
		ns = queue + off + sizeof(ev);
		key = ns + ev.nslen;
		off += sizeof(ev) + ev.nslen + ev.klen;

		resetStringInfo(&buf);
		appendStringInfo(&buf, "%s %.*s ", kv_event_name(ev.event), (int) ev.nslen, ns);
		if (pg_verify_mbstr(PG_UTF8, key, (int) ev.klen, true) && GetDatabaseEncoding() == PG_UTF8)
			appendBinaryStringInfo(&buf, key, (int) ev.klen);
		else
		{
			uint32		i;

			appendStringInfoString(&buf, "\\x");
			for (i = 0; i < ev.klen; i++)
				appendStringInfo(&buf, "%02x", (unsigned char) key[i]);
		}
		if (buf.len > PAYLOAD_MAX)
		{
			skipped++;
			continue;
		}
		Async_Notify(channel, buf.data);
	}
	if (queue_overflow)
		Async_Notify(channel, "overflow");
	queue_reset();
	if (skipped > 0)
		ereport(WARNING,
				(errmsg("shardkv skipped %d notifications whose payload would exceed %d bytes",
						skipped, PAYLOAD_MAX)));
}

static void
notify_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			queue_send();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PRE_PREPARE:
			queue_reset();
			break;
		default:
			break;
	}
}

/* Once per backend, on first use of the store. */
void
shardkv_notify_install(kv_env *env)
{
	if (hook_installed)
		return;
	RegisterXactCallback(notify_xact_callback, NULL);
	kv_env_set_hook(env, notify_hook, NULL);
	hook_installed = true;
}

static bool
check_channel(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval && strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("A channel name has at most %d bytes.", NAMEDATALEN - 1);
		return false;
	}
	return true;
}

void
shardkv_notify_define_guc(void)
{
	DefineCustomStringVariable("shardkv.notify_channel",
							   "NOTIFY this channel, at commit, of every key this session changes; empty: off.",
							   "The payload is \"<event> <namespace> <key>\".",
							   &shardkv_notify_channel, "",
							   PGC_USERSET, 0, check_channel, NULL, NULL);
}
