/* zload: the native load generator of tools/bench, one binary with one role per process, on
 * Debian's libzmq with default socket options. Every role takes its endpoint as ZeroMQ does;
 * a leading '@' binds (the "direct" runs, no broker), anything else connects.
 *
 * Producers run until killed (or MAXSECS). Consumers measure: they wait for the first message
 * (so connections and subscriptions are in place), print FIRST, warm up for WARM seconds, print
 * START, count for SECS seconds and print "END key=value ..." and exit. tools/bench samples the
 * broker's /proc counters when it reads START and END.
 *
 *   zload push   EP SIZE                      PUSH SIZE-byte messages, as fast as they go
 *   zload pull   EP SIZE WARM SECS            PULL and count
 *   zload req    EP SIZE WARM SECS            REQ lockstep round trips: p50/p99 latency
 *   zload rep    EP                           REP echo worker
 *   zload dealer EP SIZE WINDOW WARM SECS     DEALER client, WINDOW requests outstanding
 *   zload echo   EP                           DEALER echo worker (sends back every frame)
 *   zload pub    EP NSOCK SIZE NTOPICS        NSOCK publishers (XPUB with XPUB_NODROP, so a
 *                                             full pipe pushes back instead of burning CPU on
 *                                             drops), topics "t0".."t{NTOPICS-1}" in turn
 *                                             (NTOPICS up to 10,000; above 10 the numbers are
 *                                             zero-padded, "t000".."t999", see topic_name);
 *                                             on SIGUSR1 prints "SENT n=COUNT t=SECONDS" (the
 *                                             messages sent so far, CLOCK_MONOTONIC); with
 *                                             ZLOAD_RATE=N set, at most N messages a second
 *   zload sub    EP FILTERS WARM SECS         one SUB socket per comma-separated filter
 *                                             ("all" = every message), counts all delivered
 *   zload big    DEVICE FE BE SIZE            one SIZE-byte message through a broker device;
 *                                             prints READY, waits for a line on stdin, sends,
 *                                             prints DONE
 *
 * Build: cc -O2 -o zload zload.c -lzmq (with zcommon.h beside it) */
#include "zcommon.h"
#include <unistd.h>

/* Set by SIGUSR1: a producer that counts reports its count at its next send. */
static volatile sig_atomic_t count_asked;

static void on_usr1(int sig)
{
    (void)sig;
    count_asked = 1;
}

/* ---- roles ---- */

static int cmd_push(char **a)
{
    size_t size = strtoul(a[1], 0, 10);
    void *s = sock(ZMQ_PUSH);
    attach(s, a[0]);
    char *buf = payload(size);
    double t0 = now();
    for (uint64_t i = 0;; i++) {
        if (send_const(s, buf, size, 0) < 0 && zmq_errno() != EINTR)
            die("send");
        if ((i & 4095) == 0 && now() - t0 > MAXSECS)
            return 0;
    }
}

static int cmd_pull(char **a)
{
    size_t size = strtoul(a[1], 0, 10);
    win_t w;
    win_init(&w, atof(a[2]), atof(a[3]));
    void *s = sock(ZMQ_PULL);
    setint(s, ZMQ_RCVTIMEO, 100);
    attach(s, a[0]);
    int every = size >= 4096 ? 1 : 64;
    uint64_t bad = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int rc = recv_retry(&m, s, &w);
        if (rc == -2)
            break;
        if ((size_t)rc != size)
            bad++;
        if (win_msg(&w, rc, every))
            break;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "bad=%llu", (unsigned long long)bad);
    win_report(&w, extra);
    return 0;
}


