/* Injected time; see clock.h. */
#include "util/clock.h"

#include <time.h>

static uint64_t system_now_ms(const struct tg_clock *self)
{
    struct timespec ts;

    (void)self;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t system_wall_ms(const struct tg_clock *self)
{
    struct timespec ts;

    (void)self;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct tg_clock system_clock = {.now_ms = system_now_ms, .wall_ms = system_wall_ms};

const struct tg_clock *tg_clock_system(void)
{
    return &system_clock;
}

static uint64_t fake_now_ms(const struct tg_clock *self)
{
    return ((const struct tg_fake_clock *)self)->mono_ms;
}

static int64_t fake_wall_ms(const struct tg_clock *self)
{
    return ((const struct tg_fake_clock *)self)->wall_ms;
}

void tg_fake_clock_init(struct tg_fake_clock *c, uint64_t mono_ms, int64_t wall_ms)
{
    c->base.now_ms = fake_now_ms;
    c->base.wall_ms = fake_wall_ms;
    c->mono_ms = mono_ms;
    c->wall_ms = wall_ms;
}

void tg_fake_clock_advance(struct tg_fake_clock *c, uint64_t ms)
{
    c->mono_ms += ms;
    c->wall_ms += (int64_t)ms;
}
