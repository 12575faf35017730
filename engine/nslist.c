/*
 * nslist.c -- the whole namespace list in one call, replacing the
 * size-then-fill loop every host wrote around kv_ns_list.
 *
 * The list can never hold more than the store's max_namespaces entries, so one
 * kv_ns_list call into an array of that size is one consistent cut: no retry,
 * no window between sizing and filling.  The array is then shrunk to fit.
 */
#include "kv_internal.h"

KV_API int kv_ns_list_all(kv_env *env, kv_ns_stats **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	kv_env_stats es;
	int rc = kv_env_stats_get(env, &es);
	if (rc != KV_OK)
		return rc;
	size_t cap = es.max_namespaces ? es.max_namespaces : 1, cnt = 0;
	kv_ns_stats *list = kv_mem_realloc(env, NULL, cap * sizeof *list);
	if (!list)
		return KV_ENOMEM;
	if ((rc = kv_ns_list(env, list, cap, &cnt)) != KV_OK) {
		kv_mem_realloc(env, list, 0);
		return rc;
	}
	if (cnt == 0) {
		kv_mem_realloc(env, list, 0);
		return KV_OK;
	}
	kv_ns_stats *fit = cnt < cap ? kv_mem_realloc(env, list, cnt * sizeof *list) : list;
	*out = fit ? fit : list; /* a failed shrink keeps the larger array */
	*n = cnt;
	return KV_OK;
}

KV_API void kv_ns_list_free(kv_env *env, kv_ns_stats *list)
{
	if (list)
		kv_mem_realloc(env, list, 0);
}
