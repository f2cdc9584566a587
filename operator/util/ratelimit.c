/* Token bucket and exponential backoff; see ratelimit.h. */
#include "util/ratelimit.h"

#include <math.h>

void tg_bucket_init(struct tg_bucket *b, double rate, unsigned burst, uint64_t now_ms)
{
    b->rate = rate;
    b->burst = burst ? (double)burst : 1.0;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

uint64_t tg_bucket_reserve(struct tg_bucket *b, uint64_t now_ms)
{
    if (b->rate <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    b->tokens -= 1.0;
    if (b->tokens >= 0)
        return 0;
    return (uint64_t)ceil(-b->tokens * 1000.0 / b->rate);
}

uint64_t tg_backoff_delay_ms(uint64_t base_ms, uint64_t max_ms, unsigned failures)
{
    uint64_t d = base_ms;

    for (unsigned i = 0; i < failures && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    return d < max_ms ? d : max_ms;
}

uint64_t tg_backoff_jitter_ms(uint64_t delay_ms, double jitter, double r)
{
    if (jitter <= 0 || r <= 0)
        return delay_ms;
    return delay_ms + (uint64_t)((double)delay_ms * jitter * r);
}
