"""
test_busy_poll.py -- busy-poll-us and the default worker count (issue 15, -P 1).

After a round with events a worker polls epoll without sleeping for
busy-poll-us microseconds (default 50), then sleeps; at most ncpu - workers
workers poll at once (INFO's busy_poll_workers_max).  Without --threads the
server runs one worker per CPU, one on a machine of 1-2 CPUs.  These tests go
through the real server: the knob's CONFIG GET/SET and its limits, the INFO
fields, that a polling worker uses CPU for about busy-poll-us after the last
request and then none (the bound when idle), that it stops polling when
processes that spin on every CPU contend with it (busy_poll_backoffs, read
from the kernel's CPU pressure or, without it, /proc/loadavg), and that
requests, pipelines, pub/sub and BLPOP wake-ups are served while a worker polls.

Ports: BUSYPOLL_TEST_PORT (6392) and BUSYPOLL_TEST_PORT2 (6393).  Every process
is stopped by PID.
Run: /usr/bin/python3 tests/server/test_busy_poll.py [-k words-of-a-test-name]
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ROOT, Err, Raw, Server, encode, eq, shardkv, stop_all, summary, test, true  # noqa: E402

P = int(os.environ.get("BUSYPOLL_TEST_PORT", 6392))
P2 = int(os.environ.get("BUSYPOLL_TEST_PORT2", 6393))
TMP = tempfile.mkdtemp(prefix="skv-busypoll-test-")
NCPU = os.sysconf("SC_NPROCESSORS_ONLN")
HZ = os.sysconf("SC_CLK_TCK")
BIN = os.environ.get("SHARDKV_SERVER", os.path.join(ROOT, "build", "shardkv-server"))


def info_str(c, field, section="server"):
    text = c.cmd("INFO", section).decode()
    return text.split(field + ":")[1].split("\r\n")[0]


def info(c, field, section="server"):
    return int(info_str(c, field, section))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def start(port, *args):
    d = os.path.join(TMP, "d%d" % port)
    os.makedirs(d, exist_ok=True)
    return shardkv(port, "--dir", d, "--save", "", *args).wait_ready()


def idle_cpu_after_burst(s, c, window):
    """Server CPU seconds from just after a burst of requests to `window` s later."""
    for i in range(50):
        c.cmd("PING")
    t0 = cpu_seconds(s.proc.pid)
    time.sleep(window)
    return cpu_seconds(s.proc.pid) - t0


try:
    @test("busy-poll-us: default 50, CONFIG SET takes 0..100000 and refuses the rest")
    def t_config():
        s = start(P)
        c = Raw(P)
        eq(c.cmd("CONFIG", "GET", "busy-poll-us"), [b"busy-poll-us", b"50"], "default")
        eq(c.cmd("CONFIG", "SET", "busy-poll-us", "0"), "OK", "0 turns it off")
        eq(c.cmd("CONFIG", "GET", "busy-poll-us"), [b"busy-poll-us", b"0"], "after SET 0")
        eq(c.cmd("CONFIG", "SET", "busy-poll-us", "100000"), "OK", "the maximum")
        for bad in ("100001", "-1", "abc", ""):
            r = c.cmd("CONFIG", "SET", "busy-poll-us", bad)
            true(isinstance(r, Err), "CONFIG SET busy-poll-us %r refused: %r" % (bad, r))
        eq(c.cmd("CONFIG", "GET", "busy-poll-us"), [b"busy-poll-us", b"100000"], "a refused SET changes nothing")
        c.close()
        s.stop()
        s = start(P, "--busy-poll-us", "7")
        c = Raw(P)
        eq(c.cmd("CONFIG", "GET", "busy-poll-us"), [b"busy-poll-us", b"7"], "from the command line")
        c.close()
        s.stop()
        bad = Server([BIN, "--port", str(P), "--busy-poll-us", "100001"], P, "busypoll-bad")
        eq(bad.proc.wait(15) != 0, True, "an out-of-range --busy-poll-us stops the start")

    @test("workers: one per CPU, one on 1-2 CPUs; busy_poll_workers_max is ncpu - workers")
    def t_defaults():
        d = os.path.join(TMP, "defaults")
        os.makedirs(d, exist_ok=True)
        s = Server([BIN, "--port", str(P), "--dir", d, "--save", ""], P, "busypoll-default").wait_ready()
        c = Raw(P)
        want = 1 if NCPU <= 2 else NCPU
        eq(info(c, "worker_threads"), want, "default workers on %d CPUs" % NCPU)
        eq(info(c, "busy_poll_workers_max"), max(0, NCPU - want), "polling slots")
        c.close()
        s.stop()
        s = start(P, "--threads", "3")
        c = Raw(P)
        eq(info(c, "worker_threads"), 3, "--threads 3")
        eq(info(c, "busy_poll_workers_max"), max(0, NCPU - 3), "polling slots with 3 workers")
        c.close()

    @test("a polling worker polls about busy-poll-us after the last request, then sleeps")
    def t_idle_bound():
        s = start(P, "--threads", "1", "--busy-poll-us", "0")
        c = Raw(P)
        slots = info(c, "busy_poll_workers_max")
        off = idle_cpu_after_burst(s, c, 1.0)
        true(off <= 0.05, "busy-poll-us 0: %.2f s of CPU in 1 s idle" % off)
        eq(c.cmd("CONFIG", "SET", "busy-poll-us", "100000"), "OK", "100 ms")
        time.sleep(0.3)  # past the 100 ms pause of a contention seen before the burst
        backoffs = info(c, "busy_poll_backoffs", "stats")
        on = idle_cpu_after_burst(s, c, 1.0)
        # bounded: 0.1 s of polling, not a second of spinning (ticks of 10 ms, a busy machine)
        true(on <= 0.3, "busy-poll-us 100000: %.2f s of CPU in 1 s idle" % on)
        # it polled, unless it saw the machine contended (CPU pressure, or the runnable count without PSI),
        # which stops polling for 100 ms and counts in busy_poll_backoffs
        if slots > 0 and info(c, "busy_poll_backoffs", "stats") == backoffs:
            true(on >= 0.03, "busy-poll-us 100000 polled after the burst: %.2f s of CPU" % on)
            # turned off while polling: the worker sleeps at once
            for i in range(20):
                c.cmd("PING")
            eq(c.cmd("CONFIG", "SET", "busy-poll-us", "0"), "OK", "off again")
            t0 = cpu_seconds(s.proc.pid)
            time.sleep(1.0)
            late = cpu_seconds(s.proc.pid) - t0
            true(late <= 0.05, "after CONFIG SET busy-poll-us 0: %.2f s of CPU in 1 s idle" % late)
        c.close()

    @test("a polling worker backs off while spinning processes contend for every CPU")
    def t_backoff():
        s = start(P, "--threads", "1", "--busy-poll-us", "100000")
        c = Raw(P)
        slots = info(c, "busy_poll_workers_max")
        signal = info_str(c, "busy_poll_contention_signal")
        if slots == 0:  # one CPU: the worker never polls
            eq(signal, "none", "no polling, no contention signal")
            return
        psi = os.path.exists("/proc/pressure/cpu")
        eq(signal, "psi" if psi else "loadavg", "the contention signal")
        before = info(c, "busy_poll_backoffs", "stats")
        spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(NCPU)]
        try:
            end = time.time() + 3.0  # the first backoff takes 30 ms of contention; allow a slow start
            while time.time() < end and info(c, "busy_poll_backoffs", "stats") == before:
                for i in range(20):  # a burst: the worker polls 100 ms after it
                    c.cmd("PING")
                time.sleep(0.05)
            after = info(c, "busy_poll_backoffs", "stats")
        finally:
            for p in spin:
                p.kill()
                p.wait()
        true(after > before, "backoffs %d -> %d with %d spinning processes" % (before, after, NCPU))
        c.close()

    @test("while a worker polls: pipelines, pub/sub across workers and BLPOP wake-ups are served")
    def t_serves():
        s = start(P, "--threads", "1", "--busy-poll-us", "100000")
        c, sub, blk = Raw(P), Raw(P), Raw(P)
        cmds = []
        for i in range(500):
            cmds.append(encode("SET", "k%d" % i, "v%d" % i))
            cmds.append(encode("GET", "k%d" % i))
        c.send(b"".join(cmds))
        for i in range(500):
            eq(c.reply(), "OK", "SET %d" % i)
            eq(c.reply(), b"v%d" % i, "GET %d" % i)
        eq(sub.cmd("SUBSCRIBE", "ch"), [b"subscribe", b"ch", 1], "subscribed")
        eq(c.cmd("PUBLISH", "ch", "hello"), 1, "one receiver")
        eq(sub.reply(), [b"message", b"ch", b"hello"], "the message arrives")
        blk.send(encode("BLPOP", "q", "5"))
        time.sleep(0.3)  # BLPOP is blocked, the worker polls or sleeps
        eq(c.cmd("LPUSH", "q", "x"), 1, "LPUSH")
        eq(blk.reply(), [b"q", b"x"], "BLPOP woken")
        # a second server, two workers: one polls (if the machine has a CPU left), one sleeps
        s2 = start(P2, "--threads", "2", "--busy-poll-us", "100000")
        conns = [Raw(P2) for _ in range(6)]
        errs = []

        def hammer(k, r):
            try:
                for i in range(300):
                    r.send(encode("INCR", "n") + encode("GET", "n"))
                    r.reply()
                    r.reply()
            except Exception as e:  # noqa: BLE001 - reported below
                errs.append((k, e))
        ts = [threading.Thread(target=hammer, args=(k, r)) for k, r in enumerate(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        eq(errs, [], "no connection failed")
        eq(Raw(P2).cmd("GET", "n"), b"1800", "every INCR of 6 connections ran once")
        s2.stop()
finally:
    stop_all()

sys.exit(0 if summary() else 1)
