/*
 * Rate limiting primitives: a token bucket (client QPS/burst, the work queue's global limit)
 * and exponential backoff with optional jitter (per-key requeue, watch reconnects, retries).
 * Pure arithmetic on times the caller passes in; no clock of their own.
 */
#ifndef TG_UTIL_RATELIMIT_H
#define TG_UTIL_RATELIMIT_H

#include <stdint.h>

/* A token bucket refilled at `rate` tokens a second up to `burst`. Embed by value. */
struct tg_bucket {
    double rate;      /* tokens added per second; <= 0 means unlimited */
    double burst;     /* the most tokens it holds */
    double tokens;    /* tokens now; negative while reservations are outstanding */
    uint64_t last_ms; /* when tokens was last brought up to date */
};

/* Starts the bucket full. */
void tg_bucket_init(struct tg_bucket *b, double rate, unsigned burst, uint64_t now_ms);

/*
 * Takes one token and returns how many milliseconds the caller must wait before acting on it
 * (0: act now). Like a reservation: the token is taken even when the caller must wait, so N
 * callers asking at once are spread out at `rate`.
 */
uint64_t tg_bucket_reserve(struct tg_bucket *b, uint64_t now_ms);

/* base_ms * 2^failures, capped at max_ms; failures 0 gives base_ms. Never overflows. */
uint64_t tg_backoff_delay_ms(uint64_t base_ms, uint64_t max_ms, unsigned failures);

/*
 * delay_ms stretched by up to `jitter` of itself: delay * (1 + jitter * r), r in [0, 1) chosen
 * by the caller (a random number in production, a fixed one in tests).
 */
uint64_t tg_backoff_jitter_ms(uint64_t delay_ms, double jitter, double r);

#endif
