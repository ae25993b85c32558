/* zsubs: subscription-table load for tools/bench's forwarder cases, on Debian's libzmq. An
 * endpoint with a leading '@' binds (the direct runs), anything else connects.
 *
 * The topic grid: NSUB SUB sockets, NTOPICS topics spelt as zload pub spells them ("t000" ..
 * "t999" for 1,000: topic_name in zcommon.h), each socket subscribed to PER of them and every
 * topic held by K = NSUB * PER / NTOPICS sockets. With G = NTOPICS / PER, socket i = (a, b) =
 * (i % G, i / G) takes topic t = G * q + r exactly when r == (a + b * q) % G: one topic in every
 * G consecutive ones (the publisher's round robin reaches every socket evenly), a different set
 * on every socket, K = NSUB / G sockets per topic. NTOPICS must be a multiple of PER and NSUB a
 * multiple of G. With NSUB * PER == NTOPICS (K = 1) every subscription is a topic of its own.
 * Every SUB socket has SNDHWM 0 (no limit): libzmq drops a subscription that finds its pipe
 * full, which a socket with more subscriptions than the default HWM of 1,000 would.
 *
 *   zsubs subs EP NSUB NTOPICS PER WARM SECS
 *       the grid, counting every delivered message: FIRST once every socket has received one
 *       (all subscriptions have arrived), then zload's window (START, "END msgs=.. rate=..
 *       missing=M per_min=.. per_max=.."; M: sockets that had received nothing after 10 s)
 *   zsubs hold EP NSUB NTOPICS PER PROBE
 *       prints "CONNECTING t=T", connects the sockets, subscribes each to its PER topics and then
 *       to PROBE; a socket that receives a PROBE message unsubscribes from it again. A broker
 *       handles one connection's subscriptions in order, so once every socket has received
 *       one it holds them all: prints "ADDED t=T" (T: when the last socket got its first). On
 *       a line on stdin prints "CLOSING t=T", closes every socket (the subscribers leave),
 *       prints "CLOSED t=T" and exits.
 *   zsubs upstream EP
 *       an XPUB (a publisher, as a broker's upstream) that reads what the broker sends it and
 *       counts subscriptions and cancels of topics starting with 't'; on each line on stdin
 *       prints "COUNT subs=N cancels=M t_sub=T t_cancel=T" (T: when the last of each came).
 *
 * Times are CLOCK_MONOTONIC seconds, comparable between processes.
 * Build: cc -O2 -o zsubs zsubs.c -lzmq (with zcommon.h beside it) */
#include "zcommon.h"
#include <unistd.h>

/* The sockets of the grid, subscribed (subscribe_first) or not yet, stdin polled last. */
typedef struct {
    int nsub, ntopics, per;
    zmq_pollitem_t *it; /* nsub sockets, then stdin */
} grid_t;

static void grid_subscribe(grid_t *g, int i)
{
    int G = g->ntopics / g->per, a = i % G, b = i / G;
    char name[16];
    for (int q = 0; q < g->per; q++) {
        int t = G * q + (a + b * q) % G;
        if (zmq_setsockopt(g->it[i].socket, ZMQ_SUBSCRIBE, name,
                           topic_name(name, t, g->ntopics)) != 0)
            die("subscribe");
    }
}

static void grid_open(grid_t *g, char **a, int subscribe_first)
{
    g->nsub = atoi(a[1]), g->ntopics = atoi(a[2]), g->per = atoi(a[3]);
    if (g->nsub < 1 || g->per < 1 || g->ntopics < g->per || g->ntopics % g->per ||
        g->nsub % (g->ntopics / g->per) || g->ntopics > 10000000) {
        fprintf(stderr, "zsubs: NTOPICS must be a multiple of PER, NSUB of NTOPICS / PER\n");
        exit(2);
    }
    g->it = calloc(g->nsub + 1, sizeof *g->it);
    for (int i = 0; i < g->nsub; i++) {
        g->it[i].socket = sock(ZMQ_SUB);
        g->it[i].events = ZMQ_POLLIN;
        setint(g->it[i].socket, ZMQ_SNDHWM, 0);
        if (subscribe_first)
            grid_subscribe(g, i);
        attach(g->it[i].socket, a[0]);
    }
    g->it[g->nsub].fd = 0;
    g->it[g->nsub].events = ZMQ_POLLIN;
}

