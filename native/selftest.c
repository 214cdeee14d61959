/*
 * selftest.c -- the native kernel checked against reference hashes, without
 * Python, on every code path the CPU offers (for cross-compiled builds run
 * under qemu-user, and for a Raspberry Pi without python3-dev).
 *
 *   cc -O2 -std=c99 -pthread native/selftest.c -o selftest
 *   ./selftest VECTORS [PATH...]
 *
 * This file includes curlkernel.c with CURLKERNEL_NO_PYTHON.  VECTORS is a
 * text file of lines (tests/test_cross_arch.py writes it from
 * tests/vectors/curl.json and tests/vectors/transactions.json):
 *
 *   curl ROUNDS INPUT LENGTH HASH   Curl-P: absorb(INPUT) then squeeze LENGTH
 *                                    trits == HASH (INPUT "-" = empty)
 *   pow MWM TRANSACTION NONCE       smallest-candidate nonce of the fixed
 *                                    enumeration (curlkernel.c) at MWM
 *   bundle OFFSET CHUNKS STEPS HASH bundle finalisation: CHUNKS (hex) are the
 *                                    Kerl chunks of the essences with the
 *                                    first obsolete tag at the chunk at byte
 *                                    OFFSET; STEPS tag steps give bundle HASH
 *
 * (all values in trytes).  The curl lines check the scalar sponge; those with
 * a single-block input (<= 81 trytes) and LENGTH 243 also check the bit-sliced
 * hash chains (count 1 = one transform of the zero-padded block), spread over
 * more than 64 lanes so the 256-lane vector kernel runs; longer chains are
 * compared with the scalar sponge.  The pow lines run the vector PoW kernel
 * one batch after another and check the nonce and its weight.
 *
 * The paths checked are those named on the command line, else the one
 * IOTA_PUBLISHER_KERNEL names, else every path the CPU offers.  A named path
 * the CPU or build lacks is an error.  Prints one line per path; exit status
 * 0 when everything matched.
 */

#define CURLKERNEL_NO_PYTHON 1
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function" /* the threaded PoW driver */
#endif
#include "curlkernel.c"

#include <stdio.h>

enum { MAX_CASES = 256, MAX_TRYTES = 4096 };

typedef struct {
    int rounds, length, in_len; /* lengths in trits */
    int8_t *input, *hash;
} curl_case;

typedef struct {
    int mwm;
    int8_t tx[8019], nonce[NONCE_LEN];
} pow_case;

typedef struct {
    size_t offset, len;
    long long steps;
    uint8_t *chunks;
    char hash[82];
} bundle_case;

static curl_case curls[MAX_CASES];
static pow_case pows[16];
static bundle_case bundles[16];
static int n_curls, n_pows, n_bundles;

static const char TRYTES[] = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Trits of a tryte string into out (3 per tryte); returns the trit count or -1. */
static int trits_of(const char *s, int8_t *out, int max)
{
    int n = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    for (; *s; s++) {
        const char *p = strchr(TRYTES, *s);
        if (!p || n + 3 > max)
            return -1;
        int v = (int)(p - TRYTES);
        if (v > 13)
            v -= 27;
        for (int j = 0; j < 3; j++) {
            int r = ((v % 3) + 3) % 3;
            if (r == 2)
                r = -1;
            out[n++] = (int8_t)r;
            v = (v - r) / 3;
        }
    }
    return n;
}

static int read_vectors(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    static char kind[16], a[MAX_TRYTES + 1], b[MAX_TRYTES + 1];
    int x, y;
    while (fscanf(f, "%15s", kind) == 1) {
        if (strcmp(kind, "curl") == 0 && n_curls < MAX_CASES) {
            if (fscanf(f, "%d %4096s %d %4096s", &x, a, &y, b) != 4)
                break;
            curl_case *c = &curls[n_curls];
            c->rounds = x;
            c->length = y;
            c->input = (int8_t *)malloc(3 * strlen(a) + 1);
            c->hash = (int8_t *)malloc((size_t)y + 1);
            c->in_len = trits_of(a, c->input, (int)(3 * strlen(a)));
            if (c->in_len < 0 || trits_of(b, c->hash, y) != y || (x != 27 && x != 81))
                break;
            n_curls++;
        } else if (strcmp(kind, "pow") == 0 && n_pows < 16) {
            if (fscanf(f, "%d %4096s %4096s", &x, a, b) != 3)
                break;
            pow_case *p = &pows[n_pows];
            p->mwm = x;
            if (trits_of(a, p->tx, 8019) != 8019 || trits_of(b, p->nonce, NONCE_LEN) != NONCE_LEN)
                break;
            n_pows++;
        } else if (strcmp(kind, "bundle") == 0 && n_bundles < 16) {
            bundle_case *c = &bundles[n_bundles];
            if (fscanf(f, "%d %4096s %lld %81s", &x, a, &c->steps, c->hash) != 4)
                break;
            c->offset = (size_t)x;
            c->len = strlen(a) / 2;
            c->chunks = (uint8_t *)malloc(c->len + 1);
            int ok = c->len > 0 && c->len % KERL_BYTES == 0 && c->offset < c->len;
            for (size_t i = 0; ok && i < c->len; i++) {
                unsigned byte;
                ok = sscanf(a + 2 * i, "%2x", &byte) == 1;
                c->chunks[i] = (uint8_t)byte;
            }
            if (!ok || strlen(c->hash) != 81)
                break;
            n_bundles++;
        } else {
            break;
        }
    }
    const int ok = feof(f);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: bad line after %d curl / %d pow cases\n", path, n_curls, n_pows);
        return -1;
    }
    return 0;
}

