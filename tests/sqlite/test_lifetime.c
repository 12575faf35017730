/*
 * test_lifetime.c -- load/unload lifetime of the loadable build/shardkv.so.
 *
 * Loads the real shared object (path in $SHARDKV_SO, default build/shardkv.so)
 * with sqlite3_load_extension, then checks that the store outlives the
 * connection that loaded it (SQLITE_OK_LOAD_PERMANENTLY), that later
 * connections get the extension without loading it (sqlite3_auto_extension),
 * that loading it again does not re-create the store, and that a table
 * declared in a database file reconnects to the same namespace.
 */
#include <dlfcn.h>
#include <unistd.h>

#include "ctest.h"

static sqlite3 *open_db(const char *name)
{
	sqlite3 *db = NULL;

	if (sqlite3_open(name, &db) != SQLITE_OK) {
		printf("# open %s failed\n", name);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static int load(sqlite3 *db, const char *so)
{
	char *err = NULL;
	int   rc;

	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
	rc = sqlite3_load_extension(db, so, NULL, &err);
	if (rc != SQLITE_OK)
		printf("# load %s: %s\n", so, err ? err : "?");
	sqlite3_free(err);
	return rc;
}

int main(void)
{
	const char *so = getenv("SHARDKV_SO") ? getenv("SHARDKV_SO") : "build/shardkv.so";
	char        dbfile[] = "/tmp/shardkv-lifetime-XXXXXX";
	sqlite3    *a, *b, *c, *d;
	int         fd;

	CHECK(dlopen(so, RTLD_NOW | RTLD_NOLOAD) == NULL, "the extension is not loaded at start");

	a = open_db(":memory:");
	CHECK(a != NULL && load(a, so) == SQLITE_OK, "sqlite3_load_extension(%s)", so);
	CHECK(query_is(a, "SELECT kv_set('life', 'k', 'v')", "1"), "kv_set through the loaded extension");
	CHECK(exec_sql(a, "CREATE VIRTUAL TABLE temp.t USING kv(namespace=life)") == SQLITE_OK &&
	      exec_sql(a, "INSERT INTO temp.t VALUES ('row', 1)") == SQLITE_OK,
	      "a temp kv table writes to the namespace");
	sqlite3_close(a);
	CHECK(dlopen(so, RTLD_NOW | RTLD_NOLOAD) != NULL,
	      "closing the loading connection leaves the extension mapped (load permanently)");

	b = open_db(":memory:");
	CHECK(b != NULL && query_is(b, "SELECT kv_get('life', 'k')", "v"),
	      "a later connection has kv_get without loading (auto extension) and sees the data");
	CHECK(query_is(b, "SELECT kv_get('life', 'row')", "1"), "and sees the row written through the table");
	CHECK(load(b, so) == SQLITE_OK, "loading it again into a connection that has it succeeds");
	CHECK(query_is(b, "SELECT count(*) FROM kv_namespaces()", "1") &&
	      query_is(b, "SELECT kv_get('life', 'k')", "v"),
	      "a second load does not re-create the store");

	sqlite3_reset_auto_extension();
	c = open_db(":memory:");
	CHECK(c != NULL && sqlite3_exec(c, "SELECT kv_get('life', 'k')", NULL, NULL, NULL) == SQLITE_ERROR,
	      "after sqlite3_reset_auto_extension a new connection lacks the functions");
	CHECK(load(c, so) == SQLITE_OK && query_is(c, "SELECT kv_get('life', 'k')", "v"),
	      "loading again brings them back over the same store");
	sqlite3_close(c);

	/* a kv table declared in a database file reconnects in a new connection */
	fd = mkstemp(dbfile);
	if (fd >= 0)
		close(fd);
	d = open_db(dbfile);
	CHECK(d != NULL &&
	      exec_sql(d, "CREATE VIRTUAL TABLE cache USING kv(namespace=filed, max_keys=10)") == SQLITE_OK &&
	      exec_sql(d, "INSERT INTO cache VALUES ('persisted-schema', 42)") == SQLITE_OK,
	      "kv table in a database file");
	sqlite3_close(d);
	d = open_db(dbfile);
	CHECK(d != NULL && query_is(d, "SELECT value FROM cache WHERE key = 'persisted-schema'", "42"),
	      "reopening the file reconnects the table to the live namespace");
	CHECK(query_is(d, "SELECT json_extract(kv_stats('filed'), '$.max_keys')", "10"),
	      "with its options");
	sqlite3_close(d);
	sqlite3_close(b);
	unlink(dbfile);
	CTEST_DONE();
}
