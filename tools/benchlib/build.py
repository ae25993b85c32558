"""Install what the bench needs (apt) and build the brokers and the load generators."""

import os
import shutil
import subprocess

from .common import LOGS, ROOT, TB, die, log

def sh(cmd, **kw):
    log("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        die("failed: " + " ".join(cmd))


def ensure_deps():
    need = []
    if not (shutil.which("cc") and shutil.which("make")):
        need.append("build-essential")
    if not os.path.exists("/usr/include/zmq.h"):
        need.append("libzmq3-dev")
    if need:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        log("tools/bench: installing " + " ".join(need))
        r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + need, env=env,
                           stdout=subprocess.DEVNULL)
        if r.returncode != 0:
            sh(sudo + ["apt-get", "update", "-qq"], env=env)
            sh(sudo + ["apt-get", "install", "-y", "-qq"] + need, env=env,
               stdout=subprocess.DEVNULL)
    if not shutil.which("cargo"):
        die("needs Rust (cargo) on PATH")


def build():
    log("tools/bench: building")
    os.makedirs(LOGS, exist_ok=True)
    sh(["cargo", "build", "--release", "--locked", "-q", "-p", "zedge"], cwd=ROOT)
    manifest = os.path.join(ROOT, "bench", "zmqrs-proxy", "Cargo.toml")
    locked = ["--locked"] if os.path.exists(os.path.join(os.path.dirname(manifest),
                                                         "Cargo.lock")) else []
    sh(["cargo", "build", "--release", "-q", *locked, "--manifest-path", manifest,
        "--target-dir", os.path.join(TB, "zmqrs")], cwd=ROOT)
    for name in ("zload", "zmq_proxy", "zpeers", "zsubs", "zflow", "zcurve"):
        sh(["cc", "-O2", "-Wall", "-o", os.path.join(TB, name),
            os.path.join(ROOT, "bench", name + ".c"), "-lzmq"])