/* The single-lane transform picked now against the table form. */
static int check_single(void)
{
    int bad = 0;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200; i++) {
        int8_t a[STATE_LEN], b[STATE_LEN];
        for (int j = 0; j < STATE_LEN; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            a[j] = (int8_t)((int)(x % 3) - 1);
        }
        memcpy(b, a, sizeof(a));
        const int rounds = i % 3 == 0 ? 81 : (i % 3 == 1 ? 27 : 1 + i % 7);
        scalar_transform(a, rounds);
        scalar_transform_table(b, rounds);
        if (memcmp(a, b, sizeof(a)) != 0) {
            fprintf(stderr, "single-lane transform %d (%d rounds) differs from the table form\n", i,
                    rounds);
            bad++;
        }
    }
    return bad;
}

static int check_scalar(void)
{
    int bad = 0;
    int8_t state[STATE_LEN], out[2 * MAX_TRYTES * 3];
    for (int i = 0; i < n_curls; i++) {
        const curl_case *c = &curls[i];
        memset(state, 0, sizeof(state));
        scalar_absorb(state, c->input, c->in_len, c->rounds);
        scalar_squeeze(state, out, c->length, c->rounds);
        if (memcmp(out, c->hash, (size_t)c->length) != 0) {
            fprintf(stderr, "scalar Curl-%d case %d differs from the reference\n", c->rounds, i);
            bad++;
        }
    }
    return bad;
}

/* Count 1: the references; counts 2..5: the scalar sponge.  130 segments, so
   the 256-lane kernel runs (64 lanes or fewer take the cell64 path). */
static int check_chains(int *checked)
{
    enum { SEGS = 130 };
    int bad = 0;
    for (int rounds = 27; rounds <= 81; rounds += 54) {
        int picked[MAX_CASES], n = 0;
        for (int i = 0; i < n_curls; i++)
            if (curls[i].rounds == rounds && curls[i].length == HASH_LEN && curls[i].in_len <= HASH_LEN)
                picked[n++] = i;
        if (n == 0)
            continue;
        static int8_t segs[SEGS * HASH_LEN], want[SEGS * HASH_LEN];
        uint8_t counts[SEGS];
        for (int l = 0; l < SEGS; l++) {
            const curl_case *c = &curls[picked[l % n]];
            int8_t *seg = segs + l * HASH_LEN;
            memset(seg, 0, HASH_LEN);
            memcpy(seg, c->input, (size_t)c->in_len);
            counts[l] = (uint8_t)(l < 2 * n ? 1 : 1 + l % 5);
            if (counts[l] == 1) {
                memcpy(want + l * HASH_LEN, c->hash, HASH_LEN);
            } else {
                int8_t st[STATE_LEN];
                memcpy(st, seg, HASH_LEN);
                for (int j = 0; j < counts[l]; j++) {
                    memset(st + HASH_LEN, 0, STATE_LEN - HASH_LEN);
                    scalar_transform(st, rounds);
                }
                memcpy(want + l * HASH_LEN, st, HASH_LEN);
            }
        }
        if (hash_chains_run(segs, counts, SEGS, rounds) != 0) {
            fprintf(stderr, "hash chains: out of memory\n");
            return bad + 1;
        }
        for (int l = 0; l < SEGS; l++) {
            if (memcmp(segs + l * HASH_LEN, want + l * HASH_LEN, HASH_LEN) != 0) {
                fprintf(stderr, "hash chain lane %d (Curl-%d, count %d) differs\n", l, rounds,
                        counts[l]);
                bad++;
            }
        }
        *checked += SEGS;
    }
    return bad;
}

