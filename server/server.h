/*
 * server.h -- the single internal header of shardkv-server.
 *
 * HOW IT WORKS
 *   main.c parses the configuration (config.c), opens the engine, loads the
 *   snapshot (persist.c) and starts `threads` worker threads (networking.c).  The
 *   main thread owns the listening socket, signals (signalfd) and a 100 ms timer:
 *   it accepts connections and hands each to the worker with the fewest clients;
 *   on every tick it drives kv_tick() (expiry sweep, autosave rules), and every
 *   second it asks the workers to close idle clients.
 *
 *   Each worker runs its own epoll loop over its clients (networking.c).  A read
 *   appends to the client's query buffer; every complete command in it is parsed
 *   (resp.c, socket-free so it can be fuzzed), looked up in the command table
 *   (commands.c) and executed in order (runs of GETs and string writes as one engine
 *   batch, batch.c); replies accumulate in the client's reply buffer
 *   (reply.c) and are written once per read, so a pipeline is answered with
 *   few writes.  There is no global lock on the request path: commands call
 *   the engine directly and its shard locks do the rest.
 *
 *   Pub/sub (pubsub.c) is the one shared structure: a mutex-guarded channel and
 *   pattern registry.  A PUBLISH from any thread appends the message to each
 *   receiver's mailbox (a per-client mutex) and wakes the receiver's worker via
 *   its eventfd; only the owning worker ever writes to a socket.
 */
#ifndef SHARDKV_SERVER_H
#define SHARDKV_SERVER_H

#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "resp.h"
#include "reply.h"

#define SHARDKV_SERVER_VERSION "0.1.0"
#define REDIS_COMPAT_VERSION   "7.0.15" /* what INFO/HELLO report as redis_version */

#define C_OK  0
#define C_ERR (-1)

#define NUM_DBS 16 /* namespaces "0".."15" created at start */

/* ------------------------------------------------------------- config */
typedef struct serverConfig {
	int      port;
	char     bind[256];
	char     dir[1024];
	char     dbfilename[256];
	char     enable_protected_configs[8]; /* no | yes | local: may CONFIG SET change dir, dbfilename */
	char     enable_debug_command[8];     /* no | yes | local: may clients run DEBUG (t_object.c) */
	char     requirepass[512];
	int      maxclients;
	int      timeout;            /* idle seconds, 0 = never */
	uint64_t maxmemory;          /* bytes per namespace, 0 = no limit */
	int      maxmemory_policy;   /* KV_EVICT_* */
	char     loglevel[16];
	int      threads;
	int      busy_poll_us;       /* a worker polls this long after work before it sleeps */
	uint64_t proto_max_bulk_len;
	uint64_t client_query_buffer_limit;
	uint64_t client_output_buffer_limit; /* bytes of pending replies before the client is dropped */
	kv_save_rule save_rules[16];
	size_t   nsave_rules;
	char     notify_keyspace_events[32];
	int      notify_flags;       /* parsed form of notify_keyspace_events */
	uint64_t memory;             /* engine region bytes (0: engine default) */
	char     logfile[1024];      /* "" = stderr */
	int      http_port;          /* HTTP door (http.h); 0 = off */
	char     http_bind[256];
	int      http_request_timeout; /* seconds a request may take to arrive */
	/* append-only file (aof.c) */
	int      appendonly;
	char     appendfsync[16];
	char     appenddirname[256];
	int      aof_load_truncated;
	int      auto_aof_rewrite_percentage;
	uint64_t auto_aof_rewrite_min_size;
	/* TLS (tls.c) */
	int      tls_port;
	char     tls_cert_file[1024];
	char     tls_key_file[1024];
	char     tls_ca_cert_file[1024];
	char     tls_auth_clients[16];
	char     tls_protocols[64];
} serverConfig;

/* notify-keyspace-events flags */
#define NOTIFY_KEYSPACE (1 << 0) /* K */
#define NOTIFY_KEYEVENT (1 << 1) /* E */
#define NOTIFY_GENERIC  (1 << 2) /* g */
#define NOTIFY_STRING   (1 << 3) /* $ */
#define NOTIFY_EXPIRED  (1 << 4) /* x */
#define NOTIFY_EVICTED  (1 << 5) /* e */
#define NOTIFY_NEW      (1 << 6) /* n (accepted, never emitted) */
#define NOTIFY_LIST     (1 << 7) /* l */
#define NOTIFY_SET      (1 << 8) /* s */
#define NOTIFY_HASH     (1 << 9) /* h */
#define NOTIFY_ZSET     (1 << 10) /* z */
#define NOTIFY_ALL      (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | \
                         NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED) /* A */

