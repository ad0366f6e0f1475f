/* Seeded random numbers (xoshiro256**, seeded through splitmix64): the only
 * source of randomness, so a seed fixes a run. */
#include "core/core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fer_rng_seed(fer_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fer_rng_u64(fer_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double fer_rng_uniform(fer_rng *r) { return (double)(fer_rng_u64(r) >> 11) * 0x1.0p-53; }

uint32_t fer_rng_below(fer_rng *r, uint32_t n)
{
    /* Rejection keeps every value equally likely. */
    uint32_t limit = n ? (uint32_t)(-n) % n : 0;
    for (;;) {
        uint32_t x = (uint32_t)(fer_rng_u64(r) >> 32);
        if (x >= limit)
            return n ? x % n : 0;
    }
}

void fer_rng_shuffle(fer_rng *r, int *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = fer_rng_below(r, (uint32_t)i);
        int t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
