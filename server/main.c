/*
 * main.c -- shardkv-server: start-up, the accept/timer/signal loop, shutdown.
 *
 * Usage:
 *   shardkv-server                          # 127.0.0.1:6379, snapshots in ./data
 *   shardkv-server --port 6380 --save "60 1000" --requirepass s3cret
 *   shardkv-server /etc/shardkv.conf --loglevel verbose
 *
 * The main thread accepts connections and hands them to the workers, runs
 * kv_tick every 100 ms (expiry sweep and autosave rules) and handles SIGTERM and
 * SIGINT through a signalfd: stop accepting, let workers flush their replies,
 * save, exit 0, within a few seconds whatever clients do (see
 * SHUTDOWN_WORKER_WAIT_MS).  Unlike Redis, SIGTERM, SIGINT and SHUTDOWN save
 * also when no --save rule is set: only SHUTDOWN NOSAVE (or a crash) skips the
 * final save.  A final save that fails (a full disk) exits 1.
 */
#include "server.h"
#include "http.h"
#include "aof.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

server srv;
static int wakeFd = -1; /* eventfd-like pipe to wake the main loop on SHUTDOWN */

/*
 * Workers see a stop request between two slices of a job, so they stop at
 * once; only a single engine call that runs longer (a flush of a huge
 * namespace, say) is not waited for beyond this, so that SIGTERM and SHUTDOWN
 * finish within a few seconds whatever a client is doing.
 */
#define SHUTDOWN_WORKER_WAIT_MS 2000

void serverRequestShutdown(int how)
{
	int expected = 0;
	atomic_compare_exchange_strong(&srv.shutdown_asked, &expected, how);
	if (wakeFd >= 0) {
		char b = 1;
		ssize_t r = write(wakeFd, &b, 1);
		(void)r;
	}
}

static int isLoopback(const char *addr)
{
	return !strcmp(addr, "127.0.0.1") || !strcmp(addr, "::1") || !strcmp(addr, "localhost") ||
	       !strncmp(addr, "127.", 4);
}

static int tls_fd = -1; /* the tls-port listener */

static void acceptClients(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				serverLog(LL_WARNING, "accept: %s", strerror(errno));
			return;
		}
		atomic_fetch_add(&srv.total_connections, 1);
		if (atomic_load(&srv.connected_clients) >= atomic_load(&srv.maxclients)) {
			static const char msg[] = "-ERR max number of clients reached\r\n";
#define HTTP_FULL_BODY "{\"error\":\"max number of clients reached\",\"code\":\"KV_EBUSY\"}"
			_Static_assert(sizeof(HTTP_FULL_BODY) - 1 == 59, "Content-Length below");
			static const char hmsg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
			                           "Content-Length: 59\r\nConnection: close\r\n\r\n" HTTP_FULL_BODY;
			/* a TLS client is refused by closing: it cannot read plain text */
			ssize_t r = lfd == srv.listen_fd ? send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL)
			          : lfd == tls_fd ? 0
			          : send(fd, hmsg, sizeof(hmsg) - 1, MSG_NOSIGNAL);
			(void)r;
			close(fd);
			atomic_fetch_add(&srv.rejected_connections, 1);
			continue;
		}
		atomic_fetch_add(&srv.connected_clients, 1);
		workerAddClient(fd);
	}
}

static kv_hook_fn hookSetup(void)
{
	/* one hook: WATCH, keyspace notifications, then the HTTP feed when that door is open */
	kv_hook_fn fn = multiHook(blockingHook(srv.cfg.http_port ? httpChangeHook : pubsubKeyspaceHook));
	kv_env_set_hook(srv.env, fn, NULL);
	return fn;
}