static int cmd_req(char **a)
{
    size_t size = strtoul(a[1], 0, 10);
    win_t w;
    win_init(&w, atof(a[2]), atof(a[3]));
    void *s = sock(ZMQ_REQ);
    setint(s, ZMQ_RCVTIMEO, 100);
    attach(s, a[0]);
    char *buf = payload(size);
    size_t cap = 1 << 20, n = 0;
    double *rtt = malloc(cap * sizeof *rtt);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        double t1 = now();
        if (send_const(s, buf, size, 0) < 0)
            die("send");
        int rc = recv_retry(&m, s, &w);
        if (rc == -2)
            break;
        double t2 = now();
        if (w.phase == 2) {
            if (n == cap)
                rtt = realloc(rtt, (cap *= 2) * sizeof *rtt);
            rtt[n++] = t2 - t1;
        }
        if (win_msg(&w, rc, 1))
            break;
    }
    if (n == 0) {
        say("END msgs=0");
        return 3;
    }
    qsort(rtt, n, sizeof *rtt, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += rtt[i];
    char extra[256];
    snprintf(extra, sizeof extra, "p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f mean_us=%.2f",
             rtt[n / 2] * 1e6, rtt[(size_t)(n * 0.99)] * 1e6, rtt[(size_t)(n * 0.999)] * 1e6,
             rtt[n - 1] * 1e6, sum / n * 1e6);
    win_report(&w, extra);
    return 0;
}

static int cmd_rep(char **a)
{
    void *s = sock(ZMQ_REP);
    attach(s, a[0]);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_msg_recv(&m, s, 0) < 0)
            die("recv");
        if (zmq_msg_send(&m, s, 0) < 0)
            die("send");
    }
}

static int cmd_dealer(char **a)
{
    size_t size = strtoul(a[1], 0, 10);
    int window = atoi(a[2]);
    win_t w;
    win_init(&w, atof(a[3]), atof(a[4]));
    void *s = sock(ZMQ_DEALER);
    setint(s, ZMQ_RCVTIMEO, 100);
    attach(s, a[0]);
    char *buf = payload(size);
    /* REQ's envelope (an empty delimiter, then the body), so any worker understands it. */
    for (int i = 0; i < window; i++)
        if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 || send_const(s, buf, size, 0) < 0)
            die("send");
    zmq_msg_t m;
    zmq_msg_init(&m);
    uint64_t bad = 0;
    for (;;) {
        size_t frames = 0, last = 0;
        int more, rc;
        do {
            rc = recv_retry(&m, s, &w);
            if (rc == -2)
                goto done;
            frames++;
            last = rc;
            more = zmq_msg_more(&m);
        } while (more);
        if (frames != 2 || last != size)
            bad++;
        if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 || send_const(s, buf, size, 0) < 0)
            die("send");
        if (win_msg(&w, last, 64))
            break;
    }
done:;
    char extra[64];
    snprintf(extra, sizeof extra, "bad=%llu", (unsigned long long)bad);
    win_report(&w, extra);
    return 0;
}

static int cmd_echo(char **a)
{
    void *s = sock(ZMQ_DEALER);
    attach(s, a[0]);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_msg_recv(&m, s, 0) < 0)
            die("recv");
        int more = zmq_msg_more(&m);
        if (zmq_msg_send(&m, s, more ? ZMQ_SNDMORE : 0) < 0)
            die("send");
    }
}

