# Minimal raw ZMTP 3.0 NULL SUB client, so the reading pace is ours (libzmq reads eagerly).
import socket, struct
def greeting():
    return b'\xff' + b'\x00'*8 + b'\x7f' + bytes([3,0]) + b'NULL'.ljust(20, b'\x00') + b'\x00' + b'\x00'*31
def ready(stype=b'SUB'):
    name=b'Socket-Type'
    body = bytes([5]) + b'READY' + bytes([len(name)]) + name + struct.pack('>I', len(stype)) + stype
    return bytes([0x04, len(body)]) + body
def recvn(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n-len(b))
        if not c: raise EOFError
        b += c
    return b
def read_frame(s):
    f = recvn(s,1)[0]
    if f & 0x02: size = struct.unpack('>Q', recvn(s,8))[0]
    else: size = recvn(s,1)[0]
    return f, recvn(s, size)
def connect_sub(port, topic, rcvbuf=None, host='127.0.0.1'):
    s = socket.socket()
    if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, port))
    s.sendall(greeting())
    recvn(s, 64)
    s.sendall(ready())
    f, body = read_frame(s)  # peer's READY
    assert f & 0x04, f
    sub = b'\x01' + topic
    s.sendall(bytes([0x00, len(sub)]) + sub)
    return s