static int cmd_subs(char **a)
{
    grid_t g;
    grid_open(&g, a, 1);
    win_t w;
    win_init(&w, atof(a[4]), atof(a[5]));
    uint64_t *per = calloc(g.nsub, sizeof *per);
    char *got = calloc(g.nsub, 1);
    int have = 0, missing = 0, n = g.nsub;
    double t_begin = now();
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int rc = zmq_poll(g.it, n, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            die("poll");
        double t = now();
        if (rc > 0) {
            w.t_last_rx = t;
            for (int i = 0; i < n; i++) {
                if (!(g.it[i].revents & ZMQ_POLLIN))
                    continue;
                for (int k = 0; k < 1024; k++) {
                    int r = zmq_msg_recv(&m, g.it[i].socket, ZMQ_DONTWAIT);
                    if (r < 0)
                        break;
                    if (!got[i])
                        got[i] = 1, have++;
                    if (w.phase == 2)
                        per[i]++, w.n++, w.bytes += r;
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
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < n; i++)
        lo = per[i] < lo ? per[i] : lo, hi = per[i] > hi ? per[i] : hi;
    char extra[128];
    snprintf(extra, sizeof extra, "missing=%d per_min=%llu per_max=%llu", missing,
             (unsigned long long)lo, (unsigned long long)hi);
    win_report(&w, extra);
    return 0;
}

/* One line from stdin (or end of input): the caller's signal to go on. */
static int stdin_line(void)
{
    char c;
    ssize_t r;
    while ((r = read(0, &c, 1)) == 1)
        if (c == '\n')
            return 1;
    return 0;
}

static int cmd_hold(char **a)
{
    const char *probe = a[4];
    grid_t g;
    say("CONNECTING t=%.6f", now());
    grid_open(&g, a, 0);
    /* After connecting: what a SUB socket sends goes out in the order it was given. */
    for (int i = 0; i < g.nsub; i++) {
        grid_subscribe(&g, i);
        if (zmq_setsockopt(g.it[i].socket, ZMQ_SUBSCRIBE, probe, strlen(probe)) != 0)
            die("subscribe");
    }
    char *got = calloc(g.nsub, 1);
    int have = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_poll(g.it, g.nsub + 1, -1) < 0 && zmq_errno() != EINTR)
            die("poll");
        for (int i = 0; i < g.nsub; i++) {
            if (!(g.it[i].revents & ZMQ_POLLIN))
                continue;
            while (zmq_msg_recv(&m, g.it[i].socket, ZMQ_DONTWAIT) >= 0) {
                if (got[i])
                    continue;
                got[i] = 1;
                if (zmq_setsockopt(g.it[i].socket, ZMQ_UNSUBSCRIBE, probe, strlen(probe)))
                    die("unsubscribe");
                if (++have == g.nsub)
                    say("ADDED t=%.6f", now());
            }
        }
        if (g.it[g.nsub].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            break;
    }
    stdin_line();
    say("CLOSING t=%.6f", now());
    for (int i = 0; i < g.nsub; i++)
        zmq_close(g.it[i].socket);
    zmq_ctx_term(ctx);
    say("CLOSED t=%.6f", now());
    return 0;
}

static int cmd_upstream(char **a)
{
    void *s = sock(ZMQ_XPUB);
    setint(s, ZMQ_RCVHWM, 0);
    attach(s, a[0]);
    zmq_pollitem_t it[2] = {{s, 0, ZMQ_POLLIN, 0}, {NULL, 0, ZMQ_POLLIN, 0}};
    uint64_t subs = 0, cancels = 0;
    double t_sub = 0, t_cancel = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_poll(it, 2, -1) < 0 && zmq_errno() != EINTR)
            die("poll");
        int r;
        while ((r = zmq_msg_recv(&m, s, ZMQ_DONTWAIT)) >= 0) {
            const char *d = zmq_msg_data(&m);
            if (r < 2 || d[1] != 't')
                continue;
            if (d[0] == 1)
                subs++, t_sub = now();
            else if (d[0] == 0)
                cancels++, t_cancel = now();
        }
        if (it[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
            if (!stdin_line())
                return 0;
            say("COUNT subs=%llu cancels=%llu t_sub=%.6f t_cancel=%.6f",
                (unsigned long long)subs, (unsigned long long)cancels, t_sub, t_cancel);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int nargs; int (*fn)(char **); } roles[] = {
        {"subs", 6, cmd_subs}, {"hold", 5, cmd_hold}, {"upstream", 1, cmd_upstream},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; argc >= 2 && i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(argv[1], roles[i].name))
            continue;
        if (argc - 2 != roles[i].nargs) {
            fprintf(stderr, "zsubs %s: expected %d arguments (see the head of bench/zsubs.c)\n",
                    argv[1], roles[i].nargs);
            return 2;
        }
        ctx = zmq_ctx_new();
        return roles[i].fn(argv + 2);
    }
    fprintf(stderr, "usage: zsubs subs|hold|upstream ... (see the head of bench/zsubs.c)\n");
    return 2;
}
