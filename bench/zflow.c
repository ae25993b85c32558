/* zflow: a timed flow and a slow sender, for tools/bench's isolation cases (forwarder).
 *
 * Both publish through a plain TCP socket that speaks ZMTP 3.1 itself (NULL mechanism, READY
 * with Socket-Type PUB, then frames), not through libzmq: libzmq writes a message only whole,
 * so it cannot be a slow writer, and a raw publisher also spends nothing on the subscriptions
 * a broker passes upstream (it reads and discards them), so a table of 100,000 of them does
 * not slow the flow's own sending. The subscriber is a libzmq SUB.
 *
 *   zflow lat FE BE RATE
 *       the timed flow: a SUB on the broker's backend subscribed to "L" and "B", and a raw
 *       publisher on its frontend sending RATE 17-byte messages a second ('L', a sequence
 *       number, the send time). Prints FIRST at the first message back. Commands on stdin:
 *       "mark NAME" prints "MARK name=NAME n=N p50_us= p99_us= max_us= gaps=G" for the
 *       messages received since the previous mark (G: sequence numbers skipped, lost or
 *       reordered) and starts a new window; "end" stops sending, waits up to 2 s for what is
 *       still on the way, prints a last MARK (name=tail) and "END sent=S received=R lost=L
 *       big=B big_bytes=N big_ok=K tail=T" (counted from the first message received; B
 *       messages starting with 'B' arrived, the last N bytes long, K of them intact; T of the
 *       lost ones were sent after the last that arrived) and exits.
 *   zflow slow FE SIZE RATE
 *       one SIZE-byte message ('B', then zload's payload bytes) written at RATE bytes a
 *       second by a raw publisher: prints READY after the handshake, waits for a line on
 *       stdin, writes the frame header and then RATE / 100 bytes every 10 ms, prints
 *       "SENT secs=T" after the last byte and stays connected until its stdin ends.
 *
 * Build: cc -O2 -o zflow zflow.c -lzmq (with zcommon.h beside it) */
#include "zcommon.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define LAT_SIZE 17 /* 'L', sequence number, send time */

__attribute__((noreturn)) static void fail(const char *what)
{
    perror(what);
    say("END error=1");
    exit(1);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("zflow: write");
        p += w, len -= w;
    }
}

