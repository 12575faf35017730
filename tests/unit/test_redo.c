/*
 * test_redo.c -- the redo log (issue 16): every string write kind on a
 * KV_NS_REDO namespace hands records to the env's redo function, and applying
 * them in order to another store reproduces the first one key for key (value,
 * type, expiry).  Records are compact (an INCR's is the number, a long APPEND's
 * the appended bytes), nothing is logged for namespaces without the flag or for
 * refused and failed writes, replay logs nothing, a snapshot's cut shows up as
 * a CUT record, and malformed records are refused.  Collections replay element
 * by element; lists position by position, each record onto the length it was
 * made on.
 */
#include "test.h"

#include <math.h>

#define NKEYS 64
#define HOUR_MS 3600000LL

static char *log_buf;
static size_t log_len, log_cap, nrec, ncut, maxrec;
static char last_ns[KV_NS_NAME_MAX + 1];
static int last_kind;

static void put(const void *p, size_t n)
{
	if (log_len + n > log_cap) {
		log_cap = (log_len + n) * 2;
		log_buf = realloc(log_buf, log_cap);
		if (!log_buf)
			abort();
	}
	if (n)
		memcpy(log_buf + log_len, p, n);
	log_len += n;
}

/* The redo function: append each record (length-prefixed) to one buffer. */
static void redo(void *ctx, const char *ns, const kv_redo_hdr *h, const void *key,
                 const kv_val *data, size_t nparts)
{
	(void)ctx;
	snprintf(last_ns, sizeof last_ns, "%s", ns);
	last_kind = h->kind;
	if (h->kind == KV_REDO_CUT) {
		ncut++;
		return;
	}
	uint32_t len = (uint32_t)(sizeof *h + h->klen + h->vlen);
	put(&len, sizeof len);
	put(h, sizeof *h);
	put(key, h->klen);
	size_t got = 0;
	for (size_t i = 0; i < nparts; i++) {
		put(data[i].data, data[i].len);
		got += data[i].len;
	}
	if (got != h->vlen)
		abort(); /* the parts are the record's data, vlen bytes */
	nrec++;
	if (len > maxrec)
		maxrec = len;
}

static size_t apply_all(kv_ns *dst)
{
	size_t n = 0, bad = 0;
	for (size_t off = 0; off < log_len; n++) {
		uint32_t len;
		memcpy(&len, log_buf + off, sizeof len);
		if (kv_redo_apply(dst, log_buf + off + sizeof len, len) != KV_OK)
			bad++;
		off += sizeof len + len;
	}
	return bad;
}

static kv_env *open_env(void)
{
	kv_config cfg;
	kv_env *env = NULL;
	kv_config_init(&cfg);
	cfg.region_size = (size_t)64 << 20;
	if (kv_env_open(&cfg, &env) != KV_OK)
		abort();
	return env;
}

static kv_env *env_a, *env_b;

static int same_store(kv_ns *a, kv_ns *b)
{
	kv_buf x = KV_BUF_INIT, y = KV_BUF_INIT;
	int diff = 0;
	for (int i = 0; i < NKEYS; i++) {
		char k[16];
		int kl = snprintf(k, sizeof k, "k%d", i);
		int ra = kv_get(a, k, (size_t)kl, &x), rb = kv_get(b, k, (size_t)kl, &y);
		if (ra != rb || (ra == KV_OK && (x.len != y.len || x.type != y.type || x.expires_at != y.expires_at ||
		                                 memcmp(x.data, y.data, x.len) != 0))) {
			NOTE("key %s differs: rc %d/%d len %zu/%zu", k, ra, rb, x.len, y.len);
			diff++;
		}
	}
	kv_buf_free(env_a, &x);
	kv_buf_free(env_b, &y);
	return diff;
}

/* Strings of elements, sorted (hash and set orders depend on each store's seed). */
static int coll_diff, coll_checked;

static int kv_is_kind_type(int t)
{
	return t == KV_T_HASH || t == KV_T_SET || t == KV_T_ZSET || t == KV_T_LIST;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static char **elem_strs(kv_elems *e, int pairs, int scores, int ordered)
{
	size_t n = pairs ? e->n / 2 : e->n;
	char **v = calloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		kv_elem *x = &e->v[pairs ? 2 * i : i];
		size_t len = x->len + (pairs ? e->v[2 * i + 1].len : 0) + 64;
		v[i] = malloc(len);
		int w = snprintf(v[i], len, "%.*s", (int)x->len, e->bytes.data + x->off);
		if (pairs)
			snprintf(v[i] + w, len - (size_t)w, "=%.*s", (int)e->v[2 * i + 1].len,
			         e->bytes.data + e->v[2 * i + 1].off);
		if (scores)
			snprintf(v[i] + w, len - (size_t)w, "@%.17g", x->score);
	}
	if (!scores && !ordered) /* a zset's and a list's order is their own: compared as it comes */
		qsort(v, n, sizeof *v, cmp_str);
	return v;
}

static void free_strs(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* One key of a against b: kind, expiry, and the collection's elements (hash
 * fields with values, set members, zset members with scores in order). */
