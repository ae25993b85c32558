// A JeroMQ 0.3 (ZMTP 2.0) peer driven line by line from stdin, for integration tests.
//
//   javac -cp /usr/share/java/jeromq.jar -d OUT JeromqPeer.java
//   java -cp /usr/share/java/jeromq.jar:OUT JeromqPeer TYPE (bind|connect) ENDPOINT [options]
//
// TYPE: PUSH PULL PUB SUB XPUB XSUB REQ REP DEALER ROUTER.
// Options (before the socket binds/connects):
//   --identity HEX     ZMQ_IDENTITY (JeroMQ 0.3's name for the routing id)
//   --subscribe HEX    SUB: subscribe to a topic (repeatable; "" is everything)
//   --timeout MS       receive timeout for "recv" (default 5000)
//   --echo N           REP/ROUTER/DEALER/PULL: answer N messages by sending each back as it came
//                      (PULL just prints them), then keep reading stdin
//
// Commands on stdin, one per line; every frame is hex ("-" for an empty frame):
//   send HEX [HEX ...]     one message, one frame per argument
//   recv                   prints "msg HEX HEX ..." or "timeout"
//   sub HEX / unsub HEX    SUB only
//   sleep MS
//   quit
// Every command is answered with one line ("ok", "msg ...", "timeout", "error ..."), so a test
// reads one line per line it writes. "ready" is printed once the socket is bound/connected.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;

import org.zeromq.ZMQ;

public class JeromqPeer {
    static byte[] unhex(String s) {
        if (s.equals("-")) return new byte[0];
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++)
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    static String hex(byte[] b) {
        if (b.length == 0) return "-";
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    static int type(String name) {
        switch (name) {
            case "PUSH": return ZMQ.PUSH;
            case "PULL": return ZMQ.PULL;
            case "PUB": return ZMQ.PUB;
            case "SUB": return ZMQ.SUB;
            case "XPUB": return ZMQ.XPUB;
            case "XSUB": return ZMQ.XSUB;
            case "REQ": return ZMQ.REQ;
            case "REP": return ZMQ.REP;
            case "DEALER": return ZMQ.DEALER;
            case "ROUTER": return ZMQ.ROUTER;
            default: throw new IllegalArgumentException("unknown socket type " + name);
        }
    }

    static List<byte[]> recvMessage(ZMQ.Socket s) {
        List<byte[]> frames = new ArrayList<>();
        byte[] f = s.recv(0);
        if (f == null) return null;
        frames.add(f);
        while (s.hasReceiveMore()) frames.add(s.recv(0));
        return frames;
    }

    static void sendMessage(ZMQ.Socket s, List<byte[]> frames) {
        for (int i = 0; i < frames.size(); i++)
            s.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
    }

    static String line(List<byte[]> frames) {
        StringBuilder sb = new StringBuilder("msg");
        for (byte[] f : frames) sb.append(' ').append(hex(f));
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        String typeName = args[0], how = args[1], endpoint = args[2];
        ZMQ.Context ctx = ZMQ.context(1);
        ZMQ.Socket s = ctx.socket(type(typeName));
        s.setLinger(0);
        int timeout = 5000, echo = 0;
        for (int i = 3; i < args.length; i++) {
            switch (args[i]) {
                case "--identity": s.setIdentity(unhex(args[++i])); break;
                case "--subscribe": s.subscribe(unhex(args[++i])); break;
                case "--timeout": timeout = Integer.parseInt(args[++i]); break;
                case "--echo": echo = Integer.parseInt(args[++i]); break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        s.setReceiveTimeOut(timeout);
        if (how.equals("bind")) s.bind(endpoint); else s.connect(endpoint);
        System.out.println("ready");
        System.out.flush();

        for (int n = 0; n < echo; n++) {
            List<byte[]> m = recvMessage(s);
            if (m == null) { System.out.println("timeout"); System.out.flush(); continue; }
            System.out.println(line(m));
            System.out.flush();
            if (!typeName.equals("PULL") && !typeName.equals("SUB")) sendMessage(s, m);
        }

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String l;
        while ((l = in.readLine()) != null) {
            String[] w = l.trim().split("\\s+");
            try {
                switch (w[0]) {
                    case "send": {
                        List<byte[]> frames = new ArrayList<>();
                        for (int i = 1; i < w.length; i++) frames.add(unhex(w[i]));
                        sendMessage(s, frames);
                        System.out.println("ok");
                        break;
                    }
                    case "recv": {
                        List<byte[]> m = recvMessage(s);
                        System.out.println(m == null ? "timeout" : line(m));
                        break;
                    }
                    case "sub": s.subscribe(unhex(w[1])); System.out.println("ok"); break;
                    case "unsub": s.unsubscribe(unhex(w[1])); System.out.println("ok"); break;
                    case "sleep": Thread.sleep(Long.parseLong(w[1])); System.out.println("ok"); break;
                    case "quit": s.close(); ctx.term(); System.out.println("ok"); System.out.flush(); return;
                    default: System.out.println("error unknown command " + w[0]);
                }
            } catch (Exception e) {
                System.out.println("error " + e);
            }
            System.out.flush();
        }
        s.close();
        ctx.term();
    }
}
