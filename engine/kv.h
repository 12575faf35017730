/*
 * kv.h -- the whole public contract of the shardkv engine.
 *
 * shardkv is an in-memory key-value engine.  One store ("environment", kv_env)
 * holds named, isolated key spaces ("namespaces").  Each namespace is split into
 * shards, each with its own lock; a key's shard is jump_consistent_hash(XXH3(key)).
 *
 * MEMORY MODES
 *   Every store lives in one contiguous region and never allocates from the host
 *   heap per key.  The region is either
 *     (a) reserved by the engine in ordinary process memory (kv_config.region ==
 *         NULL; an anonymous mapping of kv_config.memory bytes whose pages are
 *         committed by the kernel only when first touched), or
 *     (b) handed in by the host (kv_config.region != NULL), e.g. PostgreSQL shared
 *         memory or a MAP_SHARED mapping inherited across fork().  Several
 *         processes may then use one store at once; each process that did not
 *         inherit the kv_env handle calls kv_env_attach().
 *   Inside the region every link is a 32-bit offset in 8-byte units, so the store
 *   does not depend on the address it is mapped at; a region is at most 32 GiB.
 *   The region is cut into 64 KiB pages; each of 48 size classes (8 B .. 32 KiB)
 *   keeps at most one partly used page, larger values take whole pages, and each
 *   namespace needs a 128 KiB routing table when it has more than one shard.  A
 *   small region therefore fits fewer namespaces than its size suggests:
 *   kv_env_stats_get() reports what is in use.
 *
 * THREADS AND PROCESSES
 *   Every call is safe from any thread, and in mode (b) from any process sharing
 *   the region, except where a function says otherwise (kv_env_set_hook,
 *   kv_nscache_close, kv_env_close).  Readers never take a lock: they
 *   read optimistically under each shard's sequence counter and retry if a
 *   writer interfered.  Writers take the shard's spinlock, and every lock is
 *   held for bounded work only (see kv_internal.h).  The engine never calls back
 *   into the host while it holds a lock, except for the redo function of a
 *   KV_NS_REDO namespace (see REDO LOG), never aborts, never longjmps and never
 *   prints.  It waits on nothing the host controls; the only waits are for
 *   another engine call (a spinlock, or a save that waits up to 200 ms for
 *   another save of the same directory).
 *   A process that dies while it holds an engine lock leaves that shard locked:
 *   hosts in mode (b) must treat a crashed sharer as PostgreSQL does (reinitialise
 *   the region).
 *
 * FORK
 *   Mode (a): the mapping is private, so a child made by fork() gets a
 *   copy-on-write copy of the whole store as it was at the fork, and its
 *   inherited kv_env works on that copy: reads see the parent's data of that
 *   moment, and writes on either side are invisible to the other.  Like any
 *   lock, an engine lock that another thread of the parent held at the fork
 *   stays held in the child for ever, and a call that needs it never returns:
 *   fork only while no other thread is inside an engine call (or exec at once).
 *   Mode (b): the child shares the region with the parent, and its inherited
 *   kv_env may be used directly (the same rule about locks held at the fork
 *   applies).  A process that gets at the region any other way (exec, a
 *   separate mapping) calls kv_env_attach().
 *
 * ERRORS
 *   A call that can fail returns an int status: KV_OK (0) or one of the
 *   negative KV_* codes below; each function lists the codes it returns.
 *   kv_strerror() gives the text.  KV_NOTFOUND, KV_EXISTS and KV_UNCHANGED are
 *   ordinary outcomes, not failures.  The engine's own codes are never positive;
 *   the one call that can return a positive value is kv_scan, which passes on
 *   whatever nonzero value the host's callback returned.
 *   Calls that cannot fail return their result directly: kv_version,
 *   kv_version_number, kv_strerror*, kv_now_ms, kv_region_min_size,
 *   kv_ns_name, kv_fmt_double, kv_glob_match, kv_ttl_remaining,
 *   kv_evict_policy_name; and these return nothing: kv_config_init,
 *   kv_ns_config_init, kv_env_close, kv_ns_close, kv_buf_free,
 *   kv_ns_list_free, kv_nscache_close, kv_env_set_hook.
 *   A call that fails leaves the store as it was, with these exceptions, each
 *   stated at its function: a write to a namespace with an evicting policy may
 *   evict keys (KV_EV_EVICTED) and then still fail with KV_EMAXKEYS,
 *   KV_EMAXMEM or KV_ENOMEM (the evicted keys stay gone); a best-effort batch
 *   applies the items that succeed; a save whose directory fsync fails has
 *   already put the new file in place; kv_set fills *old also when NX refuses.
 *   Passing NULL where a pointer is required (other than where a function
 *   allows it) is undefined behaviour, as in libc, except for keys (see
 *   single-key operations).
 *
 * LIFETIME OF RETURNED DATA
 *   The engine never returns pointers into the store.  Values are copied into a
 *   caller-owned kv_buf, which the engine grows with the environment's allocator
 *   (kv_mem_methods) while it holds no lock.  Release it with kv_buf_free().
 *   Strings returned by kv_version, kv_strerror*, kv_evict_policy_name are
 *   static; kv_ns_name's lives as long as its handle.
 *
 * LIMITS (each is checked, and refused with the code given)
 *   - mode (b) region: 64-byte aligned (KV_REGION_ALIGN; else KV_EINVAL), at
 *     least kv_region_min_size(max_namespaces) and at most KV_REGION_MAX
 *     (32 GiB) bytes (else KV_EREGION); mode (a) memory: the same bounds.
 *   - namespaces: at most KV_MAX_NAMESPACES (65536) per store (max_namespaces
 *     above it: KV_EINVAL); creating one past the store's max_namespaces:
 *     KV_ETOOMANYNS.  Names: 1..KV_NS_NAME_MAX (63) bytes of [A-Za-z0-9_.:-]
 *     (KV_ENSNAME).
 *   - shards: 1..KV_MAX_SHARDS (4096) per namespace (KV_ESHARDS; a
 *     default_shards above it: KV_EINVAL).
 *   - keys: 0..max_key_size bytes, max_key_size at most KV_KEY_SIZE_LIMIT
 *     (65535) (KV_EKEYSIZE); values: 0..max_value_size bytes, at most
 *     KV_VALUE_SIZE_LIMIT (KV_EVALSIZE).
 *   - expiry: at most KV_EXPIRES_MAX, 9999-12-31T23:59:59.999Z (KV_EINVAL).
 *   - autosave: at most KV_MAX_SAVE_RULES (16) rules (KV_EINVAL).
 *   - kv_tick: one ticker sweeps a store at a time; a concurrent kv_tick
 *     skips its sweep (see kv_tick).
 *   - snapshot paths: shorter than PATH_MAX, components of at most 255 bytes
 *     (KV_EINVAL).
 *
 * ABI
 *   Handles (kv_env, kv_ns, kv_nscache) are opaque.  The public structs
 *   (kv_error, kv_val, kv_buf, kv_mem_methods, kv_config, kv_env_stats,
 *   kv_ns_config, kv_ns_stats, kv_op, kv_scan_opts, kv_save_rule,
 *   kv_tick_info) have no size or version field: they are frozen for a
 *   soname.  Changing any of them bumps KV_VERSION_MINOR while the major is 0
 *   (the soname is libshardkv.so.MAJOR.MINOR, so a host built against another
 *   layout does not load) and the major afterwards.  A host that loads the
 *   library at run time compares kv_version_number() with KV_VERSION_NUMBER.
 *   Fill kv_config and kv_ns_config with their _init functions, so that a
 *   rebuild against a newer header picks up the new fields' defaults.
 */
#ifndef SHARDKV_KV_H
#define SHARDKV_KV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the public API keep default visibility; the engine builds with
 * -fvisibility=hidden so nothing else leaks out of a host's shared object. */
#ifndef KV_API
#define KV_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- version */
#define KV_VERSION_MAJOR 0
#define KV_VERSION_MINOR 2
#define KV_VERSION_PATCH 0
#define KV_VERSION_NUMBER (KV_VERSION_MAJOR * 10000 + KV_VERSION_MINOR * 100 + KV_VERSION_PATCH)

/* "0.1.0" */
KV_API const char *kv_version(void);

/*
 * KV_VERSION_NUMBER of the library actually linked, which may differ from the
 * header a host was compiled with (compare them at load, as SQLite's
 * sqlite3_libversion_number allows).
 */
KV_API int kv_version_number(void);

/* ----------------------------------------------------------- status codes */
/*
 * LMDB's convention: 0 is success, library codes use a reserved negative range
 * (-30700 .. -30799).  The engine never returns a positive code (kv_scan may
 * pass on its callback's; see ERRORS).
 */
#define KV_OK            0
#define KV_NOTFOUND      (-30700) /* key does not exist (an outcome, not a failure) */
#define KV_EXISTS        (-30701) /* key already exists (add / NX) */
#define KV_UNCHANGED     (-30702) /* condition not met, nothing changed (EXPIRE NX/XX/GT/LT, PERSIST without TTL) */
#define KV_ENONS         (-30710) /* namespace does not exist */
#define KV_ENSEXISTS     (-30711) /* namespace already exists */
#define KV_ENSNAME       (-30712) /* invalid namespace name */
#define KV_ETOOMANYNS    (-30713) /* the store's namespace table is full */
#define KV_EINVAL        (-30720) /* invalid argument */
#define KV_EKEYSIZE      (-30721) /* key longer than the namespace's max_key_size */
#define KV_EVALSIZE      (-30722) /* value longer than the namespace's max_value_size */
#define KV_ENOMEM        (-30723) /* the store's memory region is full */
#define KV_EMAXKEYS      (-30724) /* namespace reached max_keys (and its policy does not evict) */
#define KV_EMAXMEM       (-30725) /* namespace reached max_memory (and its policy does not evict) */
#define KV_ENOTINT       (-30726) /* value is not an integer, or is out of range */
#define KV_EOVERFLOW     (-30727) /* increment or decrement would overflow (or a float result is not finite) */
#define KV_ENOTFLOAT     (-30728) /* value is not a valid float */
#define KV_ESHARDS       (-30729) /* invalid shard count (0, over KV_MAX_SHARDS, or lower than now) */
#define KV_EBUSY         (-30730) /* another save, load or resize is running on that namespace */
#define KV_EABORTED      (-30731) /* all-or-nothing batch: another item failed, this one was not applied */
#define KV_EREGION       (-30740) /* region too small, or not a shardkv region (bad magic or version) */
#define KV_EIO           (-30750) /* I/O error; kv_error.sys_errno has errno */
#define KV_ECORRUPT      (-30751) /* snapshot file is corrupt or truncated */
#define KV_EFORMAT       (-30752) /* snapshot file is not a shardkv snapshot, or an unsupported version */

/* "KV_ENOMEM: ..." style text for any code; never NULL. */
KV_API const char *kv_strerror(int rc);

/*
 * The two halves of kv_strerror's text, for hosts that show their own code:
 * kv_strerror_text(KV_ENOMEM) is "out of memory: the store's memory region is
 * full", kv_strerror_code(KV_ENOMEM) is "KV_ENOMEM".  An unknown code gives
 * "unknown status code" and "KV_UNKNOWN".  Static strings, never NULL.
 */
KV_API const char *kv_strerror_text(int rc);
KV_API const char *kv_strerror_code(int rc);

/*
 * Detail for calls that can say more than a code (snapshots, batches).  Every
 * call that takes a kv_error * accepts NULL, and fills it when it fails: msg is
 * NUL-terminated lower-case text without a trailing period.  On success its
 * contents are unspecified.
 */
typedef struct kv_error {
	int    code;      /* same as the call's return value */
	int    sys_errno; /* errno for KV_EIO, else 0 */
	size_t item;      /* batch item that failed, else (size_t)-1 */
	char   msg[256];
} kv_error;

/* ------------------------------------------------------ limits (see LIMITS) */
#define KV_NS_NAME_MAX      63         /* bytes; names match [A-Za-z0-9_.:-]+ */
#define KV_MAX_SHARDS       4096
#define KV_MAX_NAMESPACES   65536      /* ceiling of kv_config.max_namespaces */
#define KV_MAX_SAVE_RULES   16         /* kv_autosave_set */
#define KV_REGION_ALIGN     64         /* mode (b): alignment of kv_config.region */
#define KV_KEY_SIZE_LIMIT   65535      /* hard ceiling of max_key_size */
#define KV_VALUE_SIZE_LIMIT 0x7ffffff8 /* hard ceiling of max_value_size */
#define KV_REGION_MAX       ((size_t)32 << 30)

/* ---------------------------------------------------------- value types */
/*
 * Every value carries a type tag so a host can round-trip its own types.  The
 * engine treats every value as bytes; the tags below are the shared vocabulary,
 * so a snapshot written by one host reads the same in another.  Numbers are
 * stored as their canonical decimal text ("42", "2.5"), so every host can also
 * read them as strings.  Tags 64..255 are free for a host's private use.
 */
#define KV_T_BYTES 0 /* opaque bytes (Redis strings, PG bytea, SQLite BLOB) */
#define KV_T_TEXT  1 /* UTF-8 text */
#define KV_T_INT   2 /* signed 64-bit integer, decimal text */
#define KV_T_REAL  3 /* double, kv_fmt_double's text ("0.3", "1e-18", "1e+21") */
#define KV_T_JSON  4 /* JSON text (PG jsonb) */
#define KV_T_NULL  5 /* SQL NULL, empty value */
#define KV_T_NONE  (-1) /* in kv_buf.type: there was no value */

/*
 * The name every host shows for a type tag: "bytes", "text", "int", "real",
 * "json", "null".  NULL for any other tag (a host's private 64..255, or one
 * this header does not define): hosts show its number.  No lock.
 */
KV_API const char *kv_type_name(int type);

/* ------------------------------------------------------------- numbers */
/* Room for any text kv_fmt_double writes, its NUL included. */
#define KV_DOUBLE_BUFSZ 32

