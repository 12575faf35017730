/*
 * test_lists.c -- the list calls of kv.h (LPUSH ... LMOVE) with Redis 7's
 * semantics, through the public API only:
 *  - each call: index normalisation, LREM's and LPOS's sign rules, LINSERT's
 *    -1 / 0, pops with a count on a missing key, LMOVE in every direction and
 *    on one key, delete-when-empty, WRONGTYPE, events in Redis's order;
 *  - a randomized model test against a plain array (several keys, across the
 *    listpack/quicklist threshold, every call);
 *  - concurrency: pushers and poppers on both ends, readers, LMOVE between
 *    two lists and a kv_save of a big list running meanwhile: every element
 *    pushed is popped exactly once;
 *  - snapshots: a round trip of small and big lists, and a save taken while
 *    a 1M-element list rotates is one point in time (consecutive values).
 */
#include <pthread.h>

#include "test.h"


static kv_env *env;
static kv_ns *ns;
static char dir[] = "/tmp/shardkv-lists-XXXXXX";

/* ---------------------------------------------------------------- events */
#define MAXEV 256
static int evs[MAXEV], nev;
static char evkey[MAXEV][16];
static pthread_mutex_t evmu = PTHREAD_MUTEX_INITIALIZER;
static int recording;

static void hook(void *ctx, const char *nsname, const void *key, size_t klen, int event)
{
	(void)ctx;
	(void)nsname;
	pthread_mutex_lock(&evmu);
	if (recording && nev < MAXEV) {
		evs[nev] = event;
		snprintf(evkey[nev], sizeof evkey[nev], "%.*s", (int)(klen < 15 ? klen : 15), (const char *)key);
		nev++;
	}
	pthread_mutex_unlock(&evmu);
}
static void ev_start(void)
{
	pthread_mutex_lock(&evmu);
	nev = 0;
	recording = 1;
	pthread_mutex_unlock(&evmu);
}
/* events since ev_start as "key:event ..." */
static const char *ev_str(void)
{
	static char s[2048];
	size_t o = 0;
	pthread_mutex_lock(&evmu);
	s[0] = 0;
	for (int i = 0; i < nev && o < sizeof s - 64; i++)
		o += (size_t)snprintf(s + o, sizeof s - o, "%s%s:%s", i ? " " : "", evkey[i], kv_event_name(evs[i]));
	recording = 0;
	pthread_mutex_unlock(&evmu);
	return s;
}

/* -------------------------------------------------------------- helpers */
static kv_val V(const char *s)
{
	kv_val v = {strlen(s), s};
	return v;
}

/* push words separated by spaces */
static int pushw(const char *key, int where, const char *words)
{
	kv_val v[64];
	char buf[1024];
	size_t n = 0;
	snprintf(buf, sizeof buf, "%s", words);
	for (char *t = strtok(buf, " "); t && n < 64; t = strtok(NULL, " "))
		v[n++] = V(t);
	return kv_push(ns, key, strlen(key), where, v, n, 0, NULL);
}

/* the whole list as "a b c" (or "(nil)" for no key) */
static const char *all(const char *key)
{
	static char s[8192];
	kv_elems e = KV_ELEMS_INIT;
	uint64_t n = 0;
	if (kv_card(ns, key, strlen(key), KV_T_LIST, &n) != KV_OK || n == 0) {
		snprintf(s, sizeof s, "(nil)");
		return s;
	}
	size_t o = 0;
	s[0] = 0;
	if (kv_lrange(ns, key, strlen(key), 0, -1, &e) == KV_OK)
		for (size_t i = 0; i < e.n && o < sizeof s - 64; i++)
			o += (size_t)snprintf(s + o, sizeof s - o, "%s%.*s", i ? " " : "", (int)e.v[i].len,
			                      e.bytes.data + e.v[i].off);
	kv_elems_free(env, &e);
	return s;
}

static const char *elems_str(const kv_elems *e)
{
	static char s[4096];
	size_t o = 0;
	s[0] = 0;
	for (size_t i = 0; i < e->n && o < sizeof s - 64; i++)
		o += (size_t)snprintf(s + o, sizeof s - o, "%s%.*s", i ? " " : "", (int)e->v[i].len,
		                      e->bytes.data + e->v[i].off);
	return s;
}

static const char *lrange(const char *key, int64_t a, int64_t b)
{
	static char s[4096];
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_lrange(ns, key, strlen(key), a, b, &e);
	snprintf(s, sizeof s, "%s", rc == KV_OK ? elems_str(&e) : kv_strerror_code(rc));
	kv_elems_free(env, &e);
	return s;
}

static const char *lpos(const char *key, const char *v, int64_t rank, int has_count, int64_t count,
                        int64_t maxlen)
{
	static char s[1024];
	kv_elems e = KV_ELEMS_INIT;
	int rc = kv_lpos(ns, key, strlen(key), v, strlen(v), rank, has_count, count, maxlen, &e);
	size_t o = 0;
	s[0] = 0;
	if (rc != KV_OK)
		snprintf(s, sizeof s, "%s", kv_strerror_code(rc));
	else
		for (size_t i = 0; i < e.n; i++)
			o += (size_t)snprintf(s + o, sizeof s - o, "%s%zu", i ? " " : "", e.v[i].off);
	kv_elems_free(env, &e);
	return s;
}

static int streq(const char *a, const char *b)
{
	if (strcmp(a, b) != 0) {
		fprintf(stderr, "    got \"%s\"\n    want \"%s\"\n", a, b);
		return 0;
	}
	return 1;
}

static void reset(void)
{
	kv_ns_flush(ns);
}

/* ----------------------------------------------------- the model test */
#define MKEYS 3
typedef struct {
	char  **v;
	size_t *len;
	size_t  n, cap;
} mlist;
static mlist M[MKEYS];

static void m_ins(mlist *m, size_t at, const char *p, size_t len)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof *m->v);
		m->len = realloc(m->len, m->cap * sizeof *m->len);
	}
	memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof *m->v);
	memmove(&m->len[at + 1], &m->len[at], (m->n - at) * sizeof *m->len);
	m->v[at] = malloc(len + 1);
	memcpy(m->v[at], p, len);
	m->len[at] = len;
	m->n++;
}
static void m_del(mlist *m, size_t at)
{
	free(m->v[at]);
	memmove(&m->v[at], &m->v[at + 1], (m->n - at - 1) * sizeof *m->v);
	memmove(&m->len[at], &m->len[at + 1], (m->n - at - 1) * sizeof *m->len);
	m->n--;
}
static int m_eq(const mlist *m, size_t i, const char *p, size_t len)
{
	return m->len[i] == len && memcmp(m->v[i], p, len) == 0;
}

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static int64_t rnd_index(size_t n)
{
	int64_t span = (int64_t)n + 3;
	return (int64_t)(rnd() % (uint64_t)(2 * span)) - span;
}

