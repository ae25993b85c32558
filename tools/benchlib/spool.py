"""The store-and-forward spool (issue 15, docs/spool.md): a zedge streamer with `--spool` and
no worker (the uplink away) takes a PUSH producer's messages onto disk; then a worker
connects and the spool is sent. Measured: messages a second taken in while spooling, the
broker's CPU for each, the bytes written to the segment files per message and per byte
spooled (write amplification), syncs a second, and messages a second sent out of the spool.
The same size through libzmq's zmq_proxy and through zedge without a spool, with a worker
present, run in between as the reference: libzmq has no spool (during an outage it holds its
producers: 0 messages a second), so the ratio says what going through the disk costs against
what a proxy does when the link is up.

The spool lives under target/bench/logs, on the machine's disk (not a tmpfs)."""

import os
import shutil
import statistics
import time
import urllib.request

from .cases import make_cases, run_once
from .common import HOST, LOGS, ZLOAD, log
from .procs import Broker, Proc, ep, free_port, proc_cpu

SIZES = [16, 256]


def scrape(url):
    """Every sample of the metrics, by `name{labels}` as written."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        k, v = line.rsplit(" ", 1)
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def sample(m, name, labels=""):
    return m.get(f'{name}{{device="streamer"{labels}}}', 0.0)


def spool_once(size, opts):
    """One outage and one drain at `size` bytes; a result dict (ok False on failure)."""
    d = os.path.join(LOGS, f"spool-{size}")
    shutil.rmtree(d, ignore_errors=True)
    mport = free_port()
    url = f"http://{HOST}:{mport}/metrics"
    b = Broker("zedge", "streamer",
               extra=["--spool", d, "--spool-max", "2G", "--metrics", f"{HOST}:{mport}"])
    r = {"ok": False}
    push = pull = None
    try:
        push = Proc([ZLOAD, "push", ep(b.fe), str(size)], f"spool-push-{size}")
        time.sleep(opts.warm)
        m0, c0, t0 = scrape(url), proc_cpu(b.pid), time.monotonic()
        time.sleep(opts.secs)
        m1, c1, t1 = scrape(url), proc_cpu(b.pid), time.monotonic()
        push.kill()
        push = None
        taken = sample(m1, "zedge_spool_messages_total", ',event="appended"') - \
            sample(m0, "zedge_spool_messages_total", ',event="appended"')
        r["in_rate"] = taken / (t1 - t0)
        r["in_cpu_us"] = (c1 - c0) / taken * 1e6 if taken else None
        syncs = sample(m1, "zedge_spool_syncs_total") - sample(m0, "zedge_spool_syncs_total")
        r["syncs_per_s"] = syncs / (t1 - t0)
        # A sync later, everything taken is on disk.
        time.sleep(1.5)
        m2 = scrape(url)
        msgs = sample(m2, "zedge_spool_messages_total", ',event="appended"')
        appended = sample(m2, "zedge_spool_bytes_total", ',what="appended"')
        written = sample(m2, "zedge_spool_bytes_total", ',what="written"')
        held = sample(m2, "zedge_spool_messages")
        r["held"] = held
        r["written_per_msg"] = written / msgs if msgs else None
        r["amplification"] = written / appended if appended else None
        r["dropped"] = sample(m2, "zedge_spool_messages_total", ',event="dropped"')
        # The uplink is back: send the spool.
        c2, t2 = proc_cpu(b.pid), time.monotonic()
        pull = Proc([ZLOAD, "pull", ep(b.be), str(size), "0", "600"], f"spool-pull-{size}")
        left = held
        while left > 0 and time.monotonic() - t2 < 120:
            time.sleep(0.05)
            left = sample(scrape(url), "zedge_spool_messages")
        t3, c3 = time.monotonic(), proc_cpu(b.pid)
        if left > 0:
            r["why"] = f"{left:.0f} messages still spooled after 120 s"
            return r
        r["out_rate"] = held / (t3 - t2)
        r["out_cpu_us"] = (c3 - c2) / held * 1e6 if held else None
        r["ok"] = True
        return r
    except (OSError, RuntimeError) as e:
        r["why"] = str(e)
        return r
    finally:
        for p in (push, pull):
            if p:
                p.kill()
        b.kill()
        shutil.rmtree(d, ignore_errors=True)


def run_spool(opts):
    """{size: {"spool": [results], "zedge": [...], "libzmq": [...]}}, alternating."""
    refs = {c.size: c for c in make_cases() if c.key.startswith("streamer-")}
    out = {}
    for size in SIZES:
        cell = out.setdefault(size, {"spool": [], "zedge": [], "libzmq": []})
        for rep in range(opts.reps):
            r = spool_once(size, opts)
            cell["spool"].append(r)
            if r["ok"]:
                log(f"  rep {rep + 1}/{opts.reps} spool-{size:<8} in {r['in_rate'] / 1e6:.2f}M "
                    f"msg/s ({r['in_cpu_us']:.2f} us), {r['written_per_msg']:.2f} B written a "
                    f"message (x{r['amplification']:.4f}), {r['syncs_per_s']:.1f} syncs/s; "
                    f"out {r['out_rate'] / 1e6:.2f}M msg/s")
            else:
                log(f"  rep {rep + 1}/{opts.reps} spool-{size} FAILED: {r.get('why')}")
            for b in ("libzmq", "zedge"):
                ref = run_once(refs[size], b, opts)
                cell[b].append(ref)
                if ref["ok"]:
                    log(f"  rep {rep + 1}/{opts.reps} streamer-{size:<5} {b:7} "
                        f"{ref['rate'] / 1e6:.2f}M msg/s")
    return out


def _median(rs, key):
    v = [r[key] for r in rs if r.get("ok") and r.get(key) is not None]
    return statistics.median(v) if v else None


def table(out, md=False):
    """The spool's figures at each size, with the reference rates and ratios."""
    head = ["size", "spool in msg/s", "CPU us/msg in", "disk B/msg", "write ampl.",
            "syncs/s", "spool out msg/s", "zedge (no spool) msg/s", "libzmq msg/s",
            "in / libzmq", "out / libzmq"]
    rows = []
    for size, cell in sorted(out.items()):
        s = cell["spool"]
        lib = _median(cell["libzmq"], "rate")
        zed = _median(cell["zedge"], "rate")
        i, o = _median(s, "in_rate"), _median(s, "out_rate")

        def f(x, fmt):
            return "-" if x is None else fmt.format(x)
        rows.append([
            f"{size} B", f(i and i / 1e6, "{:.2f}M"), f(_median(s, "in_cpu_us"), "{:.3f}"),
            f(_median(s, "written_per_msg"), "{:.2f}"), f(_median(s, "amplification"), "{:.4f}"),
            f(_median(s, "syncs_per_s"), "{:.1f}"), f(o and o / 1e6, "{:.2f}M"),
            f(zed and zed / 1e6, "{:.2f}M"), f(lib and lib / 1e6, "{:.2f}M"),
            f(i and lib and i / lib, "{:.2f}x"), f(o and lib and o / lib, "{:.2f}x")])
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)