/*
 * The canonical text of a double, the one every host shows and stores for
 * KV_T_REAL: the shortest decimal that strtod reads back to the same double.
 * Plain decimal when 1e-7 <= |d| < 1e21 ("0.3", "100", "0.000001",
 * "123456789012345680000"), exponent form outside it ("1e-7", "1.5e+21",
 * "5e-324"), as JavaScript's Number#toString writes numbers.  -0.0 gives "-0"
 * (it round-trips; kv_incr_float never stores it).  NaN and infinities are not
 * numbers here: they give "" and 0, and callers refuse them first.
 * Writes the text and its NUL into buf when it fits in cap bytes (always with
 * cap >= KV_DOUBLE_BUFSZ), else buf[0] = 0 when cap > 0.  Returns its length
 * without the NUL.  No lock, no allocation, bounded work.
 */
KV_API size_t kv_fmt_double(double d, char *buf, size_t cap);

/*
 * A size with an optional unit, by Redis's memtoll rules (maxmemory 64mb):
 * decimal digits, then a unit, ASCII case-insensitive: b = 1, k = 1000,
 * kb = 1024, m = 10^6, mb = 2^20, g = 10^9, gb = 2^30, t = 10^12, tb = 2^40.
 * No sign, space, fraction or empty number.  Reads exactly len bytes (a NUL
 * among them is refused).  Returns KV_OK with *out set, or KV_EINVAL (also
 * for a result past UINT64_MAX; *out is then untouched).  No lock.
 */
KV_API int kv_parse_size(const char *s, size_t len, uint64_t *out);

/* ------------------------------------------------------------- buffers */
typedef struct kv_val {
	size_t      len;
	const void *data;
} kv_val;

/*
 * Caller-owned output buffer.  Initialise with KV_BUF_INIT (or zero it); reuse
 * across calls to avoid allocation; release with kv_buf_free() on the env that
 * filled it.  After a successful read: data[0..len) is the value (also followed
 * by a NUL byte that is not counted), type its tag, expires_at its absolute
 * expiry (0 = none).  When a call found no value, type is KV_T_NONE and len 0.
 */
typedef struct kv_buf {
	char   *data;
	size_t  len;
	size_t  cap;
	int     type;
	int64_t expires_at; /* ms since the Unix epoch, 0 = no expiry */
} kv_buf;
#define KV_BUF_INIT {NULL, 0, 0, KV_T_NONE, 0}

/* ------------------------------------------------------- environment */
typedef struct kv_env kv_env;
typedef struct kv_ns  kv_ns;

/*
 * Process-local allocator for the engine's own small objects (handles, output
 * buffers, scan and snapshot buffers).  Modelled on sqlite3_mem_methods.  xRealloc
 * must behave as realloc(3) and return NULL on failure; it must not longjmp.
 * The engine calls it only while it holds no lock.  All NULL: libc.
 */
typedef struct kv_mem_methods {
	void *(*xRealloc)(void *ctx, void *ptr, size_t size); /* size 0: free, return NULL */
	void *ctx;
} kv_mem_methods;

typedef struct kv_config {
	void          *region;         /* NULL: engine maps process memory (mode a) */
	size_t         region_size;    /* mode (b): bytes at region */
	size_t         memory;         /* mode (a): bytes to reserve, default 1 GiB */
	uint32_t       max_namespaces; /* default 1024; at most KV_MAX_NAMESPACES */
	uint32_t       default_shards; /* shards of a namespace created with shards 0; default 16,
	                                * at most KV_MAX_SHARDS */
	kv_mem_methods mem;
} kv_config;

/* Fill *cfg with the defaults above. */
KV_API void kv_config_init(kv_config *cfg);

/*
 * Smallest region_size that kv_env_open() accepts for max_namespaces; a useful
 * store needs more (the region also holds every key, value and shard table).
 */
KV_API size_t kv_region_min_size(uint32_t max_namespaces);

/*
 * Create a new store and a handle on it (cfg NULL: kv_config_init's
 * defaults).  In mode (b) the region is formatted (its old contents are
 * discarded) and must stay mapped until every process has closed its handle.
 * Errors: KV_EINVAL (max_namespaces over KV_MAX_NAMESPACES, default_shards
 *         over KV_MAX_SHARDS, region not KV_REGION_ALIGN-aligned),
 *         KV_EREGION (region or memory under kv_region_min_size or over
 *         KV_REGION_MAX), KV_ENOMEM (the mapping or the handle could not be
 *         allocated).  *out is NULL on failure.
 */
KV_API int kv_env_open(const kv_config *cfg, kv_env **out);

/*
 * Attach to a store that another process formatted in a shared region, e.g.
 * after exec (see FORK).  mem may be NULL (libc).  SHARDKV_FAULT_IO is read
 * for this handle (see snapshots).
 * Errors: KV_EREGION (region NULL, over KV_REGION_MAX, not a shardkv region,
 *         or formatted by another engine version), KV_ENOMEM.  *out is NULL
 *         on failure.
 */
KV_API int kv_env_attach(void *region, size_t region_size, const kv_mem_methods *mem, kv_env **out);

/*
 * Release this process's handle.  In mode (a) this also frees the store; in
 * mode (b) the region is left as it is for the other processes.  Every kv_ns
 * and kv_nscache opened on env must be closed first, and no other thread may
 * be inside a call on env.
 */
KV_API void kv_env_close(kv_env *env);

typedef struct kv_env_stats {
	size_t   region_size;  /* bytes of the region */
	size_t   region_used;  /* bytes handed out to shards and tables */
	uint32_t namespaces;
	uint32_t max_namespaces;
} kv_env_stats;

/* Fill *out.  Always KV_OK. */
KV_API int kv_env_stats_get(kv_env *env, kv_env_stats *out);

/* Free a buffer filled by this env's calls and reset it to KV_BUF_INIT
 * (a buffer never filled, or already freed, is fine). */
KV_API void kv_buf_free(kv_env *env, kv_buf *buf);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME); the engine's notion of now. */
KV_API int64_t kv_now_ms(void);

/* ------------------------------------------------------------ namespaces */
#define KV_EVICT_NONE            0 /* over a limit: KV_EMAXKEYS / KV_EMAXMEM */
#define KV_EVICT_ALLKEYS_LRU     1 /* approximate LRU (CLOCK) over all keys */
#define KV_EVICT_ALLKEYS_RANDOM  2
#define KV_EVICT_VOLATILE_LRU    3 /* only keys with a TTL */
#define KV_EVICT_VOLATILE_RANDOM 4
#define KV_EVICT_VOLATILE_TTL    5 /* the key with the nearest expiry among a sample */
/*
 * A write that would pass max_keys or max_memory under an evicting policy
 * evicts keys chosen by the policy, from the key's own shard first and else
 * from the namespace's other shards, at most 16 per write; only when nothing
 * is evictable (volatile policies with no key carrying a TTL) does it fail with
 * KV_EMAXKEYS / KV_EMAXMEM.  An all-or-nothing batch evicts as its items need,
 * from the shards it holds (the evictions are undone with it), and never evicts
 * keys it wrote itself, so a batch whose new keys alone exceed max_keys fails
 * whole with KV_EMAXKEYS.
 */

/* For hints: every canonical policy name, in KV_EVICT_* order. */
#define KV_EVICT_POLICY_LIST \
	"none, allkeys-lru, allkeys-random, volatile-lru, volatile-random, volatile-ttl"
#define KV_NAME_REDIS 0x1u /* kv_evict_policy_name: Redis's spelling ("noeviction") */

/*
 * Policy names, the one table of every host.  kv_evict_policy_parse reads the
 * len bytes at name (ASCII case-insensitive, no NUL needed) as a canonical
 * name or Redis's "noeviction" (an alias of none) and sets *policy.  Returns
 * KV_OK or KV_EINVAL (unknown name, NULL argument; *policy is then untouched).
 * kv_evict_policy_name gives the canonical name of a KV_EVICT_* value, or with
 * KV_NAME_REDIS Redis's spelling; NULL for a value that is no policy.  No lock.
 */
KV_API int kv_evict_policy_parse(const char *name, size_t len, int *policy);
KV_API const char *kv_evict_policy_name(int policy, unsigned flags);

typedef struct kv_ns_config {
	uint32_t shards;          /* 0: the env's default_shards; at most KV_MAX_SHARDS */
	uint64_t max_keys;        /* 0: unlimited */
	uint64_t max_memory;      /* bytes of entries and tables; 0: unlimited (region-bound) */
	int64_t  default_ttl_ms;  /* applied by writes that pass KV_EXPIRE_DEFAULT; 0: none;
	                           * 0..KV_EXPIRES_MAX */
	uint32_t max_key_size;    /* 0: 65535 */
	uint32_t max_value_size;  /* 0: 512 MiB, capped by KV_VALUE_SIZE_LIMIT */
	int      eviction;        /* KV_EVICT_* */
	uint32_t flags;           /* KV_NS_REDO; kv_save does not keep it (see REDO LOG) */
} kv_ns_config;

/* Writes of the namespace go to the env's redo log (see REDO LOG).  Requires
 * eviction KV_EVICT_NONE (KV_EINVAL otherwise): an eviction is not a write a
 * log could replay in the same order. */
#define KV_NS_REDO 0x1u

/* Fill *cfg with defaults (all zero, eviction = KV_EVICT_NONE). */
KV_API void kv_ns_config_init(kv_ns_config *cfg);

/*
 * Create namespace `name` (a C string; see kv_ns_name_check).  cfg may be
 * NULL for defaults.
 * Errors: KV_ENSNAME, KV_ENSEXISTS, KV_ETOOMANYNS (max_namespaces live),
 *         KV_ESHARDS (shards over KV_MAX_SHARDS), KV_EINVAL (eviction not a
 *         KV_EVICT_*, max_key_size over KV_KEY_SIZE_LIMIT, max_value_size over
 *         KV_VALUE_SIZE_LIMIT, default_ttl_ms negative or past
 *         KV_EXPIRES_MAX), KV_ENOMEM (the region could not hold its shards).
 */
KV_API int kv_ns_create(kv_env *env, const char *name, const kv_ns_config *cfg);

/*
 * Drop namespace `name` and free its memory.  Handles on it stay valid objects:
 * their calls return KV_ENONS until a namespace of that name exists again, then
 * they operate on the new one.  Errors: KV_ENSNAME, KV_ENONS, KV_EBUSY (a
 * save, load or resize of it is running).
 */
KV_API int kv_ns_drop(kv_env *env, const char *name);

/*
 * Open a process-local handle bound to the *name* of a namespace (it follows a
 * drop and re-create).  The namespace must exist at open time.  A handle may be
 * used by many threads at once.  It caches its namespace's routing (the shards
 * and route of the current generation), refreshed by the first call after a
 * create, drop, resize or load; that call allocates (kv_mem_methods) only when
 * the shard count grew past what the handle held, at most O(shards) bytes a
 * handle, freed by kv_ns_close().  Close it with kv_ns_close().
 * Errors: KV_ENSNAME, KV_ENONS, KV_ENOMEM.
 */
KV_API int kv_ns_open(kv_env *env, const char *name, kv_ns **out);

/*
 * The engine's namespace-name rule for a name given with a length (SQL text,
 * RESP bulk strings): 1..KV_NS_NAME_MAX bytes of [A-Za-z0-9_.:-].  A NUL byte
 * inside the len bytes (len != strlen) is refused, so a host can never act on a
 * shortened name.  Returns KV_OK or KV_ENSNAME.  No lock.
 */
KV_API int kv_ns_name_check(const char *name, size_t len);
/* Free a handle (NULL is fine); not one a kv_nscache gave out. */
KV_API void kv_ns_close(kv_ns *ns);
/* The name the handle is bound to. */
KV_API const char *kv_ns_name(const kv_ns *ns);

/*
 * Change limits, default TTL and eviction of a live namespace (not its shard
 * count: see kv_ns_resize).  Lowering a limit below the current usage makes later
 * writes fail or evict; nothing is removed at once.  cfg->shards is ignored.
 * Errors: KV_ENONS, KV_EINVAL (as kv_ns_create); nothing changed then.
 */
KV_API int kv_ns_configure(kv_ns *ns, const kv_ns_config *cfg);

/*
 * Raise the shard count to `shards` online: readers and writers continue while
 * keys move (jump hashing moves only the keys that must move, all to the new
 * shards).  Errors: KV_ENONS, KV_ESHARDS (not higher, or over KV_MAX_SHARDS),
 * KV_ENOMEM (the region could not hold the new shards; nothing changed),
 * KV_EBUSY.
 */
KV_API int kv_ns_resize(kv_ns *ns, uint32_t shards);

/*
 * Delete every key (one KV_EV_FLUSH event, no per-key events).  Errors:
 * KV_ENONS, KV_ENOMEM (the room a running save needs to keep the keys, or the
 * handle's own bookkeeping; nothing was deleted).
 */
KV_API int kv_ns_flush(kv_ns *ns);

typedef struct kv_ns_stats {
	char         name[KV_NS_NAME_MAX + 1];
	kv_ns_config config;  /* shards is the current count */
	uint64_t     keys;    /* O(1); includes expired keys not yet reclaimed */
	uint64_t     bytes;   /* memory charged to the namespace: entries + tables */
	uint64_t     hits, misses, expired, evicted; /* approximate counters */
} kv_ns_stats;

/* Fill *out.  Errors: KV_ENONS. */
KV_API int kv_ns_stats_get(kv_ns *ns, kv_ns_stats *out);

/*
 * List namespaces: fills up to cap entries of out (sorted by name) and sets *n to
 * the number that exist (which may exceed cap).  out may be NULL when cap is 0.
 * Errors: KV_ENOMEM.  Prefer kv_ns_list_all: between a sizing call and a
 * filling call the list can change.
 */
KV_API int kv_ns_list(kv_env *env, kv_ns_stats *out, size_t cap, size_t *n);

/*
 * Every namespace in one consistent cut, sorted by name: *out is an array of
 * *n entries allocated with the env's allocator (NULL when *n is 0); release it
 * with kv_ns_list_free on the same env.  Hosts use this instead of sizing with
 * kv_ns_list and filling in a second call, between which the list can change.
 * Errors: KV_ENOMEM (*out NULL, *n 0).
 */
KV_API int kv_ns_list_all(kv_env *env, kv_ns_stats **out, size_t *n);
KV_API void kv_ns_list_free(kv_env *env, kv_ns_stats *list);