/* Redis's normalisation, written out again for the model */
static int m_range(size_t n, int64_t a, int64_t b, size_t *s, size_t *e)
{
	int64_t len = (int64_t)n;
	if (a < 0)
		a += len;
	if (b < 0)
		b += len;
	if (a < 0)
		a = 0;
	if (a > b || a >= len)
		return 0;
	if (b >= len)
		b = len - 1;
	*s = (size_t)a;
	*e = (size_t)b;
	return 1;
}

static char vbuf[20000];
static size_t rnd_val(void)
{
	/* few distinct values so LREM/LPOS/LINSERT find matches; now and then long */
	uint64_t r = rnd() % 100;
	size_t len = r < 2 ? 3000 + rnd() % 9000 : r < 10 ? 100 + rnd() % 200 : 1 + rnd() % 2;
	char c = (char)('a' + rnd() % 4);
	for (size_t i = 0; i < len; i++)
		vbuf[i] = c;
	return len;
}

static int check_key(int k)
{
	char key[8];
	snprintf(key, sizeof key, "m%d", k);
	mlist *m = &M[k];
	kv_elems e = KV_ELEMS_INIT;
	int ok = kv_lrange(ns, key, strlen(key), 0, -1, &e) == KV_OK && e.n == m->n;
	for (size_t i = 0; ok && i < e.n; i++)
		ok = m_eq(m, i, e.bytes.data + e.v[i].off, e.v[i].len);
	uint64_t n = 99;
	ok = ok && kv_card(ns, key, strlen(key), KV_T_LIST, &n) == KV_OK && n == m->n;
	ok = ok && (m->n > 0) == (kv_exists(ns, key, strlen(key)) == KV_OK);
	kv_elems_free(env, &e);
	return ok;
}

static int model_step(void)
{
	int k = (int)(rnd() % MKEYS);
	char key[8];
	snprintf(key, sizeof key, "m%d", k);
	size_t kl = strlen(key);
	mlist *m = &M[k];
	int op = (int)(rnd() % 12);
	int ok = 1;
	kv_elems e = KV_ELEMS_INIT;
	kv_buf b = KV_BUF_INIT;
	switch (op) {
	case 0:
	case 1: { /* LPUSH / RPUSH of 1..3 */
		int where = op == 0 ? KV_LEFT : KV_RIGHT;
		size_t n = 1 + rnd() % 3;
		for (size_t i = 0; i < n && ok; i++) {
			size_t len = rnd_val();
			kv_val v = {len, vbuf};
			uint64_t nl = 0;
			ok = kv_push(ns, key, kl, where, &v, 1, (rnd() % 8 == 0) ? KV_PUSH_XX : 0, &nl) == KV_OK;
			if (!ok && m->n == 0) { /* XX on a missing key */
				ok = nl == 0;
				break;
			}
			m_ins(m, where == KV_LEFT ? 0 : m->n, vbuf, len);
			ok = ok && nl == m->n;
		}
		break;
	}
	case 2: { /* LPOP / RPOP [count] */
		int where = (int)(rnd() & 1);
		int has = (int)(rnd() & 1);
		uint64_t cnt = rnd() % 5;
		int rc = kv_pop(ns, key, kl, where, has, cnt, &e);
		if (m->n == 0) {
			ok = rc == KV_NOTFOUND && e.n == 0;
			break;
		}
		size_t want = has ? (cnt < m->n ? cnt : m->n) : 1;
		ok = rc == KV_OK && e.n == want;
		for (size_t i = 0; ok && i < want; i++) {
			size_t at = where == KV_LEFT ? 0 : m->n - 1;
			ok = m_eq(m, at, e.bytes.data + e.v[i].off, e.v[i].len);
			m_del(m, at);
		}
		break;
	}
	case 3: { /* LRANGE */
		int64_t a = rnd_index(m->n), z = rnd_index(m->n);
		size_t s, t;
		ok = kv_lrange(ns, key, kl, a, z, &e) == KV_OK;
		if (!m_range(m->n, a, z, &s, &t))
			ok = ok && e.n == 0;
		else
			for (size_t i = s; ok && i <= t; i++)
				ok = e.n == t - s + 1 && m_eq(m, i, e.bytes.data + e.v[i - s].off, e.v[i - s].len);
		break;
	}
	case 4: { /* LINDEX */
		int64_t i = rnd_index(m->n);
		int64_t j = i < 0 ? i + (int64_t)m->n : i;
		int rc = kv_lindex(ns, key, kl, i, &b);
		if (j < 0 || j >= (int64_t)m->n)
			ok = rc == KV_NOTFOUND;
		else
			ok = rc == KV_OK && m_eq(m, (size_t)j, b.data, b.len);
		break;
	}
	case 5: { /* LSET */
		int64_t i = rnd_index(m->n);
		int64_t j = i < 0 ? i + (int64_t)m->n : i;
		size_t len = rnd_val();
		int rc = kv_lset(ns, key, kl, i, vbuf, len);
		if (m->n == 0)
			ok = rc == KV_NOTFOUND;
		else if (j < 0 || j >= (int64_t)m->n)
			ok = rc == KV_ERANGE;
		else {
			ok = rc == KV_OK;
			m_del(m, (size_t)j);
			m_ins(m, (size_t)j, vbuf, len);
		}
		break;
	}
	case 6: { /* LINSERT */
		int after = (int)(rnd() & 1);
		char piv[2] = {(char)('a' + rnd() % 5), 0};
		size_t len = rnd_val();
		int64_t nl = 7;
		int rc = kv_linsert(ns, key, kl, after, piv, 1, vbuf, len, &nl);
		size_t at = m->n;
		for (size_t i = 0; i < m->n; i++)
			if (m_eq(m, i, piv, 1)) {
				at = i;
				break;
			}
		if (m->n == 0)
			ok = rc == KV_NOTFOUND && nl == 0;
		else if (at == m->n)
			ok = rc == KV_NOTFOUND && nl == -1;
		else {
			m_ins(m, at + (size_t)after, vbuf, len);
			ok = rc == KV_OK && nl == (int64_t)m->n;
		}
		break;
	}
	case 7: { /* LREM */
		int64_t cnt = (int64_t)(rnd() % 7) - 3;
		char val[2] = {(char)('a' + rnd() % 5), 0};
		uint64_t rem = 99;
		int rc = kv_lrem(ns, key, kl, cnt, val, 1, &rem);
		uint64_t want = 0;
		if (cnt >= 0) {
			for (size_t i = 0; i < m->n;)
				if (m_eq(m, i, val, 1) && (cnt == 0 || want < (uint64_t)cnt)) {
					m_del(m, i);
					want++;
				} else
					i++;
		} else {
			for (size_t i = m->n; i-- > 0;)
				if (m_eq(m, i, val, 1) && want < (uint64_t)-cnt) {
					m_del(m, i);
					want++;
				}
		}
		ok = rc == KV_OK && rem == want;
		break;
	}
	case 8: { /* LTRIM */
		int64_t a = rnd_index(m->n), z = rnd_index(m->n);
		if (rnd() % 3 == 0) { /* mostly keep most of it */
			a = (int64_t)(rnd() % 3);
			z = -1 - (int64_t)(rnd() % 3);
		}
		ok = kv_ltrim(ns, key, kl, a, z) == KV_OK;
		size_t s, t;
		if (!m_range(m->n, a, z, &s, &t)) {
			while (m->n)
				m_del(m, 0);
		} else {
			while (m->n > t + 1)
				m_del(m, m->n - 1);
			for (size_t i = 0; i < s; i++)
				m_del(m, 0);
		}
		break;
	}
	case 9: { /* LPOS */
		char val[2] = {(char)('a' + rnd() % 5), 0};
		int64_t rank = (int64_t)(rnd() % 7) - 3;
		if (rank == 0)
			rank = 1;
		int has = (int)(rnd() & 1);
		int64_t cnt = (int64_t)(rnd() % 4), maxlen = (int64_t)(rnd() % 3 == 0 ? rnd() % 20 : 0);
		int rc = kv_lpos(ns, key, kl, val, 1, rank, has, cnt, maxlen, &e);
		/* the model */
		size_t found[4096], nf = 0, limit = has ? (cnt ? (size_t)cnt : SIZE_MAX) : 1;
		uint64_t skip = (uint64_t)(rank < 0 ? -rank : rank) - 1, seen = 0;
		for (size_t s = 0; s < m->n && nf < limit && (!maxlen || seen < (uint64_t)maxlen); s++, seen++) {
			size_t i = rank > 0 ? s : m->n - 1 - s;
			if (m_eq(m, i, val, 1)) {
				if (skip)
					skip--;
				else if (nf < 4096)
					found[nf++] = i;
			}
		}
		ok = nf ? (rc == KV_OK && e.n == nf) : (rc == KV_NOTFOUND && e.n == 0);
		for (size_t i = 0; ok && i < nf; i++)
			ok = e.v[i].off == found[i];
		break;
	}
	case 10: { /* LMOVE, also onto the same key */
		int k2 = (rnd() & 1) ? k : (int)(rnd() % MKEYS);
		char dst[8];
		snprintf(dst, sizeof dst, "m%d", k2);
		int from = (int)(rnd() & 1), to = (int)(rnd() & 1);
		int rc = kv_lmove(ns, key, kl, dst, strlen(dst), from, to, &b);
		if (m->n == 0) {
			ok = rc == KV_NOTFOUND;
			break;
		}
		size_t at = from == KV_LEFT ? 0 : m->n - 1;
		ok = rc == KV_OK && m_eq(m, at, b.data, b.len);
		char *save = malloc(b.len + 1);
		memcpy(save, b.data, b.len);
		size_t len = b.len;
		m_del(m, at);
		m_ins(&M[k2], to == KV_LEFT ? 0 : M[k2].n, save, len);
		free(save);
		break;
	}
	default: /* DEL now and then */
		if (rnd() % 4 == 0) {
			kv_del(ns, key, kl);
			while (m->n)
				m_del(m, 0);
		}
		break;
	}
	kv_elems_free(env, &e);
	kv_buf_free(env, &b);
	return ok;
}

