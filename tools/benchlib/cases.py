"""The load cases, and one run of one case against one broker with its measurements."""

import os
import signal
import time

from .common import ZLOAD, ZSUBS
from .procs import (Broker, Proc, ep, free_port, kv, machine_busy, proc_cpu, status_kib,
                    threads_cpu)

SIZES = [16, 256, 4096, 65536]
QUEUE_SIZE = 16          # request and reply body in the queue cases
QUEUE_WINDOW = 128       # requests outstanding in the pipelined queue case
FWD_SIZE = 16            # published message size (topic "tN" included)
FWD_TOPICS = 4           # the publisher cycles through t0..t3
# Fan-out subscribers: four take everything, six take one topic each (a quarter of the
# traffic), so each published message is delivered 4 + 6/4 = 5.5 times.
FANOUT_FILTERS = ["all"] * 4 + ["t0", "t1", "t2", "t3", "t0", "t1"]
# The same fan-out with the publisher paced (zload's ZLOAD_RATE) at a rate every broker
# delivers whole: CPU per delivered message then measures the broker's work alone. Flat out,
# a broker that reads its publisher faster also drops more (the publisher, XPUB_NODROP,
# waits for the slower one), which the saturated case's CPU figure counts against it.
FWD_PACED = 300_000
# 10,000 subscriptions: 100 SUB sockets (one zsubs process), each subscribed to 100 of 1,000
# topics t000..t999 so that every topic is held by 10 of them (bench/zsubs.c, the topic grid);
# one publisher sends 64-byte messages to the 1,000 topics in turn.
SUBS_SOCKETS, SUBS_TOPICS, SUBS_PER, SUBS_SIZE = 100, 1000, 100, 64
SUBS_DUE = SUBS_SOCKETS * SUBS_PER // SUBS_TOPICS      # deliveries per message: 10
# The table a quarter larger than the 10,000 held: a subscriber's share shrinks as the table
# fills (at most four times what is left, docs/isolation.md), so the last socket would get 80.
SUBS_ZEDGE = ["--max-subscriptions", str(SUBS_SOCKETS * SUBS_PER * 5 // 4),
              "--max-subscriptions-per-peer", str(SUBS_PER)]


class Case:
    def __init__(self, key, title, device, size, unit, consumer, producers, binder,
                 count_per="message", consumer_side="backend", due=None, zedge_args=(),
                 direct_is_ceiling=True):
        self.key, self.title, self.device, self.size = key, title, device, size
        self.consumer_side = consumer_side  # where the measuring process meets the broker
        # Fan-out without a broker is the publisher sending to its subscribers itself, paced
        # by the slowest (lossless): shown, but no upper bound for a broker that may drop.
        self.direct_is_ceiling = direct_is_ceiling
        self.zedge_args = list(zedge_args)   # settings the case needs beyond zedge's defaults
        self.unit = unit            # what the rate counts
        self.consumer = consumer    # fn(endpoint, warm, secs) -> argv
        self.producers = producers  # [fn(endpoint) -> argv]
        self.binder = binder        # in the direct run: "consumer" or "producer" binds
        self.count_per = count_per
        # Forwarder cases: deliveries due per published message (the publisher reports what it
        # sent, so what the subscribers missed shows).
        self.due = due


def make_cases():
    cases = []
    for size in SIZES:
        cases.append(Case(
            f"streamer-{size}", f"streamer {size} B", "streamer", size, "msg/s",
            lambda e, w, s, size=size: [ZLOAD, "pull", e, str(size), str(w), str(s)],
            [lambda e, size=size: [ZLOAD, "push", e, str(size)]], "consumer"))
    cases.append(Case(
        "queue-lat", f"queue REQ/REP lockstep {QUEUE_SIZE} B", "queue", QUEUE_SIZE,
        "round trips/s",
        lambda e, w, s: [ZLOAD, "req", e, str(QUEUE_SIZE), str(w), str(s)],
        [lambda e: [ZLOAD, "rep", e]], "producer", count_per="round trip",
        consumer_side="frontend"))
    cases.append(Case(
        "queue-thr", f"queue DEALER pipelined x{QUEUE_WINDOW} {QUEUE_SIZE} B", "queue",
        QUEUE_SIZE, "round trips/s",
        lambda e, w, s: [ZLOAD, "dealer", e, str(QUEUE_SIZE), str(QUEUE_WINDOW), str(w), str(s)],
        [lambda e: [ZLOAD, "echo", e]], "producer", count_per="round trip",
        consumer_side="frontend"))
    cases.append(Case(
        "fwd-fanout", f"forwarder 1 pub -> 10 sub {FWD_SIZE} B", "forwarder", FWD_SIZE,
        "delivered msg/s",
        lambda e, w, s: [ZLOAD, "sub", e, ",".join(FANOUT_FILTERS), str(w), str(s)],
        [lambda e: [ZLOAD, "pub", e, "1", str(FWD_SIZE), str(FWD_TOPICS)]], "producer",
        count_per="delivered message",
        due=sum(1 if f == "all" else 1 / FWD_TOPICS for f in FANOUT_FILTERS),
        direct_is_ceiling=False))
    cases.append(Case(
        "fwd-paced", f"forwarder 1 pub -> 10 sub {FWD_SIZE} B, {FWD_PACED // 1000}k msg/s",
        "forwarder", FWD_SIZE, "delivered msg/s",
        lambda e, w, s: [ZLOAD, "sub", e, ",".join(FANOUT_FILTERS), str(w), str(s)],
        [lambda e: ["env", f"ZLOAD_RATE={FWD_PACED}", ZLOAD, "pub", e, "1", str(FWD_SIZE),
                    str(FWD_TOPICS)]], "producer",
        count_per="delivered message",
        due=sum(1 if f == "all" else 1 / FWD_TOPICS for f in FANOUT_FILTERS),
        direct_is_ceiling=False))
    cases.append(Case(
        "fwd-fanin", f"forwarder 10 pub -> 1 sub {FWD_SIZE} B", "forwarder", FWD_SIZE,
        "delivered msg/s",
        lambda e, w, s: [ZLOAD, "sub", e, "all", str(w), str(s)],
        [lambda e: [ZLOAD, "pub", e, "10", str(FWD_SIZE), str(FWD_TOPICS)]], "consumer",
        count_per="delivered message", due=1))
    # The same with zedge's last-value cache on (issue 15): every publication is also kept,
    # one shared copy per topic (its single frame keyed by "tN", its first 2 bytes). libzmq and
    # zmq.rs have no cache: they run it as fwd-fanin.
    cases.append(Case(
        "fwd-lvc", f"forwarder 10 pub -> 1 sub {FWD_SIZE} B, zedge --last-value --last-value-prefix 2", "forwarder",
        FWD_SIZE, "delivered msg/s",
        lambda e, w, s: [ZLOAD, "sub", e, "all", str(w), str(s)],
        [lambda e: [ZLOAD, "pub", e, "10", str(FWD_SIZE), str(FWD_TOPICS)]], "consumer",
        count_per="delivered message", due=1,
        zedge_args=["--last-value", "--last-value-prefix", "2"]))
    cases.append(Case(
        "fwd-subs10k", f"forwarder 10,000 subscriptions {SUBS_SIZE} B", "forwarder", SUBS_SIZE,
        "delivered msg/s",
        lambda e, w, s: [ZSUBS, "subs", e, str(SUBS_SOCKETS), str(SUBS_TOPICS), str(SUBS_PER),
                         str(w), str(s)],
        [lambda e: [ZLOAD, "pub", e, "1", str(SUBS_SIZE), str(SUBS_TOPICS)]], "producer",
        count_per="delivered message", due=SUBS_DUE, zedge_args=SUBS_ZEDGE,
        direct_is_ceiling=False))
    return cases


def ask_sent(pubs):
    """(messages sent, their clock) summed over the publishers, or None if one did not say."""
    if not pubs:
        return None
    for g in pubs:
        try:
            os.kill(g.pid, signal.SIGUSR1)
        except ProcessLookupError:   # it died: the run fails on its own account
            return None
    n, t = 0, 0.0
    for g in pubs:
        line = g.expect("SENT", 5)
        if line is None or not line.startswith("SENT"):
            return None
        r = kv(line)
        n += int(r["n"])
        t = max(t, float(r["t"]))
    return n, t


def run_once(case, broker, opts, start=None):
    """One run of one case against one broker; returns a result dict (ok False on failure).
    `start(device)`, if given, starts the broker instead of `Broker(broker, ...)`."""
    res = {"case": case.key, "broker": broker, "ok": False}
    bcpu = {0} if opts.pin else None
    gcpu = {1} if opts.pin else None
    b = None
    gens = []
    try:
        if broker == "direct":
            port = free_port()
            bind, conn = "@" + ep(port), ep(port)
            cons_ep = bind if case.binder == "consumer" else conn
            prod_ep = bind if case.binder == "producer" else conn
        else:
            b = start(case.device) if start else Broker(
                broker, case.device,
                extra=case.zedge_args if broker.startswith("zedge") else (), cpu=bcpu)
            cons_ep, prod_ep = ep(b.be), ep(b.fe)
            if case.consumer_side == "frontend":   # the queue's client measures
                cons_ep, prod_ep = prod_ep, cons_ep
        # The side that waits starts first and gets a moment to connect: the one that binds
        # in a direct run; with a broker, whoever meets its backend (consumers, workers,
        # subscribers), so no broker sees traffic with nowhere to send it (zmq.rs drops it).
        start = [lambda: Proc(case.consumer(cons_ep, opts.warm, opts.secs), "load", cpu=gcpu)]
        prods = [lambda mk=mk: Proc(mk(prod_ep), "load", cpu=gcpu) for mk in case.producers]
        if broker == "direct":
            first_consumer = case.binder == "consumer"
        else:
            first_consumer = case.consumer_side == "backend"
        order = start + prods if first_consumer else prods + start
        for i, mk in enumerate(order):
            if i == 1:
                time.sleep(0.2)
            gens.append(mk())
        cons = gens[0] if first_consumer else gens[-1]
        line = cons.expect("FIRST", 25)
        if line is None or not line.startswith("FIRST"):
            res["why"] = "no traffic"
            return res
        if cons.expect("START", opts.warm + 15) is None:
            res["why"] = "no START"
            return res
        # Publishers report how many messages they had sent (SIGUSR1): what a forwarder took
        # from them, delivered or dropped.
        pubs = [g for g in gens if g is not cons and g.cmd[1] == "pub"]
        sent_a = ask_sent(pubs)
        t_a = time.monotonic()
        cpu_a = proc_cpu(b.pid) if b else 0.0
        thr_a = {g.pid: threads_cpu(g.pid) for g in gens}
        busy_a = machine_busy()
        end = cons.expect("END", opts.secs + 20)
        t_b = time.monotonic()
        cpu_b = proc_cpu(b.pid) if b else 0.0
        thr_b = {g.pid: threads_cpu(g.pid) for g in gens}
        busy_b = machine_busy()
        sent_b = ask_sent(pubs)
        if b:
            res["rss_peak_kib"] = status_kib(b.pid, "VmHWM")
            if not b.proc.alive():
                res["why"] = "broker exited"
                return res
        if end is None or "stalled" in end or "error" in end:
            res["why"] = "stalled" if end and "stalled" in end else "no END"
            return res
        r = kv(end)
        win = t_b - t_a
        rate = float(r["rate"])
        res.update(ok=True, rate=rate, mbps=float(r["bytes"]) / float(r["secs"]) / 1e6,
                   win=win, bad=int(r.get("bad", 0)))
        if "p50_us" in r:
            res.update(p50=float(r["p50_us"]), p99=float(r["p99_us"]),
                       p999=float(r["p999_us"]))
        if "missing" in r:
            res["missing"] = int(r["missing"])
        if sent_a is not None and sent_b is not None and sent_b[1] > sent_a[1]:
            res["sent_rate"] = (sent_b[0] - sent_a[0]) / (sent_b[1] - sent_a[1])
            if case.due and res["sent_rate"] > 0:
                res["delivered_share"] = rate / (res["sent_rate"] * case.due)
        if b:
            cpu = cpu_b - cpu_a
            res["cpu_pct"] = cpu / win * 100
            res["cpu_per_m"] = cpu / (rate * win) * 1e6 if rate > 0 else None
        # the busiest load-generator thread, and the generators' total CPU
        hot, total = ("", 0.0), 0.0
        for g in gens:
            for tid, (name, secs) in thr_b.get(g.pid, {}).items():
                before = thr_a.get(g.pid, {}).get(tid, (name, 0.0))[1]
                pct = (secs - before) / win * 100
                total += pct
                if pct > hot[1]:
                    hot = (f"{os.path.basename(g.cmd[0])} {g.cmd[1]}/{name}", pct)
        res["gen_pct"] = total
        # CPU used by anything else on the machine meanwhile (other users: noise)
        res["other_pct"] = max(0.0, (busy_b - busy_a) / win * 100 - total
                               - res.get("cpu_pct", 0.0))
        res["gen_hot"] = hot
        return res
    except RuntimeError as e:
        res["why"] = str(e)
        return res
    finally:
        for g in gens:
            g.kill()
        if b:
            b.kill()