/*
 * A process-local cache of namespace handles by name, for hosts that look a
 * namespace up on every call (a command's SELECTed namespace, a SQL function's
 * namespace argument, an FDW scan).
 *
 * kv_nscache_get returns the cache's handle for the len bytes at name (checked
 * with kv_ns_name_check first), opening it on the first lookup.  The handle
 * belongs to the cache: never kv_ns_close it; it stays valid until
 * kv_nscache_close, and like every kv_ns it follows its name across drop and
 * re-create.  A name that does not exist is not cached: KV_ENONS, then a
 * later lookup after kv_ns_create finds it.
 * Errors: KV_ENSNAME, KV_ENONS, KV_ENOMEM.
 *
 * THREADS.  kv_nscache_get may be called from any number of threads at once:
 * a hit takes no lock and does not allocate; a miss allocates and opens with
 * no lock held, then takes the cache's own process-local mutex only to link
 * the entry.  kv_nscache_close must run after every other use of the cache and
 * of the handles it gave out, and before kv_env_close.  A cache is one
 * process's: in mode (b) each process (each PostgreSQL backend) has its own.
 * The cache keeps one entry per distinct name that existed when looked up, so
 * its size is bounded by the names a host lets through, not by the live
 * namespaces.
 */
typedef struct kv_nscache kv_nscache;
KV_API int kv_nscache_open(kv_env *env, kv_nscache **out);      /* KV_ENOMEM */
KV_API int kv_nscache_get(kv_nscache *c, const char *name, size_t len, kv_ns **out);
KV_API void kv_nscache_close(kv_nscache *c);

/* ---------------------------------------------------- single-key operations */
/*
 * Keys are 0..max_key_size bytes, any bytes: the empty key is a key, as in
 * Redis (pass it as NULL or any pointer with length 0).  Values are
 * 0..max_value_size bytes.
 * Expired keys are invisible to every call as soon as their time has passed.
 *
 * Errors every call below may return besides its own:
 *   KV_ENONS     the handle's namespace was dropped (and not created again);
 *   KV_EKEYSIZE  the key is longer than the namespace's max_key_size;
 *   KV_EINVAL    a NULL pointer with a nonzero length (key, value, text).
 * Errors every WRITE below (kv_set, kv_del, kv_consume, kv_incr,
 * kv_incr_float, kv_append, kv_setrange, kv_expire, kv_persist, kv_rename,
 * kv_copy, kv_move, kv_setbit, kv_bitfield, kv_bitop)
 * may return besides its own:
 *   KV_ENOMEM    the region could not hold the new entry, or the room a
 *                running snapshot needs to keep the old one;
 *   and, for a write that grows the namespace ("limit errors"):
 *   KV_EMAXKEYS / KV_EMAXMEM  the namespace is at max_keys / max_memory and
 *                its policy does not evict, or nothing evictable was found
 *                (see the eviction rules at KV_EVICT_*).  With an evicting
 *                policy the write evicts first (KV_EV_EVICTED events) and
 *                those keys stay evicted even if the write then fails.
 * Calls that copy a value out may also return KV_ENOMEM when the host
 * allocator could not grow the kv_buf.
 */

/* Expiry arguments of writes (absolute ms since the epoch otherwise). */
#define KV_EXPIRE_DEFAULT 0          /* the namespace's default_ttl_ms, or none */
#define KV_EXPIRE_NEVER   (-1)       /* no expiry */
#define KV_EXPIRE_KEEP    (-2)       /* keep the old key's expiry (Redis KEEPTTL) */

/*
 * Expiry vocabulary: the one TTL arithmetic of every host.
 *
 * KV_EXPIRES_MAX is the latest absolute expiry the engine accepts:
 * 9999-12-31T23:59:59.999Z in ms since the epoch.  Every write that takes an
 * absolute expires_at (kv_set, kv_expire, batch SET) refuses a later time with
 * KV_EINVAL, and a default_ttl_ms that would land past it makes the write fail
 * with KV_EINVAL too.
 *
 * Relative -> absolute (one rule): expires_at = now + ttl, with now the
 * engine's clock in whole ms (kv_now_ms, as Redis adds to mstime()).  A TTL in
 * microseconds is rounded UP to a whole ms first, so a 1500 ms TTL reads back
 * as exactly 1500 ms at once (kv_ttl_remaining), a positive TTL never lasts
 * less than asked as that clock counts, and a 1 us TTL is not "already
 * expired" when the call returns.  A TTL <= 0
 * gives an absolute time at or before now (never below 1, so never a
 * KV_EXPIRE_* sentinel): passed to a write, it deletes the key as Redis's
 * EXPIRE with a negative TTL does.  Hosts that refuse non-positive TTLs (SET EX
 * 0) check that themselves.  A result past KV_EXPIRES_MAX, or one that would
 * overflow int64, is KV_EINVAL: refused, never wrapped or clamped.
 */
#define KV_EXPIRES_MAX INT64_C(253402300799999)

/* now + ttl (ms, or us rounded up) into *expires_at.  KV_OK, or KV_EINVAL
 * (past KV_EXPIRES_MAX; *expires_at untouched).  No lock. */
KV_API int kv_expiry_from_ttl_ms(int64_t ttl_ms, int64_t *expires_at);
KV_API int kv_expiry_from_ttl_us(int64_t ttl_us, int64_t *expires_at);

/*
 * Check an absolute expiry given by a client: KV_OK for 1..KV_EXPIRES_MAX and
 * for the sentinels KV_EXPIRE_DEFAULT, KV_EXPIRE_NEVER, KV_EXPIRE_KEEP;
 * KV_EINVAL for anything else (past KV_EXPIRES_MAX, or below -2).
 */
KV_API int kv_expiry_check(int64_t expires_at);

/*
 * Time left until expires_at, as Redis's TTL and PTTL commands report it:
 * in units of unit_ms, rounded to nearest with halves up ((ms + 500) / 1000 for
 * unit_ms 1000; unit_ms <= 1 gives ms).  expires_at <= 0 (no expiry) gives -1.
 * A time at or before now_ms gives 0 (Redis answers 0 for a key that expires
 * while the command runs; a key already gone is the host's KV_NOTFOUND, -2).
 */
KV_API int64_t kv_ttl_remaining(int64_t expires_at, int64_t now_ms, int64_t unit_ms);

/* kv_set flags */
#define KV_SET_NX 0x1u /* only if absent: KV_EXISTS otherwise */
#define KV_SET_XX 0x2u /* only if present: KV_NOTFOUND otherwise */

/*
 * Copy the value of key, its type and expiry into *out.  Returns KV_OK or
 * KV_NOTFOUND (out->type KV_T_NONE).  Errors: KV_ENOMEM (growing out failed).
 */
KV_API int kv_get(kv_ns *ns, const void *key, size_t klen, kv_buf *out);

/* KV_OK if key exists, else KV_NOTFOUND.  No errors of its own. */
KV_API int kv_exists(kv_ns *ns, const void *key, size_t klen);

/*
 * Store value under key.  expires_at is absolute or one of KV_EXPIRE_*; an
 * absolute time at or before now deletes the key instead (as Redis SET with a
 * past EXAT does) and returns KV_OK.  If old is not NULL it receives the previous
 * value (type KV_T_NONE if there was none), also when NX refuses the write.
 * Returns KV_OK, or KV_EXISTS / KV_NOTFOUND when NX / XX refused the write.
 * Errors: KV_EVALSIZE, KV_EINVAL (type outside 0..255, unknown flags, NX with
 *         XX, an expiry below KV_EXPIRE_KEEP or past KV_EXPIRES_MAX, also one
 *         the default TTL gives), limit errors, KV_ENOMEM (also growing *old).
 *         Over a limit with an evicting policy, keys are evicted first (see
 *         KV_EVICT_*); the error is returned only if that is not enough.
 */
KV_API int kv_set(kv_ns *ns, const void *key, size_t klen, const void *val, size_t vlen,
           int type, int64_t expires_at, unsigned flags, kv_buf *old);

/* Delete key.  KV_OK or KV_NOTFOUND.  Errors: KV_ENOMEM (a running save's room). */
KV_API int kv_del(kv_ns *ns, const void *key, size_t klen);

/*
 * Atomically copy the value into *out and delete the key.  KV_OK or
 * KV_NOTFOUND.  Errors: KV_ENOMEM (growing out, or a running save's room;
 * the key is then kept).
 */
KV_API int kv_consume(kv_ns *ns, const void *key, size_t klen, kv_buf *out);

/*
 * Atomically add `by` to the integer value of key (decimal text of a signed
 * 64-bit integer, as Redis INCRBY parses it).  A missing key counts as 0 and is
 * created with the default TTL; an existing key keeps its TTL.  The result is
 * stored with type KV_T_INT, *result gets it.  Errors: KV_ENOTINT (the
 * stored value is not such text), KV_EOVERFLOW, KV_EINVAL (a new key's
 * default TTL lands past KV_EXPIRES_MAX), limit errors, KV_ENOMEM.
 */
KV_API int kv_incr(kv_ns *ns, const void *key, size_t klen, int64_t by, int64_t *result);

/*
 * Float increment with Redis INCRBYFLOAT semantics: `by` is decimal text (as
 * strtold reads it, e.g. "0.1", "-5", "1e3"), the arithmetic is long double as
 * in Redis, and the sum is rounded to a double and stored as kv_fmt_double's
 * text (type KV_T_REAL; 0.1 + 0.2 stores "0.3", 1e-18 stores "1e-18", -0 stores
 * "0"), at most KV_DOUBLE_BUFSZ - 1 bytes, which this call always reads back.
 * If result_text is not NULL it receives that text; if result is not NULL, the
 * double.  Errors: KV_ENOTFLOAT (the stored value or `by` is not a number:
 * NaN, or text strtold overflows or underflows to zero with; "inf" and "-inf"
 * are numbers, as Redis reads them), KV_EOVERFLOW (the result is not a finite
 * double: Redis's "increment would produce NaN or Infinity"; nothing changed), KV_EINVAL (a new key's default TTL lands
 * past KV_EXPIRES_MAX), limit errors, KV_ENOMEM.
 */
KV_API int kv_incr_float(kv_ns *ns, const void *key, size_t klen, const char *by, size_t bylen,
                         double *result, kv_buf *result_text);

/*
 * Append to the value (creating the key if missing, with the default TTL).  The
 * type tag is kept (KV_T_BYTES for a new key).  *newlen gets the new length.
 * Errors: KV_EVALSIZE (the result would pass max_value_size), KV_EINVAL (a
 * new key's default TTL lands past KV_EXPIRES_MAX), limit errors, KV_ENOMEM.
 */
KV_API int kv_append(kv_ns *ns, const void *key, size_t klen, const void *val, size_t vlen,
              size_t *newlen);

/*
 * Overwrite bytes at offset, zero-padding as Redis SETRANGE does.  A missing key
 * with vlen 0 stays missing (*newlen = 0); a missing key written to is created
 * with type KV_T_BYTES and the default TTL; an existing key keeps type and
 * TTL.  Errors: KV_EVALSIZE (offset + vlen past max_value_size), KV_EINVAL
 * (a new key's default TTL lands past KV_EXPIRES_MAX), limit errors,
 * KV_ENOMEM.
 */
KV_API int kv_setrange(kv_ns *ns, const void *key, size_t klen, size_t offset,
                const void *val, size_t vlen, size_t *newlen);

/*
 * Copy bytes start..end (inclusive; negative counts from the end, Redis
 * GETRANGE semantics) into *out; a range outside the value gives 0 bytes.
 * KV_OK, or KV_NOTFOUND if the key is missing.  Errors: KV_ENOMEM.
 */
KV_API int kv_getrange(kv_ns *ns, const void *key, size_t klen, int64_t start, int64_t end,
                kv_buf *out);

/* Length of the value without copying it.  KV_OK or KV_NOTFOUND (*len 0). */
KV_API int kv_strlen(kv_ns *ns, const void *key, size_t klen, size_t *len);

/* kv_expire conditions (Redis 7 EXPIRE options); 0 = always */
#define KV_EXPIRE_NX 0x1u /* only if the key has no expiry */
#define KV_EXPIRE_XX 0x2u /* only if the key has an expiry */
#define KV_EXPIRE_GT 0x4u /* only if later than the current expiry (none counts as infinite) */
#define KV_EXPIRE_LT 0x8u /* only if earlier than the current expiry */

/*
 * Set an absolute expiry (ms since the epoch).  A time at or before now deletes
 * the key, as Redis does.  Returns KV_OK, KV_NOTFOUND, or KV_UNCHANGED when the
 * condition was not met.  Errors: KV_EINVAL (NX with XX, GT or LT; or GT with LT;
 * or expires_at past KV_EXPIRES_MAX), limit errors (adding an expiry makes
 * the entry larger), KV_ENOMEM.
 */
KV_API int kv_expire(kv_ns *ns, const void *key, size_t klen, int64_t expires_at, unsigned cond);

/* Remove the expiry.  KV_OK, KV_NOTFOUND, or KV_UNCHANGED if it had none.
 * Errors: KV_ENOMEM. */
KV_API int kv_persist(kv_ns *ns, const void *key, size_t klen);

/* *expires_at = absolute expiry, 0 if none.  KV_OK or KV_NOTFOUND.  No errors
 * of its own. */
KV_API int kv_ttl(kv_ns *ns, const void *key, size_t klen, int64_t *expires_at);

/*
 * Rename src to dst atomically (across shards), keeping value, type and expiry;
 * an existing dst is overwritten unless nx.  src == dst is KV_OK (if it exists).
 * Returns KV_OK, KV_NOTFOUND (no src), KV_EXISTS (nx and dst exists).
 * Errors: KV_EKEYSIZE (either name), limit errors (dst's shard may be at
 * max_memory), KV_ENOMEM; on any of them neither key changed.
 */
KV_API int kv_rename(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
              int nx);