static int check_pow(const kernel_path *path)
{
    int bad = 0;
    cell256 *cells = (cell256 *)alloc_cells(4 * STATE_LEN, sizeof(cell256));
    if (!cells) {
        fprintf(stderr, "pow: out of memory\n");
        return 1;
    }
    cell256 *initial = cells, *in = cells + STATE_LEN, *a = in + STATE_LEN, *b = a + STATE_LEN;
    for (int i = 0; i < n_pows; i++) {
        const pow_case *p = &pows[i];
        int8_t state[STATE_LEN], nonce[NONCE_LEN];
        memset(state, 0, sizeof(state));
        scalar_absorb(state, p->tx, 8019 - HASH_LEN, 81);
        memcpy(state, p->tx + 8019 - HASH_LEN, HASH_LEN);
        pow_build_initial(initial, state);
        memcpy(in, initial, STATE_LEN * sizeof(cell256));
        uint64_t k = POW_NONE;
        for (uint64_t batch = 0; batch < ((uint64_t)1 << 40); batch++) {
            pow_set_batch(in, batch);
            const int lane = path->pow_batch(in, a, b, p->mwm);
            if (lane >= 0) {
                k = batch * POW_LANES + (uint64_t)lane;
                break;
            }
        }
        pow_nonce_of(k, nonce);
        /* The weight, on the scalar sponge: hash of the transaction with it. */
        memcpy(state + NONCE_OFFSET, nonce, NONCE_LEN);
        scalar_transform(state, 81);
        int zeros = 1;
        for (int t = HASH_LEN - p->mwm; t < HASH_LEN; t++)
            zeros &= state[t] == 0;
        if (memcmp(nonce, p->nonce, NONCE_LEN) != 0 || !zeros) {
            fprintf(stderr, "pow case %d (mwm %d): nonce %s the reference%s\n", i, p->mwm,
                    memcmp(nonce, p->nonce, NONCE_LEN) ? "differs from" : "matches",
                    zeros ? "" : ", hash lacks the weight");
            bad++;
        }
    }
    free(cells);
    return bad;
}

/* Keccak-384, the base-27 digits and the normalized-hash check (path-independent). */
static int check_bundles(void)
{
    int bad = 0;
    static const char DIGIT_TRYTE[] = "NOPQRSTUVWXYZ9ABCDEFGHIJKLM";
    for (int i = 0; i < n_bundles; i++) {
        const bundle_case *c = &bundles[i];
        uint8_t *data = (uint8_t *)malloc(c->len), digest[KERL_BYTES], digits[84];
        char hash[82];
        kerl_consts k;
        memcpy(data, c->chunks, c->len);
        const long long steps = bundle_finalize_run(data, c->len, c->offset, 1LL << 40, digest);
        kerl_consts_init(&k);
        const int has13 = digest_has_13(&k, digest, digits);
        for (int j = 0; j < 81; j++)
            hash[j] = DIGIT_TRYTE[digits[j]];
        hash[81] = 0;
        free(data);
        if (steps != c->steps || has13 || strcmp(hash, c->hash) != 0) {
            fprintf(stderr, "bundle case %d: %lld tag steps to %s, the reference %lld to %s\n", i,
                    steps, hash, c->steps, c->hash);
            bad++;
        }
    }
    return bad;
}

static int check_path(const kernel_path *path, int scalar_bad)
{
    /* hash_chains_run() takes its path from pick_path(): select it by name. */
    setenv("IOTA_PUBLISHER_KERNEL", path->name, 1);
    if (pick_path() != path) {
        printf("path %s: cannot be selected\n", path->name);
        return 1;
    }
    int chains = 0;
    pick_single_transform();
    const int bad = check_single() + check_chains(&chains) + check_pow(path);
    printf("path %s: %s (%d Curl sponge cases%s and %d bundle hashes, %d hash-chain lanes, "
           "%d proof-of-work nonces; single-lane Curl %s)\n",
           path->name, bad + scalar_bad ? "FAILED" : "ok", n_curls, scalar_bad ? " FAILED" : "",
           n_bundles, chains, n_pows, single_transform_name);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTORS [PATH...]\n", argv[0]);
        return 2;
    }
    if (read_vectors(argv[1]) < 0)
        return 2;
    pick_single_transform();
    const int scalar_bad = check_single() + check_scalar() + check_bundles();
    const char *env = getenv("IOTA_PUBLISHER_KERNEL");
    const char *const *names = (const char *const *)argv + 2;
    int n_names = argc - 2;
    if (n_names == 0 && env && *env) {
        names = &env;
        n_names = 1;
    }
    int bad = scalar_bad, ran = 0;
    if (n_names > 0) {
        for (int j = 0; j < n_names; j++) {
            const kernel_path *found = NULL;
            for (int i = 0; i < KERNEL_PATH_COUNT; i++)
                if (strcmp(KERNEL_PATHS[i].name, names[j]) == 0)
                    found = &KERNEL_PATHS[i];
            if (!found || !path_available(found)) {
                printf("path %s: not available on this %s\n", names[j], found ? "CPU" : "build");
                bad++;
                continue;
            }
            bad += check_path(found, scalar_bad);
            ran++;
        }
    } else {
        for (int i = 0; i < KERNEL_PATH_COUNT; i++) {
            if (!path_available(&KERNEL_PATHS[i])) {
                printf("path %s: skipped, this CPU lacks it\n", KERNEL_PATHS[i].name);
                continue;
            }
            bad += check_path(&KERNEL_PATHS[i], scalar_bad);
            ran++;
        }
    }
    return bad || ran == 0 ? 1 : 0;
}
