/* zcurve FRONTEND BACKEND N BATCH: CURVE handshakes through a streamer, for tools/bench.
 *
 * Opens N PUSH sockets to FRONTEND, BATCH at a time, each a CURVE client (ZLOAD_CURVE_SERVER,
 * bench/zcommon.h) that sends one message once connected; a PULL on BACKEND (a CURVE client
 * too) takes them. A batch is done when all its messages have arrived: every one of its
 * handshakes has completed on both sides of the broker. The PULL is closed then. Prints
 * "HANDSHAKES n=N secs=T rate=R", then keeps the N connections idle, prints "READY", waits for
 * a line on stdin and exits: the broker's memory with N idle CURVE peers is read meanwhile.
 *
 * Build: cc -O2 -o zcurve zcurve.c -lzmq */
#include "zcommon.h"
#include <sys/resource.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: zcurve FRONTEND BACKEND N BATCH\n");
        return 2;
    }
    int n = atoi(argv[3]), batch = atoi(argv[4]);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 16);
    void *pull = sock(ZMQ_PULL);
    setint(pull, ZMQ_RCVTIMEO, (int)(STALL * 1000));
    attach(pull, argv[2]);
    void **push = calloc(n, sizeof *push);
    if (!push) { perror("calloc"); return 1; }
    char buf[16];
    double t0 = now();
    for (int i = 0; i < n; i += batch) {
        int end = i + batch < n ? i + batch : n;
        for (int j = i; j < end; j++) {
            push[j] = sock(ZMQ_PUSH);
            attach(push[j], argv[1]);
            if (zmq_send(push[j], "h", 1, ZMQ_DONTWAIT) < 0 && zmq_errno() != EAGAIN)
                die("send");
        }
        /* A PUSH queues its message until its connection is up. */
        for (int j = i; j < end; j++)
            if (zmq_recv(pull, buf, sizeof buf, 0) < 0)
                die("recv (a handshake did not complete)");
    }
    double secs = now() - t0;
    /* A second zcurve on the same broker must get its own messages: the streamer deals them
     * out among the PULLs it has. */
    zmq_close(pull);
    say("HANDSHAKES n=%d secs=%.3f rate=%.0f", n, secs, n / secs);
    say("READY");
    char line[16];
    if (!fgets(line, sizeof line, stdin)) {}
    return 0;
}