/*
 * Copy src's value, type and expiry to dst (Redis COPY).  With dst_ns NULL or
 * ns itself the copy is one atomic step across both keys' shards, and src ==
 * dst is KV_EINVAL (Redis: "source and destination objects are the same").
 * With another namespace handle (COPY ... DB n) src is read, then dst is
 * written in a second atomic step: a concurrent write to src lands before or
 * after the copy, never inside it; dst keeps src's absolute expiry (an expiry
 * that passes in between leaves no dst).  An existing dst is overwritten only
 * with replace.  Returns KV_OK (dst fires KV_EV_SET), KV_NOTFOUND (no src),
 * KV_EXISTS (dst exists and not replace).  Errors: KV_EKEYSIZE (either name,
 * against dst's namespace), limit errors of dst's namespace, KV_ENOMEM; on
 * any of them dst is unchanged.
 */
KV_API int kv_copy(kv_ns *ns, const void *src, size_t srclen, kv_ns *dst_ns, const void *dst,
                   size_t dstlen, int replace);

/*
 * Move key from ns to the other namespace dst_ns, keeping value, type and
 * expiry (Redis MOVE).  Returns KV_OK (KV_EV_DEL in ns, then KV_EV_SET in
 * dst_ns, after the move), KV_NOTFOUND (no key in ns), KV_EXISTS (dst_ns already has the key;
 * nothing moves).  Three atomic steps: read, write to dst_ns if absent, remove
 * from ns only if it still holds exactly what was written; if it changed in
 * between, the copy is removed again (only if untouched) and the move starts
 * over, at most 16 times, then KV_EBUSY.  Between the second and third step
 * another client may see the key in both namespaces (never in neither).
 * Errors: KV_EINVAL (dst_ns NULL or ns itself), KV_EBUSY, KV_EKEYSIZE, limit
 * errors of dst_ns, KV_ENOMEM.
 */
KV_API int kv_move(kv_ns *ns, const void *key, size_t klen, kv_ns *dst_ns);

/*
 * Set or clear one bit of key's value (Redis SETBIT): bit `offset` counts from
 * the most significant bit of byte 0.  A missing key is created with the
 * default TTL; a short value grows, zero-padded, to offset / 8 + 1 bytes (the
 * length is checked against max_value_size before anything is allocated); an
 * existing key keeps its TTL.  The value becomes KV_T_BYTES.  *oldbit (may be
 * NULL) gets the bit's previous value.  KV_EV_SET fires when the bit changed
 * or the value was created or grew (Redis 7.2's "setbit" rule).  Errors: KV_EINVAL (bit
 * not 0 or 1; a new key's default TTL past KV_EXPIRES_MAX), KV_EVALSIZE,
 * limit errors, KV_ENOMEM.
 */
KV_API int kv_setbit(kv_ns *ns, const void *key, size_t klen, uint64_t offset, int bit,
                     int *oldbit);

/* kv_bitfield_op.op and .overflow (Redis BITFIELD GET/SET/INCRBY, OVERFLOW) */
#define KV_BF_GET    0
#define KV_BF_SET    1
#define KV_BF_INCRBY 2
#define KV_BF_WRAP   0
#define KV_BF_SAT    1
#define KV_BF_FAIL   2

typedef struct kv_bitfield_op {
	int      op;        /* KV_BF_GET, KV_BF_SET, KV_BF_INCRBY */
	int      overflow;  /* KV_BF_WRAP, KV_BF_SAT, KV_BF_FAIL (ignored by GET) */
	int      is_signed; /* i<bits> (1..64 bits) or u<bits> (1..63 bits) */
	unsigned bits;
	uint64_t offset;    /* bit offset of the field's most significant bit */
	int64_t  value;     /* SET: the new value; INCRBY: the increment */
	int64_t  result;    /* out: GET/SET the old value, INCRBY the new one */
	int      failed;    /* out: 1 if FAIL refused this op (Redis replies nil) */
} kv_bitfield_op;

/*
 * Run ops[0..n) on key's value in order, as one atomic step (Redis BITFIELD):
 * each op sees the value the ones before it left, bits past the end read as
 * 0.  Overflow follows Redis exactly, including WRAP and SAT on SET (the value
 * is first fitted to the field) and SAT/FAIL on INCRBY.  With at least one SET
 * or INCRBY the key is created (default TTL) or grown, zero-padded, to cover
 * the highest written field even if every write FAILs, and becomes KV_T_BYTES;
 * KV_EV_SET fires unless nothing changed at all.  With GETs only nothing is
 * stored or created (Redis BITFIELD_RO).  Errors: KV_EINVAL (an unknown op or
 * overflow, bits out of range, ops NULL with n > 0; a new key's default TTL
 * past KV_EXPIRES_MAX), KV_EVALSIZE (a field past max_value_size), limit
 * errors, KV_ENOMEM; on any of them nothing changed and results are unset.
 */
KV_API int kv_bitfield(kv_ns *ns, const void *key, size_t klen, kv_bitfield_op *ops, size_t n);

/* kv_bitop ops (Redis BITOP AND | OR | XOR | NOT) */
#define KV_BITOP_AND 0
#define KV_BITOP_OR  1
#define KV_BITOP_XOR 2
#define KV_BITOP_NOT 3
#define KV_BITOP_MAX_KEYS 64 /* sources of one kv_bitop */

/*
 * dst = op over the values of keys[0..nkeys) (Redis BITOP), one atomic step
 * with every key's shard locked (kv_rename's lock order).  A missing source is
 * an empty string; shorter sources are zero-padded to the longest; NOT takes
 * exactly one source.  dst gets the result as KV_T_BYTES with the default TTL
 * (its old TTL goes, as in Redis); an empty result deletes dst (KV_EV_DEL),
 * any other fires KV_EV_SET.  *outlen (may be NULL) gets the result's length.
 * The result is built in a buffer from the env's allocator first (grown with
 * no lock held), so it is bounded by max_value_size; combining the sources
 * runs under the locks and costs the longest source times nkeys, which is
 * how long the keys' shards are held.  Errors: KV_EINVAL (unknown op, nkeys 0 or past
 * KV_BITOP_MAX_KEYS, NOT with more than one source, NULL arrays; a default TTL
 * past KV_EXPIRES_MAX), KV_EKEYSIZE, KV_EVALSIZE, limit errors, KV_ENOMEM; on
 * any of them dst is unchanged.
 */
KV_API int kv_bitop(kv_ns *ns, int op, const void *dst, size_t dstlen, const void *const *keys,
                    const size_t *klens, size_t nkeys, size_t *outlen);

/*
 * Copy a uniformly-ish random live key into *key (key->type is KV_T_BYTES).
 * KV_OK, or KV_NOTFOUND if the namespace holds no live key.  Errors:
 * KV_ENONS, KV_ENOMEM.
 */
KV_API int kv_random_key(kv_ns *ns, kv_buf *key);

/* ----------------------------------------------------------- collections */
/*
 * KINDS.  A value is a string or one of four collections, as in Redis.  A
 * collection's type tag (kv_buf.type, a scan's type) is its kind:
 */
#define KV_T_HASH 16 /* field -> value */
#define KV_T_SET  17 /* unique members */
#define KV_T_ZSET 18 /* unique members ordered by (score, member bytes) */
#define KV_T_LIST 19 /* a sequence, O(1) at both ends */
/*
 * Tags 16..31 are the engine's kinds: kv_set and a batch SET refuse them
 * (KV_EINVAL); every other tag is a string.  (A snapshot of format version
 * 1, from before collections, that holds a string tagged 16..31 loads it as
 * KV_T_BYTES.)  kv_type_name gives "hash",
 * "set", "zset", "list" for them.
 *
 * WHAT EACH CALL DOES WITH EACH KIND
 *   - String calls (kv_get, kv_getrange, kv_strlen, kv_incr, kv_incr_float,
 *     kv_append, kv_setrange, kv_consume, kv_setbit, kv_bitfield, kv_bitop's
 *     sources, a batch's GET/CONSUME/INCR) on a collection: KV_EWRONGTYPE,
 *     nothing changed.  kv_set (and a batch SET) replaces a value of any
 *     kind, as Redis SET does.
 *   - Collection calls on a string, or on another kind: KV_EWRONGTYPE.
 *   - Every kind: kv_exists, kv_del, kv_expire, kv_persist, kv_ttl,
 *     kv_rename, kv_copy, kv_move, kv_scan, kv_random_key, eviction,
 *     memory accounting, snapshots (each kind has its own versioned record;
 *     files written before collections existed still load).
 *   - A collection that becomes empty is deleted (its op's event, then
 *     KV_EV_DEL), as in Redis; a collection call never creates an empty one.
 *   - A write to a missing key creates it with the namespace's default TTL;
 *     writes to an existing collection keep its TTL.
 *
 * ELEMENTS.  Fields, members and list items are byte strings of
 * 0..max_value_size bytes (KV_EVALSIZE); a hash field's value too.  Scores
 * are doubles; NaN is refused (KV_ENOTFLOAT), infinities are scores.  A
 * collection holds at most KV_COLL_MAX_ELEMS elements (KV_EVALSIZE past it).
 * Its memory (elements and structure) is charged to the namespace
 * (max_memory, kv_ns_stats.bytes) and counts toward its key's eviction as a
 * whole.
 *
 * LOCKS.  Collection calls take the key's shard lock (there is no lock-free
 * collection read).  Calls that touch a bounded number of elements (HGET,
 * SADD of n members, ZADD, ZSCORE, ZRANK, LPUSH, LPOP, SPOP of up to
 * KV_COLL_HOLD ...) hold it for O(n log size) work at most.  Calls whose
 * work a caller chooses through a collection's size or a range (HGETALL,
 * SMEMBERS, HRANDFIELD/SRANDMEMBER with a count, set algebra, kv_cscan,
 * COPY and MOVE of a collection ...) never hold a lock for more than
 * KV_COLL_HOLD elements: they PIN the collection under the lock (O(1)) and
 * copy it with no lock held.  The answer is point-in-time: while a
 * collection is pinned, writers OF THAT KEY ONLY wait (with no lock held)
 * until the copy ends; readers and every other key go on.  A DEL, SET,
 * RENAME, expiry or eviction of a pinned key does not wait: the copy is the
 * value as of the pin.  So the cost of a whole read is one O(size) copy,
 * paid by the reader, and a wait of that length for that key's writers.
 * Results go to caller memory (kv_elems) that the engine grows with no lock
 * held.  kv_internal.h's lock table has every section and its bound.
 *
 * SNAPSHOTS.  A save sees each collection as it was at its cut, while
 * writers go on.  The first write to a collection after the cut (or the
 * saver's visit) freezes it in O(1); until the saver has written it,
 * writers copy on write per object, once per save: for a hash or set one
 * 2 KiB segment of 255 slots and the directory (4 bytes a segment), never
 * an element and never the whole collection.  A save during writes to a
 * 1M-field hash so copies at most the slot arrays it touches (14 bytes a
 * field, about 14 MiB for all of them) and the saver serialises the frozen
 * elements with no lock.  The copies are freed when the next write after
 * the save ends.  max_memory counts them while they live.
 *
 * MEMORY.  A collection is charged its header (120 bytes), its body and its
 * entry; kv_ns_stats.bytes is exact.  A write checks max_memory against an
 * upper bound of what it may allocate before changing anything
 * (KV_EMAXMEM, or eviction by the namespace's policy: a collection is one
 * key with all its memory).  A full region (KV_ENOMEM) in the middle of a
 * multi-element write may leave part of it applied.
 */
#define KV_COLL_MAX_ELEMS UINT32_C(0xffffffff)
#define KV_COLL_HOLD      1024u

/* Codes of collection calls (see ERRORS). */
#define KV_EWRONGTYPE (-30732) /* the key holds a value of another kind (Redis WRONGTYPE) */
#define KV_ERANGE     (-30733) /* list index out of range (LSET) */

/*
 * The kind of key: KV_T_HASH .. KV_T_LIST, or KV_T_BYTES for any string.
 * KV_OK or KV_NOTFOUND.  kind_name(kind) is Redis's TYPE reply: "string",
 * "hash", "set", "zset", "list" (NULL for anything else).
 */
KV_API int kv_kind(kv_ns *ns, const void *key, size_t klen, int *kind);
KV_API const char *kv_kind_name(int kind);

/*
 * Redis's OBJECT ENCODING reply for key: "listpack" (small hash, set, zset
 * or list), "intset" (small set of integers, if kept), "hashtable", "skiplist",
 * "quicklist", and for strings "int", "embstr" or "raw" as Redis chooses.
 * Static string.  KV_OK or KV_NOTFOUND.
 */
KV_API int kv_encoding(kv_ns *ns, const void *key, size_t klen, const char **name);

/*
 * Elements of kind `kind` (KV_T_HASH .. KV_T_LIST) at key: HLEN, SCARD,
 * ZCARD, LLEN.  A missing key: KV_OK with 0.  KV_EWRONGTYPE.
 */
KV_API int kv_card(kv_ns *ns, const void *key, size_t klen, int kind, uint64_t *n);

/*
 * Results of calls that return many elements.  Each element's bytes are
 * bytes.data[off .. off + len); len KV_ELEM_NIL marks an absent one (HMGET of
 * a missing field, ZMSCORE of a missing member).  score is set for zset
 * results.  Hash results that return fields and values put each value right
 * after its field.  Initialise with KV_ELEMS_INIT, reuse freely (a call
 * replaces the contents), release with kv_elems_free on the env that filled
 * it.
 */
#define KV_ELEM_NIL SIZE_MAX
typedef struct kv_elem {
	size_t off, len;
	double score;
} kv_elem;
typedef struct kv_elems {
	kv_elem *v;
	size_t   n, cap;
	kv_buf   bytes;
} kv_elems;
#define KV_ELEMS_INIT {NULL, 0, 0, KV_BUF_INIT}
KV_API void kv_elems_free(kv_env *env, kv_elems *e);

/*
 * Cursor over a collection's elements (HSCAN, SSCAN, ZSCAN; kind is the one
 * expected): Redis's guarantees (every element present for the whole scan is
 * returned at least once, also while the collection grows or converts).
 * match as kv_scan's (NULL or "*": all); count a work hint (0: 10).  A small
 * (compact) collection comes back whole in one call with cursor 0, as Redis
 * does.  Hash elements come as field, value pairs (values omitted when
 * novalues, HSCAN NOVALUES); zset elements carry their score.  A missing key
 * returns KV_OK, no elements and cursor 0.  KV_EWRONGTYPE, KV_ENOMEM.
 */
