"""Medians over the runs, ratios to libzmq, the tables (plain text or Markdown), and the
machine the bench ran on."""

import os
import platform
import re
import statistics
import subprocess

from .common import ROOT
from .isolation import HOLD_TOPICS, ISO_BROKERS, SLOW, SUBS100K
from .memory import PEERS

def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_axis(v):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def fmt_num(x, d=1):
    return "-" if x is None else f"{x:.{d}f}"


def med3(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def aggregate(results, cases, brokers):
    agg = {}
    for c in cases:
        for b in brokers:
            runs = [r for r in results if r["case"] == c.key and r["broker"] == b]
            ok = [r for r in runs if r["ok"]]
            a = {"runs": len(runs), "ok": len(ok),
                 "whys": sorted({r.get("why", "?") for r in runs if not r["ok"]})}
            for k in ("rate", "mbps", "cpu_per_m", "cpu_pct", "p50", "p99", "gen_pct",
                      "other_pct", "sent_rate", "delivered_share"):
                a[k] = med3([r.get(k) for r in ok])
            a["rss"] = med3([r.get("rss_peak_kib") for r in runs])
            hot = max((r["gen_hot"] for r in ok if r.get("gen_hot")), key=lambda h: h[1],
                      default=("", 0.0))
            a["gen_hot"] = hot
            agg[(c.key, b)] = a
    return agg


def ratio(agg, case, broker, key, to="libzmq"):
    a, b = agg.get((case, broker)), agg.get((case, to))
    if not a or not b or a[key][0] is None or not b[key][0]:
        return None
    return a[key][0] / b[key][0]


def throughput_table(agg, cases, brokers, md):
    head = ["case", "broker", "rate (median)", "min - max", "MB/s", "x libzmq",
            "broker CPU s/M", "CPU x libzmq", "broker CPU %", "peak RSS MiB", "gen CPU %",
            "other CPU %"]
    rows = []
    for c in cases:
        for b in brokers:
            a = agg[(c.key, b)]
            r = a["rate"]
            if r[0] is None:
                rows.append([c.title, b, "FAILED", "; ".join(a["whys"])] + [""] * 8)
                continue
            x = ratio(agg, c.key, b, "rate")
            cx = ratio(agg, c.key, b, "cpu_per_m")
            rows.append([
                c.title, b, f"{fmt_rate(r[0])} {c.unit}", f"{fmt_rate(r[1])} - {fmt_rate(r[2])}",
                fmt_num(a["mbps"][0], 1), "-" if x is None else f"{x:.2f}x",
                fmt_num(a["cpu_per_m"][0], 3), "-" if cx is None else f"{cx:.2f}x",
                fmt_num(a["cpu_pct"][0], 0),
                "-" if a["rss"][0] is None else f"{a['rss'][2] / 1024:.1f}",
                fmt_num(a["gen_pct"][0], 0), fmt_num(a["other_pct"][0], 0)])
    return table(head, rows, md)


def forwarder_table(agg, cases, brokers, md):
    """What the publishers sent against what the subscribers got: a broker that takes more
    than the subscribers can read drops the rest (a forwarder does not make publishers wait)."""
    head = ["case", "broker", "published msg/s", "min - max", "x libzmq", "delivered msg/s",
            "delivered of due"]
    rows = []
    for c in cases:
        if not c.due:
            continue
        for b in brokers:
            a = agg[(c.key, b)]
            p = a["sent_rate"]
            if p[0] is None:
                continue
            x = ratio(agg, c.key, b, "sent_rate")
            share = a["delivered_share"][0]
            rows.append([c.title, b, fmt_rate(p[0]), f"{fmt_rate(p[1])} - {fmt_rate(p[2])}",
                         "-" if x is None else f"{x:.2f}x", fmt_rate(a["rate"][0]),
                         "-" if share is None else f"{share * 100:.0f} %"])
    return table(head, rows, md) if rows else ""


def latency_table(agg, brokers, md):
    head = ["broker", "p50 us", "p50 min - max", "p99 us", "p99 min - max", "p50 x libzmq",
            "p99 x libzmq", "round trips/s"]
    rows = []
    for b in brokers:
        a = agg[("queue-lat", b)]
        if a["p50"][0] is None:
            rows.append([b, "FAILED"] + [""] * 6)
            continue
        x50, x99 = ratio(agg, "queue-lat", b, "p50"), ratio(agg, "queue-lat", b, "p99")
        rows.append([b, fmt_num(a["p50"][0]), f"{fmt_num(a['p50'][1])} - {fmt_num(a['p50'][2])}",
                     fmt_num(a["p99"][0]), f"{fmt_num(a['p99'][1])} - {fmt_num(a['p99'][2])}",
                     "-" if x50 is None else f"{x50:.2f}x",
                     "-" if x99 is None else f"{x99:.2f}x", fmt_rate(a["rate"][0])])
    return table(head, rows, md)


def memory_table(idle, big, peers, brokers, md):
    head = ["device", "broker", "idle RSS MiB", "64 MiB message", "RSS growth MiB",
            f"{PEERS} idle peers", "RSS with peers MiB"]
    rows = []
    for dev in ("streamer", "queue", "forwarder"):
        for b in brokers:
            i, g, p = idle.get((b, dev)), big.get((b, dev)), peers.get((b, dev))
            rows.append([
                dev, b, "-" if not i else f"{i['rss'] / 1024:.2f}",
                "-" if not g else ("ok" if g["ok"] else "FAILED " + g.get("why", "")),
                "-" if not g or "growth" not in g else f"{g['growth'] / 1024:.1f}",
                "-" if not p else ("ok" if p["ok"] else "FAILED " + p.get("why", "")),
                "-" if not p or "rss" not in p else f"{p['rss'] / 1024:.1f}"])
    return table(head, rows, md)


def table(head, rows, md):
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(lines)
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda r: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * x for x in w])] + [fmt(r) for r in rows])


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    libzmq = subprocess.run(["pkg-config", "--modversion", "libzmq"], capture_output=True,
                            text=True).stdout.strip() or "?"
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    zeromq = "0.7"
    try:
        with open(os.path.join(ROOT, "bench", "zmqrs-proxy", "Cargo.lock")) as f:
            m = re.search(r'name = "zeromq"\nversion = "([^"]+)"', f.read())
            zeromq = m.group(1) if m else zeromq
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "libzmq": libzmq, "rustc": rustc, "git": git, "zeromq": zeromq,
            "mem": f"{mem / 1024:.0f} GiB", "load": os.getloadavg()}