static int openEngine(void)
{
	kv_config kc;
	kv_config_init(&kc);
	if (srv.cfg.memory)
		kc.memory = (size_t)srv.cfg.memory;
	int rc = kv_env_open(&kc, &srv.env);
	if (rc != KV_OK) {
		serverLog(LL_WARNING, "cannot open the engine: %s", kv_strerror(rc));
		return C_ERR;
	}
	rc = kv_nscache_open(srv.env, &srv.nscache);
	if (rc != KV_OK) {
		serverLog(LL_WARNING, "cannot open the engine: %s", kv_strerror(rc));
		return C_ERR;
	}
	if ((srv.cfg.appendonly ? aofLoadAtStart() : persistLoadAtStart()) != C_OK)
		return C_ERR;
	for (int i = 0; i < NUM_DBS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%d", i);
		rc = kv_ns_create(srv.env, name, NULL);
		if (rc != KV_OK && rc != KV_ENSEXISTS) {
			serverLog(LL_WARNING, "cannot create namespace %s: %s", name, kv_strerror(rc));
			return C_ERR;
		}
		rc = kv_nscache_get(srv.nscache, name, strlen(name), &srv.dbs[i]);
		if (rc != KV_OK) {
			serverLog(LL_WARNING, "cannot open namespace %s: %s", name, kv_strerror(rc));
			return C_ERR;
		}
	}
	/* only an explicit limit or policy overrides what loaded namespaces carry */
	if (srv.cfg.maxmemory || srv.cfg.maxmemory_policy != KV_EVICT_NONE)
		configApplyMemory();
	kv_autosave_set(srv.env, srv.cfg.save_rules, srv.cfg.nsave_rules);
	kv_hook_fn hook = hookSetup();
	/* the AOF logs from the hook, in front of the others */
	if (aofStart(hook) != C_OK)
		return C_ERR;
	return C_OK;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			configUsage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("shardkv-server v=%s engine=%s (Redis protocol %s)\n", SHARDKV_SERVER_VERSION,
			       kv_version(), REDIS_COMPAT_VERSION);
			return 0;
		}
	}
	configInitDefaults(&srv.cfg);
	if (configParseArgs(&srv.cfg, argc, argv) != C_OK)
		return 1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	srv.ncpu = ncpu < 1 ? 1 : (ncpu > 64 ? 64 : (int)ncpu);
	/* a load runs before the workers: every CPU unless threads was given */
	srv.load_threads = srv.cfg.threads > 0 ? srv.cfg.threads : srv.ncpu;
	if (srv.cfg.threads <= 0) /* one worker per CPU; on 1-2 CPUs one, leaving a CPU to the clients */
		srv.cfg.threads = srv.ncpu <= 2 ? 1 : srv.ncpu;
	pthread_mutex_init(&srv.cfg_lock, NULL);
	pthread_mutex_init(&srv.save_lock, NULL);
	configPublish();
	if (serverLogOpen(srv.cfg.logfile) != C_OK)
		return 1;
	srv.start_ms = mstime();
	srv.lastsave_ms = srv.start_ms;
	srv.last_save_ok = 1;
	srv.next_client_id = 1;

	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts: all inherit it */

	if (!isLoopback(srv.cfg.bind) && srv.cfg.requirepass[0] == '\0')
		serverLog(LL_WARNING,
		          "WARNING: listening on %s, which is not a loopback address, WITHOUT A PASSWORD. "
		          "Anyone who can reach this port can read, change and delete every key. "
		          "Set --requirepass or bind to 127.0.0.1.",
		          srv.cfg.bind);

	serverLog(LL_NOTICE, "shardkv-server %s (engine %s) starting, pid %d, %d worker threads",
	          SHARDKV_SERVER_VERSION, kv_version(), (int)getpid(), srv.cfg.threads);
	if (openEngine() != C_OK)
		return 1;

	srv.listen_fd = listenOn(srv.cfg.bind, srv.cfg.port);
	if (srv.listen_fd < 0)
		return 1;
	if (srv.cfg.http_port && srv.cfg.http_port == srv.cfg.port) {
		serverLog(LL_WARNING, "http-port must differ from port");
		return 1;
	}
	int http_fd = httpListen();
	if (http_fd == -2)
		return 1;
	if (srv.cfg.tls_port) {
		if (srv.cfg.tls_port == srv.cfg.port || srv.cfg.tls_port == srv.cfg.http_port) {
			serverLog(LL_WARNING, "tls-port must differ from port and http-port");
			return 1;
		}
		if (tlsInit() != C_OK || (tls_fd = listenOn(srv.cfg.bind, srv.cfg.tls_port)) < 0)
			return 1;
	}
	if (workersStart(srv.cfg.threads) != C_OK) {
		serverLog(LL_WARNING, "cannot start worker threads");
		return 1;
	}

	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int pipefd[2];
	if (sfd < 0 || tfd < 0 || pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
		serverLog(LL_WARNING, "cannot set up the main loop: %s", strerror(errno));
		return 1;
	}
	wakeFd = pipefd[1];
	struct itimerspec its = {{0, 100 * 1000 * 1000}, {0, 100 * 1000 * 1000}};
	timerfd_settime(tfd, 0, &its, NULL);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.fd = srv.listen_fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, srv.listen_fd, &ev);
	if (http_fd >= 0) {
		ev.data.fd = http_fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, http_fd, &ev);
	}
	if (tls_fd >= 0) {
		ev.data.fd = tls_fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, tls_fd, &ev);
		serverLog(LL_NOTICE, "TLS connections on %s:%d (%s)", srv.cfg.bind, srv.cfg.tls_port, srv.cfg.tls_protocols);
	}
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = pipefd[0];
	epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev);

	serverLog(LL_NOTICE, "Ready to accept connections on %s:%d", srv.cfg.bind, srv.cfg.port);
	int ticks = 0;
	while (!atomic_load(&srv.shutdown_asked)) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == srv.listen_fd || fd == http_fd || fd == tls_fd) {
				acceptClients(fd);
			} else if (fd == sfd) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					serverLog(LL_WARNING, "Received %s scheduling shutdown...",
					          si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
					serverRequestShutdown(1);
				}
			} else if (fd == tfd) {
				uint64_t exp;
				ssize_t r = read(tfd, &exp, sizeof(exp));
				(void)r;
				persistTick();
				aofCron();
				if (++ticks % 10 == 0 && (atomic_load(&srv.timeout) > 0 || srv.cfg.http_port))
					workersCheckIdle();
			} else if (fd == pipefd[0]) {
				char buf[16];
				ssize_t r = read(pipefd[0], buf, sizeof(buf));
				(void)r;
			}
		}
	}

	/* graceful shutdown: stop accepting, flush replies, save, exit 0 */
	int how = atomic_load(&srv.shutdown_asked);
	serverLog(LL_WARNING, "User requested shutdown...");
	close(srv.listen_fd);
	if (http_fd >= 0)
		close(http_fd);
	if (tls_fd >= 0)
		close(tls_fd);
	int stuck = workersStop(SHUTDOWN_WORKER_WAIT_MS);
	if (stuck)
		serverLog(LL_WARNING, "%d worker thread(s) still inside a command after %d ms: saving without them",
		          stuck, SHUTDOWN_WORKER_WAIT_MS);
	persistWaitBgsave();
	aofShutdown();
	int rc = 0;
	if (how != 2) {
		char err[1024];
		serverLog(LL_NOTICE, "Saving the final snapshot before exiting.");
		if (persistSave(err, sizeof(err), (unsigned)srv.load_threads) != C_OK) {
			serverLog(LL_WARNING, "Error trying to save the DB, exiting with an error: %s", err);
			rc = 1;
		}
	}
	if (stuck) {
		/* the engine is safe to save beside a running call, not to close under one */
		serverLog(LL_WARNING, "shardkv-server is now ready to exit, bye bye..."); /* flushed */
		_exit(rc);
	}
	kv_env_set_hook(srv.env, NULL, NULL);
	kv_nscache_close(srv.nscache);
	kv_env_close(srv.env);
	tlsCleanup();
	free(srv.workers);
	serverLog(LL_WARNING, "shardkv-server is now ready to exit, bye bye...");
	serverLogClose();
	return rc;
}