KV_API int kv_cscan(kv_ns *ns, const void *key, size_t klen, int kind, uint64_t *cursor,
                    const char *match, size_t mlen, size_t count, int novalues, kv_elems *out);

/* ---- hashes (Redis H*) */
#define KV_HSET_NX 0x1u /* HSETNX: only a field that does not exist */

/*
 * Set npairs field/value pairs (fv[2i] the field, fv[2i+1] its value; a field
 * given twice takes the last value).  *added (may be NULL) gets the number
 * of new fields.  With KV_HSET_NX (one pair only) an existing field is left
 * alone: KV_EXISTS.  Errors: KV_EINVAL (npairs 0, NX with more than one
 * pair), KV_EVALSIZE, KV_EWRONGTYPE, write errors.  Event KV_EV_HSET.
 */
KV_API int kv_hset(kv_ns *ns, const void *key, size_t klen, const kv_val *fv, size_t npairs,
                   unsigned flags, uint64_t *added);
/* The value of field into *out (type KV_T_BYTES).  KV_OK, KV_NOTFOUND (no key
 * or no field), KV_EWRONGTYPE, KV_ENOMEM. */
KV_API int kv_hget(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen,
                   kv_buf *out);
/* HMGET: one element per field, KV_ELEM_NIL for a missing one (all of them
 * for a missing key, which is KV_OK). */
KV_API int kv_hmget(kv_ns *ns, const void *key, size_t klen, const kv_val *fields, size_t n,
                    kv_elems *out);
/* HGETALL (KV_HALL_FIELDS | KV_HALL_VALUES), HKEYS (FIELDS), HVALS (VALUES),
 * point-in-time.  A missing key: KV_OK, no elements. */
#define KV_HALL_FIELDS 0x1u
#define KV_HALL_VALUES 0x2u
KV_API int kv_hgetall(kv_ns *ns, const void *key, size_t klen, unsigned what, kv_elems *out);
/* Remove fields; *removed (may be NULL) gets how many existed.  Event
 * KV_EV_HDEL if any did. */
KV_API int kv_hdel(kv_ns *ns, const void *key, size_t klen, const kv_val *fields, size_t n,
                   uint64_t *removed);
/* KV_OK if field exists, else KV_NOTFOUND; KV_EWRONGTYPE. */
KV_API int kv_hexists(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen);
/* Length of field's value: KV_OK (0 and KV_NOTFOUND for none). */
KV_API int kv_hstrlen(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen,
                      size_t *len);
/* HINCRBY: as kv_incr on one field (KV_ENOTINT "hash value is not an
 * integer", KV_EOVERFLOW).  Event KV_EV_HINCRBY. */
KV_API int kv_hincr(kv_ns *ns, const void *key, size_t klen, const void *field, size_t flen,
                    int64_t by, int64_t *result);
/* HINCRBYFLOAT: as kv_incr_float on one field.  Event KV_EV_HINCRBYFLOAT. */
KV_API int kv_hincr_float(kv_ns *ns, const void *key, size_t klen, const void *field,
                          size_t flen, const char *by, size_t bylen, double *result,
                          kv_buf *result_text);
/* HRANDFIELD key [count [WITHVALUES]] with Redis's rules for count (has_count
 * 0: one field; count >= 0: distinct fields, at most the hash's; count < 0:
 * |count| fields, repeats allowed).  A missing key: KV_OK, no elements; a key
 * of another kind: KV_EWRONGTYPE, also for count 0 (as Redis). */
KV_API int kv_hrandfield(kv_ns *ns, const void *key, size_t klen, int has_count, int64_t count,
                         int withvalues, kv_elems *out);

/* ---- sets (Redis S*) */
/* Add members; *added (may be NULL) gets how many were new.  Event KV_EV_SADD
 * if any was. */
KV_API int kv_sadd(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                   uint64_t *added);
/* Remove members; *removed gets how many existed.  Event KV_EV_SREM. */
KV_API int kv_srem(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                   uint64_t *removed);
/* KV_OK if member is in the set, KV_NOTFOUND if not (or no key). */
KV_API int kv_sismember(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen);
/* SMISMEMBER: out[i] = 1 if m[i] is a member, else 0. */
KV_API int kv_smismember(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                         uint8_t *out);
/* SMEMBERS, point-in-time. */
KV_API int kv_smembers(kv_ns *ns, const void *key, size_t klen, kv_elems *out);
/* SPOP (has_count 0: one member; else up to count >= 0 members, removed).
 * Event KV_EV_SPOP.  A missing key: KV_OK, no elements; a key of another
 * kind: KV_EWRONGTYPE, also for count 0 (as Redis). */
KV_API int kv_spop(kv_ns *ns, const void *key, size_t klen, int has_count, uint64_t count,
                   kv_elems *out);
/* SRANDMEMBER, count as kv_hrandfield's. */
KV_API int kv_srandmember(kv_ns *ns, const void *key, size_t klen, int has_count, int64_t count,
                          kv_elems *out);
/* SMOVE src dst member, atomic across both keys: KV_OK (moved, or src == dst
 * and a member), KV_NOTFOUND (not in src, or src missing whatever dst is).
 * Events KV_EV_SREM on src, KV_EV_SADD on dst.  KV_EWRONGTYPE if src, or dst
 * when src exists, is not a set (Redis's order). */
KV_API int kv_smove(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
                    const void *m, size_t mlen);

/* Set and sorted-set algebra (SINTER, SUNION, SDIFF, ZINTER, ZUNION, ZDIFF) */
#define KV_SETOP_INTER 0
#define KV_SETOP_UNION 1
#define KV_SETOP_DIFF  2
#define KV_AGG_SUM 0
#define KV_AGG_MIN 1
#define KV_AGG_MAX 2
/*
 * keys[0..n) combined by op; a missing key is an empty set.  dst NULL:
 * results into *out (may be NULL with a dst).  limit (SINTERCARD's LIMIT; 0:
 * none) stops an INTER after that many members, and then only *card is
 * filled.  With dst (the STORE forms) the result replaces dst (deleted if
 * empty, events KV_EV_SINTERSTORE ... or KV_EV_DEL), and *card gets its
 * size.  The sources are read point-in-time together: no write to any source
 * lands between the reads.  KV_EWRONGTYPE if a source (or, for a STORE, no
 * other check: dst is replaced whatever its kind) is of another kind.
 * kv_zsetop: sources may be sets (score 1) or zsets; weights (NULL: all 1)
 * multiply scores, agg combines them; results in zset order with scores.
 * ZDIFF takes the first key's scores.  NaN, as in Redis: the sources are
 * taken smallest first (stable); a NaN product (inf * 0) counts as 0 for
 * every UNION source and for INTER's first source, while INTER's other
 * sources fold theirs unchanged: SUM turns a NaN sum into 0, MIN and MAX
 * keep the score so far (ZINTER 2 z z WEIGHTS 2 0 of an inf score: 0).
 */
KV_API int kv_setop(kv_ns *ns, int op, const kv_val *keys, size_t n, uint64_t limit,
                    const void *dst, size_t dstlen, kv_elems *out, uint64_t *card);
KV_API int kv_zsetop(kv_ns *ns, int op, const kv_val *keys, size_t n, const double *weights,
                     int agg, const void *dst, size_t dstlen, kv_elems *out, uint64_t *card);

/* ---- sorted sets (Redis Z*)
 *
 * REPRESENTATION AND COSTS (engine/zset.c).  Up to 128 members of up to 64
 * bytes (Redis's zset-max-listpack-entries / -value) a zset is one compact
 * blob in order, rewritten whole by a write (at most ~9 KB): OBJECT ENCODING
 * "listpack".  Past either limit it converts to an order-statistic B+tree
 * keyed by (score, member bytes) with 512-byte nodes that count the elements
 * below each child, plus a member index (chained hash, doubled incrementally
 * a few buckets per write): "skiplist".  A ZADD to a new key starts compact
 * unless its first member is over 64 bytes (Redis 7.0's rule).  It never
 * converts back on removals, as Redis; a STORE result or a loaded zset takes
 * the compact form when it fits.  Costs: add,
 * remove, rank (ZRANK), select by rank and the bounds of a score or lex
 * range are O(log n); ZSCORE and the member check of ZADD are O(1); ZRANGE
 * and friends add O(1) per element returned.  Memory: ~55 bytes an element
 * for 10-byte members (Redis 7: ~104), see bench/README.md "Sorted sets".
 *
 * Ordering is Redis's: by score (-0 and 0 are equal; the stored score keeps
 * its sign in the tree; a compact zset stores -0 as 0, as Redis's listpack
 * does), then member bytes (memcmp, shorter first).  Lex ranges (BYLEX,
 * ZLEXCOUNT, ZREMRANGEBYLEX) assume every score is equal, as Redis says;
 * with mixed scores their answer is unspecified (but never an error).
 *
 * COPY-ON-WRITE GRANULARITY.  A save that runs during writes sees each zset
 * as of its cut: the first write after the cut copies only the tree nodes it
 * changes (its root-to-leaf path, and a sibling it merges with: at most 3 x
 * 512 bytes per tree level, 5 levels for 1M members) and keeps the old ones
 * for the saver; a node already copied since the cut is written in place.
 * A removed member's record is kept the same way.  The member index is not
 * copied (the saver walks the tree in order, so the record is sorted).  A
 * small zset's blob is replaced by every write anyway, so its copy is the
 * write's own.  Nothing is ever copied per element of the zset.
 *
 * ATOMICITY.  Every call is atomic except two, which a caller can make
 * unbounded: ZREMRANGE* and ZPOP of more than KV_COLL_HOLD elements remove
 * them in holds of at most KV_COLL_HOLD (64 while a save is copying the
 * zset), and other clients' writes may land between holds (a rank range is
 * fixed at the first hold; a score or lex range is found again in each; the
 * event fires once, at the end).  A ZADD of many members that fills the
 * region (KV_ENOMEM, not max_memory, which is checked first) keeps the
 * members added before the failing one.
 */
#define KV_ZADD_NX   0x01u
#define KV_ZADD_XX   0x02u
#define KV_ZADD_GT   0x04u
#define KV_ZADD_LT   0x08u
#define KV_ZADD_CH   0x10u /* *count counts changed scores too */
#define KV_ZADD_INCR 0x20u /* one member: add score to it, *incr_result gets the new score */
typedef struct kv_zmember {
	double score;
	kv_val member;
} kv_zmember;
/*
 * ZADD with Redis 7's options.  *count (may be NULL) gets the members added
 * (plus those whose score changed, with CH).  With INCR, a refusal by
 * NX/XX/GT/LT returns KV_UNCHANGED (Redis's nil reply).  Errors: KV_EINVAL
 * (NX with XX, GT or LT; GT with LT; INCR with n != 1; n 0), KV_ENOTFLOAT
 * (a NaN score, or INCR reaching NaN: nothing changed), KV_EWRONGTYPE, write
 * errors.  Event KV_EV_ZADD (KV_EV_ZINCR with INCR) when anything changed.
 */
KV_API int kv_zadd(kv_ns *ns, const void *key, size_t klen, const kv_zmember *m, size_t n,
                   unsigned flags, uint64_t *count, double *incr_result);
/* ZINCRBY: kv_zadd with KV_ZADD_INCR of one member. */
KV_API int kv_zincr(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen,
                    double by, double *result);
/* ZREM; event KV_EV_ZREM if any member existed. */
KV_API int kv_zrem(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                   uint64_t *removed);
/* ZSCORE: KV_OK or KV_NOTFOUND. */
KV_API int kv_zscore(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen,
                     double *score);
/* ZMSCORE: one element per member (len 0 with its score, KV_ELEM_NIL if absent). */
KV_API int kv_zmscore(kv_ns *ns, const void *key, size_t klen, const kv_val *m, size_t n,
                      kv_elems *out);
/* ZRANK / ZREVRANK (rev): 0-based rank and (score may be NULL) the score.
 * KV_OK or KV_NOTFOUND. */
KV_API int kv_zrank(kv_ns *ns, const void *key, size_t klen, const void *m, size_t mlen,
                    int rev, uint64_t *rank, double *score);

/* A range of a zset, as ZRANGE's arguments give it. */
#define KV_ZBY_RANK  0 /* start/stop: ranks, negative from the end, inclusive */
#define KV_ZBY_SCORE 1 /* min/max with *_excl ("(" in Redis) */
#define KV_ZBY_LEX   2 /* lmin/lmax: bytes; *_inf -1 for "-", +1 for "+", else 0 */
typedef struct kv_zrange_spec {
	int     by;
	int     rev;          /* REV: highest first (for SCORE/LEX, min and max stay the bounds) */
	int64_t start, stop;  /* KV_ZBY_RANK */
	double  min, max;     /* KV_ZBY_SCORE */
	int     min_excl, max_excl; /* SCORE and LEX */
	kv_val  lmin, lmax;   /* KV_ZBY_LEX */
	int     lmin_inf, lmax_inf;
	int64_t offset;       /* LIMIT offset count (SCORE and LEX only); count < 0: all */
	int64_t count;
} kv_zrange_spec;
/* Fill spec with "by rank, 0 .. -1, no limit". */
KV_API void kv_zrange_spec_init(kv_zrange_spec *spec);
/*
 * ZRANGE (and ZRANGEBYSCORE, ZREVRANGE, ... which hosts express as a spec),
 * point-in-time, members with their scores.  A missing key: KV_OK, no
 * elements.  Errors: KV_EINVAL (LIMIT with BY RANK), KV_EWRONGTYPE, KV_ENOMEM.
 */
KV_API int kv_zrange(kv_ns *ns, const void *key, size_t klen, const kv_zrange_spec *spec,
                     kv_elems *out);
/* ZCOUNT / ZLEXCOUNT (spec by SCORE or LEX; offset/count ignored). */
KV_API int kv_zcount(kv_ns *ns, const void *key, size_t klen, const kv_zrange_spec *spec,
                     uint64_t *n);
/* ZRANGESTORE dst src spec: dst gets the range (deleted if empty); *n its
 * size.  Event KV_EV_ZRANGESTORE (or KV_EV_DEL). */
