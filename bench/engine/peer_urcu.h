/*
 * peer_urcu.h -- the engine benchmark's concurrent peer: liburcu's lock-free
 * resizable hash table (rculfhash), used the way a C programmer would.
 *
 * Flavour: urcu-memb, the default of <urcu.h> (see peer_urcu.c for why).
 * Readers copy the value out inside a read-side critical section; a set
 * allocates a new node and swaps it in with cds_lfht_add_replace, and the old
 * node is freed by call_rcu after a grace period.  Every thread that calls
 * pu_get or pu_set must be registered (pu_thread_online).
 */
#ifndef SHARDKV_BENCH_PEER_URCU_H
#define SHARDKV_BENCH_PEER_URCU_H

#include <stddef.h>

typedef struct pu_table pu_table;

/* A table presized for `expected` keys; NULL when out of memory. */
pu_table *pu_create(size_t expected);
/* Waits for pending frees, then frees every node and the table. */
void      pu_destroy(pu_table *t);

void pu_thread_online(void);  /* rcu_register_thread */
void pu_thread_offline(void); /* rcu_unregister_thread */

/* Insert or replace.  0, or -1 when out of memory. */
int pu_set(pu_table *t, const void *key, size_t klen, const void *val, size_t vlen);

/* Copy the value into out[0..cap) and its length into *vlen.  0, or -1 if absent. */
int pu_get(pu_table *t, const void *key, size_t klen, char *out, size_t cap, size_t *vlen);

/* Wait until every node replaced so far has been freed (rcu_barrier), so
 * that a timed run pays for its deferred frees. */
void pu_quiesce(void);

/* "urcu-memb (sys_membarrier)" or "urcu-memb (fences: no sys_membarrier)" */
const char *pu_flavour(void);

#endif /* SHARDKV_BENCH_PEER_URCU_H */
