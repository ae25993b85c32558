"""The issue's goals (issue 4, shared/ARCHITECTURE.md) as PASS/FAIL lines with the measured
ratios, and the warnings that say when a number may not be the broker's."""

import statistics

from .cases import FWD_PACED, SIZES, make_cases
from .isolation import HOLD_TOPICS, SLOW, SUBS100K
from .memory import PEERS
from .report import fmt_rate, ratio

GEN_HOT = 90.0           # a load-generator thread this busy (% of a core) may be the limit


def warnings(agg, cases, brokers):
    out = []
    for c in cases:
        for b in brokers:
            a = agg[(c.key, b)]
            if a["gen_hot"][1] >= GEN_HOT:
                out.append(f"LOAD GENERATOR BOUND? {c.title} / {b}: load generator thread "
                           f"{a['gen_hot'][0]} at "
                           f"{a['gen_hot'][1]:.0f}% of a core: the generator may be the limit")
            busy = (a["cpu_pct"][0] or 0) + (a["gen_pct"][0] or 0)
            if busy >= 185 and b != "direct":
                out.append(f"{c.title} / {b}: broker and load generators together use "
                           f"{busy:.0f}% of the machine's 200%: they compete for the CPU")
            if a["ok"] < a["runs"]:
                out.append(f"{c.title} / {b}: {a['runs'] - a['ok']} of {a['runs']} runs failed "
                           f"({'; '.join(a['whys'])})")
        others = [agg[(c.key, b)]["other_pct"][0] for b in brokers
                  if agg[(c.key, b)]["other_pct"][0] is not None]
        if others and max(others) >= 25:
            out.append(f"NOISY: {c.title}: other processes used {min(others):.0f}-"
                       f"{max(others):.0f}% of a core during the measured windows (median per "
                       f"broker): re-run on a quiet machine")
        d = agg[(c.key, "direct")]["rate"][0] if "direct" in brokers else None
        if not c.direct_is_ceiling:
            d = None
        best = max((agg[(c.key, b)]["rate"][0] or 0 for b in brokers if b != "direct"),
                   default=0)
        if d and best and c.key != "queue-lat" and d < 1.15 * best:
            out.append(f"LOAD GENERATOR BOUND? {c.title}: the direct ceiling ({fmt_rate(d)}) "
                       f"is not clearly above "
                       f"the best broker ({fmt_rate(best)}): the load generators (and the 2 "
                       f"cores they share with the broker), not the broker, may set these "
                       f"numbers")
    return out