KV_API int kv_zrangestore(kv_ns *ns, const void *dst, size_t dstlen, const void *src,
                          size_t srclen, const kv_zrange_spec *spec, uint64_t *n);
/* ZREMRANGEBYRANK/SCORE/LEX: remove the range; *removed.  Events
 * KV_EV_ZREMRANGEBY{RANK,SCORE,LEX}. */
KV_API int kv_zremrange(kv_ns *ns, const void *key, size_t klen, const kv_zrange_spec *spec,
                        uint64_t *removed);
/* ZPOPMIN / ZPOPMAX (max): up to count members (has_count 0: one), lowest
 * (highest) first.  Event KV_EV_ZPOPMIN / KV_EV_ZPOPMAX. */
KV_API int kv_zpop(kv_ns *ns, const void *key, size_t klen, int max, int has_count,
                   uint64_t count, kv_elems *out);
/* ZRANDMEMBER, count as kv_hrandfield's; scores always filled. */
KV_API int kv_zrandmember(kv_ns *ns, const void *key, size_t klen, int has_count, int64_t count,
                          kv_elems *out);

/* ---- lists (Redis L*)
 *
 * ENCODING.  A list of at most 8 KB of elements (Redis's
 * list-max-listpack-size -2) is one packed chunk, OBJECT ENCODING
 * "listpack"; past it, a "quicklist": 8 KB chunks under a two-level
 * directory of chunk counts (509 chunks a directory).  Each element costs
 * its bytes plus 2 (4 past 127 bytes); a quicklist back at one chunk of 4 KB
 * is a listpack again.  Push and pop at either end are O(1) (one chunk, an 8
 * KB memmove at most); LINDEX, LSET and LINSERT's change are O(n / 350k +
 * 509 + one chunk) for small elements.  An element bigger than 8 KB gets a
 * chunk of its own.
 *
 * SNAPSHOTS.  Copy-on-write per chunk and directory node: the first change
 * to a list after a save's cut copies the nodes it touches (the chunk, up to
 * 8 KB; its directory, 4 KB; the top, 8 bytes a directory), once each per
 * save; later changes to them are in place.  A push/pop stream on a
 * 1M-element list during a save copies the top and the end chunks and
 * directories once, nothing per write after that.
 *
 * LOCKS (kv_internal.h's table).  Calls hold the key's shard lock for work
 * bounded by their arguments (n elements pushed, a pop's count).  LRANGE of
 * more than KV_COLL_HOLD elements, LPOS and the searches of LREM and LINSERT
 * run pinned with no lock (writers of that one key wait meanwhile); LTRIM
 * and a pop of many elements detach whole chunks in O(directories) and free
 * them after the unlock.  Nothing here blocks: BLPOP and friends are the
 * host's, woken by the push events.
 */
#define KV_LEFT  0 /* head */
#define KV_RIGHT 1 /* tail */
#define KV_PUSH_XX 0x1u /* LPUSHX / RPUSHX: only onto an existing list */
/*
 * LPUSH / RPUSH v[0..n) one after the other at `where` (so LPUSH a b c leaves
 * c first).  *len (may be NULL) gets the new length; with KV_PUSH_XX and no
 * list, KV_NOTFOUND and *len 0.  Event KV_EV_LPUSH / KV_EV_RPUSH.
 */
KV_API int kv_push(kv_ns *ns, const void *key, size_t klen, int where, const kv_val *v, size_t n,
                   unsigned flags, uint64_t *len);
/* LPOP / RPOP: up to count elements (has_count 0: one), in pop order.
 * KV_OK (count 0 on a list: no elements, nothing changes), or KV_NOTFOUND
 * (no key, whatever the count: Redis's nil).  Event KV_EV_LPOP / KV_EV_RPOP,
 * then KV_EV_DEL if the list emptied. */
KV_API int kv_pop(kv_ns *ns, const void *key, size_t klen, int where, int has_count,
                  uint64_t count, kv_elems *out);
/* LRANGE start stop (Redis indices: negative from the tail, clamped to the
 * list; an empty range or a missing key: KV_OK, no elements), point-in-time. */
KV_API int kv_lrange(kv_ns *ns, const void *key, size_t klen, int64_t start, int64_t stop,
                     kv_elems *out);
/* LINDEX: KV_OK or KV_NOTFOUND (no key or index out of range). */
KV_API int kv_lindex(kv_ns *ns, const void *key, size_t klen, int64_t index, kv_buf *out);
/* LSET: KV_OK, KV_NOTFOUND (no key: Redis "no such key"), KV_ERANGE.
 * Event KV_EV_LSET. */
KV_API int kv_lset(kv_ns *ns, const void *key, size_t klen, int64_t index, const void *v,
                   size_t vlen);
/* LINSERT BEFORE|AFTER pivot: *len gets the new length; KV_NOTFOUND with *len
 * -1 when the pivot is missing, 0 when the key is.  Event KV_EV_LINSERT. */
KV_API int kv_linsert(kv_ns *ns, const void *key, size_t klen, int after, const void *pivot,
                      size_t plen, const void *v, size_t vlen, int64_t *len);
/* LREM count value: count > 0 removes the first count matches from the
 * head, < 0 from the tail, 0 all; *removed (0 for a missing key, KV_OK).
 * Event KV_EV_LREM if any went (then KV_EV_DEL if emptied). */
KV_API int kv_lrem(kv_ns *ns, const void *key, size_t klen, int64_t count, const void *v,
                   size_t vlen, uint64_t *removed);
/* LTRIM start stop (LRANGE's normalisation; an empty range empties the
 * list).  A missing key: KV_OK, no event.  Event KV_EV_LTRIM on a list even
 * when nothing went, as in Redis (then KV_EV_DEL if emptied). */
KV_API int kv_ltrim(kv_ns *ns, const void *key, size_t klen, int64_t start, int64_t stop);
/* LPOS value [RANK r] [COUNT c] [MAXLEN m]: r != 0 (KV_EINVAL; negative from
 * the tail; INT64_MIN, as in Redis 7.0 where negating it overflows, is -1
 * with any COUNT read as 0), c >= 0 (0: all; has_count 0: one answer), m >= 0 (0: all).  Each
 * position found is out->v[i].off (len 0), in the order found.  KV_OK, or
 * KV_NOTFOUND when none (no elements). */
KV_API int kv_lpos(kv_ns *ns, const void *key, size_t klen, const void *v, size_t vlen,
                   int64_t rank, int has_count, int64_t count, int64_t maxlen, kv_elems *out);
/* LMOVE src dst from to (RPOPLPUSH is RIGHT, LEFT), atomic across both keys:
 * the element into *out.  KV_NOTFOUND (src missing, whatever dst is),
 * KV_EWRONGTYPE (src, then dst, of another kind).  src == dst rotates (from
 * == to leaves the list as it is).  Events in Redis's order:
 * KV_EV_LPUSH/RPUSH on dst, KV_EV_LPOP/RPOP on src, KV_EV_DEL if src
 * emptied. */
KV_API int kv_lmove(kv_ns *ns, const void *src, size_t srclen, const void *dst, size_t dstlen,
                    int from, int to, kv_buf *out);

/* ------------------------------------------------------------- batches */
#define KV_OP_GET     1
#define KV_OP_SET     2
#define KV_OP_DEL     3
#define KV_OP_EXISTS  4
#define KV_OP_CONSUME 5
#define KV_OP_INCR    6 /* kv_incr of `by`; the result in out_int */

#define KV_BATCH_ALL_OR_NOTHING 0 /* atomic across shards; a consistent cut for reads */
#define KV_BATCH_BEST_EFFORT    1 /* each item on its own */

/*
 * One batch item.  Inputs: op, key, and for KV_OP_SET val/type/expires_at/flags
 * as kv_set takes them, for KV_OP_INCR `by` as kv_incr takes it.  Outputs:
 * status (KV_OK, KV_NOTFOUND, KV_EXISTS, an error, or KV_EABORTED), for GET
 * and CONSUME the value as arena->data[val_off .. val_off + val_len) with its
 * type and expiry, for INCR the new integer in out_int.
 */
typedef struct kv_op {
	int         op;
	const void *key;
	size_t      klen;
	const void *val;
	size_t      vlen;
	int         type;
	int64_t     expires_at;
	unsigned    flags;
	int64_t     by;             /* KV_OP_INCR */
	/* outputs */
	int         status;
	int         out_type;
	size_t      out_off;
	size_t      out_len;
	int64_t     out_expires_at;
	int64_t     out_int;        /* KV_OP_INCR: the value after the increment */
} kv_op;

/*
 * Run n items on one namespace.  Items apply in order (a GET after a SET of the
 * same key sees it).  arena (may be NULL if there are no GET/CONSUME items)
 * receives every value read, back to back.
 *
 * KV_BATCH_ALL_OR_NOTHING: every touched shard is locked (in ascending order, so
 * overlapping batches cannot deadlock) and the batch applies as a whole or not at
 * all.  A consume of a missing key, a NX/XX refusal, an INCR of a value that is
 * not an integer (KV_ENOTINT) or that would overflow (KV_EOVERFLOW), a size or
 * limit error fails the batch: the call returns that item's code, err->item names it, that item's
 * status holds the code and every other item's status is KV_EABORTED; nothing
 * changed.  KV_NOTFOUND of a GET, DEL or EXISTS is an outcome, not a failure.
 * Concurrent all-or-nothing batches, snapshots and all-or-nothing reads see all
 * of a batch or none of it.  A batch of only GET/EXISTS items takes no lock
 * (in either mode); it reads the clock once, so a key expiring meanwhile is
 * found by all of its items or by none, and its items count in the namespace's
 * hits and misses and set LRU reference bits as kv_get and kv_exists do.
 *
 * Each shard is locked once per batch, however many of its keys the batch
 * has, and while the items apply the slots and entries of the items ahead are
 * prefetched, so the cache misses of random keys overlap instead of adding up
 * under the locks.
 *
 * KV_BATCH_BEST_EFFORT: each item gets its own status (the codes kv_get,
 * kv_set, kv_del, kv_exists, kv_consume or kv_incr would return); the call returns
 * KV_OK unless the arguments are invalid, and the items that succeeded stay
 * applied.  A batch with writes runs each item as that single-key call, in
 * order, with its hooks fired as it completes (no lock is held between items,
 * other writers may interleave); the batch prefetches each window of 16 keys'
 * slots and entries first, so it is the fast way to apply many independent
 * writes (about 3.5x single kv_set calls at 1M random keys, bench/README.md).
 * The keys and values are only read during the call.
 *
 * A key is 0..max_key_size bytes; an item's key may be NULL with klen 0 (the
 * empty key; the engine then sets key to "").
 * Errors: KV_EINVAL (an unknown op or mode, a NULL key with a length, GET or
 *         CONSUME items without an arena; no item ran), KV_ENONS, KV_ENOMEM
 *         (growing the arena, or the batch's own bookkeeping), or in
 *         all-or-nothing mode the failing item's code (KV_NOTFOUND of a
 *         CONSUME, KV_EXISTS / KV_NOTFOUND of an NX / XX SET, KV_ENOTINT /
 *         KV_EOVERFLOW of an INCR, KV_EKEYSIZE,
 *         KV_EVALSIZE, KV_EINVAL, KV_EMAXKEYS, KV_EMAXMEM, KV_ENOMEM).
 *         err may be NULL.
 */
KV_API int kv_batch(kv_ns *ns, kv_op *ops, size_t n, int mode, kv_buf *arena, kv_error *err);

/* --------------------------------------------------------------- scans */
/*
 * Cursor scan with Redis SCAN guarantees: start with cursor 0, call again with
 * the returned cursor until it comes back 0.  Every key that exists during the
 * whole scan is returned at least once, also while writers run and the
 * namespace's tables grow or its shard count is raised; a key may be returned
 * twice only if the shard count was raised during the scan.  Keys added or
 * removed during the scan may or may not appear.
 *
 * The cursor orders keys by (shard, hash), so it is independent of table sizes.
 */
#define KV_SCAN_STRINGS (-1)
typedef struct kv_scan_opts {
	const void *prefix;     /* only keys starting with these bytes (NULL: all) */
	size_t      prefix_len;
	const char *match;      /* Redis glob (MATCH); NULL or "*": all, the empty key too */
	size_t      match_len;
	size_t      count;      /* work hint in table buckets walked; 0: 10.  Any count is
	                         * safe: a shard lock is held for 256 buckets at most */
	int         values;     /* nonzero: also return values */
	int         kind;       /* 0: every kind; KV_SCAN_STRINGS: strings only (KV_T_BYTES
	                         * is 0, so it cannot say that); KV_T_HASH .. KV_T_LIST:
	                         * that kind only (Redis SCAN TYPE).  Anything else:
	                         * KV_EINVAL.  A collection reaches the callback with val
	                         * NULL, vlen 0 and type its kind. */
} kv_scan_opts;

/*
 * Called once per returned key, with no engine lock held (keys are collected
 * under each shard's lock in bounded steps, then filtered and handed out after
 * it is released).  The callback may therefore be slow and may call the engine,
 * this namespace included; writes it makes may or may not show up later in the
 * same scan.  val is NULL unless opts->values; a value larger than 512 bytes is
 * read after the lock (if the key was deleted meanwhile it is not returned).
 * Return 0 to continue.  Nonzero stops the step: the rest of its keys are
 * skipped and kv_scan returns that value with *cursor unchanged, so a host can
 * abort a scan on its own error.
 */
typedef int (*kv_scan_fn)(void *ctx, const void *key, size_t klen, const void *val,
                          size_t vlen, int type, int64_t expires_at);

/*
 * One scan step from *cursor; sets *cursor to the next cursor (0 when done).
 * opts may be NULL (every key, count 10, no values).  Returns KV_OK, or the
 * callback's nonzero value (see kv_scan_fn; the one case where kv_scan can
 * return something that is not a KV_* code).
 * Errors: KV_EINVAL (cursor or fn NULL, a prefix or match length without its
 * pointer), KV_ENONS, KV_ENOMEM (the step's key buffer).
 */
KV_API int kv_scan(kv_ns *ns, uint64_t *cursor, const kv_scan_opts *opts, kv_scan_fn fn, void *ctx);

