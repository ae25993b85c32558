/* zcommon.h: what the libzmq load generators of tools/bench share (bench/zload.c,
 * bench/zsubs.c, bench/zflow.c): the clock, line output, sockets with default options, a
 * constant payload, and the measuring window of a consumer (wait for the first message, print
 * FIRST, warm up, print START, count, print "END key=value ..."). Static inline, so a program
 * that uses only some of it builds without warnings. */
#ifndef ZCOMMON_H
#define ZCOMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAXSECS 120.0 /* a producer never outlives this, even if nobody kills it */
#define STALL 10.0    /* a consumer that sees nothing for this long gives up */

static void *ctx;

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

__attribute__((noreturn)) static inline void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
            zmq_strerror(zmq_errno()));
    say("END error=1");
    exit(1);
}

static inline void setint(void *s, int opt, int v)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
        die("setsockopt");
}

/* ZLOAD_CURVE_SERVER=Z85: every socket is a CURVE client of the server with this public key,
 * with a key pair of its own (made once per process: the handshakes, not key generation, are
 * what the CURVE cases measure). */
static inline void curve_client(void *s)
{
    static char pub[41], sec[41];
    const char *server = getenv("ZLOAD_CURVE_SERVER");
    if (!server)
        return;
    if (!pub[0] && zmq_curve_keypair(pub, sec) != 0)
        die("zmq_curve_keypair");
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40) != 0
        || zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0
        || zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0)
        die("CURVE keys");
}

static inline void *sock(int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        die("socket");
    setint(s, ZMQ_LINGER, 0);
    curve_client(s);
    return s;
}

static inline void attach(void *s, const char *ep)
{
    if (ep[0] == '@' ? zmq_bind(s, ep + 1) : zmq_connect(s, ep))
        die(ep);
}

static inline char *payload(size_t size)
{
    char *b = malloc(size ? size : 1);
    if (!b) { perror("malloc"); exit(1); }
    for (size_t i = 0; i < size; i++)
        b[i] = (char)('a' + i % 26);
    return b;
}

/* Send a constant buffer: above libzmq's inline size, a constant message (no free function)
 * is zero-copy and allocation-free, so the generator spends nothing on copying 64 KiB. */
static inline int send_const(void *s, const char *buf, size_t size, int flags)
{
    if (size <= 32)
        return zmq_send(s, buf, size, flags);
    zmq_msg_t m;
    zmq_msg_init_data(&m, (void *)buf, size, NULL, NULL);
    int rc = zmq_msg_send(&m, s, flags);
    if (rc < 0)
        zmq_msg_close(&m);
    return rc;
}

/* ---- the measuring window shared by all consumers ---- */
typedef struct {
    double warm, secs, t_first, t_start, t_last_rx, t_end;
    int phase; /* 0 waiting for the first message, 1 warming up, 2 counting, 3 done */
    uint64_t n, bytes, ticks;
} win_t;

static inline void win_init(win_t *w, double warm, double secs)
{
    memset(w, 0, sizeof *w);
    w->warm = warm;
    w->secs = secs;
    w->t_last_rx = now();
}

/* Check the clock and advance the phase; returns 1 when the window is over. */
static inline int win_check(win_t *w, double t)
{
    if (w->phase == 1 && t - w->t_first >= w->warm) {
        w->phase = 2;
        w->n = w->bytes = 0;
        w->t_start = now();
        say("START");
    } else if (w->phase == 2 && t - w->t_start >= w->secs) {
        w->t_end = t;
        w->phase = 3;
        return 1;
    }
    return 0;
}

/* Account for one received message; checks the clock every 64 messages (or every message
 * when they are big). Returns 1 when the window is over. */
static inline int win_msg(win_t *w, size_t bytes, int check_every)
{
    if (w->phase == 0) {
        w->phase = 1;
        w->t_first = w->t_last_rx = now();
        say("FIRST");
        return 0;
    }
    if (w->phase == 2) {
        w->n++;
        w->bytes += bytes;
    }
    if (++w->ticks % check_every == 0) {
        double t = now();
        w->t_last_rx = t;
        return win_check(w, t);
    }
    return 0;
}

/* Nothing arrived for a while (a receive timeout): is the window over, or are we stalled? */
static inline int win_idle(win_t *w)
{
    double t = now();
    if (w->phase >= 1 && win_check(w, t))
        return 1;
    if (t - w->t_last_rx > STALL) {
        say("END stalled=1 phase=%d msgs=%llu", w->phase, (unsigned long long)w->n);
        exit(3);
    }
    return 0;
}

static inline void win_report(win_t *w, const char *extra)
{
    double secs = w->t_end - w->t_start;
    say("END msgs=%llu bytes=%llu secs=%.6f rate=%.1f%s%s", (unsigned long long)w->n,
        (unsigned long long)w->bytes, secs, w->n / secs, extra ? " " : "", extra ? extra : "");
}

static inline int recv_retry(zmq_msg_t *m, void *s, win_t *w)
{
    for (;;) {
        int rc = zmq_msg_recv(m, s, 0);
        if (rc >= 0)
            return rc;
        if (zmq_errno() == EAGAIN) {
            if (w && win_idle(w))
                return -2;
            continue;
        }
        if (zmq_errno() == EINTR)
            continue;
        die("recv");
    }
}

/* Topic number T of N as the load generators spell it: "t" and T in as many decimal digits
 * as N - 1 has ("t0".."t9" for 10 topics, "t000".."t999" for 1,000), so that no topic is a
 * prefix of another. OUT holds 16 bytes; returns the length written. */
static inline int topic_name(char *out, unsigned t, unsigned n)
{
    int width = 1;
    for (unsigned m = n > 0 ? n - 1 : 0; m >= 10; m /= 10)
        width++;
    int len = snprintf(out, 16, "t%0*u", width, t);
    return len < 16 ? len : 15;
}

static inline int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

#endif
