import zmq, time, struct
from v1lib import *
ctx=zmq.Context()
z=ctx.socket(zmq.PULL); z.bind('tcp://127.0.0.1:9524'); z.RCVTIMEO=500
for name,data in (('id300', b'\xff'+struct.pack('>Q',301)+b'\x00'+b'i'*300+msg([b'payload'])), ('first 00', b'\x00'), ('ff + 8 then 00 flags len0', b'\xff'+b'\x00'*8+b'\x00')):
    s=conn(9524); s.sendall(data); t0=time.time()
    try: r=z.recv()
    except zmq.Again: r=None
    got,st=recv_some(s,3); print(f'libzmq {name}: recv {r!r:.20} conn {st} after {time.time()-t0:.1f}s'); s.close()
z.close(linger=0)
p=broker('streamer','tcp://127.0.0.1:9525','tcp://127.0.0.1:9526','edge','--handshake-timeout','10s')
for name,data in (('first 00', b'\x00'), ('ff + 8 then 00 flags len0', b'\xff'+b'\x00'*8+b'\x00')):
    s=conn(9525); s.sendall(data); t0=time.time(); got,st=recv_some(s,12); print(f'zedge {name}: conn {st} after {time.time()-t0:.1f}s'); s.close()
stop(p)
