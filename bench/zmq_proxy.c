/* zmq_proxy DEVICE FRONTEND BACKEND: libzmq's own zmq_proxy() as the reference broker for
 * tools/bench, on Debian's libzmq with its default options (HWM 1000 messages per pipe).
 *
 *   forwarder  XSUB frontend -> XPUB backend
 *   queue      ROUTER frontend <-> DEALER backend
 *   streamer   PULL frontend -> PUSH backend
 *
 * Both endpoints are bound (a leading '@' is accepted and ignored). With ZMQ_PROXY_CURVE_SECRET
 * set (a Z85 secret key), both are CURVE servers with that key, as tools/bench's CURVE cases
 * run it.
 * Build: cc -O2 -o zmq_proxy zmq_proxy.c -lzmq */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

static const char *ep(const char *s) { return s[0] == '@' ? s + 1 : s; }

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: zmq_proxy forwarder|queue|streamer FRONTEND BACKEND\n");
        return 2;
    }
    int ft, bt;
    if (!strcmp(argv[1], "forwarder")) { ft = ZMQ_XSUB; bt = ZMQ_XPUB; }
    else if (!strcmp(argv[1], "queue")) { ft = ZMQ_ROUTER; bt = ZMQ_DEALER; }
    else if (!strcmp(argv[1], "streamer")) { ft = ZMQ_PULL; bt = ZMQ_PUSH; }
    else { fprintf(stderr, "zmq_proxy: unknown device %s\n", argv[1]); return 2; }

    /* Many peers (the 10k idle peers case) need many descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

    void *ctx = zmq_ctx_new();
    void *f = zmq_socket(ctx, ft), *b = zmq_socket(ctx, bt);
    const char *secret = getenv("ZMQ_PROXY_CURVE_SECRET");
    if (secret) {
        int one = 1;
        void *both[2] = {f, b};
        for (int i = 0; i < 2; i++)
            if (zmq_setsockopt(both[i], ZMQ_CURVE_SERVER, &one, sizeof one) != 0
                || zmq_setsockopt(both[i], ZMQ_CURVE_SECRETKEY, secret, 40) != 0) {
                fprintf(stderr, "zmq_proxy: CURVE: %s\n", zmq_strerror(zmq_errno()));
                return 1;
            }
    }
    if (zmq_bind(f, ep(argv[2])) != 0 || zmq_bind(b, ep(argv[3])) != 0) {
        fprintf(stderr, "zmq_proxy: bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    zmq_proxy(f, b, NULL);
    fprintf(stderr, "zmq_proxy: %s\n", zmq_strerror(zmq_errno()));
    return 1;
}