static void read_all(int fd, unsigned char *buf, size_t len)
{
    while (len) {
        ssize_t r = read(fd, buf, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            fail("zflow: handshake read");
        buf += r, len -= r;
    }
}

/* A raw ZMTP 3.1 PUB peer connected to tcp://HOST:PORT, its handshake done (the broker's
 * greeting and READY read). */
static int raw_pub(const char *ep)
{
    char host[64];
    int port;
    if (sscanf(ep, "tcp://%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "zflow: endpoint %s: want tcp://HOST:PORT\n", ep);
        exit(2);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "zflow: bad address %s\n", host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct timeval tv = {5, 0};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fail("zflow: connect");
    static const unsigned char ready[] = {
        0x04, 25, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-',
        'T', 'y', 'p', 'e', 0, 0, 0, 3, 'P', 'U', 'B'};
    unsigned char hello[64 + sizeof ready] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1,
                                              'N', 'U', 'L', 'L'};
    memcpy(hello + 64, ready, sizeof ready);
    write_all(fd, hello, sizeof hello);
    /* The broker's greeting, then its first command, which must be READY. */
    unsigned char buf[64 + 9 + 512];
    read_all(fd, buf, 64 + 2);
    size_t hdr = 2, size = buf[65];
    if (buf[0] != 0xff || buf[9] != 0x7f || !(buf[64] & 0x04)) {
        fprintf(stderr, "zflow: %s: not a ZMTP 3 peer\n", ep);
        exit(1);
    }
    if (buf[64] & 0x02) { /* long command */
        read_all(fd, buf + 66, 7);
        hdr = 9, size = 0;
        for (int i = 1; i < 9; i++)
            size = size << 8 | buf[64 + i];
    }
    if (size > sizeof buf - 64 - hdr)
        fail("zflow: handshake too long");
    read_all(fd, buf + 64 + hdr, size);
    if (size < 6 || memcmp(buf + 64 + hdr, "\x05READY", 6)) {
        fprintf(stderr, "zflow: %s: the broker did not send READY\n", ep);
        exit(1);
    }
    return fd;
}

/* ---- lat: the timed flow ---- */

typedef struct {
    double *v;
    size_t n, cap;
    uint64_t gaps;
} window_t;

static void window_mark(window_t *w, const char *name)
{
    double p50 = 0, p99 = 0, mx = 0;
    if (w->n) {
        qsort(w->v, w->n, sizeof *w->v, cmp_double);
        p50 = w->v[w->n / 2], p99 = w->v[(size_t)(w->n * 0.99)], mx = w->v[w->n - 1];
    }
    say("MARK name=%s n=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f gaps=%llu", name, w->n,
        p50 * 1e6, p99 * 1e6, mx * 1e6, (unsigned long long)w->gaps);
    w->n = 0, w->gaps = 0;
}

static int cmd_lat(char **a)
{
    double period = 1.0 / atof(a[2]);
    void *sub = sock(ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "L", 1);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "B", 1);
    attach(sub, a[1]);
    int fd = raw_pub(a[0]);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    static char out[1 << 16], junk[1 << 16], line[256];
    size_t out_len = 0, line_len = 0;
    window_t w = {malloc(1024 * sizeof(double)), 0, 1024, 0};
    uint64_t seq = 0, first = 0, expect = 0, received = 0, big = 0, big_ok = 0;
    size_t big_bytes = 0;
    int started = 0, sending = 1;
    double t_next = now(), t_stop = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        double t = now();
        if (sending && t >= t_next) {
            if (t - t_next > 100 * period) /* far behind (a stall): no burst to catch up */
                t_next = t;
            t_next += period;
            if (out_len + 2 + LAT_SIZE <= sizeof out) { /* else the broker is not reading */
                char *f = out + out_len;
                f[0] = 0, f[1] = LAT_SIZE, f[2] = 'L';
                memcpy(f + 3, &seq, 8);
                memcpy(f + 11, &t, 8);
                out_len += 2 + LAT_SIZE;
                seq++;
            }
        }
        if (out_len) {
            ssize_t wr = write(fd, out, out_len);
            if (wr > 0)
                memmove(out, out + wr, out_len - wr), out_len -= wr;
            else if (wr < 0 && errno != EAGAIN && errno != EINTR)
                fail("zflow: write");
        }
        if (!sending && (expect >= seq || now() > t_stop))
            break;
        zmq_pollitem_t it[3] = {{sub, 0, ZMQ_POLLIN, 0},
                                {NULL, fd, ZMQ_POLLIN | (out_len ? ZMQ_POLLOUT : 0), 0},
                                {NULL, 0, sending ? ZMQ_POLLIN : 0, 0}};
        double wait = sending ? t_next - now() : 0.01;
        long ms = wait > 0 ? (long)(wait * 1000) + 1 : 0;
        if (zmq_poll(it, 3, ms) < 0 && zmq_errno() != EINTR)
            die("poll");
        int r;
        while ((r = zmq_msg_recv(&m, sub, ZMQ_DONTWAIT)) >= 0) {
            const char *d = zmq_msg_data(&m);
            double t_rx = now();
            if (r == LAT_SIZE && d[0] == 'L') {
                uint64_t s;
                double t_tx;
                memcpy(&s, d + 1, 8);
                memcpy(&t_tx, d + 9, 8);
                if (!started) {
                    started = 1, first = s, expect = s;
                    say("FIRST");
                }
                if (s != expect)
                    w.gaps += s > expect ? s - expect : 1;
                expect = s >= expect ? s + 1 : expect;
                received++;
                if (w.n == w.cap)
                    w.v = realloc(w.v, (w.cap *= 2) * sizeof *w.v);
                w.v[w.n++] = t_rx - t_tx;
            } else if (r > 0 && d[0] == 'B') {
                int ok = 1;
                for (int i = 1; i < r && ok; i++)
                    ok = d[i] == (char)('a' + i % 26);
                big++, big_ok += ok, big_bytes = r;
            }
        }
        while (read(fd, junk, sizeof junk) > 0) /* subscriptions: not ours to keep */
            ;
        if (it[2].revents & ZMQ_POLLIN) {
            ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
            if (n <= 0) /* stdin gone: leave as at "end" */
                memcpy(line, "end\n", 4), n = 4, line_len = 0;
            line_len += n;
            char *nl;
            while ((nl = memchr(line, '\n', line_len))) {
                *nl = 0;
                if (!strncmp(line, "mark ", 5)) {
                    window_mark(&w, line + 5);
                } else if (!strcmp(line, "end")) {
                    sending = 0;
                    t_stop = now() + 2.0;
                }
                line_len -= nl + 1 - line;
                memmove(line, nl + 1, line_len);
            }
        }
    }
    window_mark(&w, "tail");
    uint64_t sent = started ? seq - first : 0;
    say("END sent=%llu received=%llu lost=%llu big=%llu big_bytes=%zu big_ok=%llu tail=%llu",
        (unsigned long long)sent, (unsigned long long)received,
        (unsigned long long)(sent > received ? sent - received : 0), (unsigned long long)big,
        big_bytes, (unsigned long long)big_ok,
        (unsigned long long)(seq > expect ? seq - expect : 0));
    return 0;
}

/* ---- slow: one message, written slowly ---- */

static int cmd_slow(char **a)
{
    size_t size = strtoull(a[1], 0, 10);
    size_t chunk = strtoull(a[2], 0, 10) / 100; /* bytes per 10 ms */
    if (size < 1 || chunk < 1) {
        fprintf(stderr, "zflow slow: bad arguments\n");
        return 2;
    }
    int fd = raw_pub(a[0]);
    char *body = payload(size);
    body[0] = 'B';
    say("READY");
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    unsigned char head[9] = {0x02}; /* a long frame, the last of its message */
    for (int i = 0; i < 8; i++)
        head[8 - i] = (unsigned char)((uint64_t)size >> (8 * i));
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    double t0 = now();
    write_all(fd, head, sizeof head);
    for (size_t off = 0; off < size; off += chunk) {
        if (off) { /* the next 10 ms slot */
            next.tv_nsec += 10 * 1000 * 1000;
            if (next.tv_nsec >= 1000000000)
                next.tv_sec++, next.tv_nsec -= 1000000000;
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                ;
        }
        write_all(fd, body + off, size - off < chunk ? size - off : chunk);
    }
    say("SENT secs=%.3f", now() - t0);
    while (fgets(line, sizeof line, stdin)) /* stay connected until told */
        ;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int nargs; int (*fn)(char **); } roles[] = {
        {"lat", 3, cmd_lat}, {"slow", 3, cmd_slow},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; argc >= 2 && i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(argv[1], roles[i].name))
            continue;
        if (argc - 2 != roles[i].nargs) {
            fprintf(stderr, "zflow %s: expected %d arguments (see the head of bench/zflow.c)\n",
                    argv[1], roles[i].nargs);
            return 2;
        }
        ctx = zmq_ctx_new();
        return roles[i].fn(argv + 2);
    }
    fprintf(stderr, "usage: zflow lat|slow ... (see the head of bench/zflow.c)\n");
    return 2;
}
