"""The forwarder cases that are not a rate, zedge against libzmq's proxy (issue "Isolation"):

- fwd-subs100k: 100,000 subscriptions arrive and leave. The table's memory (the broker's RSS
  growth), the time to add them all and to remove them all, and the longest delay of a timed
  1 pub -> 1 sub flow through the same broker meanwhile (does the removal freeze it?).
- slow-sender: one publisher writes one 1 MiB message at 200 KB/s (about 5 s) beside a timed
  1,000 msg/s flow; the flow's latency before and during the slow send, and its losses.

The timed flow is `zflow lat` (a raw ZMTP publisher, a libzmq SUB), the slow sender `zflow
slow`, the subscribers and the counting publisher `zsubs hold` and `zsubs upstream` (see the
heads of bench/zflow.c and bench/zsubs.c). Recorded for zedge and libzmq only, opts.reps times,
the brokers alternating.
"""

import time

from .common import ZFLOW, ZSUBS, log
from .procs import Broker, Proc, ep, kv, proc_cpu, status_kib

SUBS100K, SLOW = "fwd-subs100k", "slow-sender"
TITLES = {SUBS100K: "forwarder: 100,000 subscriptions arrive and leave",
          SLOW: "forwarder: a slow sender beside a timed flow"}
ISO_BROKERS = ["zedge", "libzmq"]
FLOW_RATE = 1000                 # messages a second of the timed flow
# 100 subscribers x 1,000 topics of their own (the topic grid with NSUB x PER = NTOPICS):
# 100,000 distinct topics, 100,000 (subscriber, topic) pairs.
HOLD_SOCKETS, HOLD_TOPICS, HOLD_PER = 100, 100_000, 1000
# Room for the 100,000, each subscriber's probe ("L", subscribed last and dropped again) and the
# flow's own two. Subscriptions go upstream unpaced, as libzmq's proxy sends them: the table's
# work is measured, and at the default pace (256 KiB/s a publisher) the 100,000 topics alone
# would take about 7 s to reach the counting publisher, and the probe waits behind them.
HOLD_ZEDGE = ["--max-subscriptions", "110000", "--max-subscriptions-per-peer", "1100",
              "--upstream-rate", "0"]
SLOW_SIZE, SLOW_RATE = 1 << 20, 200_000   # bytes, bytes a second: 5.2 s


class Flow:
    """The timed 1 pub -> 1 sub flow (zflow lat) through a broker."""

    def __init__(self, b, cpu):
        self.p = Proc([ZFLOW, "lat", ep(b.fe), ep(b.be), str(FLOW_RATE)], "load", cpu=cpu,
                      stdin=True)
        if self.p.expect("FIRST", 10) is None:
            raise RuntimeError("the timed flow got nothing through")

    def mark(self, name):
        """The flow's latencies since the previous mark (us), and its sequence gaps."""
        self.p.send(f"mark {name}\n")
        line = self.p.expect("MARK", 10)
        if line is None:
            raise RuntimeError("the timed flow stopped answering")
        return {k: float(v) for k, v in kv(line).items() if k != "name"}

    def end(self):
        """(the last window, the totals: sent, received, lost, big, big_bytes, big_ok)."""
        self.p.send("end\n")
        tail, end = self.p.expect("MARK", 10), self.p.expect("END", 10)
        if tail is None or end is None or "error" in end:
            raise RuntimeError("the timed flow did not finish")
        return ({k: float(v) for k, v in kv(tail).items() if k != "name"},
                {k: int(v) for k, v in kv(end).items()})

    def kill(self):
        self.p.kill()


def upstream_count(up):
    up.send("count\n")
    line = up.expect("COUNT", 10)
    if line is None:
        raise RuntimeError("the counting publisher stopped answering")
    r = kv(line)
    return int(r["subs"]), int(r["cancels"]), float(r["t_cancel"])


def wait_count(up, which, quiet, limit):
    """Poll the counting publisher until `which` (0 subs, 1 cancels) reaches HOLD_TOPICS, or
    has not moved for `quiet` seconds since it started moving (libzmq's proxy loses some on
    the way: see the docs), or `limit` seconds passed. Returns the last count."""
    t0 = time.monotonic()
    last, since = None, time.monotonic()
    while True:
        c = upstream_count(up)
        now = time.monotonic()
        if c[which] >= HOLD_TOPICS or now - t0 > limit:
            return c
        if c[which] != last:
            last, since = c[which], now
        elif c[which] > 0 and now - since >= quiet:
            return c
        time.sleep(0.05)


def pins(opts):
    """(the broker's CPUs, the load's) under --pin, as the other cases."""
    return ({0}, {1}) if opts.pin else (None, None)


