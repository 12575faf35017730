/*
 * nscache.c -- a process-local cache of namespace handles by name, the one
 * every host needs: a command, SQL call or FDW scan names its namespace, and
 * opening a handle per call would allocate each time.
 *
 * HOW IT WORKS.  A fixed array of hash buckets, each a singly linked chain of
 * (name, handle) nodes.  Nodes are only ever added at a chain's head, with a
 * release store, and never removed before kv_nscache_close: so a lookup walks
 * its chain with acquire loads and takes no lock at all.  An insert opens the
 * handle and allocates the node first (host allocator, no lock held), then
 * takes the cache's mutex, checks the chain again and publishes the node, or
 * throws its own away when another thread got there first.  The mutex is
 * process-local and guards nothing but that push, so it never waits on the
 * host or on an engine lock.
 *
 * A handle follows its name across drop and re-create (kv_ns_open), so an
 * entry never goes stale; a name that does not exist is not cached.  Entries
 * accrue one per distinct name looked up while it existed, and live until the
 * cache is closed.
 */
#include "kv_internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define NSCACHE_BUCKETS 1024 /* chains stay short for any real namespace count */

typedef struct nsc_node {
	struct nsc_node *_Atomic next;
	kv_ns           *ns;
	size_t           len;
	char             name[KV_NS_NAME_MAX + 1];
} nsc_node;

struct kv_nscache {
	kv_env          *env;
	pthread_mutex_t  push;
	nsc_node *_Atomic bucket[NSCACHE_BUCKETS];
};

KV_API int kv_nscache_open(kv_env *env, kv_nscache **out)
{
	*out = NULL;
	kv_nscache *c = kv_mem_realloc(env, NULL, sizeof *c);
	if (!c)
		return KV_ENOMEM;
	c->env = env;
	pthread_mutex_init(&c->push, NULL);
	for (size_t i = 0; i < NSCACHE_BUCKETS; i++)
		atomic_init(&c->bucket[i], NULL);
	*out = c;
	return KV_OK;
}

static nsc_node *find(nsc_node *n, const char *name, size_t len)
{
	for (; n; n = atomic_load_explicit(&n->next, memory_order_acquire))
		if (n->len == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

KV_API int kv_nscache_get(kv_nscache *c, const char *name, size_t len, kv_ns **out)
{
	*out = NULL;
	int rc = kv_ns_name_check(name, len);
	if (rc != KV_OK)
		return rc;
	nsc_node *_Atomic *b = &c->bucket[kv_hash(name, len) & (NSCACHE_BUCKETS - 1)];
	nsc_node *n = find(atomic_load_explicit(b, memory_order_acquire), name, len);
	if (n) {
		*out = n->ns;
		return KV_OK;
	}
	/* miss: open and allocate with no lock held, then publish */
	nsc_node *mine = kv_mem_realloc(c->env, NULL, sizeof *mine);
	if (!mine)
		return KV_ENOMEM;
	memcpy(mine->name, name, len);
	mine->name[len] = 0;
	mine->len = len;
	if ((rc = kv_ns_open(c->env, mine->name, &mine->ns)) != KV_OK) {
		kv_mem_realloc(c->env, mine, 0);
		return rc;
	}
	pthread_mutex_lock(&c->push);
	nsc_node *head = atomic_load_explicit(b, memory_order_relaxed);
	n = find(head, name, len);
	if (!n) {
		atomic_init(&mine->next, head);
		atomic_store_explicit(b, mine, memory_order_release);
	}
	pthread_mutex_unlock(&c->push);
	if (n) { /* another thread published this name first */
		kv_ns_close(mine->ns);
		kv_mem_realloc(c->env, mine, 0);
		*out = n->ns;
	} else {
		*out = mine->ns;
	}
	return KV_OK;
}

KV_API void kv_nscache_close(kv_nscache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NSCACHE_BUCKETS; i++) {
		nsc_node *n = atomic_load_explicit(&c->bucket[i], memory_order_relaxed);
		while (n) {
			nsc_node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
			kv_ns_close(n->ns);
			kv_mem_realloc(c->env, n, 0);
			n = next;
		}
	}
	pthread_mutex_destroy(&c->push);
	kv_mem_realloc(c->env, c, 0);
}