void configInitDefaults(serverConfig *cfg);
/* Parse argv (flags, an optional config file first).  On error prints and returns C_ERR. */
int configParseArgs(serverConfig *cfg, int argc, char **argv);
int configParseNotifyFlags(const char *s, int *out);
void configPublish(void);
int configApplyMemory(void);
void configUsage(FILE *out);

/* ------------------------------------------------------------- clients */
struct worker;
struct client;

/*
 * A command whose work depends on the data (KEYS over a million keys) runs as a
 * job: its worker runs it in slices of about JOB_SLICE_US between its other
 * clients, and the client's later pipelined commands wait until it is done.
 * step returns 1 when the job has replied and is finished; free releases it
 * (also when the client is closed or the server stops mid-job).
 */
typedef struct clientJob {
	int  (*step)(struct client *c, struct clientJob *job, int64_t deadline_us);
	void (*free)(struct clientJob *job);
} clientJob;
#define JOB_SLICE_US 2000

typedef struct mailMsg {
	struct mailMsg *next;
	size_t          len;
	char            data[]; /* an encoded reply, ready to append */
} mailMsg;

typedef struct client {
	uint64_t       id;
	int            fd;
	struct worker *w;
	struct client *prev, *next; /* the worker's client list */

	/* input */
	char          *qbuf;
	size_t         qlen, qcap;
	size_t         qpos;        /* start of the command being parsed */
	respParser     parser;

	/* output */
	replyBuf       rb;
	size_t         sentpos;     /* bytes of rb already written */

	/* state */
	kv_ns         *db;          /* current namespace */
	char           dbname[KV_NS_NAME_MAX + 1];
	int            authenticated;
	int            close_after_reply;
	uint32_t       events;      /* the epoll interest registered now */
	char           name[128];
	char           addr[64];
	int64_t        ctime_ms;
	_Atomic int64_t last_ms;    /* last interaction */
	/* read by other threads (CLIENT LIST, PUBLISH): relaxed atomic copies */
	_Atomic(const char *) last_cmd;
	_Atomic size_t info_qbuf, info_obl, info_sub, info_psub;
	_Atomic int    info_resp;

	/* pub/sub: guarded by the pubsub registry lock */
	size_t         nchannels, npatterns;
	size_t         capchannels, cappatterns;
	void         **channels, **patterns; /* the registry's entries (pubsub.c) */
	/* mailbox: guarded by mbox_lock, written by any thread */
	pthread_mutex_t mbox_lock;
	mailMsg        *mbox_head, *mbox_tail;
	size_t         mbox_bytes;
	_Atomic int    mbox_overflow;
	clientJob     *job;         /* the command still running (owner thread only) */
	int            dead;        /* guarded by the registry lock: no more deliveries */
	int            mail_pending; /* guarded by the worker's lock: in w->mail_clients */
	struct httpConn *http;      /* set for clients of the HTTP port (http.h) */
	/* replies held until their AOF records are written/synced (networking.c) */
	int            aof_held;
	uint64_t       aof_lsn;
	size_t         aof_mark;    /* rb.len before the held commands ran */
	struct multiState *mstate;  /* MULTI queue and WATCHed keys (multi.c), NULL until used */
	void          *tls;         /* the OpenSSL connection of a tls-port client (tls.c) */
	int            reply_off;   /* CLIENT REPLY OFF */
	int            reply_skip;  /* CLIENT REPLY SKIP: 1 = drop the next command's reply */
	struct waiter *blocked;     /* BLPOP & co. waiting (blocking.c; owner thread only) */
} client;

/* ------------------------------------------------------------- workers */
typedef struct worker {
	int            idx;
	pthread_t      thread;
	int            epfd;
	int            evfd;           /* wakes the loop: new clients, mail, shutdown */
	pthread_mutex_t lock;          /* guards the pending lists below */
	int           *pending_fds;
	size_t         npending, cappending;
	client       **mail_clients;   /* clients with new mail */
	size_t         nmail, capmail;
	client        *clients;        /* list head; links change under lock */
	client       **busy;           /* clients with a job (owner thread only) */
	size_t         job_next;       /* where the next round of job slices starts */
	_Atomic int64_t busy_since_ms;  /* mstime() when the commands or job slice running now began, 0 if none */
	size_t         nbusy, capbusy;
	struct epoll_event *cur_evs;   /* the batch being handled (clientFree skips freed) */
	int            cur_i, cur_n;
	_Atomic size_t nclients;
	_Atomic int    stop;
	_Atomic int    kill_idle;      /* main asks: scan for idle clients */
	_Atomic uint64_t stat_commands; /* per worker, so the hot path shares no counter */
	_Atomic uint64_t stat_hits, stat_misses;
	kv_buf         buf;            /* scratch value buffer of this thread's commands */
	kv_elems       elems;          /* scratch results of this thread's collection reads (workerElems) */
	_Atomic uint64_t write_seq;    /* odd while a write command runs (multi.c's WATCH gate) */
	client       **held;           /* clients waiting for the AOF (group commit) */
	size_t         nheld, capheld;
	int            polling;        /* holds one of srv.busy_poll_max polling slots */
	int64_t        poll_until;     /* ustime_mono() until which it polls without sleeping */
	int64_t        poll_check_at;  /* next look for contention while polling */
	int64_t        poll_look_at;   /* PSI: when the last look was, and the stall total it read */
	int64_t        poll_look_stall;
	int64_t        poll_backoff_until; /* contention seen: no polling before this */
	int            poll_crowded;   /* looks in a row that found the machine over the bar (busy poll) */
} worker;

