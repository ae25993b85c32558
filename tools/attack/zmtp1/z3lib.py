import struct
def greeting(): return b'\xff'+b'\x00'*8+b'\x7f'+b'\x03\x00'+b'NULL'+b'\x00'*16+b'\x00'+b'\x00'*31
def ready(stype, ident=None):
    props=b'\x0bSocket-Type'+struct.pack('>I',len(stype))+stype
    if ident is not None: props+=b'\x08Identity'+struct.pack('>I',len(ident))+ident
    body=b'\x05READY'+props
    return bytes([0x04,len(body)])+body
def f3(body,more=False):
    if len(body)<256: return bytes([1 if more else 0,len(body)])+body
    return bytes([2|(1 if more else 0)])+struct.pack('>Q',len(body))+body
