/*
 * test_redo.c -- the redo log (issue 16): every string write kind on a
 * KV_NS_REDO namespace hands records to the env's redo function, and applying
 * them in order to another store reproduces the first one key for key (value,
 * type, expiry).  Records are compact (an INCR's is the number, a long APPEND's
 * the appended bytes), nothing is logged for namespaces without the flag or for
 * refused and failed writes, replay logs nothing, a snapshot's cut shows up as
 * a CUT record, and malformed records are refused.
 */
#include "test.h"

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
static void redo(void *ctx, const char *ns, const kv_redo_hdr *h, const void *key, const void *data)
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
	put(data, h->vlen);
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

static void reset_log(void)
{
	log_len = nrec = ncut = maxrec = 0;
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

	TEST("collections are refused in a logged namespace, never logged, never replayed") {
		reset_log();
		kv_val fv[2] = {{1, "f"}, {1, "v"}};
		kv_val m[1] = {{1, "m"}};
		ERC(kv_hset(a, K("h"), fv, 1, 0, NULL), KV_EDURABILITY);
		ERC(kv_sadd(a, K("s"), m, 1, NULL), KV_EDURABILITY);
		E(kv_exists(a, K("h")) == KV_NOTFOUND && kv_exists(a, K("s")) == KV_NOTFOUND);
		/* one made elsewhere cannot be copied or moved in */
		EOK(kv_hset(plain, K("h"), fv, 1, 0, NULL));
		ERC(kv_copy(plain, K("h"), a, K("h"), 0), KV_EDURABILITY);
		ERC(kv_move(plain, K("h"), a), KV_EDURABILITY);
		E(kv_exists(plain, K("h")) == KV_OK);
		E(nrec == 0);
		E(!strcmp(kv_strerror_code(KV_EDURABILITY), "KV_EDURABILITY"));
		/* a PUT claiming a collection type is refused: its value would be an offset */
		kv_redo_hdr h = {0};
		char rec[sizeof h + 1 + 8];
		h.kind = KV_REDO_PUT;
		h.type = KV_T_HASH;
		h.klen = 1;
		h.vlen = 8;
		memcpy(rec, &h, sizeof h);
		memcpy(rec + sizeof h, "h", 1);
		memset(rec + sizeof h + 1, 0x41, 8);
		ERC(kv_redo_apply(b, rec, sizeof rec), KV_EFORMAT);
		E(kv_exists(b, K("h")) == KV_NOTFOUND);
	}

	kv_ns_close(a);
	kv_ns_close(b);
	kv_ns_close(plain);
	kv_env_close(env_a);
	kv_env_close(env_b);
	free(log_buf);
	return t_done();
}