/* ------------------------------------------------------------- server */
typedef struct server {
	serverConfig   cfg;
	kv_env        *env;
	kv_ns         *dbs[NUM_DBS];
	int            listen_fd;
	int            nworkers;
	worker        *workers;
	_Atomic uint64_t next_client_id;
	_Atomic long   connected_clients;
	_Atomic uint64_t total_connections;
	_Atomic uint64_t rejected_connections;
	_Atomic int64_t start_ms;
	_Atomic int    shutdown_asked;  /* 1: save if rules say so, 2: nosave, 3: save */
	_Atomic int    notify_flags;
	/* hot-path copies of config values (CONFIG SET updates them) */
	_Atomic uint64_t max_bulk_len;
	_Atomic uint64_t qbuf_limit;
	_Atomic uint64_t obuf_limit;
	_Atomic int    auth_required;
	_Atomic int    maxclients;
	_Atomic int    timeout;
	_Atomic int    loglevel;
	_Atomic int    busy_poll_us;
	_Atomic int    busy_pollers;    /* workers polling now (at most busy_poll_max) */
	_Atomic uint64_t busy_poll_backoffs; /* times a worker stopped polling, the machine contended */
	int            busy_poll_max;   /* CPUs beyond the workers' own: ncpu - workers */
	int            ncpu;
	int            load_threads;    /* threads of a snapshot or AOF-base load at start */

	/* persistence */
	pthread_mutex_t save_lock;       /* one save at a time */
	_Atomic int    bgsave_running;
	_Atomic int64_t lastsave_ms;
	_Atomic int    last_save_ok;
	_Atomic uint64_t dirty_at_last_tick;
	_Atomic int64_t last_bgsave_time_sec;

	/* config access from commands (CONFIG SET) */
	pthread_mutex_t cfg_lock;

	/* namespace handles by name (SELECT, the HTTP door), closed at exit */
	kv_nscache    *nscache;
} server;

extern server srv;

/* ------------------------------------------------------------- commands */
typedef void commandProc(client *c, int argc, const char **argv, const size_t *lens);

#define CMD_NOAUTH  (1 << 0) /* allowed before AUTH */
#define CMD_PUBSUB  (1 << 1) /* allowed in a RESP2 subscribed context */
#define CMD_WRITE   (1 << 2)
#define CMD_READONLY (1 << 3)
#define CMD_FAST    (1 << 4)
#define CMD_ADMIN   (1 << 5)
#define CMD_EFFECT  (1 << 6) /* a collection write: AOF effect record, its keys' stripes held (aof.c) */

typedef struct redisCommand {
	const char  *name;      /* lower case */
	commandProc *proc;
	int          arity;     /* negative: at least -arity */
	int          flags;
	int          firstkey, lastkey, step;
	const char  *summary;
	const char  *group;
} redisCommand;

const redisCommand *commandLookup(const char *name, size_t len);
const redisCommand *commandTable(size_t *n);
/* Keys at cmd's table positions appended to *keys (see commands.c); take the
 * AOF stripes of a collection write's keys before it runs. */
size_t commandKeys(const redisCommand *cmd, int argc, const char **argv, const size_t *lens,
                   kv_val **keys, size_t n, size_t *cap);
void commandLockKeys(client *c, const redisCommand *cmd, int argc, const char **argv,
                     const size_t *lens);
/* Execute one parsed command on c (auth, arity, pub/sub context checks). */
void commandExecute(client *c, int argc, const char **argv, const size_t *lens);