def goals(agg, idle, big, peers, have, iso=None, watched=None):
    """The issue's goals as PASS/FAIL lines with the measured ratio; `iso`: the isolation
    cases' summary (report.iso_summary); `watched`: the streamer's 16 B rates through zedge
    plain and watched (control endpoint, metrics scraped every second), by broker name."""
    out = []

    def line(text, ok):
        mark = "PASS" if ok else "FAIL"
        if text.endswith("]"):    # keep the verdict before a trailing note
            i = text.rindex(" [")
            out.append(f"{text[:i]} {mark}{text[i:]}")
        else:
            out.append(f"{text} {mark}")

    ceiling = {c.key: c.direct_is_ceiling for c in make_cases()}
    others = [a["other_pct"][0] for a in agg.values() if a["other_pct"][0] is not None]
    if others and statistics.median(others) >= 25:
        out.append(f"NOTE: NOISY MACHINE: other processes used a median "
                   f"{statistics.median(others):.0f}% of a core during the measured windows "
                   f"(max {max(others):.0f}%); the ratios below are unreliable")

    def gen_bound(case):
        """A note when the load generators, not zedge, may have set zedge's number."""
        d = agg.get((case, "direct"), {}).get("rate", (None,))[0]
        a = agg.get((case, "zedge"), {})
        z = a.get("rate", (None,))[0]
        if ceiling.get(case) and d and z and d < 1.15 * z:
            return (f" [LOAD-GENERATOR BOUND: the direct ceiling is only {d / z:.2f}x zedge's "
                    f"rate]")
        bp, gp = (a.get("cpu_pct", (None,))[0] or 0), (a.get("gen_pct", (None,))[0] or 0)
        op = a.get("other_pct", (None,))[0] or 0
        if bp + gp >= 185 or bp + gp + op >= 185:
            note = (f" [CPU-SATURATED: zedge {bp:.0f}% + load generators {gp:.0f}% + other "
                    f"{op:.0f}% of the machine's 200%")
            l = agg.get((case, "libzmq"), {}).get("rate", (None,))[0]
            if z and l and gp + op > 0:
                # What the rest of the machine would allow if zedge itself cost nothing.
                cap = z * 200 / (gp + op)
                note += (f"; even a broker using no CPU could reach only about "
                         f"{cap / l:.2f}x libzmq here")
            return note + "]"
        return ""

    def published_note(case):
        """How much more zedge took from the publisher, and what share of it arrived."""
        x = ratio(agg, case, "zedge", "sent_rate")
        z = agg.get((case, "zedge"), {}).get("delivered_share", (None,))[0]
        l = agg.get((case, "libzmq"), {}).get("delivered_share", (None,))[0]
        if x is None or z is None or l is None:
            return ""
        return (f"zedge took {x:.2f}x libzmq's messages from the publisher; the subscribers "
                f"got {z * 100:.0f} % of the deliveries due through zedge, {l * 100:.0f} % "
                f"through libzmq")

    def rate_goal(case, name, want, extra=""):
        x = ratio(agg, case, "zedge", "rate")
        note = gen_bound(case)
        if extra:
            note = f"{note[:-1]}; {extra}]" if note else f" [{extra}]"
        if x is None:
            line(f"{name}: zedge/libzmq = n/a (a run failed) (goal >= {want}x)", False)
        else:
            line(f"{name}: zedge/libzmq = {x:.2f}x (goal >= {want}x){note}", x >= want)

    def cpu_goal(case, name, want=0.5):
        x = ratio(agg, case, "zedge", "cpu_per_m")
        if x is None:
            line(f"{name}: zedge/libzmq = n/a (goal <= {want}x)", False)
            return
        a, l = agg[(case, "zedge")]["cpu_per_m"][0], agg[(case, "libzmq")]["cpu_per_m"][0]
        line(f"{name}: zedge/libzmq = {x:.2f}x ({a:.3f} vs {l:.3f} s per M) (goal <= {want}x)",
             x <= want)

    if have("streamer-16"):
        rate_goal("streamer-16", "streamer 16 B", 1.5)
    if watched:
        def med(b, i):
            vals = [r[i] for r in watched.get(b, []) if r and r[i]]
            return statistics.median(vals) if vals else None
        plain, seen = med("zedge", 0), med("zedge-watched", 0)
        cpu_plain, cpu_seen = med("zedge", 1), med("zedge-watched", 1)
        name = ("streamer 16 B with control, capture (no reader) and metrics scraped every "
                "second")
        if plain and seen:
            cpu = (f"; CPU/msg watched/plain {cpu_seen / cpu_plain:.2f}x"
                   if cpu_plain and cpu_seen else "")
            n = len(watched.get("zedge", []))
            line(f"{name}: watched/plain = {seen / plain:.2f}x ({seen / 1e6:.2f}M vs "
                 f"{plain / 1e6:.2f}M msg/s, medians of {n}{cpu}) (goal >= 0.97x)",
                 seen / plain >= 0.97)
        else:
            line(f"{name}: n/a (a run failed) (goal >= 0.97x)", False)
    if have("streamer-256"):
        rate_goal("streamer-256", "streamer 256 B", 1.5)
    if have("streamer-65536"):
        rate_goal("streamer-65536", "streamer 64 KiB", 1.2)
    for s in SIZES:
        if have(f"streamer-{s}"):
            cpu_goal(f"streamer-{s}", f"streamer {s} B CPU/msg")
    if have("queue-lat"):
        for k in ("p50", "p99"):
            x = ratio(agg, "queue-lat", "zedge", k)
            if x is None:
                line(f"queue REQ/REP {k}: n/a (goal <= 1.0x)", False)
            else:
                z, l = agg[("queue-lat", "zedge")][k][0], agg[("queue-lat", "libzmq")][k][0]
                line(f"queue REQ/REP {k}: zedge/libzmq = {x:.2f}x ({z:.1f} vs {l:.1f} us) "
                     f"(goal <= 1.0x)", x <= 1.0)
    if have("queue-thr"):
        rate_goal("queue-thr", "queue pipelined", 1.5)
    if have("fwd-fanout"):
        rate_goal("fwd-fanout", "forwarder fan-out 1->10 delivered", 1.1,
                  published_note("fwd-fanout"))
        cpu_goal("fwd-fanout", "forwarder fan-out 1->10 CPU/delivered msg")
    if have("fwd-paced"):
        x = ratio(agg, "fwd-paced", "zedge", "cpu_per_m")
        if x is not None:
            a, l = agg[("fwd-paced", "zedge")]["cpu_per_m"][0], \
                agg[("fwd-paced", "libzmq")]["cpu_per_m"][0]
            out.append(f"NOTE forwarder fan-out 1->10 paced at {FWD_PACED // 1000}k msg/s "
                       f"(recorded, no goal): CPU/delivered msg zedge/libzmq = {x:.2f}x "
                       f"({a:.3f} vs {l:.3f} s per M)")
    if have("fwd-subs10k"):
        rate_goal("fwd-subs10k", "forwarder 10,000 subscriptions delivered", 1.0,
                  published_note("fwd-subs10k"))
        cpu_goal("fwd-subs10k", "forwarder 10,000 subscriptions CPU/delivered msg")
    if have("streamer-65536"):
        rss = agg[("streamer-65536", "zedge")]["rss"][2]
        if rss is not None:
            line(f"peak RSS, streamer 64 KiB run: zedge {rss / 1024:.1f} MiB (max over runs) "
                 f"(goal < 16 MiB)", rss < 16 * 1024)
    for dev in ("streamer", "queue", "forwarder"):
        i = idle.get(("zedge", dev))
        if i:
            line(f"idle RSS, {dev}: zedge {i['rss'] / 1024:.2f} MiB (goal < 4 MiB)",
                 i["rss"] < 4 * 1024)
    for dev in ("streamer", "queue", "forwarder"):
        g = big.get(("zedge", dev))
        if g:
            if not g["ok"] or "growth" not in g:
                line(f"64 MiB message, {dev}: zedge {g.get('why', 'failed')} "
                     f"(goal: passes, RSS growth < 64 MiB)", False)
            else:
                line(f"64 MiB message, {dev}: zedge RSS growth {g['growth'] / 1024:.1f} MiB "
                     f"(goal < 64 MiB)", g["growth"] < 64 * 1024)
    for dev in ("streamer", "queue", "forwarder"):
        p = peers.get(("zedge", dev))
        if p:
            if not p["ok"]:
                line(f"{PEERS} idle peers, {dev}: zedge {p.get('why', 'failed')} "
                     f"(goal: all connected, RSS < 64 MiB)", False)
            else:
                line(f"{PEERS} idle peers, {dev}: zedge RSS {p['rss'] / 1024:.1f} MiB "
                     f"(goal < 64 MiB)", p["rss"] < 64 * 1024)
    starts = [idle[("zedge", d)]["start_ms"] for d in ("streamer", "queue", "forwarder")
              if ("zedge", d) in idle]
    if starts:
        m = statistics.median(starts)
        line(f"start: zedge listening {m:.1f} ms after exec (median of {len(starts)}; "
             f"includes this script's 0.5 ms polling) (goal <= 50 ms)", m <= 50)
    out += iso_goals(iso or {}, line)
    return out


