/*
 * test_vocab.c -- the engine's shared vocabulary, the words every host must
 * read and write the same way: eviction-policy names, Redis size units, status
 * texts with and without their code, the linked version, and the snapshot
 * housekeeping helpers (kv_path_check, kv_snapshot_cleanup).
 */
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define S(s) (s), (sizeof(s) - 1)

static char dir[64];

static int touch(const char *name)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	(void)!write(fd, "x", 1);
	return close(fd);
}

static int present(const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* A pid that is certainly not running: a child that has been reaped. */
static long dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return (long)p;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);

	TEST("policy names: canonical, Redis alias, case, round trip") {
		static const char *const names[] = {"none", "allkeys-lru", "allkeys-random",
		                                    "volatile-lru", "volatile-random", "volatile-ttl"};
		for (int i = 0; i < 6; i++) {
			int p = -1;
			EOK(kv_evict_policy_parse(names[i], strlen(names[i]), &p));
			E(p == i);
			E(strcmp(kv_evict_policy_name(i, 0), names[i]) == 0);
			E(strstr(KV_EVICT_POLICY_LIST, names[i]) != NULL);
		}
		int p = -1;
		EOK(kv_evict_policy_parse(S("noeviction"), &p));
		E(p == KV_EVICT_NONE);
		EOK(kv_evict_policy_parse(S("NoEviction"), &p));
		E(p == KV_EVICT_NONE);
		EOK(kv_evict_policy_parse(S("ALLKEYS-LRU"), &p));
		E(p == KV_EVICT_ALLKEYS_LRU);
		E(strcmp(kv_evict_policy_name(KV_EVICT_NONE, KV_NAME_REDIS), "noeviction") == 0);
		E(strcmp(kv_evict_policy_name(KV_EVICT_VOLATILE_TTL, KV_NAME_REDIS), "volatile-ttl") == 0);
		E(kv_evict_policy_name(6, 0) == NULL);
		E(kv_evict_policy_name(-1, KV_NAME_REDIS) == NULL);
		E(strcmp(KV_EVICT_POLICY_LIST,
		         "none, allkeys-lru, allkeys-random, volatile-lru, volatile-random, volatile-ttl") == 0);
	}

	TEST("policy names: near misses are KV_EINVAL and leave *policy alone") {
		static const char *const bad[] = {"", "non", "nonee", " none", "none ", "allkeys_lru",
		                                  "lru", "volatile-lfu", "allkeys-lfu", "noevictio"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			int p = 42;
			ERC(kv_evict_policy_parse(bad[i], strlen(bad[i]), &p), KV_EINVAL);
			E(p == 42);
		}
		int p = 42;
		ERC(kv_evict_policy_parse(S("none\0"), &p), KV_EINVAL);  /* a NUL inside len */
		ERC(kv_evict_policy_parse("nonesuch", 4, &p), KV_OK);    /* len bounds the name */
		E(p == KV_EVICT_NONE);
		/* the Turkish dotted capital is not ASCII: no locale folding */
		ERC(kv_evict_policy_parse(S("VOLAT\xc4\xb0LE-TTL"), &p), KV_EINVAL);
		ERC(kv_evict_policy_parse(NULL, 0, &p), KV_EINVAL);
	}

	TEST("sizes: Redis memtoll units") {
		static const struct { const char *s; uint64_t v; } ok[] = {
			{"0", 0}, {"100", 100}, {"7b", 7}, {"7B", 7},
			{"1k", 1000}, {"1K", 1000}, {"1kb", 1024}, {"1KB", 1024}, {"1kB", 1024},
			{"2m", 2000000}, {"2mb", 2u << 20}, {"3g", 3000000000u}, {"3gb", UINT64_C(3) << 30},
			{"1t", UINT64_C(1000000000000)}, {"1tb", UINT64_C(1) << 40},
			{"0064mb", UINT64_C(64) << 20},
			{"18446744073709551615", UINT64_MAX},
			{"16777215tb", UINT64_C(16777215) << 40},
		};
		for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
			uint64_t v = 1;
			EOK(kv_parse_size(ok[i].s, strlen(ok[i].s), &v));
			E(v == ok[i].v);
		}
	}

	TEST("sizes: sign, space, fraction, unknown unit, overflow are KV_EINVAL") {
		static const char *const bad[] = {"", "k", "kb", "-1", "+1", " 1", "1 ", "1 kb", "1.5",
		                                  "1.5mb", "1kib", "1bb", "1p", "1x", "0x10", "1e3",
		                                  "18446744073709551616", "99999999999999999999",
		                                  "16777216tb", "18446744073709551615k", "1kbb"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			uint64_t v = 42;
			ERC(kv_parse_size(bad[i], strlen(bad[i]), &v), KV_EINVAL);
			E(v == 42);
		}
		uint64_t v = 42;
		ERC(kv_parse_size(S("1\0"), &v), KV_EINVAL);
		ERC(kv_parse_size(S("1k\0"), &v), KV_EINVAL);
		EOK(kv_parse_size("12mb junk", 4, &v)); /* len bounds the text */
		E(v == UINT64_C(12) << 20);
	}

	TEST("status texts: code and text are the halves of kv_strerror") {
		static const int codes[] = {KV_OK, KV_NOTFOUND, KV_EXISTS, KV_UNCHANGED, KV_ENONS,
		                            KV_ENSEXISTS, KV_ENSNAME, KV_ETOOMANYNS, KV_EINVAL,
		                            KV_EKEYSIZE, KV_EVALSIZE, KV_ENOMEM, KV_EMAXKEYS,
		                            KV_EMAXMEM, KV_ENOTINT, KV_EOVERFLOW, KV_ENOTFLOAT,
		                            KV_ESHARDS, KV_EBUSY, KV_EABORTED, KV_EREGION, KV_EIO,
		                            KV_ECORRUPT, KV_EFORMAT, 12345, -1};
		for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
			char whole[512];
			const char *code = kv_strerror_code(codes[i]), *text = kv_strerror_text(codes[i]);
			E(code && text && *text && strncmp(code, "KV_", 3) == 0);
			snprintf(whole, sizeof whole, "%s: %s", code, text);
			E(strcmp(whole, kv_strerror(codes[i])) == 0);
			E(strchr(code, ':') == NULL);
		}
		E(strcmp(kv_strerror_code(KV_ENOMEM), "KV_ENOMEM") == 0);
		E(strcmp(kv_strerror_code(KV_OK), "KV_OK") == 0);
		E(strcmp(kv_strerror_text(KV_NOTFOUND), "key not found") == 0);
		E(strcmp(kv_strerror_code(777), "KV_UNKNOWN") == 0);
		E(strcmp(kv_strerror_text(777), "unknown status code") == 0);
	}

	TEST("version: number of the linked library matches the header") {
		E(kv_version_number() == KV_VERSION_NUMBER);
		char v[32];
		snprintf(v, sizeof v, "%d.%d.%d", KV_VERSION_MAJOR, KV_VERSION_MINOR, KV_VERSION_PATCH);
		E(strcmp(kv_version(), v) == 0);
	}

	strcpy(dir, "/tmp/kv-vocab-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[256];

	TEST("event and type names: one word per code, NULL outside the defined ones") {
		E(strcmp(kv_event_name(KV_EV_SET), "set") == 0);
		E(strcmp(kv_event_name(KV_EV_EXPIRED), "expired") == 0);
		E(strcmp(kv_event_name(KV_EV_RENAME_TO), "rename_to") == 0);
		E(kv_event_name(0) == NULL && kv_event_name(-1) == NULL && kv_event_name(KV_EV_LTRIM + 1) == NULL);
		E(strcmp(kv_event_name(KV_EV_HSET), "hset") == 0 && strcmp(kv_event_name(KV_EV_LTRIM), "ltrim") == 0);
		E(strcmp(kv_type_name(KV_T_ZSET), "zset") == 0 && kv_type_name(20) == NULL);
		for (int ev = KV_EV_SET; ev <= KV_EV_LTRIM; ev++)
			E(kv_event_name(ev) != NULL && kv_event_name(ev)[0]);
		E(strcmp(kv_type_name(KV_T_BYTES), "bytes") == 0);
		E(strcmp(kv_type_name(KV_T_REAL), "real") == 0);
		E(strcmp(kv_type_name(KV_T_NULL), "null") == 0);
		E(kv_type_name(KV_T_NONE) == NULL && kv_type_name(6) == NULL && kv_type_name(64) == NULL);
	}

	TEST("kv_path_check: names kv_save_at refuses are refused, good ones pass") {
		kv_error err;
		EOK(kv_path_check(dir, "dump.kv", &err));
		EOK(kv_path_check(dir, "dump.kv", NULL));
		static const char *const bad[] = {"", "/etc/passwd", "..", ".", "a/../b", "a//b", "a/",
		                                  "./x"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			memset(&err, 0, sizeof err);
			ERC(kv_path_check(dir, bad[i], &err), KV_EINVAL);
			E(err.code == KV_EINVAL && err.msg[0]);
		}
		char longname[300];
		memset(longname, 'a', 256);
		longname[256] = 0;
		ERC(kv_path_check(dir, longname, &err), KV_EINVAL);
		ERC(kv_path_check("", "x", &err), KV_EINVAL);
		/* a missing subdirectory, a linked subdirectory, a directory at the name */
		ERC(kv_path_check(dir, "nosuch/x", &err), KV_EIO);
		E(err.sys_errno == ENOENT);
		snprintf(path, sizeof path, "%s/sub", dir);
		E(mkdir(path, 0755) == 0);
		EOK(kv_path_check(dir, "sub/x", &err));
		ERC(kv_path_check(dir, "sub", &err), KV_EIO);
		E(err.sys_errno == EISDIR);
		snprintf(path, sizeof path, "%s/link", dir);
		E(symlink("sub", path) == 0);
		ERC(kv_path_check(dir, "link/x", &err), KV_EIO);
		E(err.sys_errno == ELOOP);
		ERC(kv_path_check(dir, "link", &err), KV_EIO); /* a link at the file itself */
		/* the same answers as the real save */
		kv_env *env;
		EOK(kv_env_open(NULL, &env));
		EOK(kv_ns_create(env, "n", NULL));
		ERC(kv_save_at(env, "n", dir, "a//b", &err), KV_EINVAL);
		ERC(kv_save_at(env, "n", dir, "link/x", &err), KV_EIO);
		EOK(kv_save_at(env, "n", dir, "sub/x", &err));
		EOK(kv_path_check(dir, "sub/x", &err)); /* an existing regular file */
		snprintf(path, sizeof path, "%s/sub/x", dir);
		EOK(kv_path_check(NULL, path, &err));   /* a plain path */
		kv_env_close(env);
	}

	TEST("kv_snapshot_cleanup: removes a killed save's temp files, nothing else") {
		long dead = dead_pid();
		char t1[128], t2[128], live[128];
		snprintf(t1, sizeof t1, "dump.kv.tmp-%ld-0badf00d", dead);
		snprintf(t2, sizeof t2, "dump.kv.tmp-%ld-deadbeef", dead);
		snprintf(live, sizeof live, "dump.kv.tmp-%ld-12345678", (long)getpid());
		static const char *const keep[] = {
			"dump.kv", "other.kv.tmp-1-0badf00d", "dump.kv.tmp-1-0badf00", "dump.kv.tmp-1-0badf00dd",
			"dump.kv.tmp--0badf00d", "dump.kv.tmp-1-0BADF00D", "dump.kv.tmp-x-0badf00d",
			"dump.kvx.tmp-1-0badf00d", "xdump.kv.tmp-1-0badf00d", "dump.kv.tmp-1-0badf00d.bak",
		};
		E(touch(t1) == 0 && touch(t2) == 0 && touch(live) == 0);
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
			E(touch(keep[i]) == 0);
		/* a link of the temp form is neither followed nor removed */
		char target[256], lnk[256];
		snprintf(target, sizeof target, "%s/victim", dir);
		E(touch("victim") == 0);
		snprintf(lnk, sizeof lnk, "%s/dump.kv.tmp-%ld-aaaaaaaa", dir, dead);
		E(symlink(target, lnk) == 0);
		EOK(kv_snapshot_cleanup(dir, "dump.kv"));
		E(!present(t1) && !present(t2));
		E(!present(live)); /* with the directory lock held, no save owns it */
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
			E(present(keep[i]));
		E(present("victim"));
		E(present(lnk + strlen(dir) + 1));
		ERC(kv_snapshot_cleanup(dir, "../x"), KV_EINVAL);
		ERC(kv_snapshot_cleanup(dir, "nosuch/x"), KV_EIO);
		EOK(kv_snapshot_cleanup(dir, "sub/x")); /* nothing to do */
		snprintf(path, sizeof path, "%s/sub/x", dir);
		E(access(path, F_OK) == 0);
	}

	TEST("kv_snapshot_cleanup: a long name's temp files have the name cut short") {
		char name[256], tmp[300];
		memset(name, 'n', 250);
		name[250] = 0;
		/* kv_snap_create keeps 255 - strlen(suffix) bytes of the name */
		long dead = dead_pid();
		char suffix[48];
		int sl = snprintf(suffix, sizeof suffix, ".tmp-%ld-cafef00d", dead);
		snprintf(tmp, sizeof tmp, "%.*s%s", 255 - sl, name, suffix);
		E(strlen(tmp) == 255);
		E(touch(tmp) == 0);
		EOK(kv_snapshot_cleanup(dir, name));
		E(!present(tmp));
	}

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
	return t_done();
}
