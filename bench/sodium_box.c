/* sodium_box: libsodium's crypto_secretbox (XSalsa20-Poly1305), detached, in place, at 256 B
 * and 64 KiB, and Poly1305 alone (crypto_onetimeauth_poly1305): the reference for zedge's own (core/benches/curve.rs prints the same lines).
 *
 * Build and run: cc -O2 -o /tmp/sodium_box bench/sodium_box.c -lsodium && /tmp/sodium_box
 * Ours: cargo bench -p zedge-core --features curve --bench curve
 *
 * Each line: the best of REPS timed batches (each about 20 ms) in ns per message and MB/s
 * (10^6 bytes of message body per second). "open" copies the sealed box into the buffer before
 * each open (it decrypts in place), as the Rust bench does. libsodium picks its fastest code
 * for this CPU at sodium_init() (AVX2 Salsa20, SSE2 Poly1305 on a recent x86_64). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 15

static unsigned char key[32], nonce[24], mac[16];
static unsigned char *buf, *sealed;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void op_seal(size_t len)
{
    crypto_secretbox_detached(buf, mac, buf, len, nonce, key);
}

static void op_open(size_t len)
{
    memcpy(buf, sealed, len);
    if (crypto_secretbox_open_detached(buf, buf, mac, len, nonce, key) != 0) {
        fprintf(stderr, "open failed\n");
        exit(1);
    }
}

static void op_poly(size_t len)
{
    crypto_onetimeauth_poly1305(mac, buf, len, key);
}

static void report(const char *name, size_t len, void (*op)(size_t))
{
    unsigned long batch = 1;
    for (;;) {
        double t = now_ns();
        for (unsigned long i = 0; i < batch; i++)
            op(len);
        if (now_ns() - t >= 20e6)
            break;
        batch *= 2;
    }
    double best = 1e30;
    for (int r = 0; r < REPS; r++) {
        double t = now_ns();
        for (unsigned long i = 0; i < batch; i++)
            op(len);
        double ns = (now_ns() - t) / batch;
        if (ns < best)
            best = ns;
    }
    char label[32];
    snprintf(label, sizeof label, "%s %zu", name, len);
    printf("%-12s %10.1f ns/msg %8.1f MB/s\n", label, best, len * 1e3 / best);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    memset(key, 0x42, sizeof key);
    for (int i = 0; i < 24; i++)
        nonce[i] = (unsigned char)i;
    size_t sizes[] = {256, 64 << 10};
    for (int s = 0; s < 2; s++) {
        size_t len = sizes[s];
        buf = malloc(len);
        sealed = malloc(len);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(i * 7);
        report("seal", len, op_seal);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(i * 7);
        crypto_secretbox_detached(sealed, mac, buf, len, nonce, key);
        report("open", len, op_open);
        report("poly1305", len, op_poly);
        free(buf);
        free(sealed);
    }
    return 0;
}