def run_subs100k(broker, opts):
    r = {"ok": False}
    bcpu, gcpu = pins(opts)
    b = Broker(broker, "forwarder", extra=HOLD_ZEDGE if broker == "zedge" else (), cpu=bcpu)
    procs = []
    try:
        flow = Flow(b, gcpu)
        procs.append(flow)
        up = Proc([ZSUBS, "upstream", ep(b.fe)], "load", cpu=gcpu, stdin=True)
        procs.append(up)
        time.sleep(opts.warm)
        idle = flow.mark("idle")
        r["rss_before"] = status_kib(b.pid, "VmRSS")
        hold = Proc([ZSUBS, "hold", ep(b.be), str(HOLD_SOCKETS), str(HOLD_TOPICS),
                     str(HOLD_PER), "L"], "load", cpu=gcpu, stdin=True)
        procs.append(hold)
        cpu0 = proc_cpu(b.pid)
        t_conn = hold.expect("CONNECTING", 10)
        added = hold.expect("ADDED", 60)
        if t_conn is None or added is None:
            r["why"] = "not every subscriber got a message after its subscriptions"
            return r
        r["add_secs"] = float(kv(added)["t"]) - float(kv(t_conn)["t"])
        r["up_subs"] = wait_count(up, 0, 0.5, 30)[0]
        r["cpu_add"] = proc_cpu(b.pid) - cpu0
        add = flow.mark("add")
        time.sleep(0.3)
        r["rss_with"] = status_kib(b.pid, "VmRSS")
        r["growth"] = r["rss_with"] - r["rss_before"]
        flow.mark("hold")
        cpu0 = proc_cpu(b.pid)
        hold.send("bye\n")
        closing = hold.expect("CLOSING", 10)
        if closing is None:
            r["why"] = "the subscribers did not close"
            return r
        _, r["up_cancels"], t_cancel = wait_count(up, 1, 2.0, 60)
        r["cpu_remove"] = proc_cpu(b.pid) - cpu0
        r["remove_secs"] = t_cancel - float(kv(closing)["t"]) if t_cancel else None
        remove = flow.mark("remove")
        r["rss_after"] = status_kib(b.pid, "VmRSS")
        tail, end = flow.end()
        r.update(ok=b.proc.alive(), flow_p50_us=idle["p50_us"], stall_add_ms=add["max_us"] / 1e3,
                 stall_remove_ms=max(remove["max_us"], tail["max_us"]) / 1e3,
                 lost=end["lost"])
        if not r["ok"]:
            r["why"] = "broker exited"
        return r
    except RuntimeError as e:
        r["why"] = str(e)
        return r
    finally:
        for p in procs:
            p.kill()
        b.kill()


def run_slow(broker, opts):
    r = {"ok": False}
    bcpu, gcpu = pins(opts)
    b = Broker(broker, "forwarder", cpu=bcpu)
    procs = []
    try:
        flow = Flow(b, gcpu)
        procs.append(flow)
        slow = Proc([ZFLOW, "slow", ep(b.fe), str(SLOW_SIZE), str(SLOW_RATE)], "load",
                    cpu=gcpu, stdin=True)
        procs.append(slow)
        if slow.expect("READY", 10) is None:
            r["why"] = "the slow sender's handshake failed"
            return r
        time.sleep(opts.warm)
        flow.mark("warm")
        time.sleep(opts.secs)
        before = flow.mark("before")
        slow.send("go\n")
        sent = slow.expect("SENT", SLOW_SIZE / SLOW_RATE + 30)
        if sent is None:
            r["why"] = "the slow sender did not finish"
            return r
        time.sleep(0.3)        # the whole message crosses the broker meanwhile
        during = flow.mark("during")
        tail, end = flow.end()
        r.update(ok=b.proc.alive(), slow_secs=float(kv(sent)["secs"]),
                 before=before, during=during,
                 max_ms=max(during["max_us"], tail["max_us"]) / 1e3,
                 lost=end["lost"], gaps=int(during["gaps"] + tail["gaps"]),
                 big_ok=end["big_ok"] == 1 and end["big_bytes"] == SLOW_SIZE)
        r["added_ms"] = r["max_ms"] - before["p50_us"] / 1e3
        if not r["ok"]:
            r["why"] = "broker exited"
        return r
    except RuntimeError as e:
        r["why"] = str(e)
        return r
    finally:
        for p in procs:
            p.kill()
        b.kill()


RUN = {SUBS100K: run_subs100k, SLOW: run_slow}


def run_isolation(keys, opts):
    """{(key, broker): [result, ...]} over opts.reps, the brokers alternating."""
    out = {(k, b): [] for k in keys for b in ISO_BROKERS}
    for rep in range(opts.reps):
        for k in keys:
            order = ISO_BROKERS[rep % 2:] + ISO_BROKERS[:rep % 2]
            for b in order:
                try:
                    r = RUN[k](b, opts)
                except RuntimeError as e:      # the broker did not start
                    r = {"ok": False, "why": str(e)}
                out[(k, b)].append(r)
                head = f"  rep {rep + 1}/{opts.reps} {k:15} {b:7}"
                if not r["ok"]:
                    log(f"{head} FAILED: {r.get('why')}")
                elif k == SUBS100K:
                    log(f"{head} add {r['add_secs']:.3f} s, remove "
                        f"{r['remove_secs'] or 0:.3f} s, RSS +{r['growth'] / 1024:.1f} MiB, "
                        f"flow stalled {r['stall_remove_ms']:.1f} ms in removal, upstream got "
                        f"{r['up_subs']}/{r['up_cancels']}")
                else:
                    log(f"{head} flow max {r['max_ms']:.1f} ms (p50 before "
                        f"{r['before']['p50_us']:.0f} us), lost {r['lost']}, 1 MiB "
                        f"{'delivered' if r['big_ok'] else 'NOT delivered'}")
    return out