/* ------------------------------------------------------------ glob */
#define KV_GLOB_NOCASE 0x1u /* ASCII letters match either case */

/*
 * Redis glob matching, the one matcher of every host (KEYS, SCAN MATCH,
 * PSUBSCRIBE, kv.keys, kv_keys ...): `*`, `?`, `[abc]`, `[^abc]`, `[a-z]`, `\x`;
 * an unclosed `[` is a set running to the end of the pattern.  As in Redis,
 * the empty string matches only the empty pattern, not even "*" (kv_scan takes
 * a MATCH of "*" as no filter, as Redis's KEYS * does).  Bytes compare
 * unsigned.  Worst case O(plen * slen) time, constant stack, no allocation, no
 * lock: safe on any input.  Returns 1 on a match, else 0.
 */
KV_API int kv_glob_match(const void *pattern, size_t plen, const void *str, size_t slen,
                         unsigned flags);

/* ----------------------------------------------------------- snapshots */
/*
 * FILES.  Every save and load goes through the same file handling:
 *   - A save writes "<file>.tmp-<pid>-<random>" next to the file, created
 *     O_CREAT|O_EXCL|O_NOFOLLOW (a link or file planted at a temp name cannot
 *     redirect it; a taken name retries another), fsyncs it, renames it over the
 *     file in the same directory and fsyncs the directory.  A crash at any moment
 *     leaves the previous file or the new one, never a mix.  A failed save
 *     removes its temp file and leaves the previous file as it was.
 *   - A load reads only a regular file: it is checked with lstat before it is
 *     opened (O_RDONLY|O_NONBLOCK|O_NOFOLLOW) and with fstat after, so a FIFO,
 *     device, socket, directory or symlink is refused with KV_EIO (sys_errno
 *     EINVAL, or EISDIR for a directory) and never blocks.
 *   - The file itself is never a followed symlink: a save of every namespace
 *     replaces a link at the file's name with the file; a load, and a save of
 *     one namespace (which reads the file, see below), refuse it with KV_EIO.
 *     kv_save/kv_load follow the
 *     directories of their path as the caller wrote it; kv_save_at/kv_load_at
 *     confine `name` to `dir` (below).
 *   - Saves into one directory take an flock on it, one after the other (a save
 *     waits up to 200 ms for another, holding no engine lock, then fails with
 *     KV_EBUSY, which a host retries where its user can interrupt the wait; on a file system without flock, saves run unserialised).
 *   - Messages in err->msg quote paths shortened to about 90 bytes.  A path of
 *     PATH_MAX bytes or more, or a file name component over 255 bytes, is
 *     KV_EINVAL.  Paths are C strings: a host that receives a path with a length
 *     must refuse embedded NUL bytes before calling (as kv_ns_name_check does
 *     for names).
 *
 * WHICH NAMESPACES A FILE KEEPS.  A save never drops namespaces that another
 * save put in the same file: saving ONE namespace into an existing file keeps
 * the file's other namespaces (their blocks are copied into the new file; the
 * saved namespace replaces its old copy).  What the save checks first:
 *   - the file's structure: its header, every block header in order, each
 *     namespace's 'N' and 'Z' block and the trailer (in a version 3 file the
 *     trailer's hash covers exactly these), with a load's rules;
 *   - every byte it keeps: each kept block's checksum, each kept entry's
 *     lengths and flags, each kept namespace's entry count.  The bytes checked
 *     are the bytes copied (they are read once, into memory).
 * The entries of the old copy of the namespace being saved are not read (it
 * is replaced), so damage inside them does not fail the save.  If the file
 * cannot be read, or its structure or any namespace it keeps fails a check,
 * the save fails (KV_EIO, KV_ECORRUPT or KV_EFORMAT, naming the namespace and
 * byte) and the file is left as it is: a corrupt namespace is never copied on
 * nor silently dropped.  A version 1 or 2 file (whose trailer hashes every
 * byte) is read and verified whole, as a load would.  An empty file holds
 * nothing to keep.  Saving EVERY namespace (ns NULL) writes
 * the image of the whole store and replaces the file: it is the store's own
 * file, so a namespace dropped from the store leaves it too.  Stores that share
 * a directory but not their namespaces should save all to different files, or
 * save namespace by namespace.
 *
 * FAULT INJECTION (tests).  The environment variable SHARDKV_FAULT_IO, read
 * when a kv_env is opened or attached, makes snapshot file I/O of that handle
 * fail on purpose: a comma-separated list of op=ERRNO or op=ERRNO@N, e.g.
 * "fsync=EIO", "rename=ENOSPC", "write=ENOSPC@3".  op is one of
 *   open     creating the temp file of a save
 *   read     opening or reading an existing snapshot (a load, or the file a
 *            one-namespace save keeps the other namespaces of)
 *   write    a write to the temp file
 *   fsync    the temp file's fsync
 *   rename   the rename over the file
 *   dirsync  the directory's fsync after the rename (the new file is then in
 *            place, but the save still reports the failure)
 *   readat   a load's read of its file at an offset (a block header, or a
 *            piece of a block on the thread that builds it); here @N is a
 *            byte of the file: the read that covers byte N fails, on any
 *            thread count (without @N: the first read)
 * ERRNO is one of EIO ENOSPC EDQUOT EROFS EACCES EPERM ENOENT EMFILE ENFILE
 * EFBIG EXDEV EBUSY ENOMEM.  Without @N every such call fails; with @N only the
 * Nth call of that op within one save or load.  The call fails with KV_EIO,
 * err->sys_errno = ERRNO and err->msg ending "(injected by SHARDKV_FAULT_IO)".
 * A value that does not parse makes every snapshot save and load of the handle
 * fail (KV_EIO, sys_errno EINVAL, the message says so), so a typo cannot pass
 * for "no fault".  Nothing but the snapshot file path consults it.
 */

/*
 * Save one namespace (ns != NULL) or every namespace to path (see FILES and
 * WHICH NAMESPACES A FILE KEEPS above).  Writers keep running; the image is a
 * consistent cut (all-or-nothing batches are wholly in or out).  Saving every
 * namespace resets the dirty counter and last-save time.
 * Errors: KV_EINVAL (bad path), KV_ENSNAME, KV_ENONS, KV_EBUSY (another save of
 *         that namespace, or of that directory for 200 ms), KV_EIO, KV_ENOMEM,
 *         KV_ECORRUPT / KV_EFORMAT (the file a one-namespace save would keep
 *         namespaces of is not valid).
 */
KV_API int kv_save(kv_env *env, const char *ns, const char *path, kv_error *err);

/*
 * kv_save confined to a directory: the file is `name` under `dir`.  `dir` is
 * opened as given (the host's configured snapshot directory); `name` is
 * resolved one component at a time with openat(O_NOFOLLOW | O_DIRECTORY), so
 * it cannot leave `dir`: an absolute name, an empty component ("a//b", "a/"),
 * "." or "..", or a component over 255 bytes is KV_EINVAL (checked before
 * anything is opened); a symlink on the way is KV_EIO (sys_errno ELOOP).
 * Subdirectories must exist (else KV_EIO, sys_errno ENOENT).  Errors: as
 * kv_save, plus those.
 */
KV_API int kv_save_at(kv_env *env, const char *ns, const char *dir, const char *name, kv_error *err);

/*
 * kv_save (dir NULL: `name` is a plain path) or kv_save_at, on up to `threads`
 * threads: 1 is the calling thread alone (what kv_save and kv_save_at do), 0
 * the online CPUs, at most KV_SAVE_THREADS_MAX.  With more than one, a
 * namespace of at least 16384 keys and 2 shards is serialised by the calling
 * thread and threads - 1 more, each taking the next shard and writing the
 * blocks it fills itself (pwrite at places reserved in file order), so the
 * disk, the copying and the kernel's copy into the page cache overlap.  A
 * failed write on any thread fails the save like kv_save's: the old file
 * stays, the temp file is removed.  The image is the same consistent cut,
 * taken with the same bounded lock holds; only the order of a namespace's
 * entries in the file differs (a load does not depend on it).  The extra
 * threads are started and joined inside the call and block every signal;
 * they call nothing of the host except kv_mem_methods' xRealloc (block
 * buffers and collections' records), so a host whose allocator is not
 * thread-safe, or that may not start threads (a PostgreSQL backend), passes 1.
 * Everything else is kv_save's: the same files, checks and errors.
 */
#define KV_SAVE_THREADS_MAX 64
KV_API int kv_save_threads(kv_env *env, const char *ns, const char *dir, const char *name, unsigned threads,
                           kv_error *err);

/*
 * Load namespaces from a snapshot file: every namespace in it (ns NULL) or only
 * ns.  If as is not NULL (requires ns), the namespace is loaded under that name.
 * The file is read block by block; each block is verified (checksum, lengths,
 * limits) and its entries built into new shards that nothing can see yet, and
 * no namespace changes before the whole file, trailer included, has verified:
 * a load that fails anywhere (a later block corrupt, the file cut, a limit
 * passed, out of memory) frees what it built and leaves every namespace as it
 * was.  The error reported is the first one in file order (a corrupt block
 * before the block where a limit was passed reports KV_ECORRUPT); a namespace
 * being loaded is busy (KV_EBUSY to a save or resize of it) for the whole
 * read.  A namespace that exists keeps its configuration and has its keys
 * replaced, in one step for its readers; one that does not is created with the
 * file's configuration.
 * Keys already expired are dropped.  A load fires no change hooks.
 * Errors: KV_EINVAL (bad path), KV_EIO (missing, unreadable or not a regular
 *         file), KV_EFORMAT, KV_ECORRUPT (err->msg says where and what),
 *         KV_ENONS (ns not in the file), KV_EMAXKEYS / KV_EMAXMEM / KV_EKEYSIZE /
 *         KV_EVALSIZE (does not fit the live namespace), KV_ENOMEM, KV_EBUSY.
 */
KV_API int kv_load(kv_env *env, const char *path, const char *ns, const char *as, kv_error *err);

/* kv_load of `name` confined to `dir`, with kv_save_at's rules for name and
 * kv_load's errors. */
KV_API int kv_load_at(kv_env *env, const char *dir, const char *name, const char *ns, const char *as,
                      kv_error *err);

/*
 * kv_load (dir NULL: `name` is a plain path) or kv_load_at, building each
 * namespace's shards on up to `threads` threads: 1 is the calling thread alone
 * (what kv_load and kv_load_at do), 0 the online CPUs, at most
 * KV_LOAD_THREADS_MAX.  With more than one, the calling thread reads the
 * file's structure (the block headers and small blocks) while up to
 * threads - 1 builder threads (at most one per 64 KiB of file past the
 * first) each read, verify and build a block of entries at its offset, the
 * calling thread joining in whenever it would wait; each namespace's tables
 * are then linked on all of them, split by shard.  The error reported is
 * the first in file order, on any thread count.  With one, the calling
 * thread reads, verifies and builds each block in turn.
 * The builder threads are started and joined inside the call,
 * block every signal, and call nothing of the host: no hook, no
 * kv_mem_methods (what they need is allocated before), so a host whose
 * allocator or callbacks are not thread-safe may pass any count.  The
 * collections (hash, set, zset, list) of a file are made by the calling
 * thread.  Everything else is kv_load's: the same checks and errors,
 * the same all-or-nothing replace.  A host that may not start threads
 * (a PostgreSQL backend) passes 1.
 */
#define KV_LOAD_THREADS_MAX 64
KV_API int kv_load_threads(kv_env *env, const char *dir, const char *name, const char *ns, const char *as,
                           unsigned threads, kv_error *err);

/*
 * Check `name` under `dir` (dir NULL: `name` is a plain path) exactly as
 * kv_save_at/kv_load_at resolve it, without reading or writing it, so a host
 * can refuse a bad name when it is configured (CREATE time) rather than at the
 * first save.  The directories on the way must exist.  An existing file at the
 * name must be a regular file.  Returns KV_OK, or KV_EINVAL (err->msg says
 * why: empty, absolute, ".", "..", empty component, too long) or KV_EIO
 * (a directory is missing or a symlink, sys_errno says which; or the name is
 * a directory, link, FIFO, socket or device).  err may be NULL.
 */
KV_API int kv_path_check(const char *dir, const char *name, kv_error *err);

/*
 * Remove the temp files ("<file>.tmp-<pid>-<hex>", see FILES) that saves
 * killed before their rename left beside `name` (resolved as kv_path_check
 * does).  Only regular files of exactly that form are removed; links are never
 * followed or removed.  It takes the directory's save lock first (waiting as a
 * save does), so a save in progress keeps its temp file; on a file system
 * without flock only files whose process is gone are removed.  Hosts call it at
 * start-up or before a save.  Returns KV_OK, or KV_EINVAL / KV_EIO as
 * kv_path_check, KV_EBUSY (another save held the directory for 200 ms), KV_EIO
 * (the directory could not be read or a file not removed).
 */
KV_API int kv_snapshot_cleanup(const char *dir, const char *name);

/* ------------------------------------------------------ ticks and autosave */
/* Redis "save <seconds> <changes>": save when both have accrued since the last save. */
typedef struct kv_save_rule {
	int64_t  seconds;
	uint64_t changes;
} kv_save_rule;

/*
 * Replace the store's autosave rules (n 0 disables autosave).  The rules live
 * in the region, shared by every process.  A rule fires when at least
 * `changes` (and at least one) changes and `seconds` have accrued since the
 * last full save.  Errors: KV_EINVAL (n over KV_MAX_SAVE_RULES, rules NULL
 * with n > 0, seconds negative or over INT64_MAX / 1000); the old rules are
 * then kept.
 */
KV_API int kv_autosave_set(kv_env *env, const kv_save_rule *rules, size_t n);

typedef struct kv_tick_info {
	size_t   reclaimed;  /* expired keys reclaimed by this tick */
	int      save_due;   /* an autosave rule fired: the host should kv_save(env, NULL, ...) */
	uint64_t dirty;      /* changes since the last full save */
	int64_t  last_save;  /* ms since the epoch of the last full save (or of kv_env_open) */
} kv_tick_info;