/*
 * A pipeline's run of batchable commands (GET, SET without options or with EX
 * / PX, SETEX, PSETEX, DEL, UNLINK, INCR, DECR, INCRBY, DECRBY), waiting to be
 * one engine batch (batch.c).  ops[] are the engine items, in request order;
 * cmd[i] says which command op i answers for, nkeys[i] how many ops that
 * command has (a DEL's keys; set on its first op, 0 on the others).
 */
#define CMD_BATCH 32
typedef struct cmdBatch {
	size_t        n;                 /* ops used */
	int           writes;            /* any op but a GET */
	unsigned      ncmds;             /* commands, counted in stat_commands at the flush */
	kv_op         ops[CMD_BATCH];    /* keys and values point into the query buffer */
	unsigned char cmd[CMD_BATCH];    /* batch.c's BC_* */
	unsigned char nkeys[CMD_BATCH];
} cmdBatch;
/*
 * The entry point of networking.c for each parsed command: a batchable one
 * joins the batch (batchTryAdd), anything else first flushes it and then runs
 * (commandExecute).  The caller flushes the batch (batchFlush) at the end of
 * the input or before it replies on its own.
 */
void commandDispatch(client *c, cmdBatch *batch, int argc, const char **argv, const size_t *lens);
/* Is c in a state where a command runs as is (authenticated, not in a RESP2
 * pub/sub context, not queueing a MULTI, replies on)? */
int  commandMayBatch(client *c);
/* Take the command into the batch (1, counted as executed) or leave it (0). */
int  batchTryAdd(client *c, cmdBatch *b, int argc, const char **argv, const size_t *lens);
void batchFlush(client *c, cmdBatch *b);

/* helpers shared by the command files (commands.c) */
int  argEq(const char *arg, size_t len, const char *lit);
int  argToLongLong(const char *s, size_t len, long long *out);
int  argToLongLongOrReply(client *c, const char *s, size_t len, long long *out);
int  argToDouble(const char *s, size_t len, double *out); /* 1 if s is a float, as Redis parses it */
int  argToDoubleOrReply(client *c, const char *s, size_t len, double *out);
/*
 * An expiry argument (EXPIRE, SET EX, GETEX PXAT ...) in units of unit_ms, made
 * absolute with the engine's TTL arithmetic.  positive: 0 and below are refused
 * (SET); otherwise they give a time in the past, which deletes the key (EXPIRE).
 * Anything that overflows or lands past KV_EXPIRES_MAX gets Redis's "invalid
 * expire time in '<cmdname>' command".  Replies on error.
 */
int  expireArgOrReply(client *c, const char *arg, size_t len, long long unit_ms, int absolute,
                      int positive, const char *cmdname, int64_t *out);
void replyArity(client *c, const char *name);
void replySyntax(client *c);
/* Turn an engine status into a Redis error reply; returns nonzero if it replied. */
int  replyKvError(client *c, int rc);
/* The worker's reusable collection results (no allocation per LPOP or ZRANGE);
 * workerElemsDone after the reply drops them if a big result grew them. */
kv_elems *workerElems(client *c);
void workerElemsDone(client *c);
/* Count a key lookup as a hit or a miss (INFO keyspace_hits / keyspace_misses). */
void countLookup(client *c, int hit);

/* command families */
void pingCommand(client *c, int argc, const char **argv, const size_t *lens);
void echoCommand(client *c, int argc, const char **argv, const size_t *lens);
void helloCommand(client *c, int argc, const char **argv, const size_t *lens);
void authCommand(client *c, int argc, const char **argv, const size_t *lens);
void selectCommand(client *c, int argc, const char **argv, const size_t *lens);
void namespaceCommand(client *c, int argc, const char **argv, const size_t *lens);
void quitCommand(client *c, int argc, const char **argv, const size_t *lens);
void resetCommand(client *c, int argc, const char **argv, const size_t *lens);
void clientCommand(client *c, int argc, const char **argv, const size_t *lens);
void commandCommand(client *c, int argc, const char **argv, const size_t *lens);
void infoCommand(client *c, int argc, const char **argv, const size_t *lens);
void configCommand(client *c, int argc, const char **argv, const size_t *lens);
void timeCommand(client *c, int argc, const char **argv, const size_t *lens);
void dbsizeCommand(client *c, int argc, const char **argv, const size_t *lens);
void flushdbCommand(client *c, int argc, const char **argv, const size_t *lens);
void flushallCommand(client *c, int argc, const char **argv, const size_t *lens);
void saveCommand(client *c, int argc, const char **argv, const size_t *lens);
void bgsaveCommand(client *c, int argc, const char **argv, const size_t *lens);
void lastsaveCommand(client *c, int argc, const char **argv, const size_t *lens);
void shutdownCommand(client *c, int argc, const char **argv, const size_t *lens);

