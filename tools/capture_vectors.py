#!/usr/bin/env python3
"""Capture real ZMTP 3.x bytes emitted by libzmq (through pyzmq) as Rust test vectors.

Usage:
    python3 tools/capture_vectors.py > core/src/wire/vectors.rs

How it works: for every vector a fresh raw TCP listener is opened on 127.0.0.1
(ephemeral port), a pyzmq socket CONNECTs to it, and this script plays the
other side of the ZMTP 3.x handshake by hand (NULL mechanism), recording every
byte libzmq sends. All reads have a deadline; a capture that does not complete
raises an error instead of hanging. Only the stdlib and pyzmq are used.

The output contains only `pub const NAME: &[u8] = &[...];` items and is
deterministic (nothing captured varies from run to run: no random routing ids
are ever put on the wire, PING carries no context, timings are not recorded).
"""

import socket
import struct
import sys
import threading
import time

import zmq

TIMEOUT = 2.0  # seconds, per read deadline

# Socket-type names as they appear in the READY "Socket-Type" property.
NAMES = {
    zmq.REQ: b"REQ",
    zmq.REP: b"REP",
    zmq.DEALER: b"DEALER",
    zmq.ROUTER: b"ROUTER",
    zmq.PUB: b"PUB",
    zmq.SUB: b"SUB",
    zmq.XPUB: b"XPUB",
    zmq.XSUB: b"XSUB",
    zmq.PUSH: b"PUSH",
    zmq.PULL: b"PULL",
}

# A peer type libzmq accepts for each local socket type.
COMPATIBLE_PEER = {
    zmq.REQ: b"REP",
    zmq.REP: b"REQ",
    zmq.DEALER: b"DEALER",
    zmq.ROUTER: b"DEALER",
    zmq.PUB: b"SUB",
    zmq.SUB: b"PUB",
    zmq.XPUB: b"SUB",
    zmq.XSUB: b"PUB",
    zmq.PUSH: b"PULL",
    zmq.PULL: b"PUSH",
}


class CaptureError(Exception):
    pass


# --------------------------------------------------------------------------
# ZMTP encoding helpers for the fake peer
# --------------------------------------------------------------------------


def greeting(minor, as_server=0, mechanism=b"NULL", major=3):
    g = b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([major, minor])
    g += mechanism.ljust(20, b"\x00") + bytes([as_server]) + b"\x00" * 31
    assert len(g) == 64
    return g


def frame(flags, body):
    """Encode one frame; flags is 0x00/0x01 (message) or 0x04 (command)."""
    if len(body) > 255:
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def command(name, data=b""):
    return frame(0x04, bytes([len(name)]) + name + data)


def ready(socket_type, extra=()):
    props = [(b"Socket-Type", socket_type)] + list(extra)
    data = b""
    for k, v in props:
        data += bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    return command(b"READY", data)


# --------------------------------------------------------------------------
# The fake peer
# --------------------------------------------------------------------------