/* ------------------------------------------------------- concurrency */
#define CT_PUSHERS 2
#define CT_POPPERS 2
static uint32_t ct_per_pusher;
static int ct_stop;
static uint8_t *ct_seen;        /* one per element pushed: times popped */
static long ct_bad;
static int ct_bad_rc, ct_bad_line;
#define CT_BAD(rc)                                                                                 \
	(__atomic_add_fetch(&ct_bad, 1, __ATOMIC_RELAXED), T_STORE(ct_bad_rc, (rc)), T_STORE(ct_bad_line, __LINE__))

static void *ct_push(void *arg)
{
	long id = (long)arg;
	char e[32];
	for (uint32_t i = 0; i < ct_per_pusher; i++) {
		uint32_t x = (uint32_t)id * ct_per_pusher + i;
		int len = snprintf(e, sizeof e, "%u", x);
		kv_val v = {(size_t)len, e};
		int rc = kv_push(ns, "q", 1, (i & 1) ? KV_LEFT : KV_RIGHT, &v, 1, 0, NULL);
		if (rc != KV_OK)
			CT_BAD(rc);
	}
	return NULL;
}

static void ct_mark(const char *p, size_t len)
{
	char t[32];
	if (len == 0 || len >= sizeof t) {
		CT_BAD(0);
		return;
	}
	memcpy(t, p, len);
	t[len] = 0;
	unsigned long x = strtoul(t, NULL, 10);
	if (x >= (unsigned long)ct_per_pusher * CT_PUSHERS ||
	    __atomic_add_fetch(&ct_seen[x], 1, __ATOMIC_RELAXED) != 1)
		CT_BAD(0);
}

static void *ct_pop(void *arg)
{
	long id = (long)arg;
	kv_elems e = KV_ELEMS_INIT;
	kv_buf b = KV_BUF_INIT;
	uint64_t r = 77 + (uint64_t)id;
	for (;;) {
		r = r * 6364136223846793005ull + 1;
		int rc;
		if ((r >> 60) == 0) {
			/* through a side list and back: LMOVE between two keys */
			rc = kv_lmove(ns, "q", 1, "side", 4, KV_RIGHT, KV_LEFT, &b);
			if (rc == KV_OK)
				rc = kv_lmove(ns, "side", 4, "q", 1, KV_LEFT, KV_LEFT, &b);
			if (rc != KV_OK && rc != KV_NOTFOUND)
				CT_BAD(rc);
			continue;
		}
		rc = kv_pop(ns, "q", 1, (r >> 40) & 1 ? KV_LEFT : KV_RIGHT, 1, 1 + (r >> 50) % 8, &e);
		if (rc == KV_OK) {
			for (size_t i = 0; i < e.n; i++)
				ct_mark(e.bytes.data + e.v[i].off, e.v[i].len);
		} else if (rc == KV_NOTFOUND) {
			if (T_LOAD(ct_stop))
				break;
		} else {
			CT_BAD(rc);
		}
	}
	kv_elems_free(env, &e);
	kv_buf_free(env, &b);
	return NULL;
}

static void *ct_read(void *arg)
{
	(void)arg;
	kv_elems e = KV_ELEMS_INIT;
	kv_buf b = KV_BUF_INIT;
	while (!T_LOAD(ct_stop)) {
		uint64_t n;
		int rc = kv_lrange(ns, "q", 1, 0, -1, &e);
		if (rc != KV_OK)
			CT_BAD(rc);
		rc = kv_lindex(ns, "q", 1, -1, &b);
		if (rc != KV_OK && rc != KV_NOTFOUND)
			CT_BAD(rc);
		if ((rc = kv_card(ns, "q", 1, KV_T_LIST, &n)) != KV_OK)
			CT_BAD(rc);
		/* every element read is a number we pushed (no torn element) */
		for (size_t i = 0; i < e.n; i++)
			if (e.v[i].len == 0 || e.v[i].len > 10)
				CT_BAD(0);
	}
	kv_elems_free(env, &e);
	kv_buf_free(env, &b);
	return NULL;
}