void getCommand(client *c, int argc, const char **argv, const size_t *lens);
void setCommand(client *c, int argc, const char **argv, const size_t *lens);
void setnxCommand(client *c, int argc, const char **argv, const size_t *lens);
void setexCommand(client *c, int argc, const char **argv, const size_t *lens);
void psetexCommand(client *c, int argc, const char **argv, const size_t *lens);
void getsetCommand(client *c, int argc, const char **argv, const size_t *lens);
void getdelCommand(client *c, int argc, const char **argv, const size_t *lens);
void getexCommand(client *c, int argc, const char **argv, const size_t *lens);
void mgetCommand(client *c, int argc, const char **argv, const size_t *lens);
void msetCommand(client *c, int argc, const char **argv, const size_t *lens);
void msetnxCommand(client *c, int argc, const char **argv, const size_t *lens);
void incrCommand(client *c, int argc, const char **argv, const size_t *lens);
void decrCommand(client *c, int argc, const char **argv, const size_t *lens);
void incrbyCommand(client *c, int argc, const char **argv, const size_t *lens);
void decrbyCommand(client *c, int argc, const char **argv, const size_t *lens);
void incrbyfloatCommand(client *c, int argc, const char **argv, const size_t *lens);
void appendCommand(client *c, int argc, const char **argv, const size_t *lens);
void strlenCommand(client *c, int argc, const char **argv, const size_t *lens);
void getrangeCommand(client *c, int argc, const char **argv, const size_t *lens);
void setrangeCommand(client *c, int argc, const char **argv, const size_t *lens);

void delCommand(client *c, int argc, const char **argv, const size_t *lens);
void existsCommand(client *c, int argc, const char **argv, const size_t *lens);
void typeCommand(client *c, int argc, const char **argv, const size_t *lens);
void renameCommand(client *c, int argc, const char **argv, const size_t *lens);
void renamenxCommand(client *c, int argc, const char **argv, const size_t *lens);
void keysCommand(client *c, int argc, const char **argv, const size_t *lens);
void scanCommand(client *c, int argc, const char **argv, const size_t *lens);
void randomkeyCommand(client *c, int argc, const char **argv, const size_t *lens);

void expireCommand(client *c, int argc, const char **argv, const size_t *lens);
void pexpireCommand(client *c, int argc, const char **argv, const size_t *lens);
void expireatCommand(client *c, int argc, const char **argv, const size_t *lens);
void pexpireatCommand(client *c, int argc, const char **argv, const size_t *lens);
void ttlCommand(client *c, int argc, const char **argv, const size_t *lens);
void pttlCommand(client *c, int argc, const char **argv, const size_t *lens);
void expiretimeCommand(client *c, int argc, const char **argv, const size_t *lens);
void pexpiretimeCommand(client *c, int argc, const char **argv, const size_t *lens);
void persistCommand(client *c, int argc, const char **argv, const size_t *lens);

void subscribeCommand(client *c, int argc, const char **argv, const size_t *lens);
void unsubscribeCommand(client *c, int argc, const char **argv, const size_t *lens);
void psubscribeCommand(client *c, int argc, const char **argv, const size_t *lens);
void punsubscribeCommand(client *c, int argc, const char **argv, const size_t *lens);
void publishCommand(client *c, int argc, const char **argv, const size_t *lens);
void pubsubCommand(client *c, int argc, const char **argv, const size_t *lens);

void objectCommand(client *c, int argc, const char **argv, const size_t *lens);
void debugCommand(client *c, int argc, const char **argv, const size_t *lens);
void getbitCommand(client *c, int argc, const char **argv, const size_t *lens);
void setbitCommand(client *c, int argc, const char **argv, const size_t *lens);
void bitfieldCommand(client *c, int argc, const char **argv, const size_t *lens);
void bitfieldroCommand(client *c, int argc, const char **argv, const size_t *lens);
void bitopCommand(client *c, int argc, const char **argv, const size_t *lens);
void copyCommand(client *c, int argc, const char **argv, const size_t *lens);
void sortCommand(client *c, int argc, const char **argv, const size_t *lens);
void sortroCommand(client *c, int argc, const char **argv, const size_t *lens);
void moveCommand(client *c, int argc, const char **argv, const size_t *lens);
void bitcountCommand(client *c, int argc, const char **argv, const size_t *lens);
void bitposCommand(client *c, int argc, const char **argv, const size_t *lens);
void lcsCommand(client *c, int argc, const char **argv, const size_t *lens);

