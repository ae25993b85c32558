"""docs/benchmarks.md and the streamer chart docs/benchmarks.svg."""

import html
import math
import os

from .cases import (FANOUT_FILTERS, FWD_SIZE, QUEUE_SIZE, QUEUE_WINDOW, SIZES, SUBS_SIZE,
                    SUBS_ZEDGE)
from .common import LABEL, ROOT, log
from .goals import GEN_HOT
from .isolation import FLOW_RATE, HOLD_ZEDGE, SLOW, SLOW_RATE, SLOW_SIZE, SUBS100K, TITLES
from .memory import BIG, PEERS
from .report import (fmt_axis, forwarder_table, latency_table, memory_table, slow_table,
                     subs100k_table, throughput_table)

def svg_chart(agg, brokers):
    def cell(size, b, key):
        """Median, min and max of a streamer run; all None for a size that was not run."""
        return agg.get((f"streamer-{size}", b), {}).get(key, (None, None, None))

    series = [b for b in brokers if any(cell(s, b, "rate")[0] for s in SIZES)]
    colors = {"direct": "#888888", "zedge": "#d62728", "libzmq": "#1f77b4", "zmqrs": "#2ca02c"}
    dash = {"direct": "6,4"}
    W, H = 980, 430
    panels = [("messages/s", "rate", 1.0), ("MB/s", "mbps", 1.0)]
    pw, ph, top, left0 = 380, 300, 50, 80
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">streamer throughput '
           f'by message size (PUSH -> broker -> PULL, median of runs, bars: min-max)</text>']
    for pi, (ylabel, key, _) in enumerate(panels):
        x0 = left0 + pi * (pw + 110)
        vals = [v for b in series for s in SIZES
                for v in (cell(s, b, key)[1:] if cell(s, b, key)[0] else [])]
        if not vals:
            continue
        lo = 10 ** math.floor(math.log10(max(min(vals), 1e-3)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        def X(i):
            return x0 + 30 + i * (pw - 60) / (len(SIZES) - 1)
        def Y(v):
            v = max(v, lo)
            return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        out.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                   f'stroke="#333"/>')
        d = lo
        while d <= hi * 1.0001:
            y = Y(d)
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_axis(d)}</text>')
            d *= 10
        for i, s in enumerate(SIZES):
            out.append(f'<text x="{X(i):.1f}" y="{top + ph + 18}" text-anchor="middle">{s} B</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 38}" text-anchor="middle">message '
                   f'size</text>')
        out.append(f'<text transform="translate({x0 - 58},{top + ph / 2}) rotate(-90)" '
                   f'text-anchor="middle">{ylabel}</text>')
        for b in series:
            pts = []
            for i, s in enumerate(SIZES):
                m, mn, mx = cell(s, b, key)
                if m is None:
                    continue
                pts.append((X(i), Y(m)))
                out.append(f'<line x1="{X(i):.1f}" y1="{Y(mn):.1f}" x2="{X(i):.1f}" '
                           f'y2="{Y(mx):.1f}" stroke="{colors[b]}" stroke-width="1.5"/>')
                out.append(f'<circle cx="{X(i):.1f}" cy="{Y(m):.1f}" r="3.5" fill="{colors[b]}"/>')
            if len(pts) > 1:
                p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                da = f' stroke-dasharray="{dash[b]}"' if b in dash else ""
                out.append(f'<polyline points="{p}" fill="none" stroke="{colors[b]}" '
                           f'stroke-width="2"{da}/>')
    for i, b in enumerate(series):
        x = left0 + i * 200
        y = H - 20
        da = f' stroke-dasharray="{dash[b]}"' if b in dash else ""
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 28}" y2="{y - 4}" stroke="{colors[b]}" '
                   f'stroke-width="2"{da}/>')
        out.append(f'<text x="{x + 34}" y="{y}">{html.escape(LABEL[b])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_docs(opts, command, started, mach, agg, cases, brokers, idle, big, peers, iso, warn,
               goal_lines, have, elapsed, curve_md=None, spool_md=None):
    docs = os.path.join(ROOT, "docs")
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "benchmarks.svg"), "w") as f:
        f.write(svg_chart(agg, brokers))
    L = []
    L.append("# Benchmarks\n")
    L.append("Written by `tools/bench`; do not edit by hand, re-run it. Every number below comes "
             "from one invocation, the brokers alternating within each case.\n")
    L.append(f"- command: `{command}`")
    L.append(f"- date: {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes")
    L.append(f"- machine: `nproc` = {mach['nproc']}, {mach['cpu']}, {mach['mem']}, Linux "
             f"{mach['kernel']}; load average at the end {mach['load'][0]:.2f}")
    L.append(f"- peers: libzmq {mach['libzmq']} (Debian), zmq.rs `zeromq` {mach['zeromq']} "
             f"(tokio), zedge `{mach['git']}` built with {mach['rustc']}")
    L.append(f"- {opts.reps} runs per cell, each a {opts.secs:g} s window after a "
             f"{opts.warm:g} s warm-up; medians with min - max. "
             f"{'Pinned: broker on CPU 0, load on CPU 1.' if opts.pin else 'Nothing pinned.'}")
    L.append("")
    L.append("![streamer throughput by message size](benchmarks.svg)\n")
    L.append("## Goals (issue 4, shared/ARCHITECTURE.md)\n")
    verdicts = [g for g in goal_lines if not g.startswith("NOTE")]
    L.append("```")
    L += goal_lines
    L.append(f"{sum(' PASS' in g for g in verdicts)} of {len(verdicts)} goals met")
    L.append("```\n")
    if curve_md:
        L.append("## CURVE (issue 13)\n")
        L.append("The streamer with CURVE on both sides: zedge with `--curve-secret`, libzmq's "
                 "zmq_proxy with `ZMQ_CURVE_SERVER` and the same key pair; the load generators "
                 "are CURVE clients (one key pair per process). Handshakes: 10,000 PUSH sockets, "
                 "100 at a time, each sending one message once connected (bench/zcurve.c); "
                 "broker CPU per handshake; then the broker's RSS with them idle. zmq.rs has "
                 "no CURVE.\n")
        L.append(curve_md)
        L.append("")
    if spool_md:
        L.append("## Store-and-forward spool (issue 15)\n")
        L.append("A zedge streamer with `--spool` and no worker (the uplink away) takes a PUSH "
                 "producer's messages onto disk (spool in: messages a second and broker CPU "
                 "each; disk: bytes written to the segment files per message, and per byte "
                 "spooled; fsyncs a second); then a worker connects and the spool is sent "
                 "(spool out). The streamer at the same size through zedge without a spool "
                 "and through libzmq's zmq_proxy, with a worker, in the same run, is the "
                 "reference: libzmq has no spool, and during an outage holds its producers "
                 "(docs/spool.md).\n")
        L.append(spool_md)
        L.append("")
    if warn:
        L.append("## Warnings\n")
        L += ["- " + w for w in warn]
        L.append("")
    L.append("## Throughput\n")
    L.append(throughput_table(agg, cases, brokers, md=True))
    L.append("")
    L.append("`rate`: messages (or round trips, or messages delivered to all subscribers) per "
             "second counted by the receiving load generator; `MB/s`: payload bytes, 10^6. "
             "`broker CPU s/M`: the broker's utime + stime (from `/proc/PID/stat`, sampled at "
             "the start and end of the measured window) per million counted messages, which is "
             "also microseconds per message; `broker CPU %` of one core; `peak RSS`: the "
             "broker's VmHWM at the end of the run, the largest over the runs; `gen CPU %`: "
             "all load-generator processes together (200 % is the whole machine); `other CPU %`: "
             "everything else on the machine meanwhile (from `/proc/stat`), the noise.\n")
    fwd = forwarder_table(agg, cases, brokers, md=True)
    if fwd:
        L.append("## Forwarder: sent and delivered\n")
        L.append(fwd)
        L.append("")
        L.append("`published msg/s`: what the publisher process sent in the measured window "
                 "(it reports its count on SIGUSR1 at the window's start and end); "
                 "`delivered of due`: delivered messages / (published x the deliveries each "
                 "message is due: 5.5 in the fan-out, 1 in the fan-in, 10 with 10,000 "
                 "subscriptions); the two counts come from different "
                 "processes over nearly the same 2 s, so a backlog from before the window that "
                 "drains in it can put the share a little over 100 %. A forwarder never makes "
                 "a publisher wait for a slow subscriber: what a subscriber cannot take in time "
                 "is dropped at its high-water mark, so a broker that takes more from the "
                 "publisher than the subscribers can read shows a lower share.\n")
    L += iso_docs(iso)
    if have("queue-lat"):
        L.append("## Queue round-trip latency (REQ -> ROUTER/DEALER -> REP, lockstep)\n")
        L.append(latency_table(agg, brokers, md=True))
        L.append("")
    if not opts.no_memory:
        L.append("## Memory\n")
        L.append(memory_table(idle, big, peers, [b for b in brokers if b != "direct"], md=True))
        L.append("")
        L.append(f"`idle RSS`: VmRSS 0.5 s after the broker listens, no peer. `64 MiB message`: "
                 f"one {BIG}-byte message through the device (streamer: PUSH to PULL; queue: a "
                 f"REQ request and the REP's reply of the same size; forwarder: PUB to SUB); "
                 f"`RSS growth` = VmHWM after delivery - VmRSS before sending. "
                 f"`{PEERS} idle peers`: raw TCP peers that complete a ZMTP 3.1 NULL handshake "
                 f"(the broker's READY received) and stay idle: PUSH on the streamer's frontend, "
                 f"REQ on the queue's frontend, SUB on the forwarder's backend; zedge runs "
                 f"with `--max-peers {PEERS + 16}` (its default is 1024 per side) and the same "
                 f"`--max-peers-per-address` and `--max-handshaking` (defaults 256 and 64: "
                 f"every peer comes from 127.0.0.1 at once), the others have no such limits. "
                 f"Open-files limit raised by the bench.\n")
    L.append("## The load\n")
    L.append(f"""All brokers run with their defaults on `tcp://127.0.0.1` (libzmq: HWM 1000
messages per pipe; zedge: `--queue-hwm 1M` bytes per peer). The load generators are
`bench/zload.c` (one role per process, libzmq {mach['libzmq']}), `bench/zsubs.c`,
`bench/zflow.c` and `bench/zpeers.c`, the same for every broker; `direct` connects the producer straight to the consumer and is the ceiling.
A consumer counts only after its first message arrived (every subscriber's, for the forwarder)
and a warm-up, so connections and subscriptions are in place.

| case | load |
|---|---|
| streamer N B | 1 PUSH producer (blocking sends of a constant zero-copy buffer) -> broker -> 1 PULL consumer |
| queue REQ/REP lockstep | 1 REQ client, one {QUEUE_SIZE}-byte request at a time -> ROUTER/DEALER -> 1 REP worker; every round trip timed |
| queue pipelined | 1 DEALER client keeping {QUEUE_WINDOW} requests (REQ envelope, {QUEUE_SIZE} B) outstanding -> ROUTER/DEALER -> 1 DEALER echo worker |
| forwarder 1 -> 10 | 1 publisher (XPUB with XPUB_NODROP, so a full pipe pushes back rather than dropping), topics t0..t3 in turn, {FWD_SIZE} B -> XSUB/XPUB -> 10 SUB sockets in one process: 4 subscribe to everything, 6 to one topic each ({' '.join(FANOUT_FILTERS)}); every published message is due 5.5 times. Direct: the subscribers connect to the publisher, which then fans out itself, losslessly, paced by the slowest subscriber: shown, but not an upper bound for a broker (which drops for a slow subscriber) |
| forwarder 10 -> 1 | 10 such publishers (one process, sent to in turn) -> XSUB/XPUB -> 1 SUB taking everything |
| forwarder 10,000 subscriptions | 1 such publisher, {SUBS_SIZE} B messages to the topics t000..t999 in turn -> XSUB/XPUB -> 100 SUB sockets in one process (`bench/zsubs.c`), each subscribed to 100 of the 1,000 topics, every topic held by 10 of them (a different set on each socket): every message is due 10 times. zedge runs with `{' '.join(SUBS_ZEDGE)}` (its defaults are 4096 and 1024). Direct: as the fan-out, not an upper bound |
| 100,000 subscriptions | zedge and libzmq only; see its section |
| slow sender | zedge and libzmq only; see its section |

A load generator marked in the warnings had a thread at {GEN_HOT:.0f} % of a core or more, or the
direct run was barely faster than the best broker: there the generator, not the broker, may set
the number. With 2 cores the broker and the generators share the machine in every run.
""")
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(L))
    log("tools/bench: wrote docs/benchmarks.md and docs/benchmarks.svg")