def iso_goals(summ, line):
    """The isolation cases: the slow sender's goal (ARCHITECTURE: a slow, stalled or hostile
    peer adds at most 100 ms to any other flow and costs it no message), the same bound on the
    flow while 100,000 subscriptions leave, and the 100,000-subscription figures as a NOTE."""
    out = []
    z = summ.get((SLOW, "zedge"))
    if z is not None:
        if not z["ok"]:
            line(f"slow sender: zedge failed ({'; '.join(z['whys'])}) (goal: other flow "
                 f"+<= 100 ms, nothing lost)", False)
        else:
            l = summ.get((SLOW, "libzmq"), {})
            ref = f"; libzmq +{l['added_ms']:.1f} ms" if l.get("ok") else ""
            line(f"slow sender 1 MiB at 200 KB/s: the other flow's max latency +"
                 f"{z['added_ms']:.1f} ms over its p50, {z['lost']} lost (worst of "
                 f"{z['ok']} runs{ref}) (goal: <= 100 ms, none lost)",
                 z["added_ms"] <= 100 and z["lost"] == 0)
    z = summ.get((SUBS100K, "zedge"))
    if z is not None:
        if not z["ok"]:
            line(f"100,000 subscriptions leaving: zedge failed ({'; '.join(z['whys'])}) "
                 f"(goal: the other flow stalls <= 100 ms)", False)
            return out
        line(f"100,000 subscriptions leaving: the other flow's longest latency "
             f"{z['stall_remove_ms']:.1f} ms, {z['lost']} lost (worst of {z['ok']} runs) "
             f"(goal: <= 100 ms, none lost)", z["stall_remove_ms"] <= 100 and z["lost"] == 0)
        parts = []
        for b in ("zedge", "libzmq"):
            s = summ.get((SUBS100K, b))
            if s and s["ok"]:
                rm = s["remove_secs"][0]
                parts.append(f"{b} adds them in {s['add_secs'][0]:.3f} s, removes them in "
                             f"{'-' if rm is None else f'{rm:.3f}'} s, RSS +"
                             f"{s['growth'][0] / 1024:.1f} MiB, passes {s['up_subs']} / "
                             f"{s['up_cancels']} of {HOLD_TOPICS} upstream")
        out.append("NOTE 100,000 subscriptions (recorded, no goal): " + "; ".join(parts))
    return out