class FakePeer:
    """Raw TCP listener that a pyzmq socket connects to."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.conn = None

    def accept(self):
        try:
            self.conn, _ = self.listener.accept()
        except socket.timeout:
            raise CaptureError("libzmq never connected")
        self.conn.settimeout(TIMEOUT)
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        self.conn.sendall(data)

    def recv_exact(self, n, what):
        buf = b""
        deadline = time.monotonic() + TIMEOUT
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaptureError("timeout reading %s (%d/%d bytes)" % (what, len(buf), n))
            self.conn.settimeout(left)
            try:
                chunk = self.conn.recv(n - len(buf))
            except socket.timeout:
                raise CaptureError("timeout reading %s (%d/%d bytes)" % (what, len(buf), n))
            except ConnectionResetError:
                raise CaptureError("connection reset reading %s" % what)
            if not chunk:
                raise CaptureError("EOF reading %s (%d/%d bytes)" % (what, len(buf), n))
            buf += chunk
        return buf

    def recv_available(self, wait):
        """Everything that arrives within `wait` seconds (b"" on EOF/silence)."""
        buf = b""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return buf, False
            self.conn.settimeout(left)
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                return buf, False
            except ConnectionResetError:
                return buf, True
            if not chunk:
                return buf, True
            buf += chunk

    def read_frame(self, what):
        """Read one ZMTP 3.x frame; returns (flags, body, raw bytes)."""
        head = self.recv_exact(1, what)
        flags = head[0]
        if flags & 0x02:
            sz = self.recv_exact(8, what)
            size = struct.unpack(">Q", sz)[0]
        else:
            sz = self.recv_exact(1, what)
            size = sz[0]
        body = self.recv_exact(size, what)
        return flags, body, head + sz + body

    def read_command(self, what, skip=()):
        """Read frames until a command whose name is not in `skip`."""
        while True:
            flags, body, raw = self.read_frame(what)
            if not flags & 0x04:
                raise CaptureError("expected command for %s, got data %r" % (what, raw))
            name = body[1 : 1 + body[0]]
            if name in skip:
                continue
            return name, body, raw

    def handshake(self, minor, peer_type, extra_props=()):
        """Full greeting + READY exchange; returns (greeting, ready) raw bytes."""
        self.accept()
        self.send(greeting(minor))
        g = self.recv_exact(64, "greeting")
        self.send(ready(peer_type, extra_props))
        name, _, raw = self.read_command("READY")
        if name != b"READY":
            raise CaptureError("expected READY, got %r" % raw)
        return g, raw

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


class Session:
    """A fresh zmq context + socket connected to a fresh FakePeer."""

    def __init__(self, sock_type, opts=()):
        self.ctx = zmq.Context()
        self.peer = FakePeer()
        self.sock = self.ctx.socket(sock_type)
        self.sock.setsockopt(zmq.LINGER, 0)
        for k, v in opts:
            self.sock.setsockopt(k, v)

    def connect(self):
        self.sock.connect(self.peer.endpoint)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close(linger=0)
        self.peer.close()
        self.ctx.term()
        return False


# --------------------------------------------------------------------------
# Captures
# --------------------------------------------------------------------------

vectors = []  # (name, doc lines, bytes)
notes = []  # free-form observations for the header comment


def vec(name, doc, data):
    vectors.append((name, doc, bytes(data)))


def capture_greeting_split():
    """Observe how libzmq sends its greeting when we withhold ours."""
    with Session(zmq.DEALER) as s:
        s.connect()
        p = s.peer
        p.accept()
        ours = greeting(1)
        parts = []
        first, _ = p.recv_available(0.3)
        parts.append(len(first))
        p.send(ours[:10])
        second, _ = p.recv_available(0.3)
        parts.append(len(second))
        p.send(ours[10:11])
        third, _ = p.recv_available(0.3)
        parts.append(len(third))
        p.send(ours[11:])
        rest, _ = p.recv_available(0.3)
        parts.append(len(rest))
        total = first + second + third + rest
    notes.append(
        "Greeting split: with our greeting withheld libzmq sends %d bytes (signature); "
        "after our 10-byte signature %d more (major version); after our major byte "
        "%d more (rest of greeting); after the rest of ours %d more (its READY)."
        % tuple(parts)
    )
    return total[:64]


def capture_greetings():
    split_greeting = capture_greeting_split()
    for minor, name, doc in (
        (1, "GREETING_31", "when the peer greets as ZMTP 3.1"),
        (0, "GREETING_TO_30_PEER", "when the peer greets as ZMTP 3.0"),
    ):
        with Session(zmq.DEALER) as s:
            s.connect()
            g, _ = s.peer.handshake(minor, b"DEALER")
        vec(name, ["64-byte greeting libzmq sends " + doc + ".", "NULL mechanism, as-server 0."], g)
        if minor == 1:
            g31 = g
        else:
            g30 = g
    notes.append(
        "GREETING_31 %s GREETING_TO_30_PEER: libzmq always announces 3.1 whatever the peer says."
        % ("==" if g31 == g30 else "!=")
    )
    notes.append(
        "Greeting padding is not all zero: libzmq sends %s at bytes 1..=8 (0x01 in the last "
        "padding byte, the ZMTP 1.0 compat length), so parsers must ignore padding."
        % g31[1:9].hex()
    )
    notes.append(
        "Greeting collected piecewise (split observation) %s GREETING_31."
        % ("==" if split_greeting == g31 else "!=")
    )


def capture_ready():
    for t in (
        zmq.REQ,
        zmq.REP,
        zmq.DEALER,
        zmq.ROUTER,
        zmq.PUB,
        zmq.SUB,
        zmq.XPUB,
        zmq.XSUB,
        zmq.PUSH,
        zmq.PULL,
    ):
        with Session(t) as s:
            s.connect()
            _, r = s.peer.handshake(1, COMPATIBLE_PEER[t])
        vec(
            "READY_" + NAMES[t].decode(),
            [
                "READY command from a libzmq %s socket (peer announced %s, ZMTP 3.1)."
                % (NAMES[t].decode(), COMPATIBLE_PEER[t].decode())
            ],
            r,
        )
    with_id = [n for n, _, d in vectors if n.startswith("READY_") and b"Identity" in d]
    notes.append(
        "READY: %s carry an empty Identity property after Socket-Type; the other types send "
        "Socket-Type only." % ", ".join(with_id)
    )
    with Session(zmq.DEALER, [(zmq.ROUTING_ID, b"client-7")]) as s:
        s.connect()
        _, r = s.peer.handshake(1, b"ROUTER")
    vec(
        "READY_DEALER_ID",
        ['READY command from a libzmq DEALER with ROUTING_ID = b"client-7" (peer ROUTER).'],
        r,
    )


def capture_multipart():
    with Session(zmq.PUSH) as s:
        s.connect()
        s.peer.handshake(1, b"PULL")
        s.sock.send_multipart([b"hello", b"", b"x" * 300])
        raw = b""
        for i in range(3):
            flags, _, r = s.peer.read_frame("multipart frame %d" % i)
            raw += r
    if flags & 0x01:
        raise CaptureError("last frame has MORE set")
    vec(
        "MULTIPART_PUSH",
        [
            'PUSH send_multipart([b"hello", b"", b"x" * 300]): short MORE frame,',
            "empty MORE frame, then a long final frame with an 8-byte size (300).",
        ],
        raw,
    )


def capture_subscribe():
    for minor, peer_type in ((1, b"XPUB"), (0, b"XPUB")):
        with Session(zmq.SUB) as s:
            s.connect()
            s.peer.handshake(minor, peer_type)
            s.sock.setsockopt(zmq.SUBSCRIBE, b"weather")
            _, _, sub = s.peer.read_frame("subscribe")
            s.sock.setsockopt(zmq.UNSUBSCRIBE, b"weather")
            _, _, cancel = s.peer.read_frame("cancel")
        if minor == 1:
            vec(
                "SUBSCRIBE_CMD_31",
                ['SUB setsockopt(SUBSCRIBE, b"weather") towards a ZMTP 3.1 XPUB peer.'],
                sub,
            )
            vec(
                "CANCEL_CMD_31",
                ['SUB setsockopt(UNSUBSCRIBE, b"weather") towards a ZMTP 3.1 XPUB peer.'],
                cancel,
            )
            notes.append(
                "SUB towards 3.1 peer: subscribe goes out as %s, unsubscribe as %s."
                % (kind(sub), kind(cancel))
            )
        else:
            vec(
                "SUBSCRIBE_MSG_30",
                ['SUB setsockopt(SUBSCRIBE, b"weather") towards a ZMTP 3.0 XPUB peer.'],
                sub,
            )
            vec(
                "CANCEL_MSG_30",
                ['SUB setsockopt(UNSUBSCRIBE, b"weather") towards a ZMTP 3.0 XPUB peer.'],
                cancel,
            )
            notes.append(
                "SUB towards 3.0 peer: subscribe goes out as %s, unsubscribe as %s."
                % (kind(sub), kind(cancel))
            )
    for minor, name in ((1, "XSUB_SUB_31"), (0, "XSUB_SUB_30")):
        with Session(zmq.XSUB) as s:
            s.connect()
            s.peer.handshake(minor, b"XPUB")
            s.sock.send(b"\x01news")
            _, _, sub = s.peer.read_frame("xsub subscribe")
            s.sock.send(b"\x00news")
            _, _, cancel = s.peer.read_frame("xsub cancel")
        vec(
            name,
            ['XSUB send(b"\\x01news") towards a ZMTP 3.%d XPUB peer.' % minor],
            sub,
        )
        vec(
            name.replace("_SUB_", "_CANCEL_"),
            ['XSUB send(b"\\x00news") towards a ZMTP 3.%d XPUB peer.' % minor],
            cancel,
        )
        notes.append(
            "XSUB towards 3.%d peer: b\"\\x01news\" goes out as %s, b\"\\x00news\" as %s."
            % (minor, kind(sub), kind(cancel))
        )


def kind(raw):
    if raw[0] & 0x04:
        return "a %s command" % raw[3 : 3 + raw[2]].decode()
    return "a data frame (flags 0x%02x)" % raw[0]


def capture_ping_pong():
    opts = [(zmq.HEARTBEAT_IVL, 100), (zmq.HEARTBEAT_TTL, 2000)]
    with Session(zmq.DEALER, opts) as s:
        s.connect()
        s.peer.handshake(1, b"DEALER")
        name, _, ping = s.peer.read_command("first PING")
        if name != b"PING":
            raise CaptureError("expected PING, got %r" % ping)
        s.peer.send(command(b"PING", b"\x00\x00" + b"ctx-1234"))
        name, _, pong = s.peer.read_command("PONG", skip=(b"PING",))
        if name != b"PONG":
            raise CaptureError("expected PONG, got %r" % pong)
    ttl = struct.unpack(">H", ping[7:9])[0]
    notes.append(
        "PING: first frame after READY, body \\x04PING + 2-byte BE TTL = %d (deciseconds, "
        "from HEARTBEAT_TTL=2000ms), %d context bytes. PONG echoes the context only "
        "(no TTL field): body \\x04PONG + \"%s\"." % (ttl, len(ping) - 9, pong[7:].decode())
    )
    vec(
        "PING_DEALER",
        [
            "First PING from a DEALER with HEARTBEAT_IVL=100ms, HEARTBEAT_TTL=2000ms",
            "(TTL on the wire is in deciseconds, 2000ms -> 0x0014; no context).",
        ],
        ping,
    )
    vec(
        "PONG_CTX",
        ['PONG libzmq replies to our PING with TTL 0 and context b"ctx-1234".'],
        pong,
    )
    # The fake peer's own PING, for symmetry with PONG_CTX.
    vec(
        "PING_CTX",
        ['PING with TTL 0 and context b"ctx-1234" (sent by the fake peer, not libzmq).'],
        command(b"PING", b"\x00\x00" + b"ctx-1234"),
    )


def capture_mismatch():
    """Peer announces an incompatible socket type: what does libzmq do?"""
    with Session(zmq.REQ) as s:
        s.connect()
        p = s.peer
        p.accept()
        p.send(greeting(1))
        p.recv_exact(64, "greeting")
        p.send(ready(b"PUB"))
        _, _, r = p.read_frame("READY")
        after, eof = p.recv_available(0.5)
    notes.append(
        "Socket-type mismatch (REQ vs peer PUB): no ERROR command. libzmq sends its READY "
        "before seeing ours; after it, libzmq sent %d more bytes%s and %s."
        % (
            len(after),
            "" if not after else " (%s)" % after.hex(),
            "closed the TCP connection" if eof else "kept the connection open",
        )
    )


def capture_zap_error():
    """Provoke an ERROR command: NULL mechanism with a ZAP handler that denies."""
    ctx = zmq.Context()
    handler = ctx.socket(zmq.REP)
    handler.setsockopt(zmq.LINGER, 0)
    handler.bind("inproc://zeromq.zap.01")
    stop = threading.Event()

    def zap():
        poller = zmq.Poller()
        poller.register(handler, zmq.POLLIN)
        while not stop.is_set():
            if poller.poll(50):
                req = handler.recv_multipart()
                handler.send_multipart([b"1.0", req[1], b"400", b"denied", b"", b""])

    t = threading.Thread(target=zap)
    t.start()
    peer = FakePeer()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ZAP_DOMAIN, b"global")
    try:
        sock.connect(peer.endpoint)
        peer.accept()
        peer.send(greeting(1))
        peer.recv_exact(64, "greeting")
        # Our READY is withheld until ERROR has arrived: whether libzmq closes
        # depends on whether it sees input after sending ERROR (see below).
        name, _, raw = peer.read_command("ERROR")
        if name != b"ERROR":
            raise CaptureError("expected ERROR, got %r" % raw)
        idle, eof_idle = peer.recv_available(0.3)
        peer.send(ready(b"DEALER"))
        more, eof_after = peer.recv_available(0.5)
    finally:
        stop.set()
        t.join()
        sock.close(linger=0)
        handler.close(linger=0)
        peer.close()
        ctx.term()
    vec(
        "ERROR_ZAP_400",
        [
            'ERROR command from a DEALER (ZAP_DOMAIN=b"global", NULL mechanism), sent instead',
            'of READY when its ZAP handler replies status 400; reason = status code "400".',
        ],
        raw,
    )
    notes.append(
        "ERROR: only provoked via ZAP denial (status 400); libzmq sends ERROR instead of "
        "READY (reason = status code) and then %s while the peer is silent; on the peer's "
        "next bytes (our READY) it %s%s."
        % (
            "closes the connection" if eof_idle else "keeps the connection open",
            "closes the connection" if eof_after else "keeps it open",
            "" if not (idle + more) else " (it also sent %s)" % (idle + more).hex(),
        )
    )


# --------------------------------------------------------------------------
# Rust output
# --------------------------------------------------------------------------


def rust_bytes(data):
    lines = []
    for i in range(0, len(data), 16):
        lines.append("    " + " ".join("0x%02x," % b for b in data[i : i + 16]))
    return lines


def emit():
    out = []
    out.append("// @generated by `python3 tools/capture_vectors.py > core/src/wire/vectors.rs`")
    out.append("// against libzmq %s / pyzmq %s. Do not edit by hand." % (zmq.zmq_version(), zmq.__version__))
    out.append("//")
    out.append("// Real ZMTP 3.x bytes emitted by libzmq: a raw TCP fake peer on 127.0.0.1 accepts a")
    out.append("// pyzmq connection and plays the other side of the NULL handshake by hand. Every")
    out.append("// vector is exactly what libzmq wrote on the wire (except PING_CTX, which is the")
    out.append("// fake peer's own frame). The output is deterministic: nothing varies run to run.")
    out.append("//")
    out.append("// Vectors:")
    for name, doc, data in vectors:
        out.append("// - %s (%d bytes)" % (name, len(data)))
    out.append("//")
    out.append("// Observations:")
    for n in notes:
        words = n.split()
        line = "//"
        for w in words:
            if len(line) + 1 + len(w) > 96:
                out.append(line)
                line = "//  "
            line += " " + w
        out.append(line)
    for name, doc, data in vectors:
        out.append("")
        for d in doc:
            out.append("/// " + d)
        out.append("/// Length: %d bytes." % len(data))
        if len(data) == 0:
            out.append("pub const %s: &[u8] = &[];" % name)
            continue
        one_line = "pub const %s: &[u8] = &[%s];" % (name, ", ".join("0x%02x" % b for b in data))
        if len(one_line) <= 100:  # what rustfmt does with short arrays
            out.append(one_line)
            continue
        out.append("pub const %s: &[u8] = &[" % name)
        out.extend(rust_bytes(data))
        out.append("];")
    return "\n".join(out) + "\n"


def main():
    capture_greetings()
    capture_ready()
    capture_multipart()
    capture_subscribe()
    capture_ping_pong()
    capture_mismatch()
    capture_zap_error()
    sys.stdout.write(emit())


if __name__ == "__main__":
    try:
        main()
    except CaptureError as e:
        sys.stderr.write("capture failed: %s\n" % e)
        sys.exit(1)
