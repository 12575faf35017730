/*
 * peer_urcu.c -- rculfhash as the engine benchmark's concurrent peer.
 *
 * WHY THIS FLAVOUR
 *   urcu-memb is what `#include <urcu.h>` gives.  Its rcu_read_lock is a
 *   thread-local nesting count and a compiler barrier when the kernel has
 *   sys_membarrier (writers pay for the barrier in synchronize_rcu instead),
 *   and it asks nothing of the application beyond registering its threads.
 *   QSBR reads are free but every thread must announce quiescent states, which
 *   a library embedded in PostgreSQL or SQLite cannot impose; bp (bullet-proof)
 *   registers lazily at a cost on every read.  _LGPL_SOURCE inlines the read
 *   side, as liburcu recommends for speed.
 *
 * HOW IT IS USED
 *   Nodes are malloc'd: [cds_lfht_node][rcu_head][vlen][klen][key][value].
 *   The hash is XXH3 of the key, as in the engine and the reference table.
 *   A get looks up and copies the value out under rcu_read_lock.  A set
 *   builds a new node and publishes it with cds_lfht_add_replace; the node it
 *   replaced goes to call_rcu and is freed by liburcu's worker thread after a
 *   grace period.  The table is presized to the next power of two at or above
 *   the key count (auto-resize targets one node per bucket), with
 *   CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, so no resize runs in a timed
 *   loop.
 */
#define _LGPL_SOURCE
#include "peer_urcu.h"

#include <urcu.h>
#include <urcu/rculfhash.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct pu_table {
	struct cds_lfht *ht;
};

typedef struct pu_node {
	struct cds_lfht_node node;
	struct rcu_head      rcu;
	uint32_t             vlen;
	uint16_t             klen;
	char                 data[]; /* key, then value */
} pu_node;

typedef struct pu_key {
	const void *key;
	size_t      klen;
} pu_key;

static int match(struct cds_lfht_node *n, const void *arg)
{
	const pu_node *e = caa_container_of(n, pu_node, node);
	const pu_key *k = arg;
	return e->klen == k->klen && memcmp(e->data, k->key, k->klen) == 0;
}

static void node_free(struct rcu_head *h)
{
	free(caa_container_of(h, pu_node, rcu));
}

pu_table *pu_create(size_t expected)
{
	unsigned long size = 1;
	while (size < expected)
		size <<= 1;
	pu_table *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	t->ht = cds_lfht_new(size, 1, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!t->ht) {
		free(t);
		return NULL;
	}
	return t;
}

void pu_destroy(pu_table *t)
{
	if (!t)
		return;
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	rcu_read_lock();
	cds_lfht_for_each(t->ht, &it, n) {
		if (cds_lfht_del(t->ht, n) == 0)
			call_rcu(&caa_container_of(n, pu_node, node)->rcu, node_free);
	}
	rcu_read_unlock();
	rcu_barrier();
	cds_lfht_destroy(t->ht, NULL);
	free(t);
}

void pu_thread_online(void)
{
	rcu_register_thread();
}

void pu_thread_offline(void)
{
	rcu_unregister_thread();
}

void pu_quiesce(void)
{
	rcu_barrier();
}

int pu_set(pu_table *t, const void *key, size_t klen, const void *val, size_t vlen)
{
	pu_node *e = malloc(sizeof(*e) + klen + vlen);
	if (!e)
		return -1;
	unsigned long h = (unsigned long)XXH3_64bits(key, klen);
	pu_key k = {e->data, klen};
	cds_lfht_node_init(&e->node);
	e->vlen = (uint32_t)vlen;
	e->klen = (uint16_t)klen;
	memcpy(e->data, key, klen);
	memcpy(e->data + klen, val, vlen);
	rcu_read_lock();
	struct cds_lfht_node *old = cds_lfht_add_replace(t->ht, h, match, &k, &e->node);
	rcu_read_unlock();
	if (old)
		call_rcu(&caa_container_of(old, pu_node, node)->rcu, node_free);
	return 0;
}

int pu_get(pu_table *t, const void *key, size_t klen, char *out, size_t cap, size_t *vlen)
{
	unsigned long h = (unsigned long)XXH3_64bits(key, klen);
	pu_key k = {key, klen};
	struct cds_lfht_iter it;
	int rc = -1;
	rcu_read_lock();
	cds_lfht_lookup(t->ht, h, match, &k, &it);
	struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
	if (n) {
		const pu_node *e = caa_container_of(n, pu_node, node);
		size_t l = e->vlen < cap ? e->vlen : cap;
		memcpy(out, e->data + e->klen, l);
		*vlen = e->vlen;
		rc = 0;
	}
	rcu_read_unlock();
	return rc;
}

const char *pu_flavour(void)
{
	return urcu_memb_has_sys_membarrier ? "urcu-memb (sys_membarrier)"
	                                    : "urcu-memb (fences: no sys_membarrier)";
}