/*
 * Drive background work from the host's own thread or process: reclaim up to
 * `budget` expired keys (0: 200) with an incremental active sweep across
 * namespaces, and evaluate the autosave rules.  out may be NULL.  The engine
 * saves nothing itself: save_due asks the host to.
 * ONE TICKER: one kv_tick sweeps a store at a time, from the position the
 * last one left in the region.  A kv_tick that starts while another process
 * or thread is sweeping does not sweep (out->reclaimed is 0) and only
 * evaluates the rules, so a host should tick from one place (the server's
 * cron thread, PostgreSQL's background worker).  Any thread may run every
 * other call meanwhile.  Always returns KV_OK.
 */
KV_API int kv_tick(kv_env *env, size_t budget, kv_tick_info *out);

/* ---------------------------------------------------------- change hooks */
#define KV_EV_SET     1 /* set, add, replace, setrange, setbit, bitfield, bitop, rename/copy/move target */
#define KV_EV_DEL     2 /* delete, consume, rename/move source, bitop of empty sources */
#define KV_EV_EXPIRE  3 /* expiry set or removed */
#define KV_EV_INCR    4 /* incr, decr, incr_float, a batch's KV_OP_INCR */
#define KV_EV_APPEND  5
#define KV_EV_EXPIRED 6 /* removed because its TTL passed */
#define KV_EV_EVICTED 7 /* removed by the eviction policy */
#define KV_EV_FLUSH   8 /* namespace flushed (klen is 0; the event, not the key, says so) */
#define KV_EV_RENAME_FROM 9
#define KV_EV_RENAME_TO   10
/* Collections: one event per Redis keyspace event of the same name. */
#define KV_EV_HSET             11
#define KV_EV_HDEL             12
#define KV_EV_HINCRBY          13
#define KV_EV_HINCRBYFLOAT     14
#define KV_EV_SADD             15
#define KV_EV_SREM             16
#define KV_EV_SPOP             17
#define KV_EV_SINTERSTORE      18
#define KV_EV_SUNIONSTORE      19
#define KV_EV_SDIFFSTORE       20
#define KV_EV_ZADD             21
#define KV_EV_ZINCR            22
#define KV_EV_ZREM             23
#define KV_EV_ZREMRANGEBYSCORE 24
#define KV_EV_ZREMRANGEBYRANK  25
#define KV_EV_ZREMRANGEBYLEX   26
#define KV_EV_ZPOPMIN          27
#define KV_EV_ZPOPMAX          28
#define KV_EV_ZINTERSTORE      29
#define KV_EV_ZUNIONSTORE      30
#define KV_EV_ZDIFFSTORE       31
#define KV_EV_ZRANGESTORE      32
#define KV_EV_LPUSH            33
#define KV_EV_RPUSH            34
#define KV_EV_LPOP             35
#define KV_EV_RPOP             36
#define KV_EV_LINSERT          37
#define KV_EV_LSET             38
#define KV_EV_LREM             39
#define KV_EV_LTRIM            40

/*
 * The name every host shows for an event ("set", "del", "expire", "incr",
 * "append", "expired", "evicted", "flush", "rename_from", "rename_to", and
 * for collections Redis's own names: "hset", "zadd", "lpush" ...): in
 * PostgreSQL's NOTIFY payloads and the HTTP feed alike.  NULL for a code this
 * header does not define.  No lock, static strings.
 */
KV_API const char *kv_event_name(int event);

/*
 * Mutation callback: called in the thread that made the change, after every
 * engine lock is released, once per changed key.  It may call the engine.  The
 * pointers are valid only during the call.  In mode (b) each process gets the
 * events of its own calls only.
 */
typedef void (*kv_hook_fn)(void *ctx, const char *ns, const void *key, size_t klen, int event);

/*
 * Install (or with fn NULL remove) this handle's hook.  Not thread-safe with
 * other calls on env: install it before other threads use the handle.
 */
KV_API void kv_env_set_hook(kv_env *env, kv_hook_fn fn, void *ctx);

/* ------------------------------------------------------------- redo log */
/*
 * REDO LOG: the one facility through which the engine calls back into a host
 * while it holds a lock, so that a host can make a namespace's writes durable
 * in a log of its own (PostgreSQL's WAL) in exactly the order they were
 * applied.
 *
 * For a namespace created or configured with KV_NS_REDO, every change of a
 * key's state is described by one record, passed to the env's redo function
 * while the lock of the key's shard (for a flush, of every shard) is still held,
 * right after the change was made.  Two changes of one key therefore reach the
 * function in the order they were applied, and a reader cannot see a change
 * whose record was not yet handed over.  Records describe resulting states, not
 * calls (a list's records are positional changes, resolved: see LISTS), so
 * replaying them needs no clock, no randomness and no search:
 *   KV_REDO_PUT     key := (type, expires_at, value)   SET, INCR (the new
 *                   number: a few bytes), INCRBYFLOAT, COPY/RENAME's target,
 *                   SETBIT, BITFIELD, BITOP, an APPEND/SETRANGE of a short value
 *   KV_REDO_PATCH   the value becomes `total` bytes long with the record's data
 *                   at `off` (zero-padded past the old end), type and expiry as
 *                   given: an APPEND or SETRANGE of a value longer than
 *                   KV_REDO_PATCH_MIN bytes, whose record then holds only the
 *                   bytes written (a delta)
 *   KV_REDO_DEL     key removed: DEL, CONSUME, RENAME's source, MOVE's source,
 *                   an expired key a write or reader removed, EXPIRE in the past
 *   KV_REDO_EXPIRE  key's expiry := expires_at (0: none): EXPIRE, PERSIST
 *   KV_REDO_FLUSH   every key removed (kv_ns_flush)
 *   KV_REDO_CUT     a snapshot's cut of this namespace (kv_save): every record
 *                   handed over before it is in the snapshot, none after.  Not a
 *                   change; kv_redo_apply ignores it.
 *   KV_REDO_ELEM    one element of the collection at key (type: KV_T_HASH,
 *                   KV_T_SET or KV_T_ZSET) := its state, the key created if
 *                   missing with expiry expires_at (the key's at the write).
 *                   Data: a hash's field then value (off = the field's
 *                   length), a set's member, a zset's score (8 bytes, a native
 *                   double) then member.  HSET/HSETNX per field set, HINCRBY
 *                   and HINCRBYFLOAT (the new number: a few bytes, never the
 *                   hash), SADD per member added, SMOVE's destination, ZADD per
 *                   member added or changed (ZINCRBY, ZADD INCR/GT/LT: the
 *                   resulting score, never the zset)
 *   KV_REDO_ELDEL   one element removed (data: the field or member): HDEL,
 *                   SREM, SPOP, SMOVE's source, ZREM, ZREMRANGEBY*, ZPOP*
 *                   (one record per element, each hold's under that hold's lock;
 *                   an SPOP of more than KV_COLL_HOLD members swaps in the
 *                   survivors under the lock, then logs the members popped in
 *                   holds of KV_COLL_HOLD while writers of the key wait)
 *   KV_REDO_RENAME  the collection at key is renamed to the data's key (a
 *                   string's RENAME is a PUT and a DEL): one record whatever
 *                   its size, replayed by kv_rename
 *   KV_REDO_LINS    the list at key (type KV_T_LIST), `total` elements long,
 *                   gets the data as a new element at index `off` (0: the
 *                   head, total: the tail); the key is created if missing with
 *                   expiry expires_at.  LPUSH/RPUSH per element pushed, LINSERT
 *                   (the index it found, not the pivot), LMOVE's destination,
 *                   a linked list's fill (below)
 *   KV_REDO_LSET    the list, `total` long: element `off` := the data (LSET)
 *   KV_REDO_LDEL    the list, `total` long, loses `n` elements from `off`
 *                   (data: n, a native uint32): LPOP/RPOP (one record per
 *                   call, whatever the count), LMOVE's source (and an LMOVE
 *                   within one key: an LINS then an LDEL), LREM (one record
 *                   per element removed, ascending)
 *   KV_REDO_LTRIM   the list, `total` long, loses `off` elements at the head
 *                   and `n` (data, a native uint32) at the tail: LTRIM,
 *                   resolved to counts (nothing when it removes nothing)
 * An all-or-nothing batch hands over its records when it commits, under its
 * locks (nothing for one that fails).  Keys the expiry sweep (kv_tick) removes
 * are logged as DELs too.
 * COLLECTIONS.  No record ever carries a kv_croot (an offset into this
 * region, meaningless in another store).  An element write logs one ELEM or
 * ELDEL per element it changed (nothing for one it left alone: SADD of a
 * member already there, ZADD NX of one present), right after the kind's own
 * code made the change, under the same lock; a collection emptied by a write
 * is removed and logged as a DEL; creating one logs nothing of its own (its
 * first element's ELEM creates it on replay); DEL, EXPIRE and PERSIST of a
 * collection key are DEL and EXPIRE records.  A whole collection linked at a
 * key (SINTERSTORE and the other STORE forms, ZRANGESTORE, COPY, MOVE into a
 * logged namespace) is logged as a DEL of the key under the lock that
 * linked it, then, after that lock is released, as one ELEM per element,
 * KV_COLL_HOLD per hold of the key's lock, while the collection is pinned so
 * that writers of the key wait (a DEL, SET or RENAME of the key does not wait:
 * its own record then supersedes the rest, which is not logged).  So no
 * record exceeds one element plus the key, and no hold hands over more than
 * KV_COLL_HOLD records.  A replica reading the log meanwhile may see the key
 * partly filled.  Replay goes through the kinds' own code; both element
 * records are states of one element, so applying one again changes nothing
 * (a record for a key of another kind is skipped: KV_UNCHANGED).  RENAME is
 * the one record that is not a state: a host must apply each record once, in
 * order, onto a base that holds exactly the records before a CUT (PostgreSQL's
 * argument is in pg_ext/README.md, "Recovery restores every acknowledged
 * write"); applied again right away it finds its source gone and does nothing.
 * LISTS.  A list change is not an assignment, so each list record carries the
 * list's length before it (`total`; 0 for a missing key) and applies only onto
 * a list of that length: otherwise kv_redo_apply changes nothing and returns
 * KV_UNCHANGED.  A host that applies each record once, in order, onto a base
 * that holds exactly the records before a CUT never meets a mismatch, with two
 * exceptions that the check makes right: one record applied again right away
 * (an LINS, LDEL or LTRIM changed the length; an LSET is an assignment), and a
 * list linked whole before a cut whose fill's LINS records (lengths 0 ..
 * size - 1) follow the cut while the base holds the whole list.  Replaying a
 * longer run again is NOT harmless (a push then a pop restores the length).
 * A list emptied by a write is removed and logged as a DEL, as collections.
 * A host must pass records it does not know through kv_redo_apply, which
 * refuses them with KV_EFORMAT.
 *
 * The record is a kv_redo_hdr followed by klen key bytes and vlen data bytes;
 * the function gets the header, the key and the data as nparts pieces whose
 * lengths add up to vlen (an element's score, field and value come from
 * different places; they point into the store or the caller's arguments) and
 * must copy what it keeps before it returns.  Wire form: the header's fields in
 * order, native byte order, no padding (24 bytes).
 *
 * THE FUNCTION runs under an engine spinlock, in whatever thread or process made
 * the write.  It must not call the engine, must not wait for anything another
 * engine call could be holding, and cannot fail: the change is already made
 * (a host whose log can fail must stop the process, as PostgreSQL PANICs when
 * WAL cannot be written).  Its cost is added to the lock hold: O(record), which
 * is the key and, for PUT, the whole value, for ELEM one element (see
 * kv_internal.h).
 */
#define KV_REDO_PUT    1
#define KV_REDO_PATCH  2
#define KV_REDO_DEL    3
#define KV_REDO_EXPIRE 4
#define KV_REDO_FLUSH  5
#define KV_REDO_CUT    6
#define KV_REDO_ELEM   7
#define KV_REDO_ELDEL  8
#define KV_REDO_RENAME 9
#define KV_REDO_LINS   10
#define KV_REDO_LSET   11
#define KV_REDO_LDEL   12
#define KV_REDO_LTRIM  13
#define KV_REDO_PATCH_MIN 256u

typedef struct kv_redo_hdr {
	uint8_t  kind;        /* KV_REDO_* */
	uint8_t  type;        /* PUT, PATCH: the value's type (KV_T_*) */
	uint16_t klen;
	uint32_t vlen;        /* data bytes after the key */
	int64_t  expires_at;  /* PUT, PATCH, EXPIRE: absolute ms, 0 none */
	uint32_t off;         /* PATCH: where the data goes */
	uint32_t total;       /* PATCH: the value's length after */
} kv_redo_hdr;

typedef void (*kv_redo_fn)(void *ctx, const char *ns, const kv_redo_hdr *h, const void *key,
                           const kv_val *data, size_t nparts);

/*
 * Install (fn NULL: remove) this handle's redo function.  Like kv_env_set_hook:
 * not thread-safe with other calls on env.  In mode (b) each process's handle
 * has its own (PostgreSQL installs it in the postmaster; backends inherit it).
 * With none installed, KV_NS_REDO namespaces log nothing.
 */
KV_API void kv_env_set_redo(kv_env *env, kv_redo_fn fn, void *ctx);

/*
 * Apply one record (header, key, data back to back: len bytes) to ns, as replay
 * of a log does.  Only a namespace that has KV_NS_REDO takes records: for one
 * without it the call changes nothing and returns KV_UNCHANGED (a replica marks
 * the namespaces whose base it holds).  Calls no redo function (a replica applying its primary's log
 * does not log again) and no hook.  Allocates only in the region.  A record
 * that cannot apply leaves the store as it was: KV_EFORMAT (malformed, unknown
 * kind), KV_ECORRUPT (a PATCH whose base is not the value it was made on, and
 * whose key has not expired: the host should report it), and the errors of a
 * write (KV_ENOMEM, limit errors, KV_ENONS).  A PATCH, PUT or ELEM/ELDEL
 * whose expiry has passed removes the key.  An ELEM or ELDEL for a key that
 * holds another kind changes nothing: KV_UNCHANGED.
 */
KV_API int kv_redo_apply(kv_ns *ns, const void *rec, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* SHARDKV_KV_H */
