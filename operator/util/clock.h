/*
 * Injected time. Everything that waits or judges time (the work queue, leader election, the
 * planners) takes a struct tg_clock, so its tests run on a fake clock and never sleep.
 */
#ifndef TG_UTIL_CLOCK_H
#define TG_UTIL_CLOCK_H

#include <stdint.h>

struct tg_clock {
    /* Monotonic milliseconds from an arbitrary origin: for timeouts, backoff, lease expiry. */
    uint64_t (*now_ms)(const struct tg_clock *self);
    /* Wall-clock milliseconds since the Unix epoch: for timestamps users read. */
    int64_t (*wall_ms)(const struct tg_clock *self);
};

/* The real clocks (CLOCK_MONOTONIC and CLOCK_REALTIME). Borrowed; never freed. */
const struct tg_clock *tg_clock_system(void);

static inline uint64_t tg_clock_now_ms(const struct tg_clock *c)
{
    return c->now_ms(c);
}

static inline int64_t tg_clock_wall_ms(const struct tg_clock *c)
{
    return c->wall_ms(c);
}

/* A clock that moves only when a test advances it. Embed it by value; nothing to free. */
struct tg_fake_clock {
    struct tg_clock base; /* pass &fake.base where a clock is wanted */
    uint64_t mono_ms;     /* what now_ms returns */
    int64_t wall_ms;      /* what wall_ms returns */
};

void tg_fake_clock_init(struct tg_fake_clock *c, uint64_t mono_ms, int64_t wall_ms);

/* Moves both the monotonic and the wall clock forward by ms. */
void tg_fake_clock_advance(struct tg_fake_clock *c, uint64_t ms);

#endif
