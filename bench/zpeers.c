/* zpeers HOST PORT N SOCKET-TYPE: N idle ZeroMQ peers on one broker endpoint, for tools/bench.
 *
 * Each peer is a plain TCP connection (one descriptor, no libzmq machinery) that sends a
 * ZMTP 3.1 greeting with the NULL mechanism and a READY command carrying Socket-Type, then
 * reads the broker's greeting and its READY (or ERROR). A peer counts as connected once the
 * broker's READY has arrived: the handshake is complete on both sides. Then the peers sit idle.
 *
 * Prints "READY ok=N failed=F closed=C secs=T" once every handshake has finished (C: peers the
 * broker has closed since), waits for a line on stdin, prints "BYE closed=C" and exits
 * (closing with RST, so no TIME_WAIT is left behind).
 *
 * Build: cc -O2 -o zpeers zpeers.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT 256  /* handshakes under way at once */
#define TIMEOUT 120.0 /* give up on the whole set after this */

enum { CONNECTING, HANDSHAKING, DONE, FAILED };

typedef struct {
    int fd, state;
    unsigned len;
    unsigned char buf[512];
} peer_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned char hello[256];
static size_t hello_len;

static void build_hello(const char *type)
{
    unsigned char *p = hello;
    memset(p, 0, 64);
    p[0] = 0xff;
    p[9] = 0x7f;
    p[10] = 3; /* version 3.1 */
    p[11] = 1;
    memcpy(p + 12, "NULL", 4); /* mechanism, zero padded to 20; as-server 0; filler */
    p += 64;
    size_t tl = strlen(type);
    unsigned char body[128], *b = body;
    *b++ = 5;
    memcpy(b, "READY", 5), b += 5;
    *b++ = 11;
    memcpy(b, "Socket-Type", 11), b += 11;
    *b++ = 0, *b++ = 0, *b++ = 0, *b++ = (unsigned char)tl;
    memcpy(b, type, tl), b += tl;
    *p++ = 0x04; /* command, short */
    *p++ = (unsigned char)(b - body);
    memcpy(p, body, b - body), p += b - body;
    hello_len = p - hello;
}

/* Has the broker's greeting and first command arrived? 1 READY, -1 anything else, 0 more. */
static int parse(peer_t *c)
{
    if (c->len < 64 + 2)
        return 0;
    const unsigned char *f = c->buf + 64;
    if (c->buf[0] != 0xff || c->buf[9] != 0x7f || !(f[0] & 0x04))
        return -1;
    size_t hdr = (f[0] & 0x02) ? 9 : 2, size = 0;
    if (c->len < 64 + hdr)
        return 0;
    if (hdr == 9)
        for (int i = 1; i < 9; i++)
            size = size << 8 | f[i];
    else
        size = f[1];
    if (size > sizeof c->buf - 64 - hdr)
        return -1;
    if (c->len < 64 + hdr + size)
        return 0;
    return size >= 6 && f[hdr] == 5 && !memcmp(f + hdr + 1, "READY", 5) ? 1 : -1;
}

static int closed_count(peer_t *p, int n)
{
    struct pollfd *fds = calloc(n, sizeof *fds);
    int k = 0, closed = 0;
    for (int i = 0; i < n; i++)
        if (p[i].state == DONE)
            fds[k].fd = p[i].fd, fds[k++].events = POLLRDHUP;
    poll(fds, k, 0);
    for (int i = 0; i < k; i++)
        closed += (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    free(fds);
    return closed;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: zpeers HOST PORT N SOCKET-TYPE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = atoi(argv[3]);
    build_hello(argv[4]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)n + 64) {
            fprintf(stderr, "zpeers: open-files limit %lu is too low for %d peers\n",
                    (unsigned long)rl.rlim_cur, n);
            return 1;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "zpeers: bad address %s\n", argv[1]);
        return 2;
    }
    peer_t *p = calloc(n, sizeof *p);
    int ep = epoll_create1(0);
    int next = 0, inflight = 0, ok = 0, failed = 0;
    double t0 = now();
    struct epoll_event evs[256];
    while (ok + failed < n) {
        while (inflight < INFLIGHT && next < n) {
            peer_t *c = &p[next];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c->fd < 0) {
                perror("zpeers: socket");
                return 1;
            }
            int one = 1;
            struct linger lg = {1, 0};
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            int rc = connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
            if (rc < 0 && errno != EINPROGRESS) {
                c->state = FAILED, failed++, next++;
                continue;
            }
            c->state = CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = next};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            next++, inflight++;
        }
        if (now() - t0 > TIMEOUT) {
            fprintf(stderr, "zpeers: timed out with %d handshakes under way\n", inflight);
            failed += n - ok - failed;
            break;
        }
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            peer_t *c = &p[evs[i].data.u32];
            int end = 0;
            if (c->state == CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || write(c->fd, hello, hello_len) != (ssize_t)hello_len) {
                    end = -1;
                } else {
                    c->state = HANDSHAKING;
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            } else if (c->state == HANDSHAKING) {
                ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
                if (r <= 0 && !(r < 0 && errno == EAGAIN))
                    end = -1;
                else if (r > 0) {
                    c->len += r;
                    end = parse(c);
                }
            }
            if (end) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                inflight--;
                if (end > 0)
                    c->state = DONE, ok++;
                else
                    c->state = FAILED, failed++, close(c->fd);
            }
        }
    }
    double secs = now() - t0;
    usleep(300000); /* a broker that drops peers over its limit has done so by now */
    printf("READY ok=%d failed=%d closed=%d secs=%.3f\n", ok, failed, closed_count(p, n), secs);
    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL) { /* stdin closed: just leave */ }
    printf("BYE closed=%d\n", closed_count(p, n));
    return 0;
}