/* ------------------------------------------------------------- collections (t_coll.c) */
/* argv[from], argv[from + step] ... as engine values (no copy). */
#define COLL_SMALL_ARGS 16
typedef struct collArgs {
	kv_val *v;
	size_t  n;
	kv_val  small[COLL_SMALL_ARGS];
} collArgs;
int  collVals(collArgs *a, int argc, const char **argv, const size_t *lens, int from, int step);
void collValsFree(collArgs *a);
/* One result element as a bulk (KV_ELEM_NIL: null); all of them as an array
 * (as_set: a RESP3 set), or as field/value pairs in a map. */
void replyElem(client *c, const kv_elems *e, size_t i);
void replyElemsArray(client *c, const kv_elems *e, int as_set);
void replyElemsMap(client *c, const kv_elems *e);
/* *SCAN key cursor [MATCH p] [COUNT n] [NOVALUES] */
typedef struct collScan {
	uint64_t    cursor;
	const char *match;
	size_t      mlen, count;
	int         novalues;
} collScan;
int  collScanArgs(client *c, int argc, const char **argv, const size_t *lens, int kind,
                  int novalues_ok, collScan *s);
void collScanReply(client *c, int argc, const char **argv, const size_t *lens, int kind,
                   int novalues_ok);
/* Log a collection write's effect in the AOF (aof_effect.c names them). */
void collEffect(client *c, size_t argc, const kv_val *argv);

/* hashes (t_hash.c) */
void hsetCommand(client *c, int argc, const char **argv, const size_t *lens);
void hmsetCommand(client *c, int argc, const char **argv, const size_t *lens);
void hsetnxCommand(client *c, int argc, const char **argv, const size_t *lens);
void hgetCommand(client *c, int argc, const char **argv, const size_t *lens);
void hmgetCommand(client *c, int argc, const char **argv, const size_t *lens);
void hgetallCommand(client *c, int argc, const char **argv, const size_t *lens);
void hkeysCommand(client *c, int argc, const char **argv, const size_t *lens);
void hvalsCommand(client *c, int argc, const char **argv, const size_t *lens);
void hdelCommand(client *c, int argc, const char **argv, const size_t *lens);
void hexistsCommand(client *c, int argc, const char **argv, const size_t *lens);
void hlenCommand(client *c, int argc, const char **argv, const size_t *lens);
void hstrlenCommand(client *c, int argc, const char **argv, const size_t *lens);
void hincrbyCommand(client *c, int argc, const char **argv, const size_t *lens);
void hincrbyfloatCommand(client *c, int argc, const char **argv, const size_t *lens);
void hrandfieldCommand(client *c, int argc, const char **argv, const size_t *lens);
void hscanCommand(client *c, int argc, const char **argv, const size_t *lens);

/* sets (t_set.c) */
void saddCommand(client *c, int argc, const char **argv, const size_t *lens);
void sremCommand(client *c, int argc, const char **argv, const size_t *lens);
void sismemberCommand(client *c, int argc, const char **argv, const size_t *lens);
void smismemberCommand(client *c, int argc, const char **argv, const size_t *lens);
void smembersCommand(client *c, int argc, const char **argv, const size_t *lens);
void scardCommand(client *c, int argc, const char **argv, const size_t *lens);
void spopCommand(client *c, int argc, const char **argv, const size_t *lens);
void srandmemberCommand(client *c, int argc, const char **argv, const size_t *lens);
void smoveCommand(client *c, int argc, const char **argv, const size_t *lens);
void sinterCommand(client *c, int argc, const char **argv, const size_t *lens);
void sunionCommand(client *c, int argc, const char **argv, const size_t *lens);
void sdiffCommand(client *c, int argc, const char **argv, const size_t *lens);
void sinterstoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void sunionstoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void sdiffstoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void sintercardCommand(client *c, int argc, const char **argv, const size_t *lens);
void sscanCommand(client *c, int argc, const char **argv, const size_t *lens);

/* ------------------------------------------------------------- multi.c */
void multiCommand(client *c, int argc, const char **argv, const size_t *lens);
void execCommand(client *c, int argc, const char **argv, const size_t *lens);
void discardCommand(client *c, int argc, const char **argv, const size_t *lens);
void watchCommand(client *c, int argc, const char **argv, const size_t *lens);
void unwatchCommand(client *c, int argc, const char **argv, const size_t *lens);
int  multiQueueing(client *c);                 /* between MULTI and EXEC */
int  multiPassThrough(const redisCommand *cmd); /* runs at once even then */
void multiQueue(client *c, const redisCommand *cmd, int argc, const char **argv, const size_t *lens);
void multiFlagError(client *c);                /* a queueing error: EXEC will abort */
int  multiInExec(client *c);
/* Around every write command: the WATCH gate (1 if it was taken). */
int  multiWriteBegin(worker *w);
void multiWriteEnd(worker *w, int gated);
void multiReset(client *c);
void multiFree(client *c);
/* The change-hook wrapper that marks WATCHing clients; returns the hook to install. */
kv_hook_fn multiHook(kv_hook_fn inner);