static int same_key(void *ctx, const void *key, size_t kl, const void *val, size_t vlen, int type,
                    int64_t expires_at)
{
	kv_ns **ab = ctx;
	const char *k = key;
	(void)val;
	(void)vlen;
	int kind_b = -1, ra, rb, pairs = 0, scores = 0, diff = 0;
	int64_t tb = -1;
	kv_kind(ab[1], k, kl, &kind_b);
	kv_ttl(ab[1], k, kl, &tb);
	if (!kv_is_kind_type(type))
		return 0; /* strings: same_store */
	if (type != kind_b || expires_at != tb) {
		NOTE("key %.*s: kind %d/%d expiry %lld/%lld", (int)kl, k, type, kind_b, (long long)expires_at,
		     (long long)tb);
		coll_diff++;
		return 0;
	}
	kv_elems ea = KV_ELEMS_INIT, eb = KV_ELEMS_INIT;
	if (type == KV_T_HASH) {
		ra = kv_hgetall(ab[0], k, kl, KV_HALL_FIELDS | KV_HALL_VALUES, &ea);
		rb = kv_hgetall(ab[1], k, kl, KV_HALL_FIELDS | KV_HALL_VALUES, &eb);
		pairs = 1;
	} else if (type == KV_T_SET) {
		ra = kv_smembers(ab[0], k, kl, &ea);
		rb = kv_smembers(ab[1], k, kl, &eb);
	} else if (type == KV_T_LIST) {
		ra = kv_lrange(ab[0], k, kl, 0, -1, &ea);
		rb = kv_lrange(ab[1], k, kl, 0, -1, &eb);
	} else {
		kv_zrange_spec sp;
		kv_zrange_spec_init(&sp);
		ra = kv_zrange(ab[0], k, kl, &sp, &ea);
		rb = kv_zrange(ab[1], k, kl, &sp, &eb);
		scores = 1;
	}
	if (ra != KV_OK || rb != KV_OK || ea.n != eb.n) {
		NOTE("key %.*s: rc %d/%d, %zu/%zu elements", (int)kl, k, ra, rb, ea.n, eb.n);
		diff++;
	} else {
		char **xa = elem_strs(&ea, pairs, scores, type == KV_T_LIST),
		     **xb = elem_strs(&eb, pairs, scores, type == KV_T_LIST);
		for (size_t j = 0; xa[j] && !diff; j++)
			if (strcmp(xa[j], xb[j]) != 0) {
				NOTE("key %.*s: element %s / %s", (int)kl, k, xa[j], xb[j]);
				diff++;
			}
		free_strs(xa);
		free_strs(xb);
	}
	coll_checked++;
	coll_diff += diff;
	kv_elems_free(env_a, &ea);
	kv_elems_free(env_b, &eb);
	return 0;
}

/* Every key of a is in b the same (and b has no others). */
static int same_colls(kv_ns *a, kv_ns *b)
{
	kv_ns_stats sa, sb;
	coll_diff = coll_checked = 0;
	if (kv_ns_stats_get(a, &sa) != KV_OK || kv_ns_stats_get(b, &sb) != KV_OK || sa.keys != sb.keys) {
		NOTE("key counts differ: %llu/%llu", (unsigned long long)sa.keys, (unsigned long long)sb.keys);
		return 1;
	}
	kv_scan_opts so;
	memset(&so, 0, sizeof so);
	so.count = 1000;
	kv_ns *ab[2] = {a, b};
	uint64_t cur = 0;
	do
		if (kv_scan(a, &cur, &so, same_key, ab) != KV_OK)
			return 1;
	while (cur);
	return coll_diff + same_store(a, b);
}

static void reset_log(void)
{
	log_len = nrec = ncut = maxrec = 0;
}

/* Apply the log's records from the first-th on; how many were skipped
 * (KV_UNCHANGED) and how many failed otherwise. */
static size_t apply_from(kv_ns *dst, size_t first, size_t *unchanged)
{
	size_t n = 0, bad = 0;
	*unchanged = 0;
	for (size_t off = 0; off < log_len; n++) {
		uint32_t len;
		memcpy(&len, log_buf + off, sizeof len);
		if (n >= first) {
			int rc = kv_redo_apply(dst, log_buf + off + sizeof len, len);
			if (rc == KV_UNCHANGED)
				(*unchanged)++;
			else if (rc != KV_OK)
				bad++;
		}
		off += sizeof len + len;
	}
	return bad;
}

/* One list record, built by hand. */
static int list_rec(kv_ns *dst, int kind, int type, const char *key, uint32_t at, uint32_t len,
                    const void *data, uint32_t dlen, int64_t exp)
{
	kv_redo_hdr h = {0};
	char rec[sizeof h + 64];
	h.kind = (uint8_t)kind;
	h.type = (uint8_t)type;
	h.klen = (uint16_t)strlen(key);
	h.vlen = dlen;
	h.off = at;
	h.total = len;
	h.expires_at = exp;
	memcpy(rec, &h, sizeof h);
	memcpy(rec + sizeof h, key, h.klen);
	memcpy(rec + sizeof h + h.klen, data, dlen);
	return kv_redo_apply(dst, rec, sizeof h + h.klen + dlen);
}

static void push_n(kv_ns *ns, const char *key, int where, int n, const char *fmt)
{
	for (int i = 0; i < n; i++) {
		char vb[32];
		kv_val v = {(size_t)snprintf(vb, sizeof vb, fmt, i), vb};
		if (kv_push(ns, key, strlen(key), where, &v, 1, 0, NULL) != KV_OK)
			abort();
	}
}

