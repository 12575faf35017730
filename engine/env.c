/*
 * env.c -- opening, attaching and closing a store; the process-local allocator
 * and output buffers.
 */
#include "kv_internal.h"

#include <stdlib.h>
#include <sys/mman.h>

#define KV_DEFAULT_MEMORY ((size_t)1 << 30)

KV_API void kv_config_init(kv_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->memory = KV_DEFAULT_MEMORY;
	cfg->max_namespaces = 1024;
	cfg->default_shards = 16;
}

static void *libc_realloc(void *ctx, void *p, size_t n)
{
	(void)ctx;
	if (n == 0) {
		free(p);
		return NULL;
	}
	return realloc(p, n);
}

void *kv_mem_realloc(kv_env *env, void *p, size_t n)
{
	return env->mem.xRealloc(env->mem.ctx, p, n);
}

static kv_env *env_new(const kv_mem_methods *mem)
{
	kv_mem_methods m = {libc_realloc, NULL};
	if (mem && mem->xRealloc)
		m = *mem;
	kv_env *env = m.xRealloc(m.ctx, NULL, sizeof *env);
	if (!env)
		return NULL;
	memset(env, 0, sizeof *env);
	env->mem = m;
	kv_fault_io_init(&env->fault);
	return env;
}

KV_API int kv_env_open(const kv_config *cfg, kv_env **out)
{
	kv_config def;
	if (!cfg) {
		kv_config_init(&def);
		cfg = &def;
	}
	*out = NULL;
	uint32_t max_ns = cfg->max_namespaces ? cfg->max_namespaces : 1024;
	uint32_t shards = cfg->default_shards ? cfg->default_shards : 16;
	if (max_ns > KV_MAX_NAMESPACES || shards > KV_MAX_SHARDS)
		return KV_EINVAL;
	size_t size = cfg->region ? cfg->region_size : (cfg->memory ? cfg->memory : KV_DEFAULT_MEMORY);
	if (size > KV_REGION_MAX)
		return KV_EREGION;
	if (size < kv_region_min_size(max_ns))
		return KV_EREGION;
	if (cfg->region && ((uintptr_t)cfg->region % KV_REGION_ALIGN))
		return KV_EINVAL;

	kv_env *env = env_new(&cfg->mem);
	if (!env)
		return KV_ENOMEM;
	if (cfg->region) {
		env->base = cfg->region;
	} else {
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			env->mem.xRealloc(env->mem.ctx, env, 0);
			return KV_ENOMEM;
		}
		/* Random access over a large store misses the TLB on every 4 KiB page;
		 * 2 MiB pages remove most of that (a hint: THP may be off). */
		madvise(p, size, MADV_HUGEPAGE);
		env->base = p;
		env->owns_mapping = 1;
	}
	env->size = size;
	env->r = (kv_region *)env->base;
	int rc = kv_region_format(env, max_ns, shards);
	env->slots = kv_ptr(env, env->r->slots);
	if (rc != KV_OK) {
		if (env->owns_mapping)
			munmap(env->base, env->size);
		env->mem.xRealloc(env->mem.ctx, env, 0);
		return rc;
	}
	*out = env;
	return KV_OK;
}

KV_API int kv_env_attach(void *region, size_t region_size, const kv_mem_methods *mem,
                         kv_env **out)
{
	*out = NULL;
	if (!region || region_size > KV_REGION_MAX)
		return KV_EREGION;
	kv_env *env = env_new(mem);
	if (!env)
		return KV_ENOMEM;
	env->base = region;
	env->size = region_size;
	env->r = region;
	if (kv_region_check(env) != KV_OK) {
		env->mem.xRealloc(env->mem.ctx, env, 0);
		return KV_EREGION;
	}
	env->slots = kv_ptr(env, env->r->slots);
	*out = env;
	return KV_OK;
}

KV_API void kv_env_close(kv_env *env)
{
	if (!env)
		return;
	if (env->owns_mapping)
		munmap(env->base, env->size);
	env->mem.xRealloc(env->mem.ctx, env, 0);
}

KV_API int kv_env_stats_get(kv_env *env, kv_env_stats *out)
{
	memset(out, 0, sizeof *out);
	out->region_size = env->size;
	out->region_used = kv_region_used(env);
	out->namespaces = atomic_load(&env->r->nns);
	out->max_namespaces = env->r->max_ns;
	return KV_OK;
}

KV_API void kv_env_set_hook(kv_env *env, kv_hook_fn fn, void *ctx)
{
	env->hook = fn;
	env->hook_ctx = ctx;
}

int kv_buf_reserve(kv_env *env, kv_buf *b, size_t need)
{
	if (need + 1 <= b->cap)
		return KV_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap = cap < ((size_t)1 << 62) ? cap * 2 : need + 1;
	char *p = kv_mem_realloc(env, b->data, cap);
	if (!p)
		return KV_ENOMEM;
	b->data = p;
	b->cap = cap;
	return KV_OK;
}

KV_API void kv_buf_free(kv_env *env, kv_buf *b)
{
	if (b->data)
		kv_mem_realloc(env, b->data, 0);
	b->data = NULL;
	b->len = b->cap = 0;
	b->type = KV_T_NONE;
	b->expires_at = 0;
}
