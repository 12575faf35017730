/*
 * aof.h -- the append-only file (aof.c): what the rest of the server calls.
 *
 * Records come from the engine's change hook: each command's changed keys are
 * re-read as one consistent cut after the command and logged as their final
 * state (value, type, absolute expiry) or as a delete, in one checksummed
 * record; collection writes log their effect as a command instead (aof.c
 * "COLLECTIONS", aof_effect.c).  See aof.c and server/README.md for the file layout and guarantees.
 */
#ifndef SHARDKV_AOF_H
#define SHARDKV_AOF_H

#include <stdint.h>

#include "kv.h"
#include "reply.h"

#define AOF_FSYNC_NO       0
#define AOF_FSYNC_EVERYSEC 1
#define AOF_FSYNC_ALWAYS   2

int  aofFsyncParse(const char *s);        /* AOF_FSYNC_*, or -1 */
const char *aofFsyncName(int mode);

/* Start-up with appendonly yes: load base + replay the tail (or create the AOF
 * from the snapshot when there is none yet).  C_ERR after logging why. */
int  aofLoadAtStart(void);
/* After the namespaces exist: install the hook wrapper in front of `inner` and,
 * with appendonly yes, open the AOF for appending.  C_ERR after logging why. */
int  aofStart(kv_hook_fn inner);
/* CONFIG SET appendonly yes|no (cfg_lock held): C_OK or C_ERR with err. */
int  aofSetEnabled(int on, char *err, size_t errlen);
/* Flush, fsync, stop the background thread. */
void aofShutdown(void);
int  aofEnabled(void);

/* Command bracketing: changes between begin and end become one record. */
void aofCommandBegin(void);
void aofCommandEnd(void);
/* The highest log position this thread appended since the last call (0: none). */
uint64_t aofTakeThreadLsn(void);
/* Does a reply that depends on position lsn have to wait (fsync policy)? */
int  aofMustWait(uint64_t lsn);
/* Make position lsn written (and with `always`, on disk): group commit.
 * C_OK, or C_ERR when the write or fsync failed (see aofWriteError). */
int  aofWaitFor(uint64_t lsn);
/* 0, or the errno of the failing write/fsync: writes are refused meanwhile. */
int  aofWriteError(void);
/* The MISCONF error reply for the current write error. */
void aofReplyMisconf(replyBuf *rb);

/*
 * Namespace create/drop, bracketed: begin excludes every record's re-read, end
 * logs the change if rc is KV_OK (cfg: the created namespace's configuration).
 */
void aofNamespaceBegin(void);
void aofNamespaceEnd(int create, const char *name, const kv_ns_config *cfg, int rc);

/* BGREWRITEAOF: C_OK started, C_ERR with a reason in err. */
int  aofRewriteStart(char *err, size_t errlen);
/* Called from the main timer: automatic rewrite. */
void aofCron(void);
/* INFO persistence lines (after aof_enabled). */
void aofInfo(replyBuf *rb);

/*
 * Collections (aof.c "COLLECTIONS").  A collection write takes its written
 * keys' stripes before its engine call (aofLockKeys; commandRun does it for
 * CMD_EFFECT commands, EXEC for all its queued ones at once) and logs its
 * effect (aofEffect: argc 0 means it could not be described, which marks the
 * change lost); both are no-ops with the AOF off.  Stripes are released when
 * the outermost command ends, after its record is appended.
 */
void aofLockKeys(const char *ns, const kv_val *keys, size_t n);
/* Every stripe, for a transaction whose keys' namespaces are not known ahead (SELECT inside). */
void aofLockAllKeys(void);
void aofEffect(const char *ns, size_t argc, const kv_val *argv);

/* aof_effect.c: replay one effect; a collection's whole state as effects. */
typedef int (*aofEmitFn)(void *ctx, size_t argc, const kv_val *argv);
int  aofEffectReplay(kv_ns *ns, size_t argc, const kv_val *argv);
int  aofEffectDump(kv_ns *ns, const void *key, size_t klen, aofEmitFn emit, void *ctx);
int  aofEffectExpiry(kv_ns *ns, const void *key, size_t klen, aofEmitFn emit, void *ctx);

struct client;
void bgrewriteaofCommand(struct client *c, int argc, const char **argv, const size_t *lens);

#endif /* SHARDKV_AOF_H */