#define KEY(i) kb, (size_t)snprintf(kb, sizeof kb, "k%d", (int)(i))

int main(int argc, char **argv)
{
	t_init(argc, argv);
	env_a = open_env();
	env_b = open_env();
	kv_env_set_redo(env_a, redo, NULL);
	kv_env_set_redo(env_b, redo, NULL); /* replay must not log even with one installed */
	kv_ns_config cfg;
	kv_ns_config_init(&cfg);
	cfg.shards = 4;
	cfg.flags = KV_NS_REDO;
	kv_ns *a, *b, *plain;
	char kb[16];

	TEST("KV_NS_REDO needs eviction none, and shows in stats") {
		kv_ns_config bad = cfg;
		bad.eviction = KV_EVICT_ALLKEYS_LRU;
		ERC(kv_ns_create(env_a, "bad", &bad), KV_EINVAL);
		bad.flags = 0x80;
		bad.eviction = KV_EVICT_NONE;
		ERC(kv_ns_create(env_a, "bad", &bad), KV_EINVAL);
		EOK(kv_ns_create(env_a, "w", &cfg));
		EOK(kv_ns_create(env_b, "w", &cfg));
		EOK(kv_ns_create(env_a, "plain", NULL));
		EOK(kv_ns_open(env_a, "w", &a));
		EOK(kv_ns_open(env_b, "w", &b));
		EOK(kv_ns_open(env_a, "plain", &plain));
		kv_ns_stats st;
		EOK(kv_ns_stats_get(a, &st));
		E(st.config.flags == KV_NS_REDO);
		bad = cfg;
		bad.eviction = KV_EVICT_ALLKEYS_RANDOM;
		ERC(kv_ns_configure(a, &bad), KV_EINVAL);
	}

	TEST("a namespace without the flag logs nothing") {
		reset_log();
		EOK(kv_set(plain, K("x"), K("1"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr(plain, K("n"), 1, NULL));
		E(nrec == 0);
	}

	TEST("every string write kind replays to the same store") {
		reset_log();
		int64_t now = kv_now_ms(), r;
		char big[2000];
		memset(big, 'b', sizeof big);
		for (int i = 0; i < NKEYS; i++)
			EOK(kv_set(a, KEY(i), K("v"), KV_T_TEXT, i % 3 ? KV_EXPIRE_NEVER : now + HOUR_MS, 0, NULL));
		EOK(kv_set(a, KEY(1), big, sizeof big, KV_T_BYTES, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_del(a, KEY(2)));
		for (int i = 0; i < 100; i++)
			EOK(kv_incr(a, KEY(2), 7, &r));
		EOK(kv_set(a, KEY(2), K("5"), KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr(a, KEY(2), -3, &r));
		E(r == 2);
		double fl;
		EOK(kv_set(a, KEY(4), K("2.25"), KV_T_REAL, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_incr_float(a, KEY(4), "1.5", 3, &fl, NULL));
		size_t nl;
		EOK(kv_append(a, KEY(1), K("tail"), &nl));  /* long: a PATCH */
		EOK(kv_append(a, KEY(5), K("+short"), &nl));
		EOK(kv_setrange(a, KEY(1), 10, K("MID"), &nl));
		EOK(kv_setrange(a, KEY(6), 5, K("pad"), &nl));
		EOK(kv_setrange(a, KEY(40), 3000, K("far"), &nl)); /* new long key: PATCH from nothing */
		EOK(kv_expire(a, KEY(7), now + 2 * HOUR_MS, 0));
		EOK(kv_expire(a, KEY(0), now + 3 * HOUR_MS, 0)); /* had a TTL: in place */
		EOK(kv_persist(a, KEY(3)));
		EOK(kv_expire(a, KEY(8), now - 10, 0)); /* past: deletes */
		EOK(kv_del(a, KEY(9)));
		kv_buf out = KV_BUF_INIT;
		EOK(kv_consume(a, KEY(10), &out));
		kv_buf_free(env_a, &out);
		EOK(kv_rename(a, K("k11"), K("k12"), 0));
		EOK(kv_copy(a, K("k13"), a, K("k14"), 1));
		EOK(kv_move(a, K("k15"), plain));
		int ob;
		EOK(kv_setbit(a, KEY(16), 77, 1, &ob));
		EOK(kv_set(a, K("k60"), K("10"), KV_T_INT, KV_EXPIRE_NEVER, 0, NULL));
		EOK(kv_del(a, K("k61")));
		kv_op ops[3] = {0};
		ops[0].op = KV_OP_SET; ops[0].key = "k17"; ops[0].klen = 3; ops[0].val = "bs"; ops[0].vlen = 2;
		ops[0].type = KV_T_TEXT; ops[0].expires_at = KV_EXPIRE_NEVER;
		ops[1].op = KV_OP_INCR; ops[1].key = "k60"; ops[1].klen = 3; ops[1].by = 5;
		ops[2].op = KV_OP_DEL; ops[2].key = "k19"; ops[2].klen = 3;
		EOK(kv_batch(a, ops, 3, KV_BATCH_ALL_OR_NOTHING, NULL, NULL));
		ops[0].key = "k20"; ops[0].klen = 3;
		ops[1].key = "k61"; ops[1].klen = 3;
		EOK(kv_batch(a, ops, 2, KV_BATCH_BEST_EFFORT, NULL, NULL));
		/* refused writes log nothing */
		size_t before = nrec;
		ERC(kv_set(a, KEY(22), K("x"), KV_T_TEXT, KV_EXPIRE_NEVER, KV_SET_NX, NULL), KV_EXISTS);
		ERC(kv_incr(a, K("k1"), 1, NULL), KV_ENOTINT);
		E(nrec == before);
		E(apply_all(b) == 0);
		E(same_store(a, b) == 0);
		E(!strcmp(last_ns, "w"));
	}

	TEST("records are compact: an INCR's is the number, a long APPEND's the new bytes") {
		reset_log();
		EOK(kv_incr(a, K("k2"), 1, NULL));
		E(nrec == 1 && maxrec <= sizeof(kv_redo_hdr) + 2 + 20);
		E(last_kind == KV_REDO_PUT);
		E(apply_all(b) == 0);
		reset_log();
		size_t nl;
		EOK(kv_append(a, K("k1"), K("xyz"), &nl));
		E(nrec == 1 && maxrec == sizeof(kv_redo_hdr) + 2 + 3);
		E(last_kind == KV_REDO_PATCH);
		E(apply_all(b) == 0);
		E(same_store(a, b) == 0);
	}

	TEST("a flush, a snapshot's cut, and replay that does not log") {
		reset_log();
		char path[] = "/tmp/test_redo_XXXXXX";
		int fd = mkstemp(path);
		E(fd >= 0);
		close(fd);
		EOK(kv_save(env_a, "w", path, NULL));
		unlink(path);
		E(ncut == 1 && last_kind == KV_REDO_CUT && nrec == 0);
		EOK(kv_ns_flush(a));
		E(nrec == 1 && last_kind == KV_REDO_FLUSH);
		size_t logged = nrec;
		E(apply_all(b) == 0);
		E(nrec == logged); /* b's replay handed nothing to its redo function */
		E(same_store(a, b) == 0);
		kv_ns_stats st;
		EOK(kv_ns_stats_get(b, &st));
		E(st.keys == 0);
	}

	TEST("a PATCH onto another base is refused; expired states remove the key") {
		kv_redo_hdr h = {0};
		char rec[sizeof h + 2 + 3];
		h.kind = KV_REDO_PATCH;
		h.klen = 2;
		h.vlen = 3;
		h.off = 500;
		h.total = 600; /* says the value was 600 bytes long: it is missing here */
		memcpy(rec, &h, sizeof h);
		memcpy(rec + sizeof h, "zz", 2);
		memcpy(rec + sizeof h + 2, "abc", 3);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_ECORRUPT);
		E(kv_exists(b, K("zz")) == KV_NOTFOUND);
		h.expires_at = 1000; /* long past */
		memcpy(rec, &h, sizeof h);
		EOK(kv_redo_apply(b, rec, sizeof rec));
		E(kv_exists(b, K("zz")) == KV_NOTFOUND);
		h.kind = KV_REDO_PUT;
		h.expires_at = 0;
		memcpy(rec, &h, sizeof h);
		EOK(kv_redo_apply(b, rec, sizeof rec));
		E(kv_exists(b, K("zz")) == KV_OK);
		ERC(kv_redo_apply(b, rec, sizeof rec - 1), KV_EFORMAT);
		ERC(kv_redo_apply(b, rec, 3), KV_EFORMAT);
		kv_ns *bp;
		EOK(kv_ns_create(env_b, "bplain", NULL));
		EOK(kv_ns_open(env_b, "bplain", &bp));
		ERC(kv_redo_apply(bp, rec, sizeof rec), KV_UNCHANGED); /* no KV_NS_REDO: not replayed */
		E(kv_exists(bp, K("zz")) == KV_NOTFOUND);
		kv_ns_close(bp);
		h.kind = 99;
		memcpy(rec, &h, sizeof h);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_EFORMAT);
	}

	TEST("every collection write kind replays to the same store, element by element") {
		EOK(kv_del(b, K("zz"))); /* the last test's, made in b alone */
		reset_log();
		int64_t now = kv_now_ms(), r;
		double d;
		uint64_t n;
		char fb[32], vb[96];
		kv_elems out = KV_ELEMS_INIT;
		/* hashes: HSET (compact, then past 128 fields: a table), NX, HDEL,
		 * HINCRBY, HINCRBYFLOAT, emptied by HDEL */
		for (int i = 0; i < 300; i++) {
			kv_val fv[2] = {{(size_t)snprintf(fb, sizeof fb, "f%d", i), fb},
			                {(size_t)snprintf(vb, sizeof vb, "value-%d", i * 7), vb}};
			EOK(kv_hset(a, K("h1"), fv, 1, 0, NULL));
		}
		kv_val fv2[4] = {{2, "f1"}, {3, "new"}, {2, "f2"}, {0, ""}};
		EOK(kv_hset(a, K("h1"), fv2, 2, 0, &n));
		ERC(kv_hset(a, K("h1"), fv2, 1, KV_HSET_NX, &n), KV_EXISTS);
		kv_val del3[3] = {{2, "f3"}, {2, "f4"}, {4, "nope"}};
		EOK(kv_hdel(a, K("h1"), del3, 3, &n));
		for (int i = 0; i < 50; i++)
			EOK(kv_hincr(a, K("h2"), K("ctr"), 3, &r));
		EOK(kv_hincr_float(a, K("h2"), K("fl"), "2.5", 3, &d, NULL));
		EOK(kv_hset(a, K("h3"), fv2, 1, 0, NULL));
		EOK(kv_hdel(a, K("h3"), fv2, 1, &n)); /* emptied: deleted */
		/* sets: SADD, SREM, SPOP (one, a few, more than a hold, all), SMOVE,
		 * SINTERSTORE / SUNIONSTORE */
		for (int i = 0; i < 3000; i++) {
			kv_val m = {(size_t)snprintf(fb, sizeof fb, "m%d", i), fb};
			EOK(kv_sadd(a, K("s1"), &m, 1, NULL));
			if (i < 40)
				EOK(kv_sadd(a, K("s2"), &m, 1, NULL));
		}
		kv_val rm[2] = {{2, "m5"}, {2, "m6"}};
		EOK(kv_srem(a, K("s1"), rm, 2, &n));
		EOK(kv_spop(a, K("s1"), 0, 0, &out));
		EOK(kv_spop(a, K("s1"), 1, 7, &out));
		EOK(kv_spop(a, K("s1"), 1, 1500, &out)); /* the rebuild: survivors relinked */
		EOK(kv_smove(a, K("s2"), K("s3"), K("m9")));
		kv_val sk[2] = {{2, "s1"}, {2, "s2"}};
		EOK(kv_setop(a, KV_SETOP_UNION, sk, 2, 0, K("s4"), NULL, &n));
		EOK(kv_setop(a, KV_SETOP_INTER, sk, 2, 0, K("s5"), NULL, &n));
		EOK(kv_sadd(a, K("s6"), rm, 2, NULL));
		EOK(kv_spop(a, K("s6"), 1, 10, &out)); /* all: the key goes */
		/* sorted sets: ZADD (flags), ZINCRBY, ZREM, ZREMRANGE*, ZPOP, STORE */
		for (int i = 0; i < 2500; i++) {
			kv_zmember zm = {(double)(i % 97) + i / 1000.0, {(size_t)snprintf(fb, sizeof fb, "z%04d", i), fb}};
			EOK(kv_zadd(a, K("z1"), &zm, 1, 0, NULL, NULL));
			if (i < 60)
				EOK(kv_zadd(a, K("z2"), &zm, 1, 0, NULL, NULL));
		}
		kv_zmember zf[2] = {{-5, {5, "z0001"}}, {1e9, {3, "new"}}};
		EOK(kv_zadd(a, K("z2"), zf, 2, KV_ZADD_GT | KV_ZADD_CH, &n, NULL));
		EOK(kv_zadd(a, K("z2"), zf, 2, KV_ZADD_LT, &n, NULL));
		EOK(kv_zadd(a, K("z2"), zf, 2, KV_ZADD_XX, &n, NULL));
		for (int i = 0; i < 20; i++)
			EOK(kv_zincr(a, K("z2"), K("z0002"), 0.25, &d));
		EOK(kv_zincr(a, K("z3"), K("fresh"), 4, &d));
		kv_val zr[2] = {{5, "z0003"}, {5, "z0004"}};
		EOK(kv_zrem(a, K("z2"), zr, 2, &n));
		kv_zrange_spec sp;
		kv_zrange_spec_init(&sp);
		sp.start = 0;
		sp.stop = 1499; /* more than a hold */
		EOK(kv_zremrange(a, K("z1"), &sp, &n));
		E(n == 1500);
		kv_zrange_spec_init(&sp);
		sp.by = KV_ZBY_SCORE;
		sp.min = 10;
		sp.max = 20;
		EOK(kv_zremrange(a, K("z1"), &sp, &n));
		kv_zrange_spec_init(&sp);
		sp.by = KV_ZBY_LEX;
		sp.lmin_inf = -1;
		sp.lmax = (kv_val){5, "z0010"};
		EOK(kv_zremrange(a, K("z2"), &sp, &n));
		EOK(kv_zpop(a, K("z1"), 0, 1, 3, &out));
		EOK(kv_zpop(a, K("z1"), 1, 0, 0, &out));
		EOK(kv_zpop(a, K("z2"), 1, 1, 5, &out));
		kv_zrange_spec_init(&sp);
		sp.start = 2;
		sp.stop = 400;
		EOK(kv_zrangestore(a, K("z4"), K("z1"), &sp, &n));
		kv_val zk[2] = {{2, "z1"}, {2, "z2"}};
		EOK(kv_zsetop(a, KV_SETOP_UNION, zk, 2, NULL, KV_AGG_SUM, K("z5"), NULL, &n));
		/* whole collections linked at a key: COPY, RENAME, MOVE in, over an
		 * existing key; TTLs; DEL */
		EOK(kv_copy(a, K("h1"), a, K("hc"), 0));
		EOK(kv_copy(a, K("z1"), a, K("z5"), 1));
		EOK(kv_rename(a, K("s4"), K("sr"), 0));
		EOK(kv_hset(plain, K("hm"), fv2, 2, 0, NULL));
		EOK(kv_move(plain, K("hm"), a));
		EOK(kv_expire(a, K("h2"), now + HOUR_MS, 0));
		EOK(kv_del(a, K("s5")));
		/* refused and no-op writes log nothing */
		size_t before = nrec;
		ERC(kv_hincr(a, K("h1"), K("f1"), 1, &r), KV_ENOTINT);
		kv_val have = {2, "m1"};
		EOK(kv_sadd(a, K("s2"), &have, 1, &n));
		E(n == 0);
		E(nrec == before);
		kv_elems_free(env_a, &out);
		E(apply_all(b) == 0);
		E(same_colls(a, b) == 0);
		E(coll_checked == 13); /* every collection above was compared */
		E(nrec == before); /* replay logged nothing */
	}

	TEST("collection records are compact: one element each, never the collection") {
		reset_log();
		int64_t r;
		double d;
		EOK(kv_hincr(a, K("h1"), K("cnt"), 1, &r)); /* a hash of ~300 fields */
		E(nrec == 1 && last_kind == KV_REDO_ELEM && maxrec <= sizeof(kv_redo_hdr) + 2 + 3 + 20);
		E(apply_all(b) == 0);
		reset_log();
		EOK(kv_zincr(a, K("z1"), K("z2000"), 1.5, &d)); /* a zset of ~1000 members */
		E(nrec == 1 && last_kind == KV_REDO_ELEM && maxrec == sizeof(kv_redo_hdr) + 2 + 8 + 5);
		E(apply_all(b) == 0);
		reset_log();
		kv_val m = {4, "m100"};
		EOK(kv_srem(a, K("sr"), &m, 1, NULL));
		E(nrec <= 1 && (nrec == 0 || (last_kind == KV_REDO_ELDEL && maxrec == sizeof(kv_redo_hdr) + 2 + 4)));
		E(apply_all(b) == 0);
		reset_log();
		uint64_t card;
		EOK(kv_card(a, K("h1"), KV_T_HASH, &card));
		EOK(kv_copy(a, K("h1"), a, K("hd"), 0)); /* a DEL, then one record per field */
		E(nrec == 1 + card && maxrec < sizeof(kv_redo_hdr) + 64);
		E(apply_all(b) == 0);
		reset_log();
		kv_elems popped = KV_ELEMS_INIT;
		for (int i = 0; i < 5000; i++) {
			char mb[16];
			kv_val mv = {(size_t)snprintf(mb, sizeof mb, "p%d", i), mb};
			EOK(kv_sadd(a, K("sp"), &mv, 1, NULL));
		}
		E(apply_all(b) == 0);
		reset_log();
		EOK(kv_spop(a, K("sp"), 1, 1200, &popped)); /* more than a hold: the survivors swapped in */
		E(popped.n == 1200);
		E(nrec == 1200 && last_kind == KV_REDO_ELDEL); /* the members popped, not the 3800 left */
		kv_elems_free(env_a, &popped);
		E(apply_all(b) == 0);
		E(same_colls(a, b) == 0);
		reset_log();
		EOK(kv_rename(a, K("hd"), K("hr"), 0)); /* one RENAME record, whatever the size */
		E(nrec == 1 && last_kind == KV_REDO_RENAME && maxrec == sizeof(kv_redo_hdr) + 4);
		E(apply_all(b) == 0);
		E(kv_exists(b, K("hd")) == KV_NOTFOUND);
		E(apply_all(b) == 1); /* again: the source is gone, KV_UNCHANGED, nothing changes */
		E(same_colls(a, b) == 0);
	}

	TEST("every list write kind replays to the same store, element by element") {
		reset_log();
		kv_val three[3] = {{1, "a"}, {1, "b"}, {1, "c"}};
		EOK(kv_push(a, K("l1"), KV_RIGHT, three, 3, 0, NULL));
		EOK(kv_push(a, K("l1"), KV_LEFT, three, 3, 0, NULL));
		E(nrec == 6 && last_kind == KV_REDO_LINS); /* one record per element */
		ERC(kv_push(a, K("lx"), KV_RIGHT, three, 1, KV_PUSH_XX, NULL), KV_NOTFOUND);
		E(nrec == 6); /* nothing for a refused write */
		push_n(a, "l1", KV_RIGHT, 40, "v%d");
		char *big = malloc(70000);
		memset(big, 'B', 70000);
		kv_val bv[2] = {{70000, big}, {3, "end"}};
		EOK(kv_push(a, K("l1"), KV_RIGHT, bv, 2, 0, NULL)); /* a big one: its own chunk, built unlocked */
		E(maxrec == sizeof(kv_redo_hdr) + 2 + 70000);
		EOK(kv_push(a, K("lb"), KV_RIGHT, bv, 1, 0, NULL));
		kv_elems out = KV_ELEMS_INIT;
		EOK(kv_pop(a, K("lb"), KV_RIGHT, 0, 0, &out)); /* leaves in its chunk: emptied, removed */
		E(kv_exists(a, K("lb")) == KV_NOTFOUND);
		EOK(kv_pop(a, K("l1"), KV_LEFT, 1, 2, &out));
		EOK(kv_pop(a, K("l1"), KV_RIGHT, 0, 0, &out));
		EOK(kv_lset(a, K("l1"), 3, K("set3")));
		EOK(kv_lset(a, K("l1"), -2, K("setm2")));
		int64_t len;
		EOK(kv_linsert(a, K("l1"), 0, K("v7"), K("before7"), &len));
		EOK(kv_linsert(a, K("l1"), 1, K("v7"), K("after7"), &len));
		push_n(a, "l1", KV_RIGHT, 5, "dup");
		kv_val d = {3, "dup"};
		EOK(kv_push(a, K("l1"), KV_LEFT, &d, 1, 0, NULL));
		uint64_t removed;
		EOK(kv_lrem(a, K("l1"), -2, K("dup"), &removed));
		E(removed == 2);
		EOK(kv_lrem(a, K("l1"), 0, K("dup"), &removed));
		E(removed == 4);
		EOK(kv_ltrim(a, K("l1"), 1, -2));
		kv_buf mv = KV_BUF_INIT;
		EOK(kv_lmove(a, K("l1"), K("l2"), KV_LEFT, KV_RIGHT, &mv)); /* creates l2 */
		EOK(kv_lmove(a, K("l1"), K("l2"), KV_RIGHT, KV_LEFT, &mv));
		EOK(kv_lmove(a, K("l1"), K("l1"), KV_LEFT, KV_RIGHT, &mv)); /* a rotation */
		EOK(kv_lmove(a, K("l1"), K("l1"), KV_RIGHT, KV_LEFT, &mv));
		push_n(a, "lq", KV_RIGHT, 3000, "q%d"); /* a quicklist */
		EOK(kv_lrem(a, K("lq"), 0, K("q17"), &removed));
		EOK(kv_ltrim(a, K("lq"), 100, -50));
		EOK(kv_pop(a, K("lq"), KV_RIGHT, 1, 700, &out));
		EOK(kv_lset(a, K("lq"), 1000, K("middle")));
		push_n(a, "le", KV_RIGHT, 4, "e%d");
		EOK(kv_pop(a, K("le"), KV_LEFT, 1, 10, &out)); /* emptied: removed, a DEL */
		E(last_kind == KV_REDO_DEL && kv_exists(a, K("le")) == KV_NOTFOUND);
		push_n(a, "lt", KV_RIGHT, 4, "t%d");
		EOK(kv_ltrim(a, K("lt"), 5, 10)); /* nothing left */
		E(kv_exists(a, K("lt")) == KV_NOTFOUND);
		push_n(a, "lp", KV_LEFT, 2, "p%d");
		EOK(kv_expire(a, K("lp"), kv_now_ms() + HOUR_MS, 0));
		EOK(kv_push(a, K("lp"), KV_LEFT, three, 1, 0, NULL)); /* records carry the expiry */
		push_n(plain, "pl", KV_RIGHT, 2500, "pl%d");
		push_n(plain, "pc", KV_RIGHT, 10, "pc%d");
		EOK(kv_move(plain, K("pl"), a)); /* linked whole: a DEL, then holds of LINS */
		EOK(kv_copy(plain, K("pc"), a, K("pc"), 0));
		EOK(kv_copy(a, K("lq"), a, K("lc"), 0));
		EOK(kv_rename(a, K("l2"), K("l3"), 0));
		E(maxrec <= sizeof(kv_redo_hdr) + 2 + 70000);
		size_t before = nrec;
		E(apply_all(b) == 0);
		E(nrec == before); /* replay logged nothing */
		E(same_colls(a, b) == 0);
		E(kv_exists(b, K("pl")) == KV_OK && kv_exists(b, K("l3")) == KV_OK);
		int64_t ttl;
		EOK(kv_ttl(b, K("lp"), &ttl));
		E(ttl > 0);
		E(coll_checked >= 20);
		kv_elems_free(env_a, &out);
		kv_buf_free(env_a, &mv);
		free(big);
	}

	TEST("list records: a copy's DEL + holds; each applies once, onto the length it was made on") {
		push_n(plain, "pq", KV_RIGHT, 2 * KV_COLL_HOLD + 5, "x%d");
		reset_log();
		EOK(kv_copy(plain, K("pq"), a, K("lk"), 0));
		E(nrec == 1 + 2 * KV_COLL_HOLD + 5); /* a DEL, then one LINS per element */
		size_t un;
		E(apply_from(b, 0, &un) == 0 && un == 0);
		E(same_colls(a, b) == 0);
		/* the cut fell between the DEL and the holds: the base holds the whole
		 * list, and the holds' records, made on shorter lengths, are skipped */
		E(apply_from(b, 1, &un) == 0 && un == 2 * KV_COLL_HOLD + 5);
		E(same_colls(a, b) == 0);
		/* a push applied again: the length moved on, skipped */
		reset_log();
		kv_val v = {1, "z"};
		EOK(kv_push(a, K("lk"), KV_RIGHT, &v, 1, 0, NULL));
		E(apply_from(b, 0, &un) == 0 && un == 0);
		E(apply_from(b, 0, &un) == 0 && un == 1);
		E(same_colls(a, b) == 0);
	}

	TEST("list records: malformed ones refused, nothing changes; expired ones remove the key") {
		kv_ns_stats st0, st1;
		EOK(kv_ns_stats_get(b, &st0));
		uint32_t n1 = 1, n0 = 0;
		ERC(list_rec(b, KV_REDO_LINS, KV_T_SET, "lm", 0, 0, "v", 1, 0), KV_EFORMAT);  /* not a list */
		ERC(list_rec(b, KV_REDO_LDEL, KV_T_LIST, "lm", 0, 0, "v", 1, 0), KV_EFORMAT); /* count not 4 bytes */
		ERC(list_rec(b, KV_REDO_LTRIM, KV_T_LIST, "lm", 0, 0, &n0, 4, 0), KV_EFORMAT); /* trims nothing */
		ERC(list_rec(b, KV_REDO_LDEL, KV_T_LIST, "lm", 0, 0, &n1, 4, 0), KV_EFORMAT);  /* past the end */
		ERC(list_rec(b, KV_REDO_LSET, KV_T_LIST, "lm", 0, 0, "v", 1, 0), KV_EFORMAT);
		ERC(list_rec(b, KV_REDO_LINS, KV_T_LIST, "lm", 1, 0, "v", 1, 0), KV_EFORMAT);  /* index > length */
		ERC(list_rec(b, 14, KV_T_LIST, "lm", 0, 0, "v", 1, 0), KV_EFORMAT);            /* unknown kind */
		ERC(list_rec(b, KV_REDO_LINS, KV_T_LIST, "lm", 0, 5, "v", 1, 0), KV_UNCHANGED); /* another length */
		EOK(kv_ns_stats_get(b, &st1));
		E(st1.keys == st0.keys && kv_exists(b, K("lm")) == KV_NOTFOUND);
		uint64_t n;
		EOK(kv_card(b, K("lk"), KV_T_LIST, &n));
		ERC(list_rec(b, KV_REDO_LDEL, KV_T_LIST, "lk", (uint32_t)n, (uint32_t)n, &n1, 4, 0), KV_EFORMAT);
		ERC(list_rec(b, KV_REDO_LTRIM, KV_T_LIST, "lk", (uint32_t)n, (uint32_t)n, &n1, 4, 0), KV_EFORMAT);
		ERC(list_rec(b, KV_REDO_LSET, KV_T_LIST, "lk", (uint32_t)n, (uint32_t)n, "v", 1, 0), KV_EFORMAT);
		E(same_colls(a, b) == 0);
		ERC(list_rec(b, KV_REDO_LINS, KV_T_LIST, "l3", 0, 0, "v", 1, 0), KV_UNCHANGED); /* l3 is longer */
		EOK(kv_card(b, K("l3"), KV_T_LIST, &n));
		EOK(list_rec(b, KV_REDO_LINS, KV_T_LIST, "l3", 0, (uint32_t)n, "v", 1, 1000)); /* expired: removed */
		E(kv_exists(b, K("l3")) == KV_NOTFOUND);
		EOK(kv_del(a, K("l3")));
	}

	TEST("element records: idempotent, malformed ones refused, expired ones remove the key") {
		/* applying the whole log a second time changes nothing (ELEM/ELDEL are states) */
		reset_log();
		kv_val fv[2] = {{1, "f"}, {1, "v"}};
		EOK(kv_hset(a, K("hx"), fv, 1, 0, NULL));
		kv_zmember zm = {2.5, {1, "m"}};
		EOK(kv_zadd(a, K("zx"), &zm, 1, 0, NULL, NULL));
		E(apply_all(b) == 0);
		E(apply_all(b) == 0);
		E(same_colls(a, b) == 0);
		kv_redo_hdr h = {0};
		char rec[sizeof h + 2 + 8 + 1];
		h.kind = KV_REDO_ELEM;
		h.type = KV_T_ZSET;
		h.klen = 2;
		h.vlen = 4; /* shorter than a score */
		memcpy(rec, &h, sizeof h);
		memcpy(rec + sizeof h, "zq", 2);
		ERC(kv_redo_apply(b, rec, sizeof h + 2 + 4), KV_EFORMAT);
		double nan_ = NAN;
		h.vlen = 9;
		memcpy(rec, &h, sizeof h);
		memcpy(rec + sizeof h + 2, &nan_, 8);
		rec[sizeof h + 2 + 8] = 'm';
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_EFORMAT);
		h.type = KV_T_BYTES; /* not a kind */
		memcpy(rec, &h, sizeof h);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_EFORMAT);
		h.type = KV_T_HASH;
		h.off = 10; /* field longer than the data */
		memcpy(rec, &h, sizeof h);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_EFORMAT);
		E(kv_exists(b, K("zq")) == KV_NOTFOUND);
		h.off = 3;
		h.expires_at = 1000; /* long past: removes the key */
		memcpy(rec, &h, sizeof h);
		memcpy(rec + sizeof h, "hx", 2);
		EOK(kv_redo_apply(b, rec, sizeof rec));
		E(kv_exists(b, K("hx")) == KV_NOTFOUND);
		h.type = KV_T_SET; /* onto a key of another kind: skipped */
		h.expires_at = 0;
		memcpy(rec, &h, sizeof h);
		memcpy(rec + sizeof h, "zx", 2);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_UNCHANGED);
		/* a PUT claiming a collection type is refused: its value would be an offset */
		h = (kv_redo_hdr){0};
		h.kind = KV_REDO_PUT;
		h.type = KV_T_HASH;
		h.klen = 2;
		h.vlen = 9;
		memcpy(rec, &h, sizeof h);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_EFORMAT);
	}

	kv_ns_close(a);
	kv_ns_close(b);
	kv_ns_close(plain);
	kv_env_close(env_a);
	kv_env_close(env_b);
	free(log_buf);
	return t_done();
}
