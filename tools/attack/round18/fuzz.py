# fuzz.py PORT STYPE CASE: raw NULL ZMTP peer sending odd frames; prints what the broker did.
import socket, struct, sys, time, os
from zmtp import greeting, ready, recvn, read_frame
port, stype, case = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
def conn():
    s = socket.socket(); s.connect(('127.0.0.1', port)); s.sendall(greeting()); recvn(s, 64)
    s.sendall(ready(stype)); read_frame(s); return s
def short(flags, body): return bytes([flags, len(body)]) + body
def long_(flags, n): return bytes([flags | 2]) + struct.pack('>Q', n)
res = 'ok'
try:
    if case == 'halfgreet':
        ss = []
        for i in range(60):
            s = socket.socket(); s.connect(('127.0.0.1', port)); s.sendall(b'\xff' + b'\0' * 8); ss.append(s)
        time.sleep(12); res = 'held 60 half greetings 12s'
        alive = 0
        for s in ss:
            s.setblocking(False)
            try: alive += 0 if s.recv(100) == b'' else 1
            except BlockingIOError: alive += 1
            except OSError: pass
        res += f', still open {alive}'
    else:
        s = conn()
        if case == 'manyempty':   # 2M empty MORE frames then a last one
            blk = b'\x01\x00' * 65536
            for i in range(32): s.sendall(blk)
            s.sendall(short(0, b'end'))
        elif case == 'reserved':  # reserved flag bits
            for f in (0x08, 0x10, 0x80, 0xF9): s.sendall(short(f, b'abc'))
        elif case == 'hugelen':   # long frame of 2^63-1 then 1 MB of body
            s.sendall(long_(0, (1 << 63) - 1)); s.sendall(b'z' * (1 << 20))
        elif case == 'maxlen':    # long frame of exactly 64M+1
            s.sendall(long_(0, (64 << 20) + 1)); s.sendall(b'z' * (1 << 20))
        elif case == 'cmdmid':    # command frame in the middle of a message
            s.sendall(short(1, b'part1') + short(4, b'\x04PING\x00\x00' ) + short(0, b'last'))
        elif case == 'longshort': # long-flag frame with small size (non-canonical)
            s.sendall(bytes([2]) + struct.pack('>Q', 5) + b'hello')
        elif case == 'bigcmd':    # long command frame 1 GB
            s.sendall(bytes([6]) + struct.pack('>Q', 1 << 30) + b'\x09SUBSCRIBE' + b'x' * (1 << 20))
        elif case == 'subcmd':    # ZMTP 3.1 SUBSCRIBE commands, 5000 distinct long topics
            for i in range(5000): s.sendall(bytes([6]) + struct.pack('>Q', 10 + 2000) + b'\x09SUBSCRIBE' + (b'%06d' % i) * 333 + b'xx')
        elif case == 'pingflood': # 200k PINGs with max TTL and 16-byte context, never reading the PONGs
            p = short(4, b'\x04PING\xff\xff' + b'c' * 16)
            for i in range(4): s.sendall(p * 50000)
        s.settimeout(3)
        try:
            d = s.recv(4096); res = f'recv {len(d)} bytes' if d else 'closed by broker'
        except socket.timeout: res = 'no answer in 3 s (still open)'
        except ConnectionResetError: res = 'reset by broker'
except Exception as e: res = f'exception {type(e).__name__}: {e}'
print(f'{case}: {res}', flush=True)