/* ------------------------------------------------------------- pubsub.c */
/* Remove every subscription of c (notify: reply per channel as UNSUBSCRIBE does);
 * closing: also stop every delivery to c, before it is freed. */
void pubsubUnsubscribeAll(client *c, int notify, int closing);
size_t pubsubSubscriptionCount(client *c);
/* The engine hook: keyspace notifications. */
void pubsubKeyspaceHook(void *ctx, const char *ns, const void *key, size_t klen, int event);
/* Name engine event `event` `name` for this thread's next engine calls (NULL: stop). */
void pubsubRenameEvents(int event, const char *name);
void pubsubRenameEvents2(int event, const char *name, int event2, const char *name2);
/* A generic-class ("g") notification the engine cannot give (SET ... EX's "expire"). */
void pubsubNotifyGeneric(client *c, const void *key, size_t klen, const char *ev);
/* Append queued messages of c's mailbox to its reply buffer (owner thread only). */
void pubsubDrainMailbox(client *c);
size_t pubsubNumChannels(void);
size_t pubsubNumPatterns(void);

/* ------------------------------------------------------------- networking.c */
int  workersStart(int n);
/*
 * Stop the workers: each flushes its replies and closes its clients.  Returns
 * how many are still busy in one command after wait_ms (they are not joined).
 */
int  workersStop(int64_t wait_ms);
void workerAddClient(int fd);
void workerNotifyMail(client *c);
/* Start job for c (the current command's reply comes from it); 0, or -1 out of memory. */
int  clientStartJob(client *c, clientJob *job);
/* Close every client whose last interaction is older than timeout seconds. */
void workersCheckIdle(void);
const char *busyPollContentionSignal(void); /* "psi", "loadavg" or "none" (no polling) */
void clientListAppend(replyBuf *rb);   /* CLIENT LIST lines for every client */

/* ------------------------------------------------------------- persist.c */
/* Load the snapshot at start: C_ERR (with a message printed) if it is corrupt. */
int persistLoadAtStart(void);
/* Save synchronously; fills err text on failure. */
int persistSave(char *errbuf, size_t errlen, unsigned threads);
/* Start a background save thread; C_ERR if one is running. */
int persistBgsave(void);
void persistWaitBgsave(void);
/* From the main timer: kv_tick, autosave. */
void persistTick(void);
void persistSnapshotPath(char *out, size_t outlen);

/* ------------------------------------------------------------- util.c */
/* Wall-clock milliseconds since the epoch (start time, lastsave, idle clients). */
int64_t mstime(void);
/* Monotonic microseconds, for job slices and deadlines. */
int64_t ustime_mono(void);
/* A non-blocking listening TCP socket on addr:port (logs why not); -1 on failure. */
int listenOn(const char *addr, int port);

/* ------------------------------------------------------------- log.c */
void serverLog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LL_DEBUG   0
#define LL_VERBOSE 1
#define LL_NOTICE  2
#define LL_WARNING 3
int serverLogLevel(const char *name); /* -1 for an unknown name */
/* Log to path from now on ("" = stderr); prints and returns C_ERR if it cannot open it. */
int serverLogOpen(const char *path);
void serverLogClose(void);

