/*
 * ctest.h -- minimal TAP-style helpers for the SQLite host's C tests.
 * Each CHECK prints "ok N - what" or "not ok N - what (file:line)";
 * tests/suite-sqlite.sh counts those lines.
 */
#ifndef SHARDKV_SQLITE_CTEST_H
#define SHARDKV_SQLITE_CTEST_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ctest_n, ctest_failed;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		int ok_ = (cond) ? 1 : 0;                                       \
		ctest_n++;                                                      \
		printf("%sok %d - ", ok_ ? "" : "not ", ctest_n);               \
		printf(__VA_ARGS__);                                            \
		if (!ok_) {                                                     \
			printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);      \
			ctest_failed++;                                         \
		}                                                               \
		printf("\n");                                                   \
		fflush(stdout);                                                 \
	} while (0)

/* Run SQL; returns the sqlite3_exec code and prints the error if any. */
static inline int exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int   rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		printf("# sql error %d: %s\n#   in: %s\n", rc, err ? err : "?", sql);
	sqlite3_free(err);
	return rc;
}

/* First column of the first row as text (malloc'd, "NULL" for NULL), or NULL on error. */
static inline char *query_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char         *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("# prepare error: %s\n#   in: %s\n", sqlite3_errmsg(db), sql);
		return NULL;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		out = strdup(t ? t : "NULL");
	} else {
		printf("# step error: %s\n#   in: %s\n", sqlite3_errmsg(db), sql);
	}
	sqlite3_finalize(st);
	return out;
}

/* Does query_text(db, sql) equal want? */
static inline int query_is(sqlite3 *db, const char *sql, const char *want)
{
	char *got = query_text(db, sql);
	int   eq = got != NULL && strcmp(got, want) == 0;

	if (!eq)
		printf("# got \"%s\", want \"%s\" for: %s\n", got ? got : "(error)", want, sql);
	free(got);
	return eq;
}

static inline sqlite3_int64 query_int(sqlite3 *db, const char *sql)
{
	char         *got = query_text(db, sql);
	sqlite3_int64 v = got ? strtoll(got, NULL, 10) : -1;

	free(got);
	return v;
}

#define CTEST_DONE()                                                            \
	do {                                                                    \
		printf("# %d checks, %d failed\n", ctest_n, ctest_failed);      \
		return ctest_failed ? 1 : 0;                                    \
	} while (0)

#endif /* SHARDKV_SQLITE_CTEST_H */
