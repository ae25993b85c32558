import socket, struct, time, subprocess, os, signal
BIN='/work/attackv1/target/release/zedge'
def frame(body, more=False):
    n=len(body)+1
    h=bytes([n]) if n<0xff else b'\xff'+struct.pack('>Q',n)
    return h+bytes([1 if more else 0])+body
def msg(parts): return b''.join(frame(p,i+1<len(parts)) for i,p in enumerate(parts))
def conn(port, timeout=5):
    s=socket.create_connection(('127.0.0.1',port),timeout=timeout); return s
def recv_some(s, t=1.0, maxn=1<<20):
    s.settimeout(t); out=b''
    end=time.time()+t
    try:
        while time.time()<end and len(out)<maxn:
            d=s.recv(65536)
            if not d: return out, 'EOF'
            out+=d
    except socket.timeout: pass
    except ConnectionResetError: return out,'RST'
    return out, 'open'
def parse_v1(buf):
    """parse 1.0 frames; returns list of (more, body), rest"""
    fr=[]; i=0
    while True:
        if i>=len(buf): break
        if buf[i]==0xff:
            if i+10>len(buf): break
            n=struct.unpack('>Q',buf[i+1:i+9])[0]; f=buf[i+9]; hl=10
        else:
            n=buf[i]; 
            if i+2>len(buf): break
            f=buf[i+1]; hl=2
        if i+hl+n-1>len(buf): break
        fr.append((f, buf[i+hl:i+hl+n-1])); i+=hl+n-1
    return fr, buf[i:]
def broker(dev, fe, be, name, *extra):
    log=open(f'/tmp/v1a-{name}.log','w')
    p=subprocess.Popen([BIN,dev,'-vv','--frontend',fe,'--backend',be,*extra],stdout=log,stderr=subprocess.STDOUT)
    time.sleep(0.4); return p
def stop(p):
    p.send_signal(signal.SIGTERM)
    try: p.wait(3)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
def rss(p):
    for l in open(f'/proc/{p.pid}/status'):
        if l.startswith('VmRSS'): return l.split()[1]+'kB'