# ---------------------------------------------------------------- isolation (isolation.py)

def iso_summary(iso):
    """{(key, broker): summary} of the isolation runs: medians, and the worst of the worsts
    (longest stall or latency, every loss added up)."""
    out = {}
    for (key, b), runs in iso.items():
        ok = [r for r in runs if r["ok"]]
        s = {"runs": len(runs), "ok": len(ok),
             "whys": sorted({r.get("why", "?") for r in runs if not r["ok"]})}
        if ok:
            med = lambda k: med3([r.get(k) for r in ok])
            worst = lambda k: max(r[k] for r in ok)
            s["lost"] = sum(r["lost"] for r in ok)
            if key == SUBS100K:
                for k in ("add_secs", "remove_secs", "growth", "rss_before", "rss_with",
                          "rss_after", "cpu_add", "cpu_remove", "flow_p50_us"):
                    s[k] = med(k)
                s.update(up_subs=min(r["up_subs"] for r in ok),
                         up_cancels=min(r["up_cancels"] for r in ok),
                         stall_add_ms=worst("stall_add_ms"),
                         stall_remove_ms=worst("stall_remove_ms"))
            else:
                for when in ("before", "during"):
                    for k in ("p50_us", "p99_us"):
                        s[f"{when}_{k}"] = med3([r[when][k] for r in ok])
                s.update(before_max_ms=max(r["before"]["max_us"] for r in ok) / 1e3,
                         max_ms=worst("max_ms"), added_ms=worst("added_ms"),
                         big_ok=sum(r["big_ok"] for r in ok))
        out[(key, b)] = s
    return out


def _mib(x):
    return "-" if x is None else f"{x / 1024:.1f}"


def _range(m, d=3, scale=1.0):
    """median (min - max) of a med3 triple."""
    if m[0] is None:
        return "-"
    return (f"{m[0] * scale:.{d}f} ({m[1] * scale:.{d}f} - {m[2] * scale:.{d}f})"
            if m[1] != m[2] else f"{m[0] * scale:.{d}f}")


def subs100k_table(summ, md):
    head = ["broker", "add s", "remove s", "reached the publisher (subs / cancels)",
            "RSS before MiB", "with 100k MiB", "growth MiB", "after removal MiB",
            "broker CPU s add / remove", "flow max ms, add", "flow max ms, removal",
            "flow lost"]
    rows = []
    for b in ISO_BROKERS:
        s = summ.get((SUBS100K, b))
        if not s:
            continue
        if not s["ok"]:
            rows.append([b, "FAILED", "; ".join(s["whys"])] + [""] * 9)
            continue
        rows.append([b, _range(s["add_secs"]), _range(s["remove_secs"]),
                     f"{s['up_subs']} / {s['up_cancels']} of {HOLD_TOPICS}",
                     _mib(s["rss_before"][0]), _mib(s["rss_with"][0]), _mib(s["growth"][0]),
                     _mib(s["rss_after"][0]),
                     f"{fmt_num(s['cpu_add'][0], 2)} / {fmt_num(s['cpu_remove'][0], 2)}",
                     f"{s['stall_add_ms']:.1f}", f"{s['stall_remove_ms']:.1f}", s["lost"]])
    return table(head, rows, md)


def slow_table(summ, md):
    head = ["broker", "before: p50 / p99 / max ms", "during: p50 / p99 ms", "during: max ms",
            "max added ms", "flow lost", "1 MiB message delivered"]
    rows = []
    for b in ISO_BROKERS:
        s = summ.get((SLOW, b))
        if not s:
            continue
        if not s["ok"]:
            rows.append([b, "FAILED", "; ".join(s["whys"])] + [""] * 4)
            continue
        ms = lambda m: "-" if m[0] is None else f"{m[0] / 1e3:.2f}"
        rows.append([b, f"{ms(s['before_p50_us'])} / {ms(s['before_p99_us'])} / "
                        f"{s['before_max_ms']:.2f}",
                     f"{ms(s['during_p50_us'])} / {ms(s['during_p99_us'])}",
                     f"{s['max_ms']:.2f}", f"{s['added_ms']:.2f}", s["lost"],
                     f"{s['big_ok']} of {s['ok']} runs"])
    return table(head, rows, md)