/* ------------------------------------------------------------- sorted sets, lists (t_zset.c, t_list.c) */
void zaddCommand(client *c, int argc, const char **argv, const size_t *lens);
void zincrbyCommand(client *c, int argc, const char **argv, const size_t *lens);
void zremCommand(client *c, int argc, const char **argv, const size_t *lens);
void zscoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zmscoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zcardCommand(client *c, int argc, const char **argv, const size_t *lens);
void zcountCommand(client *c, int argc, const char **argv, const size_t *lens);
void zlexcountCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrankCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrevrankCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrangeCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrangestoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrevrangeCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrangebyscoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrevrangebyscoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrangebylexCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrevrangebylexCommand(client *c, int argc, const char **argv, const size_t *lens);
void zremrangebyrankCommand(client *c, int argc, const char **argv, const size_t *lens);
void zremrangebyscoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zremrangebylexCommand(client *c, int argc, const char **argv, const size_t *lens);
void zpopminCommand(client *c, int argc, const char **argv, const size_t *lens);
void zpopmaxCommand(client *c, int argc, const char **argv, const size_t *lens);
void zrandmemberCommand(client *c, int argc, const char **argv, const size_t *lens);
void zunionCommand(client *c, int argc, const char **argv, const size_t *lens);
void zinterCommand(client *c, int argc, const char **argv, const size_t *lens);
void zdiffCommand(client *c, int argc, const char **argv, const size_t *lens);
void zunionstoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zinterstoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zdiffstoreCommand(client *c, int argc, const char **argv, const size_t *lens);
void zintercardCommand(client *c, int argc, const char **argv, const size_t *lens);
void zscanCommand(client *c, int argc, const char **argv, const size_t *lens);
/* AOF: the effect head[0..nh) + tail[0..nt) (collEffect with a command's elements). */
void effectJoin(client *c, const kv_val *head, size_t nh, const kv_val *tail, size_t nt);
/* Redis's getDoubleFromObject (scores, weights): 1 if s is one. */
int  zsetParseDouble(const char *s, size_t len, double *out);
/* Redis's getRangeLongFromObjectOrReply (msg NULL: its range text). */
int  rangeLongOrReply(client *c, const char *s, size_t len, long long min, long long max,
                      long long *out, const char *msg);

void lpushCommand(client *c, int argc, const char **argv, const size_t *lens);
void rpushCommand(client *c, int argc, const char **argv, const size_t *lens);
void lpushxCommand(client *c, int argc, const char **argv, const size_t *lens);
void rpushxCommand(client *c, int argc, const char **argv, const size_t *lens);
void lpopCommand(client *c, int argc, const char **argv, const size_t *lens);
void rpopCommand(client *c, int argc, const char **argv, const size_t *lens);
void llenCommand(client *c, int argc, const char **argv, const size_t *lens);
void lrangeCommand(client *c, int argc, const char **argv, const size_t *lens);
void lindexCommand(client *c, int argc, const char **argv, const size_t *lens);
void lsetCommand(client *c, int argc, const char **argv, const size_t *lens);
void linsertCommand(client *c, int argc, const char **argv, const size_t *lens);
void lremCommand(client *c, int argc, const char **argv, const size_t *lens);
void ltrimCommand(client *c, int argc, const char **argv, const size_t *lens);
void lposCommand(client *c, int argc, const char **argv, const size_t *lens);
void lmoveCommand(client *c, int argc, const char **argv, const size_t *lens);
void rpoplpushCommand(client *c, int argc, const char **argv, const size_t *lens);
/* AOF effects of list writes (t_list.c): a pop of n; LMOVE's pop and push. */
void listPopEffect(client *c, const char *key, size_t klen, int where, uint64_t n);
void listMoveEffect(client *c, const char *src, size_t srclen, const char *dst, size_t dstlen, int from,
                    int to, const void *v, size_t vlen);
/* LEFT | RIGHT into KV_LEFT / KV_RIGHT, or a syntax error. */
int  listWhereOrReply(client *c, const char *s, size_t len, int *where);

/* ------------------------------------------------------------- blocking.c */
void blpopCommand(client *c, int argc, const char **argv, const size_t *lens);
void brpopCommand(client *c, int argc, const char **argv, const size_t *lens);
void blmoveCommand(client *c, int argc, const char **argv, const size_t *lens);
void brpoplpushCommand(client *c, int argc, const char **argv, const size_t *lens);
void bzpopminCommand(client *c, int argc, const char **argv, const size_t *lens);
void bzpopmaxCommand(client *c, int argc, const char **argv, const size_t *lens);
void clientUnblockCommand(client *c, int argc, const char **argv, const size_t *lens);
/* Before the workers start / after they stopped: each worker's timers. */
int  blockingInit(int nworkers);
void blockingFree(void);
/* The change-hook wrapper that notes keys blocked clients wait for. */
kv_hook_fn blockingHook(kv_hook_fn inner);
/* After a command (or a batch of them): serve the waiters of the keys this thread's writes filled. */
void blockingServeReady(worker *w);
/* Owner thread: 1 if c's wait ended (its reply appended; run its next commands). */
int  blockingFinish(client *c);
/* Owner thread, closing c: forget its wait. */
void blockingRemove(client *c);
/* Owner thread: epoll timeout that wakes for the earliest deadline; answer the expired. */
int  blockingPollTimeout(worker *w, int dflt_ms);
void blockingExpire(worker *w);
size_t blockingCount(void); /* INFO blocked_clients */

/* ------------------------------------------------------------- main.c */
void serverRequestShutdown(int how);

#endif /* SHARDKV_SERVER_H */
