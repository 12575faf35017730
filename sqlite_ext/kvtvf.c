/*
 * kvtvf.c -- what the eponymous table-valued functions (kv_namespaces,
 * kv_scan, kv_keys) share: connecting (schema, SQLITE_VTAB_DIRECTONLY, the
 * vtab), disconnecting, opening and closing a cursor, and setting an error.
 *
 * Every one is DIRECTONLY: a view or trigger of an untrusted schema cannot
 * reach the process-wide store through it.
 */
#include "shardkv_sqlite.h"

#include <string.h>

#ifndef SQLITE_OMIT_VIRTUALTABLE

int kvtvf_connect(sqlite3 *db, const char *schema, const char *fn, size_t cursor_size,
                  void (*cursor_free)(sqlite3_vtab_cursor *), sqlite3_vtab **ppVtab)
{
	kvtvf_vtab *p;
	int         rc = sqlite3_declare_vtab(db, schema);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
	p = sqlite3_malloc(sizeof(*p));
	if (p == NULL)
		return SQLITE_NOMEM;
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->cursor_size = cursor_size;
	p->cursor_free = cursor_free;
	*ppVtab = &p->base;
	return SQLITE_OK;
}

int kvtvf_disconnect(sqlite3_vtab *pVtab)
{
	sqlite3_free(pVtab->zErrMsg);
	sqlite3_free(pVtab);
	return SQLITE_OK;
}

int kvtvf_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor)
{
	size_t               n = ((kvtvf_vtab *)pVtab)->cursor_size;
	sqlite3_vtab_cursor *c = sqlite3_malloc64(n);

	if (c == NULL)
		return SQLITE_NOMEM;
	memset(c, 0, n);
	*ppCursor = c;
	return SQLITE_OK;
}

int kvtvf_close(sqlite3_vtab_cursor *cur)
{
	((kvtvf_vtab *)cur->pVtab)->cursor_free(cur);
	sqlite3_free(cur);
	return SQLITE_OK;
}

void kvtvf_set_error(sqlite3_vtab_cursor *cur, char *zErr)
{
	sqlite3_free(cur->pVtab->zErrMsg);
	cur->pVtab->zErrMsg = zErr;
}

#endif /* SQLITE_OMIT_VIRTUALTABLE */