static void *ct_save(void *arg)
{
	(void)arg;
	char path[256];
	snprintf(path, sizeof path, "%s/ct.snap", dir);
	int saves = 0;
	while (!T_LOAD(ct_stop) || saves == 0) {
		kv_error err;
		int rc = kv_save(env, "l", path, &err);
		if (rc != KV_OK)
			CT_BAD(rc);
		saves++;
	}
	return NULL;
}

/* a list rotating either way: at any moment it holds 0..N-1 rotated, so an
 * image of one point in time is N consecutive values (mod N) */
static int rot_stop;
static long rot_moves;
static void *rotator(void *arg)
{
	(void)arg;
	kv_buf b = KV_BUF_INIT;
	uint64_t r = 5;
	while (!T_LOAD(rot_stop)) {
		r = r * 6364136223846793005ull + 1;
		/* both directions: a save that read its ends at different times would
		 * see them shifted against each other */
		int left = (int)((r >> 33) & 1);
		if (kv_lmove(ns, "rot", 3, "rot", 3, left ? KV_LEFT : KV_RIGHT, left ? KV_RIGHT : KV_LEFT, &b) == KV_OK)
			__atomic_add_fetch(&rot_moves, 1, __ATOMIC_RELAXED);
		if ((r >> 58) == 0) { /* an LSET to the same value: a change in the middle */
			kv_buf x = KV_BUF_INIT;
			int64_t i = (int64_t)((r >> 20) % 1000);
			if (kv_lindex(ns, "rot", 3, i, &x) == KV_OK)
				kv_lset(ns, "rot", 3, i, x.data, x.len);
			kv_buf_free(env, &x);
		}
	}
	kv_buf_free(env, &b);
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	int quick = getenv("TEST_QUICK") != NULL;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	kv_config cfg;
	kv_config_init(&cfg);
	cfg.region_size = (size_t)512 << 20;
	if (kv_env_open(&cfg, &env) != KV_OK || kv_ns_create(env, "l", NULL) != KV_OK ||
	    kv_ns_open(env, "l", &ns) != KV_OK) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	kv_env_set_hook(env, hook, NULL);

	TEST("LPUSH / RPUSH order, lengths, LPUSHX / RPUSHX on a missing key")
	{
		reset();
		uint64_t n = 9;
		kv_val v[3] = {V("a"), V("b"), V("c")};
		EOK(kv_push(ns, K("k"), KV_LEFT, v, 3, 0, &n));
		E(n == 3 && streq(all("k"), "c b a"));
		EOK(kv_push(ns, K("k"), KV_RIGHT, v, 2, KV_PUSH_XX, &n));
		E(n == 5 && streq(all("k"), "c b a a b"));
		ERC(kv_push(ns, K("nokey"), KV_LEFT, v, 1, KV_PUSH_XX, &n), KV_NOTFOUND);
		E(n == 0 && kv_exists(ns, K("nokey")) == KV_NOTFOUND);
		ERC(kv_push(ns, K("k"), KV_LEFT, v, 0, 0, &n), KV_EINVAL);
		ERC(kv_push(ns, K("k"), 7, v, 1, 0, &n), KV_EINVAL);
		int kind = 0;
		EOK(kv_kind(ns, K("k"), &kind));
		E(kind == KV_T_LIST && streq(kv_kind_name(kind), "list"));
		/* the empty element is an element */
		kv_val empty = {0, ""};
		EOK(kv_push(ns, K("e"), KV_RIGHT, &empty, 1, 0, &n));
		E(n == 1 && streq(lrange("e", 0, -1), ""));
	}

	TEST("WRONGTYPE both ways, and nothing changes")
	{
		reset();
		EOK(kv_set(ns, K("s"), K("x"), KV_T_TEXT, KV_EXPIRE_NEVER, 0, NULL));
		kv_val v = V("a");
		kv_elems e = KV_ELEMS_INIT;
		kv_buf b = KV_BUF_INIT;
		ERC(kv_push(ns, K("s"), KV_LEFT, &v, 1, 0, NULL), KV_EWRONGTYPE);
		ERC(kv_pop(ns, K("s"), KV_LEFT, 0, 0, &e), KV_EWRONGTYPE);
		ERC(kv_lrange(ns, K("s"), 0, -1, &e), KV_EWRONGTYPE);
		ERC(kv_lindex(ns, K("s"), 0, &b), KV_EWRONGTYPE);
		ERC(kv_lset(ns, K("s"), 0, "a", 1), KV_EWRONGTYPE);
		ERC(kv_linsert(ns, K("s"), 0, "a", 1, "b", 1, NULL), KV_EWRONGTYPE);
		ERC(kv_lrem(ns, K("s"), 0, "a", 1, NULL), KV_EWRONGTYPE);
		ERC(kv_ltrim(ns, K("s"), 0, 1), KV_EWRONGTYPE);
		ERC(kv_lpos(ns, K("s"), "a", 1, 1, 0, 0, 0, &e), KV_EWRONGTYPE);
		E(pushw("l1", KV_RIGHT, "a b") == KV_OK);
		ERC(kv_lmove(ns, K("s"), K("l1"), KV_LEFT, KV_LEFT, &b), KV_EWRONGTYPE);
		ERC(kv_lmove(ns, K("l1"), K("s"), KV_LEFT, KV_LEFT, &b), KV_EWRONGTYPE);
		E(streq(all("l1"), "a b"));
		/* a missing source is nil even if the destination is of another kind */
		ERC(kv_lmove(ns, K("none"), K("s"), KV_LEFT, KV_LEFT, &b), KV_NOTFOUND);
		ERC(kv_get(ns, K("l1"), &b), KV_EWRONGTYPE);
		kv_buf_free(env, &b);
		b = (kv_buf)KV_BUF_INIT;
		EOK(kv_get(ns, K("s"), &b));
		E(b.len == 1 && b.data[0] == 'x');
		kv_elems_free(env, &e);
		kv_buf_free(env, &b);
	}

	TEST("LPOP / RPOP: one, a count, count 0, more than there is, a missing key, delete when empty")
	{
		reset();
		E(pushw("k", KV_RIGHT, "a b c d e") == KV_OK);
		kv_elems e = KV_ELEMS_INIT;
		EOK(kv_pop(ns, K("k"), KV_LEFT, 0, 0, &e));
		E(e.n == 1 && streq(elems_str(&e), "a"));
		EOK(kv_pop(ns, K("k"), KV_RIGHT, 1, 2, &e));
		E(streq(elems_str(&e), "e d"));
		ev_start();
		EOK(kv_pop(ns, K("k"), KV_LEFT, 1, 0, &e));
		E(e.n == 0 && streq(all("k"), "b c"));
		E(streq(ev_str(), "")); /* count 0 changes nothing */
		ev_start();
		EOK(kv_pop(ns, K("k"), KV_LEFT, 1, 100, &e));
		E(streq(elems_str(&e), "b c"));
		E(streq(ev_str(), "k:lpop k:del"));
		E(kv_exists(ns, K("k")) == KV_NOTFOUND);
		ERC(kv_pop(ns, K("k"), KV_LEFT, 1, 3, &e), KV_NOTFOUND);
		E(e.n == 0);
		ERC(kv_pop(ns, K("k"), KV_RIGHT, 0, 0, &e), KV_NOTFOUND);
		kv_elems_free(env, &e);
	}

	TEST("LRANGE index normalisation")
	{
		reset();
		E(pushw("k", KV_RIGHT, "0 1 2 3 4 5 6 7 8 9") == KV_OK);
		E(streq(lrange("k", 0, -1), "0 1 2 3 4 5 6 7 8 9"));
		E(streq(lrange("k", -3, -1), "7 8 9"));
		E(streq(lrange("k", -100, 2), "0 1 2"));
		E(streq(lrange("k", 8, 100), "8 9"));
		E(streq(lrange("k", 5, 2), ""));
		E(streq(lrange("k", 10, 12), ""));
		E(streq(lrange("k", -1, -2), ""));
		E(streq(lrange("k", -100, -50), ""));
		E(streq(lrange("k", INT64_MIN, INT64_MAX), "0 1 2 3 4 5 6 7 8 9"));
		E(streq(lrange("nokey", 0, -1), ""));
	}

	TEST("LINDEX and LSET: negative indices, out of range, no such key")
	{
		reset();
		E(pushw("k", KV_RIGHT, "a b c") == KV_OK);
		kv_buf b = KV_BUF_INIT;
		EOK(kv_lindex(ns, K("k"), -1, &b));
		E(b.len == 1 && b.data[0] == 'c');
		EOK(kv_lindex(ns, K("k"), -3, &b));
		E(b.data[0] == 'a');
		ERC(kv_lindex(ns, K("k"), 3, &b), KV_NOTFOUND);
		ERC(kv_lindex(ns, K("k"), -4, &b), KV_NOTFOUND);
		ERC(kv_lindex(ns, K("nokey"), 0, &b), KV_NOTFOUND);
		ev_start();
		EOK(kv_lset(ns, K("k"), -2, "B", 1));
		E(streq(ev_str(), "k:lset"));
		E(streq(all("k"), "a B c"));
		ERC(kv_lset(ns, K("k"), 3, "x", 1), KV_ERANGE);
		ERC(kv_lset(ns, K("k"), -4, "x", 1), KV_ERANGE);
		ERC(kv_lset(ns, K("nokey"), 0, "x", 1), KV_NOTFOUND);
		E(kv_exists(ns, K("nokey")) == KV_NOTFOUND);
		kv_buf_free(env, &b);
	}

	TEST("LINSERT: before/after, missing pivot -1, missing key 0")
	{
		reset();
		E(pushw("k", KV_RIGHT, "a b c b") == KV_OK);
		int64_t n = 0;
		EOK(kv_linsert(ns, K("k"), 0, "b", 1, "X", 1, &n));
		E(n == 5 && streq(all("k"), "a X b c b"));
		EOK(kv_linsert(ns, K("k"), 1, "b", 1, "Y", 1, &n));
		E(n == 6 && streq(all("k"), "a X b Y c b"));
		ERC(kv_linsert(ns, K("k"), 1, "zz", 2, "Y", 1, &n), KV_NOTFOUND);
		E(n == -1);
		ERC(kv_linsert(ns, K("nokey"), 1, "b", 1, "Y", 1, &n), KV_NOTFOUND);
		E(n == 0 && kv_exists(ns, K("nokey")) == KV_NOTFOUND);
	}

	TEST("LREM: count > 0 from the head, < 0 from the tail, 0 all; delete when empty")
	{
		reset();
		E(pushw("k", KV_RIGHT, "a x b x c x d x") == KV_OK);
		uint64_t r = 0;
		EOK(kv_lrem(ns, K("k"), 2, "x", 1, &r));
		E(r == 2 && streq(all("k"), "a b c x d x"));
		EOK(kv_lrem(ns, K("k"), -1, "x", 1, &r));
		E(r == 1 && streq(all("k"), "a b c x d"));
		EOK(kv_lrem(ns, K("k"), 0, "x", 1, &r));
		E(r == 1 && streq(all("k"), "a b c d"));
		EOK(kv_lrem(ns, K("k"), 0, "zz", 2, &r));
		E(r == 0);
		EOK(kv_lrem(ns, K("nokey"), 0, "x", 1, &r));
		E(r == 0);
		E(pushw("y", KV_RIGHT, "x x x") == KV_OK);
		ev_start();
		EOK(kv_lrem(ns, K("y"), -5, "x", 1, &r));
		E(r == 3 && streq(ev_str(), "y:lrem y:del"));
		E(kv_exists(ns, K("y")) == KV_NOTFOUND);
	}

	TEST("LTRIM: normalisation, everything trimmed deletes the key, missing key")
	{
		reset();
		E(pushw("k", KV_RIGHT, "0 1 2 3 4 5 6 7 8 9") == KV_OK);
		ev_start();
		EOK(kv_ltrim(ns, K("k"), 2, -3));
		E(streq(ev_str(), "k:ltrim"));
		E(streq(all("k"), "2 3 4 5 6 7"));
		EOK(kv_ltrim(ns, K("k"), -100, 100));
		E(streq(all("k"), "2 3 4 5 6 7"));
		EOK(kv_ltrim(ns, K("k"), -2, -1));
		E(streq(all("k"), "6 7"));
		ev_start();
		EOK(kv_ltrim(ns, K("k"), 5, 2));
		E(streq(ev_str(), "k:ltrim k:del"));
		E(kv_exists(ns, K("k")) == KV_NOTFOUND);
		EOK(kv_ltrim(ns, K("nokey"), 0, 1));
		E(kv_exists(ns, K("nokey")) == KV_NOTFOUND);
	}

	TEST("LPOS: RANK (negative from the tail), COUNT, MAXLEN, errors")
	{
		reset();
		E(pushw("k", KV_RIGHT, "a b c 1 2 3 c c") == KV_OK);
		E(streq(lpos("k", "c", 1, 0, 0, 0), "2"));
		E(streq(lpos("k", "c", 2, 0, 0, 0), "6"));
		E(streq(lpos("k", "c", -1, 0, 0, 0), "7"));
		E(streq(lpos("k", "c", -2, 0, 0, 0), "6"));
		E(streq(lpos("k", "c", 1, 1, 0, 0), "2 6 7"));
		E(streq(lpos("k", "c", 1, 1, 2, 0), "2 6"));
		E(streq(lpos("k", "c", -1, 1, 2, 0), "7 6"));
		/* redis-server 7.0: LPOS k c RANK -9223372036854775808 is RANK -1, and
		 * its COUNT 2 never stops (matches - rank + 1 overflows): all of them */
		E(streq(lpos("k", "c", INT64_MIN, 1, 2, 0), "7 6 2"));
		E(streq(lpos("k", "c", INT64_MIN, 0, 0, 0), "7"));
		E(streq(lpos("k", "c", INT64_MIN, 1, 1, 2), "7 6"));
		E(streq(lpos("k", "c", 2, 1, 0, 0), "6 7"));
		E(streq(lpos("k", "c", 1, 1, 0, 3), "2"));
		E(streq(lpos("k", "c", 1, 1, 0, 2), lpos("k", "zz", 1, 0, 0, 0)));
		E(streq(lpos("k", "c", -1, 1, 0, 1), "7"));
		E(streq(lpos("k", "c", 4, 0, 0, 0), lpos("k", "zz", 1, 0, 0, 0)));
		kv_elems e = KV_ELEMS_INIT;
		ERC(kv_lpos(ns, K("k"), "c", 1, 0, 0, 0, 0, &e), KV_EINVAL);
		ERC(kv_lpos(ns, K("k"), "c", 1, 1, 1, -1, 0, &e), KV_EINVAL);
		ERC(kv_lpos(ns, K("k"), "c", 1, 1, 0, 0, -1, &e), KV_EINVAL);
		ERC(kv_lpos(ns, K("nokey"), "c", 1, 1, 0, 0, 0, &e), KV_NOTFOUND);
		kv_elems_free(env, &e);
	}

	TEST("LMOVE: four directions, to a new key, the same key rotates, events in Redis's order")
	{
		reset();
		E(pushw("s", KV_RIGHT, "a b c") == KV_OK);
		kv_buf b = KV_BUF_INIT;
		ev_start();
		EOK(kv_lmove(ns, K("s"), K("d"), KV_LEFT, KV_RIGHT, &b));
		E(b.len == 1 && b.data[0] == 'a' && streq(all("s"), "b c") && streq(all("d"), "a"));
		E(streq(ev_str(), "d:rpush s:lpop"));
		EOK(kv_lmove(ns, K("s"), K("d"), KV_RIGHT, KV_LEFT, &b));
		E(b.data[0] == 'c' && streq(all("s"), "b") && streq(all("d"), "c a"));
		EOK(kv_lmove(ns, K("d"), K("s"), KV_RIGHT, KV_RIGHT, &b));
		E(streq(all("s"), "b a") && streq(all("d"), "c"));
		ev_start();
		EOK(kv_lmove(ns, K("d"), K("s"), KV_LEFT, KV_LEFT, &b));
		E(streq(all("s"), "c b a") && kv_exists(ns, K("d")) == KV_NOTFOUND);
		E(streq(ev_str(), "s:lpush d:lpop d:del"));
		ev_start();
		EOK(kv_lmove(ns, K("s"), K("s"), KV_LEFT, KV_RIGHT, &b));
		E(b.data[0] == 'c' && streq(all("s"), "b a c"));
		E(streq(ev_str(), "s:rpush s:lpop"));
		EOK(kv_lmove(ns, K("s"), K("s"), KV_RIGHT, KV_LEFT, &b));
		E(streq(all("s"), "c b a"));
		EOK(kv_lmove(ns, K("s"), K("s"), KV_LEFT, KV_LEFT, &b));
		E(b.data[0] == 'c' && streq(all("s"), "c b a"));
		ERC(kv_lmove(ns, K("none"), K("s"), KV_LEFT, KV_LEFT, &b), KV_NOTFOUND);
		E(streq(all("s"), "c b a"));
		/* a one-element list onto itself stays */
		E(pushw("one", KV_RIGHT, "z") == KV_OK);
		EOK(kv_lmove(ns, K("one"), K("one"), KV_LEFT, KV_RIGHT, &b));
		E(streq(all("one"), "z"));
		kv_buf_free(env, &b);
	}

	TEST("OBJECT ENCODING: listpack, quicklist past 8 KB, back at half; big lists both ways")
	{
		reset();
		const char *enc = NULL;
		char v[16];
		uint64_t n = 0;
		for (int i = 0; i < 600; i++) {
			kv_val x = {10, v};
			snprintf(v, sizeof v, "%010d", i);
			kv_push(ns, K("k"), KV_RIGHT, &x, 1, 0, &n);
		}
		EOK(kv_encoding(ns, K("k"), &enc));
		E(enc && streq(enc, "listpack"));
		for (int i = 0; i < 200; i++) {
			kv_val x = {10, v};
			kv_push(ns, K("k"), KV_RIGHT, &x, 1, 0, &n);
		}
		EOK(kv_encoding(ns, K("k"), &enc));
		E(enc && streq(enc, "quicklist") && n == 800);
		EOK(kv_ltrim(ns, K("k"), 0, 99));
		EOK(kv_encoding(ns, K("k"), &enc));
		E(enc && streq(enc, "listpack"));
		/* one element bigger than 8 KB is a quicklist at once */
		static char big[9000];
		memset(big, 'q', sizeof big);
		kv_val x = {sizeof big, big};
		EOK(kv_push(ns, K("big"), KV_RIGHT, &x, 1, 0, NULL));
		EOK(kv_encoding(ns, K("big"), &enc));
		E(enc && streq(enc, "quicklist"));
		/* a big list: LINDEX across chunks, LRANGE over the hold, memory charged */
		kv_ns_stats st0, st1;
		EOK(kv_ns_stats_get(ns, &st0));
		uint32_t N = quick ? 100000 : 300000;
		for (uint32_t i = 0; i < N; i++) {
			int len = snprintf(v, sizeof v, "%u", i);
			kv_val y = {(size_t)len, v};
			kv_push(ns, K("huge"), KV_RIGHT, &y, 1, 0, &n);
		}
		E(n == N);
		EOK(kv_ns_stats_get(ns, &st1));
		E(st1.bytes > st0.bytes && st1.bytes - st0.bytes < (uint64_t)N * 16);
		kv_buf b = KV_BUF_INIT;
		EOK(kv_lindex(ns, K("huge"), N / 2 + 7, &b));
		snprintf(v, sizeof v, "%u", N / 2 + 7);
		E(b.len == strlen(v) && memcmp(b.data, v, b.len) == 0);
		kv_elems e = KV_ELEMS_INIT;
		EOK(kv_lrange(ns, K("huge"), 1000, 5999, &e));
		snprintf(v, sizeof v, "%u", 5999);
		E(e.n == 5000 && e.v[4999].len == strlen(v) && memcmp(e.bytes.data + e.v[4999].off, v, e.v[4999].len) == 0);
		EOK(kv_del(ns, K("huge")));
		EOK(kv_ns_stats_get(ns, &st1));
		E(st1.bytes == st0.bytes);
		kv_elems_free(env, &e);
		kv_buf_free(env, &b);
	}

	TEST("big elements: chunks of their own, read pinned (LRANGE over 64 KB, LINDEX over 4 KB)")
	{
		reset();
		static char big[20][10000];
		kv_val v[20];
		for (int i = 0; i < 20; i++) {
			memset(big[i], 'a' + i, sizeof big[i]);
			v[i].data = big[i];
			v[i].len = sizeof big[i] - (size_t)i; /* all different lengths */
		}
		uint64_t n = 0;
		EOK(kv_push(ns, K("b"), KV_RIGHT, v, 20, 0, &n));
		E(n == 20);
		kv_elems e = KV_ELEMS_INIT;
		EOK(kv_lrange(ns, K("b"), 0, -1, &e));
		int same = e.n == 20;
		for (int i = 0; same && i < 20; i++)
			same = e.v[i].len == v[i].len && memcmp(e.bytes.data + e.v[i].off, big[i], v[i].len) == 0;
		E(same);
		kv_buf b = KV_BUF_INIT;
		EOK(kv_lindex(ns, K("b"), -3, &b));
		E(b.len == v[17].len && memcmp(b.data, big[17], b.len) == 0);
		EOK(kv_lindex(ns, K("b"), 4, &b)); /* reusing the buffer */
		E(b.len == v[4].len && memcmp(b.data, big[4], b.len) == 0);
		/* a small element beside them: LSET, LINSERT in the middle */
		EOK(kv_lset(ns, K("b"), 10, "s", 1));
		EOK(kv_linsert(ns, K("b"), 1, "s", 1, "t", 1, NULL));
		EOK(kv_lrange(ns, K("b"), 9, 12, &e));
		E(e.n == 4 && e.v[1].len == 1 && e.v[2].len == 1 && e.v[3].len == v[11].len);
		/* pops of big elements (their chunk leaves whole, copied after the lock) */
		kv_ns_stats st0, st1;
		EOK(kv_ns_stats_get(ns, &st0));
		EOK(kv_pop(ns, K("b"), KV_RIGHT, 0, 0, &e));
		E(e.n == 1 && e.v[0].len == v[19].len && memcmp(e.bytes.data + e.v[0].off, big[19], e.v[0].len) == 0);
		EOK(kv_pop(ns, K("b"), KV_LEFT, 0, 0, &e));
		E(e.n == 1 && e.v[0].len == v[0].len && memcmp(e.bytes.data + e.v[0].off, big[0], e.v[0].len) == 0);
		EOK(kv_ns_stats_get(ns, &st1));
		E(st1.bytes < st0.bytes - 2 * 10000);
		uint64_t n2 = 0;
		EOK(kv_card(ns, K("b"), KV_T_LIST, &n2));
		E(n2 == 19);
		/* down to nothing that way: the key goes */
		int popped = 0;
		while (kv_pop(ns, K("b"), KV_RIGHT, 0, 0, &e) == KV_OK)
			popped++;
		E(popped == 19 && kv_exists(ns, K("b")) == KV_NOTFOUND);
		kv_elems_free(env, &e);
		kv_buf_free(env, &b);
	}

	TEST("randomized model test against arrays (every call, several keys)")
	{
		reset();
		int steps = quick ? 20000 : 150000, ok = 1, step = 0;
		for (; step < steps && ok; step++) {
			ok = model_step();
			if (ok && step % 500 == 0)
				for (int k = 0; k < MKEYS && ok; k++)
					ok = check_key(k);
		}
		if (!ok)
			fprintf(stderr, "    diverged at step %d\n", step);
		E(ok);
		for (int k = 0; k < MKEYS; k++)
			E(check_key(k));
		for (int k = 0; k < MKEYS; k++) {
			while (M[k].n)
				m_del(&M[k], 0);
			free(M[k].v);
			free(M[k].len);
		}
	}

	TEST("snapshot round trip: small and big lists, binary elements, TTL")
	{
		reset();
		E(pushw("small", KV_RIGHT, "a b c") == KV_OK);
		kv_val bin = {3, "\0\1\0"};
		EOK(kv_push(ns, K("small"), KV_RIGHT, &bin, 1, 0, NULL));
		char v[16];
		for (int i = 0; i < 50000; i++) {
			int len = snprintf(v, sizeof v, "%d", i);
			kv_val y = {(size_t)len, v};
			kv_push(ns, K("big"), (i & 1) ? KV_LEFT : KV_RIGHT, &y, 1, 0, NULL);
		}
		EOK(kv_expire(ns, K("small"), kv_now_ms() + 3600000, 0));
		kv_elems before = KV_ELEMS_INIT, after = KV_ELEMS_INIT;
		EOK(kv_lrange(ns, K("big"), 0, -1, &before));
		char path[256];
		snprintf(path, sizeof path, "%s/rt.snap", dir);
		kv_error err;
		EOK(kv_save(env, "l", path, &err));
		EOK(kv_ns_flush(ns));
		EOK(kv_load(env, path, "l", NULL, &err));
		EOK(kv_lrange(ns, K("big"), 0, -1, &after));
		int same = before.n == after.n && before.bytes.len == after.bytes.len &&
		           memcmp(before.bytes.data, after.bytes.data, before.bytes.len) == 0;
		E(same);
		kv_elems s = KV_ELEMS_INIT;
		EOK(kv_lrange(ns, K("small"), 0, -1, &s));
		E(s.n == 4 && s.v[3].len == 3 && memcmp(s.bytes.data + s.v[3].off, "\0\1\0", 3) == 0);
		int64_t exp = 0;
		EOK(kv_ttl(ns, K("small"), &exp));
		E(exp > kv_now_ms());
		const char *enc = NULL;
		EOK(kv_encoding(ns, K("big"), &enc));
		E(enc && streq(enc, "quicklist"));
		kv_elems_free(env, &before);
		kv_elems_free(env, &after);
		kv_elems_free(env, &s);
	}

	TEST("a save during rotations of a 1M-element list is one point in time")
	{
		reset();
		uint32_t N = quick ? 200000 : 1000000;
		char v[16];
		kv_val batch[1000];
		static char bb[1000][12];
		for (uint32_t i = 0; i < N;) {
			size_t k = 0;
			for (; k < 1000 && i < N; k++, i++) {
				int len = snprintf(bb[k], sizeof bb[k], "%u", i);
				batch[k].data = bb[k];
				batch[k].len = (size_t)len;
			}
			kv_push(ns, K("rot"), KV_RIGHT, batch, k, 0, NULL);
		}
		kv_ns_stats st0, st1;
		EOK(kv_ns_stats_get(ns, &st0));
		pthread_t th;
		T_STORE(rot_stop, 0);
		pthread_create(&th, NULL, rotator, NULL);
		char path[256];
		snprintf(path, sizeof path, "%s/rot.snap", dir);
		kv_error err;
		int saves = quick ? 2 : 4, good = 1;
		long moved = 0;
		for (int s = 0; s < saves && good; s++) {
			long m0 = __atomic_load_n(&rot_moves, __ATOMIC_RELAXED);
			EOK(kv_save(env, "l", path, &err));
			moved += __atomic_load_n(&rot_moves, __ATOMIC_RELAXED) - m0;
			/* load the image into another namespace and check it */
			EOK(kv_load(env, path, "l", "img", &err));
			kv_ns *img = NULL;
			EOK(kv_ns_open(env, "img", &img));
			kv_elems e = KV_ELEMS_INIT;
			good = img && kv_lrange(img, K("rot"), 0, -1, &e) == KV_OK && e.n == N;
			unsigned long first = 0;
			for (size_t i = 0; good && i < e.n; i++) {
				memcpy(v, e.bytes.data + e.v[i].off, e.v[i].len);
				v[e.v[i].len] = 0;
				unsigned long x = strtoul(v, NULL, 10);
				if (i == 0)
					first = x;
				good = x == (first + i) % N;
			}
			kv_elems_free(env, &e);
			kv_ns_close(img);
			kv_ns_drop(env, "img");
		}
		T_STORE(rot_stop, 1);
		pthread_join(th, NULL);
		printf("   %ld rotations ran during %d saves\n", moved, saves);
		E(good);
		E(moved > 0); /* the saves did run beside the writer */
		/* what the saves kept aside is given back: the list costs about what
		 * it did (rotation refills chunks, so not to the byte) */
		EOK(kv_ns_stats_get(ns, &st1));
		E(st1.bytes < st0.bytes + st0.bytes / 20);
	}

	TEST("big pops and LTRIMs of hundreds of chunks while saves run")
	{
		reset();
		/* one writer, so the contents are known: numbers lo .. hi-1 in order */
		uint32_t N = quick ? 300000 : 600000, lo = 0, hi = 0;
		static char bb[1000][12];
		kv_val batch[1000];
		while (hi < N) {
			size_t k = 0;
			for (; k < 1000 && hi < N; k++, hi++) {
				batch[k].len = (size_t)snprintf(bb[k], sizeof bb[k], "%u", hi);
				batch[k].data = bb[k];
			}
			kv_push(ns, K("big"), KV_RIGHT, batch, k, 0, NULL);
		}
		pthread_t th;
		T_STORE(ct_stop, 0);
		pthread_create(&th, NULL, ct_save, NULL);
		kv_elems e = KV_ELEMS_INIT;
		int ok = 1, rounds = quick ? 6 : 20;
		for (int r = 0; r < rounds && ok; r++) {
			/* pop 20k from the left (hundreds of chunks), check them */
			ok = kv_pop(ns, K("big"), KV_LEFT, 1, 20000, &e) == KV_OK && e.n == 20000;
			for (size_t i = 0; ok && i < e.n; i++) {
				char t[16];
				memcpy(t, e.bytes.data + e.v[i].off, e.v[i].len);
				t[e.v[i].len] = 0;
				ok = strtoul(t, NULL, 10) == lo + i;
			}
			lo += 20000;
			/* trim 30k off the right and 10k off the left in one LTRIM */
			ok = ok && kv_ltrim(ns, K("big"), 10000, -30001) == KV_OK;
			lo += 10000;
			hi -= 30000;
			/* and grow it back at the right */
			while (ok && hi < lo + N - 60000) {
				size_t k = 0;
				for (; k < 1000; k++, hi++) {
					batch[k].len = (size_t)snprintf(bb[k], sizeof bb[k], "%u", hi);
					batch[k].data = bb[k];
				}
				ok = kv_push(ns, K("big"), KV_RIGHT, batch, k, 0, NULL) == KV_OK;
			}
		}
		T_STORE(ct_stop, 1);
		pthread_join(th, NULL);
		E(ok);
		E(ct_bad == 0);
		/* the whole list is lo .. hi-1 */
		ok = kv_lrange(ns, K("big"), 0, -1, &e) == KV_OK && e.n == hi - lo;
		for (size_t i = 0; ok && i < e.n; i++) {
			char t[16];
			memcpy(t, e.bytes.data + e.v[i].off, e.v[i].len);
			t[e.v[i].len] = 0;
			ok = strtoul(t, NULL, 10) == lo + i;
		}
		E(ok);
		kv_elems_free(env, &e);
	}

	TEST("concurrency: pushers, poppers at both ends, LMOVE, readers and saves; each element popped once")
	{
		reset();
		ct_per_pusher = quick ? 20000 : 200000;
		ct_seen = calloc((size_t)ct_per_pusher * CT_PUSHERS, 1);
		T_STORE(ct_stop, 0);
		pthread_t p[CT_PUSHERS], q[CT_POPPERS], r, s;
		for (long i = 0; i < CT_PUSHERS; i++)
			pthread_create(&p[i], NULL, ct_push, (void *)i);
		for (long i = 0; i < CT_POPPERS; i++)
			pthread_create(&q[i], NULL, ct_pop, (void *)i);
		pthread_create(&r, NULL, ct_read, NULL);
		pthread_create(&s, NULL, ct_save, NULL);
		for (int i = 0; i < CT_PUSHERS; i++)
			pthread_join(p[i], NULL);
		T_STORE(ct_stop, 1);
		for (int i = 0; i < CT_POPPERS; i++)
			pthread_join(q[i], NULL);
		pthread_join(r, NULL);
		pthread_join(s, NULL);
		/* whatever is still in the lists */
		kv_elems e = KV_ELEMS_INIT;
		while (kv_pop(ns, K("q"), KV_LEFT, 1, 1000, &e) == KV_OK)
			for (size_t i = 0; i < e.n; i++)
				ct_mark(e.bytes.data + e.v[i].off, e.v[i].len);
		while (kv_pop(ns, K("side"), KV_LEFT, 1, 1000, &e) == KV_OK)
			for (size_t i = 0; i < e.n; i++)
				ct_mark(e.bytes.data + e.v[i].off, e.v[i].len);
		kv_elems_free(env, &e);
		size_t missing = 0;
		for (size_t i = 0; i < (size_t)ct_per_pusher * CT_PUSHERS; i++)
			missing += ct_seen[i] != 1;
		if (ct_bad)
			fprintf(stderr, "    %ld bad, the last %s at line %d\n", ct_bad, ct_bad_rc ? kv_strerror(ct_bad_rc) : "check", ct_bad_line);
		E(ct_bad == 0);
		E(missing == 0);
		free(ct_seen);
	}

	kv_ns_close(ns);
	kv_env_close(env);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_done();
}