def para(text):
    """A paragraph written over several source lines, as one Markdown line."""
    return " ".join(text.split()) + "\n"


def iso_docs(iso):
    """The sections of the isolation cases that ran (isolation.py)."""
    L = []
    if any(k == SUBS100K for k, _ in iso):
        L.append(f"## {TITLES[SUBS100K].capitalize()}\n")
        L.append(subs100k_table(iso, md=True))
        L.append("")
        L.append(para(f"""Recorded figures, no goal, except the flow's longest latency while they leave (at
most 100 ms, ARCHITECTURE's isolation bound: removal must not freeze the broker). 100
subscribers (100 SUB sockets in one `zsubs hold` process) each subscribe to 1,000 topics of
their own: 100,000 distinct topics. zedge runs with `{' '.join(HOLD_ZEDGE)}`. Meanwhile a
timed flow (`zflow lat`: a raw ZMTP publisher, {FLOW_RATE:,} messages a second, to a libzmq
SUB) runs through the same broker, and a publisher (`zsubs upstream`, a libzmq XPUB) counts the
subscriptions and cancels the broker passes upstream. `add s`: from the subscribers' first
connect until every subscriber has received a message on a probe topic it subscribed to after
its 1,000 (a broker handles one connection's subscriptions in order, so it then holds all
100,000). `remove s`: from the subscribers closing their sockets until the last cancel reached
the publisher (all 100,000, or none more for 2 s). `reached the publisher`: the fewest over the
runs; fewer than 100,000 means the broker lost some on the way upstream (libzmq's XSUB drops a
subscription that finds its pipe to a publisher full, 1,000 messages by default). `RSS`:
the broker's VmRSS before the subscribers connect (the flow and the counting publisher
connected), once all 100,000 arrived, and after the removal; the growth includes the 100
subscriber connections. `broker CPU s`: utime + stime while they are added and removed.
`flow max ms`: the timed flow's longest latency while they arrive and while they leave (the
longest stall, worst run); `flow lost`: its messages lost, all runs."""))
    if any(k == SLOW for k, _ in iso):
        L.append(f"## {TITLES[SLOW].capitalize()}\n")
        L.append(slow_table(iso, md=True))
        L.append("")
        L.append(para(f"""Goal (ARCHITECTURE, isolation): a slow, stalled or hostile peer adds at most 100 ms to
any other flow and costs it no message. One publisher (`zflow slow`) writes a single
{SLOW_SIZE >> 20} MiB message at {SLOW_RATE:,} bytes/s: the frame header, then
{SLOW_RATE // 100:,} bytes every 10 ms, {SLOW_SIZE / SLOW_RATE:.1f} s in all. It speaks ZMTP
itself over a plain TCP socket (greeting, READY with Socket-Type PUB, the frame), written in C
beside the other load generators, because a libzmq socket only ever writes a message whole.
Beside it a timed flow (`zflow lat`: a raw ZMTP publisher, {FLOW_RATE:,} 17-byte messages a
second with their send time, to a libzmq SUB) runs through the same broker; its SUB also
subscribes to the slow message's topic, so the two share a destination. zedge runs with its
defaults, under which a message of up to 1 MiB (`--store-forward-max`) is received whole
before it is forwarded. `before`: the flow's latency over a window before the slow send
(medians of the runs; max: worst run); `during`: from the first byte of the slow message
until 0.3 s after its last; `max added`: the worst run's max during, minus its p50 before;
`flow lost`: sequence numbers that never arrived, all runs; `delivered`: the 1 MiB message
reached the subscriber whole."""))
    return L