static int cmd_pub(char **a)
{
    int nsock = atoi(a[1]), ntopics = atoi(a[3]);
    size_t size = strtoul(a[2], 0, 10);
    if (ntopics < 1 || ntopics > 10000 || nsock < 1 || nsock > 64 || size < 8) {
        fprintf(stderr, "zload pub: bad arguments\n");
        return 2;
    }
    void *s[64];
    char **bufs = malloc(ntopics * sizeof *bufs);
    for (int i = 0; i < nsock; i++) {
        s[i] = sock(ZMQ_XPUB);
        setint(s[i], ZMQ_XPUB_NODROP, 1);
        attach(s[i], a[0]);
    }
    for (int t = 0; t < ntopics; t++) {
        char name[16];
        bufs[t] = payload(size);
        memcpy(bufs[t], name, topic_name(name, t, ntopics));
    }
    /* No SA_RESTART: a send blocked on a full pipe returns EINTR and the count goes out. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    double t0 = now();
    uint64_t sent = 0;
    /* ZLOAD_RATE=N: at most N messages a second in all (paced every 256 messages), for a
     * load every broker carries whole; unset, as fast as they go. */
    const char *rate_env = getenv("ZLOAD_RATE");
    double rate = rate_env ? atof(rate_env) : 0;
    for (uint64_t c = 0;; c++) {
        if (rate > 0 && (sent & 255) == 0) {
            double ahead = (double)sent / rate - (now() - t0);
            if (ahead > 0)
                usleep((useconds_t)(ahead * 1e6));
        }
        void *x = s[sent % nsock];
        if (send_const(x, bufs[(sent / nsock) % ntopics], size, 0) >= 0)
            sent++;
        else if (zmq_errno() != EINTR)
            die("send");
        if (count_asked) {
            count_asked = 0;
            say("SENT n=%llu t=%.6f", (unsigned long long)sent, now());
        }
        if ((c & 4095) == 0 && now() - t0 > MAXSECS)
            return 0;
    }
}

