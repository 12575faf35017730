/*
 * test_sharing.c -- the store is shared by every connection and thread.
 *
 * Built statically (sqlite_ext compiled with -DSQLITE_CORE) against the system
 * SQLite, with the extension registered through sqlite3_auto_extension, as an
 * application embedding it would.  Also built with ASan+UBSan and TSan.
 */
#include <pthread.h>
#include <stdint.h>

#include "ctest.h"

int sqlite3_shardkv_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

static sqlite3 *open_db(const char *name)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(name, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                    SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		printf("# open %s: %s\n", name, db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* ---- 1: first use from several threads at once initialises once */
static void *first_use(void *arg)
{
	intptr_t id = (intptr_t)arg;
	sqlite3 *db = open_db(":memory:");
	char     sql[128];
	intptr_t ok = 0;

	if (db != NULL) {
		snprintf(sql, sizeof(sql), "SELECT kv_set('race', 'k%d', %d)", (int)id, (int)id);
		ok = query_is(db, sql, "1");
		sqlite3_close(db);
	}
	return (void *)ok;
}

/* ---- 3: concurrent increments through the function */
#define INCR_THREADS 2
#define INCR_EACH    3000

static void *incr_worker(void *arg)
{
	sqlite3      *db = open_db(":memory:");
	sqlite3_stmt *st = NULL;
	intptr_t      ok = 1;

	(void)arg;
	if (db == NULL)
		return (void *)0;
	if (sqlite3_prepare_v2(db, "SELECT kv_incr('shared', 'counter')", -1, &st, NULL) != SQLITE_OK)
		ok = 0;
	for (int i = 0; ok && i < INCR_EACH; i++) {
		if (sqlite3_step(st) != SQLITE_ROW)
			ok = 0;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (void *)ok;
}

/* ---- 4: transactions are all-or-nothing for readers on other threads */
#define MOVES 3000
static volatile int writer_done;

static void *mover(void *arg)
{
	sqlite3 *db = open_db(":memory:");
	intptr_t ok = 1;

	(void)arg;
	if (db == NULL || exec_sql(db, "CREATE VIRTUAL TABLE acct USING kv(namespace=bank)") != SQLITE_OK)
		ok = 0;
	for (int i = 0; ok && i < MOVES; i++) {
		/* move one unit from x to y (even i) or back; the sum stays 100 */
		const char *sql = (i % 2 == 0)
			? "BEGIN; UPDATE acct SET value = value - 1 WHERE key = 'x';"
			  "UPDATE acct SET value = value + 1 WHERE key = 'y'; COMMIT;"
			: "BEGIN; UPDATE acct SET value = value + 1 WHERE key = 'x';"
			  "UPDATE acct SET value = value - 1 WHERE key = 'y'; COMMIT;";
		if (exec_sql(db, sql) != SQLITE_OK)
			ok = 0;
	}
	__atomic_store_n(&writer_done, 1, __ATOMIC_RELEASE);
	sqlite3_close(db);
	return (void *)ok;
}

static void *auditor(void *arg)
{
	sqlite3 *db = open_db(":memory:");
	intptr_t bad = 0, reads = 0;

	(void)arg;
	if (db == NULL || exec_sql(db, "CREATE VIRTUAL TABLE acct USING kv(namespace=bank)") != SQLITE_OK)
		return (void *)-1;
	while (!__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE) || reads < 10) {
		sqlite3_int64 s = query_int(db, "SELECT sum(value) FROM acct WHERE key IN ('x', 'y')");

		if (s != 100)
			bad++;
		reads++;
	}
	sqlite3_close(db);
	printf("# auditor: %ld reads, %ld saw a torn transaction\n", (long)reads, (long)bad);
	return (void *)bad;
}

/* ---- 6: the collection table-valued functions read one point in time */
#define HSETS 3000
static volatile int hash_writer_done;

static void *hash_writer(void *arg)
{
	sqlite3      *db = open_db(":memory:");
	sqlite3_stmt *st = NULL;
	intptr_t      ok = 1;

	(void)arg;
	/* both fields get the same number in one kv_hset: a reader never sees two */
	if (db == NULL || sqlite3_prepare_v2(db, "SELECT kv_hset('coll', 'h', 'a', ?1, 'b', ?1, 'c', ?1)",
	                                     -1, &st, NULL) != SQLITE_OK)
		ok = 0;
	for (int i = 0; ok && i < HSETS; i++) {
		sqlite3_bind_int(st, 1, i);
		if (sqlite3_step(st) != SQLITE_ROW)
			ok = 0;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	__atomic_store_n(&hash_writer_done, 1, __ATOMIC_RELEASE);
	sqlite3_close(db);
	return (void *)ok;
}

static void *hash_reader(void *arg)
{
	sqlite3 *db = open_db(":memory:");
	intptr_t bad = 0, reads = 0;

	(void)arg;
	if (db == NULL)
		return (void *)-1;
	while (!__atomic_load_n(&hash_writer_done, __ATOMIC_ACQUIRE) || reads < 10) {
		if (query_int(db, "SELECT count(DISTINCT value) * 10 + count(*) FROM kv_hgetall('coll', 'h')") != 13)
			bad++;
		reads++;
	}
	sqlite3_close(db);
	printf("# hash reader: %ld reads, %ld saw a mix of two writes\n", (long)reads, (long)bad);
	return (void *)bad;
}

int main(void)
{
	sqlite3  *a, *b, *c;
	pthread_t th[4];
	void     *ret;
	int       all;

	if (sqlite3_auto_extension((void (*)(void))sqlite3_shardkv_init) != SQLITE_OK) {
		printf("not ok 1 - sqlite3_auto_extension\n");
		return 1;
	}

	/* 1 */
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, first_use, (void *)i);
	all = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &ret);
		all &= ret != NULL;
	}
	CHECK(all, "4 threads open their first connections at once and write");
	a = open_db(":memory:");
	CHECK(a != NULL && query_is(a, "SELECT count(*) FROM kv_scan('race')", "4"),
	      "the 4 writes landed in one store");

	/* 2: two connections, one store */
	b = open_db(":memory:");
	CHECK(query_is(a, "SELECT kv_set('shared', 'k', 'from a')", "1"), "connection a writes with kv_set");
	CHECK(query_is(b, "SELECT kv_get('shared', 'k')", "from a"), "connection b reads it");
	CHECK(exec_sql(a, "CREATE VIRTUAL TABLE t USING kv(namespace=shared)") == SQLITE_OK &&
	      exec_sql(b, "CREATE VIRTUAL TABLE t2 USING kv(namespace=shared)") == SQLITE_OK,
	      "both connections attach a table to the namespace");
	CHECK(exec_sql(a, "BEGIN; INSERT INTO t VALUES ('tx', 1), ('ty', 2)") == SQLITE_OK,
	      "a inserts inside a transaction");
	CHECK(query_is(b, "SELECT count(*) FROM t2 WHERE key IN ('tx', 'ty')", "0"),
	      "b does not see a's uncommitted rows");
	CHECK(query_is(a, "SELECT count(*) FROM t WHERE key IN ('tx', 'ty')", "2"),
	      "a sees its own uncommitted rows");
	CHECK(exec_sql(a, "COMMIT") == SQLITE_OK, "a commits");
	CHECK(query_is(b, "SELECT group_concat(value) FROM (SELECT value FROM t2 WHERE key IN ('tx', 'ty') ORDER BY key)", "1,2"),
	      "b sees both rows after the commit");
	CHECK(exec_sql(b, "BEGIN; INSERT INTO t2 VALUES ('dup', 'b')") == SQLITE_OK &&
	      exec_sql(a, "INSERT INTO t VALUES ('dup', 'a')") == SQLITE_OK,
	      "a inserts a key that b has inserted but not committed");
	CHECK(exec_sql(b, "COMMIT") == SQLITE_CONSTRAINT &&
	      sqlite3_extended_errcode(b) == SQLITE_CONSTRAINT_PRIMARYKEY,
	      "b's commit fails on the primary key");
	CHECK(sqlite3_get_autocommit(b), "the failed commit rolled b's transaction back");
	CHECK(query_is(b, "SELECT value FROM t2 WHERE key = 'dup'", "a"), "b sees a's row, not its own");
	CHECK(query_is(a, "SELECT value FROM t WHERE key = 'dup'", "a"), "a's row stands");

	/* 3 */
	CHECK(query_is(a, "SELECT kv_set('shared', 'counter', 0)", "1"), "counter reset");
	for (int i = 0; i < INCR_THREADS; i++)
		pthread_create(&th[i], NULL, incr_worker, NULL);
	all = 1;
	for (int i = 0; i < INCR_THREADS; i++) {
		pthread_join(th[i], &ret);
		all &= ret != NULL;
	}
	CHECK(all, "%d threads x %d kv_incr each", INCR_THREADS, INCR_EACH);
	CHECK(query_int(b, "SELECT kv_get('shared', 'counter')") == INCR_THREADS * INCR_EACH,
	      "counter is exactly %d", INCR_THREADS * INCR_EACH);

	/* 4 */
	CHECK(query_is(a, "SELECT kv_set('bank', 'x', 50) + kv_set('bank', 'y', 50)", "2"), "accounts set up");
	pthread_create(&th[0], NULL, mover, NULL);
	pthread_create(&th[1], NULL, auditor, NULL);
	pthread_join(th[0], &ret);
	CHECK(ret != NULL, "writer thread committed %d transactions", MOVES);
	pthread_join(th[1], &ret);
	CHECK(ret == NULL, "reader thread never saw half a transaction");
	CHECK(query_is(a, "SELECT kv_get('bank', 'x') || ',' || kv_get('bank', 'y')", "50,50"),
	      "balances are back to 50,50");

	/* 6 */
	CHECK(query_is(a, "SELECT kv_hset('coll', 'h', 'a', -1, 'b', -1, 'c', -1)", "3"), "hash set up");
	pthread_create(&th[0], NULL, hash_writer, NULL);
	pthread_create(&th[1], NULL, hash_reader, NULL);
	pthread_join(th[0], &ret);
	CHECK(ret != NULL, "writer thread made %d kv_hset calls", HSETS);
	pthread_join(th[1], &ret);
	CHECK(ret == NULL, "kv_hgetall never showed fields of two different kv_hset calls");
	{
		/* rows come from the cursor's copy: no engine lock is held between
		 * them, so the same thread can write the list in the middle of the read */
		sqlite3_stmt *st = NULL;
		int           rows = 0, rc;

		CHECK(query_is(a, "SELECT kv_rpush('coll', 'l', 'a', 'b', 'c')", "3"), "list set up");
		rc = sqlite3_prepare_v2(a, "SELECT value FROM kv_lrange('coll', 'l')", -1, &st, NULL);
		CHECK(rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW, "kv_lrange returns its first row");
		rows = 1;
		CHECK(query_is(b, "SELECT kv_rpush('coll', 'l', 'd') + kv_lpop('coll', 'l') IS NOT NULL", "1"),
		      "another connection pushes and pops while the read is open");
		while (sqlite3_step(st) == SQLITE_ROW)
			rows++;
		sqlite3_finalize(st);
		CHECK(rows == 3, "the open read still returns the 3 elements it started with (%d)", rows);
		CHECK(query_is(a, "SELECT group_concat(value) FROM kv_lrange('coll', 'l')", "b,c,d"),
		      "a new read sees the writes");
	}

	/* 5: closing connections loses nothing */
	sqlite3_close(a);
	sqlite3_close(b);
	c = open_db(":memory:");
	CHECK(c != NULL && query_is(c, "SELECT kv_get('shared', 'k')", "from a"),
	      "a new connection after closing all others sees the data");
	CHECK(query_is(c, "SELECT group_concat(name) FROM kv_namespaces()", "bank,coll,race,shared"),
	      "kv_namespaces lists every namespace");
	sqlite3_close(c);
	CTEST_DONE();
}
