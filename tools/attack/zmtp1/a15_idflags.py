# identity frames with various flags / forms: accepted by libzmq 4.3 PULL vs zedge streamer frontend
import zmq, time, struct
from v1lib import *
ctx=zmq.Context()
cases={
 'short flags 00': b'\x03\x00id',
 'short flags 01 (MORE)': b'\x03\x01id',
 'short flags 02': b'\x03\x02id',
 'short flags 7f': b'\x03\x7fid',
 'short flags ff': b'\x03\xffid',
 'long flags 00': b'\xff'+struct.pack('>Q',3)+b'\x00id',
 'long flags 7e': b'\xff'+struct.pack('>Q',3)+b'\x7eid',
 'long flags fe': b'\xff'+struct.pack('>Q',3)+b'\xfeid',
 'long len 0x100 flags 00 id255': b'\xff'+struct.pack('>Q',256)+b'\x00'+b'i'*255,
 'short empty 01 00': b'\x01\x00',
 'short empty 01 02': b'\x01\x02',
}
def try_libzmq(data, port):
    z=ctx.socket(zmq.PULL); z.bind(f'tcp://127.0.0.1:{port}'); z.RCVTIMEO=500
    s=conn(port); s.sendall(data+msg([b'payload'])); 
    try: r=z.recv()
    except zmq.Again: r=None
    _,st=recv_some(s,0.2); s.close(); z.close(linger=0); return r,st
p=broker('streamer','tcp://127.0.0.1:9595','tcp://127.0.0.1:9596','idflags')
pull=ctx.socket(zmq.PULL); pull.connect('tcp://127.0.0.1:9596'); pull.RCVTIMEO=500; time.sleep(0.3)
for i,(name,data) in enumerate(cases.items()):
    lz=try_libzmq(data, 9597)
    s=conn(9595); s.sendall(data+msg([b'payload']))
    try: r=pull.recv()
    except zmq.Again: r=None
    _,st=recv_some(s,0.3); s.close()
    print(f'{name:32s} libzmq: {lz}  zedge: {(r,st)}')
pull.close(linger=0); stop(p)
for l in open('/tmp/v1a-idflags.log'):
    if 'refused' in l and 'DEBUG' in l: print(' ',l.rstrip()[:250])