static int cmd_sub(char **a)
{
    char *filters = strdup(a[1]);
    win_t w;
    win_init(&w, atof(a[2]), atof(a[3]));
    zmq_pollitem_t it[64];
    uint64_t per[64] = {0};
    int got[64] = {0};
    int n = 0;
    for (char *f = strtok(filters, ","); f && n < 64; f = strtok(NULL, ","), n++) {
        const char *filt = strcmp(f, "all") ? f : "";
        it[n].socket = sock(ZMQ_SUB);
        it[n].events = ZMQ_POLLIN;
        it[n].fd = 0;
        if (zmq_setsockopt(it[n].socket, ZMQ_SUBSCRIBE, filt, strlen(filt)) != 0)
            die("subscribe");
        attach(it[n].socket, a[0]);
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    int have = 0, missing = 0;
    double t_begin = now();
    for (;;) {
        int rc = zmq_poll(it, n, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            die("poll");
        double t = now();
        if (rc > 0) {
            w.t_last_rx = t;
            for (int i = 0; i < n; i++) {
                if (!(it[i].revents & ZMQ_POLLIN))
                    continue;
                for (int k = 0; k < 1024; k++) {
                    int r = zmq_msg_recv(&m, it[i].socket, ZMQ_DONTWAIT);
                    if (r < 0)
                        break;
                    if (!got[i]) {
                        got[i] = 1;
                        have++;
                    }
                    if (w.phase == 2) {
                        per[i]++;
                        w.n++;
                        w.bytes += r;
                    }
                }
            }
        }
        if (w.phase == 0) {
            /* Measure only once every subscriber receives: subscriptions have travelled. */
            if (have == n || (have > 0 && t - t_begin > STALL)) {
                missing = n - have;
                w.phase = 1;
                w.t_first = t;
                say("FIRST");
            } else if (t - t_begin > 2 * STALL) {
                say("END stalled=1 phase=0 msgs=0");
                return 3;
            }
        } else if (win_check(&w, t)) {
            break;
        } else if (t - w.t_last_rx > STALL) {
            say("END stalled=1 phase=%d msgs=%llu", w.phase, (unsigned long long)w.n);
            return 3;
        }
    }
    char extra[1024];
    int off = snprintf(extra, sizeof extra, "missing=%d per=", missing);
    for (int i = 0; i < n && off < (int)sizeof extra - 24; i++)
        off += snprintf(extra + off, sizeof extra - off, "%s%llu", i ? "/" : "",
                        (unsigned long long)per[i]);
    win_report(&w, extra);
    return 0;
}

/* One big message through a broker device; both ends live in this process. */
static int cmd_big(char **a)
{
    const char *dev = a[0];
    size_t size = strtoull(a[3], 0, 10);
    void *in, *out; /* the message goes in at the frontend and out at the backend */
    int queue = !strcmp(dev, "queue"), fwd = !strcmp(dev, "forwarder");
    if (!strcmp(dev, "streamer")) {
        in = sock(ZMQ_PUSH);
        out = sock(ZMQ_PULL);
    } else if (queue) {
        in = sock(ZMQ_REQ);
        out = sock(ZMQ_REP);
    } else if (fwd) {
        in = sock(ZMQ_XPUB);
        setint(in, ZMQ_XPUB_NODROP, 1);
        out = sock(ZMQ_SUB);
        zmq_setsockopt(out, ZMQ_SUBSCRIBE, "", 0);
    } else {
        fprintf(stderr, "zload big: unknown device %s\n", dev);
        return 2;
    }
    setint(out, ZMQ_RCVTIMEO, 30000);
    setint(in, ZMQ_RCVTIMEO, 30000);
    /* The receiving end first, so no broker sees the message with nowhere to send it. */
    attach(out, a[2]);
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    attach(in, a[1]);
    zmq_msg_t m;
    zmq_msg_init(&m);
    /* A small message first: connections (and the subscription) are in place. */
    if (fwd) {
        int r = -1;
        setint(out, ZMQ_RCVTIMEO, 50);
        for (int i = 0; i < 400 && r < 0; i++) {
            zmq_send(in, "w", 1, 0);
            r = zmq_msg_recv(&m, out, 0);
        }
        if (r < 0)
            die("warm-up");
        setint(out, ZMQ_RCVTIMEO, 50); /* drain the other warm-up messages */
        while (zmq_msg_recv(&m, out, 0) >= 0)
            ;
        setint(out, ZMQ_RCVTIMEO, 30000);
    } else {
        if (zmq_send(in, "w", 1, 0) < 0 || zmq_msg_recv(&m, out, 0) < 0)
            die("warm-up");
        if (queue && (zmq_msg_send(&m, out, 0) < 0 || zmq_msg_recv(&m, in, 0) < 0))
            die("warm-up reply");
    }
    say("READY");
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    char *buf = payload(size);
    double t0 = now();
    if (send_const(in, buf, size, 0) < 0)
        die("send big");
    int rc;
    do {
        rc = zmq_msg_recv(&m, out, 0);
        if (rc < 0)
            die("recv big");
    } while (fwd && (size_t)rc != size);
    int ok = (size_t)rc == size && !memcmp(zmq_msg_data(&m), buf, size);
    if (queue) { /* and the reply, the same 64 MiB, back through the broker */
        if (zmq_msg_send(&m, out, 0) < 0)
            die("send big reply");
        rc = zmq_msg_recv(&m, in, 0);
        if (rc < 0)
            die("recv big reply");
        ok = ok && (size_t)rc == size && !memcmp(zmq_msg_data(&m), buf, size);
    }
    say("DONE ok=%d secs=%.3f", ok, now() - t0);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int nargs; int (*fn)(char **); } roles[] = {
        {"push", 2, cmd_push}, {"pull", 4, cmd_pull}, {"req", 4, cmd_req},
        {"rep", 1, cmd_rep},   {"dealer", 5, cmd_dealer}, {"echo", 1, cmd_echo},
        {"pub", 4, cmd_pub},   {"sub", 4, cmd_sub},   {"big", 4, cmd_big},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; argc >= 2 && i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(argv[1], roles[i].name))
            continue;
        if (argc - 2 != roles[i].nargs) {
            fprintf(stderr, "zload %s: expected %d arguments (see the head of bench/zload.c)\n",
                    argv[1], roles[i].nargs);
            return 2;
        }
        ctx = zmq_ctx_new();
        return roles[i].fn(argv + 2);
    }
    fprintf(stderr, "usage: zload push|pull|req|rep|dealer|echo|pub|sub|big ... "
                    "(see the head of bench/zload.c)\n");
    return 2;
}
