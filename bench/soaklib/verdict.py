"""The growth rule of bench/soak (its header documents it; the constants are here)."""

import math
import statistics

MIB = 1024 * 1024
WARMUP_FRACTION = 0.25      # the first quarter of the samples (at least WARMUP_MIN) is warm-up
WARMUP_MIN = 2
MIN_SAMPLES = 6             # fewer samples cannot show a trend: the check fails as "not judged"
RSS_GROWTH_FRACTION = 0.10  # RSS may grow by max(10 %, 8 MiB) between the thirds...
RSS_GROWTH_BYTES = 8 * MIB
MONOTONIC_SHARE = 0.25      # ...and fails only if each half of the judged period rose by a quarter of that
FD_MARGIN = 8               # descriptors beyond connections may exceed the early maximum by max(8, 5 %)
FD_MARGIN_FRACTION = 0.05
IDLE_FD_MARGIN = 4          # idle descriptors after the load may exceed the early "beyond connections" by 4


def median(values):
    return statistics.median(values) if values else None


def warmup_count(samples):
    """The first quarter (at least WARMUP_MIN), extended to every sample up to and including the first
    one taken after the load's set-up finished (samples carry "setup_done")."""
    n = len(samples)
    w = max(WARMUP_MIN, math.ceil(WARMUP_FRACTION * n))
    done = [i for i, s in enumerate(samples) if s.get("setup_done", True)]
    return max(w, done[0] + 1) if done else n


def slope_per_hour(xs, ys):
    """Theil-Sen slope of ys over xs (seconds), per hour: the median of the pairwise slopes, which a few
    short spikes (password hashing) do not move; None with fewer than 2 points."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(len(xs)) for j in range(i + 1, len(xs))
              if xs[j] != xs[i]]
    return median(slopes) * 3600.0 if slopes else None


def thirds(samples):
    """(warm-up count, post-warm-up samples, first third, middle, last third)."""
    w = warmup_count(samples)
    post = samples[w:]
    k = max(1, len(post) // 3)
    return w, post, post[:k], post[k:len(post) - k], post[-k:]


def growth_checks(samples, idle_before, idle_after):
    """[(name, ok, text, details dict)] for RSS, descriptors under load and idle descriptors."""
    checks = []
    n = len(samples)
    w, post, first, middle, last = thirds(samples)
    if n < MIN_SAMPLES or len(post) < 3:
        text = "%d samples (need at least %d): growth not judged; use a longer --duration or a shorter --interval" % (
            n, MIN_SAMPLES)
        checks.append(("RSS growth", False, text, {}))
        checks.append(("descriptor growth", False, text, {}))
    else:
        a = median([s["rss_kb"] * 1024 for s in first])
        m = median([s["rss_kb"] * 1024 for s in middle])
        b = median([s["rss_kb"] * 1024 for s in last])
        limit = max(RSS_GROWTH_FRACTION * a, RSS_GROWTH_BYTES)
        growth = b - a
        monotonic = m - a >= limit * MONOTONIC_SHARE and b - m >= limit * MONOTONIC_SHARE
        slope = slope_per_hour([s["t"] for s in post], [s["rss_kb"] / 1024.0 for s in post])
        ok = not (growth > limit and monotonic)
        text = ("warm-up %d of %d samples; median RSS by third after warm-up %.1f -> %.1f -> %.1f MiB: %+.1f MiB, "
                "limit %.1f MiB; rising in both halves: %s; trend %+.1f MiB/h" %
                (w, n, a / MIB, m / MIB, b / MIB, growth / MIB, limit / MIB, "yes" if monotonic else "no",
                 slope or 0.0))
        checks.append(("RSS growth", ok, text, {"warmup": w, "first_median_bytes": a, "middle_median_bytes": m,
                                                "last_median_bytes": b, "limit_bytes": limit, "monotonic": monotonic,
                                                "slope_mib_per_hour": slope}))
        beyond_first = [s["fds_beyond"] for s in first]
        beyond_last = [s["fds_beyond"] for s in last]
        base = max(beyond_first)
        end = median(beyond_last)
        margin = max(FD_MARGIN, FD_MARGIN_FRACTION * base)
        ok = end <= base + margin
        text = ("descriptors beyond open connections: max %d (first third after warm-up) -> median %g (last third), "
                "margin %g; raw descriptors %d -> %d" %
                (base, end, margin, max(s["fds"] for s in first), last[-1]["fds"]))
        checks.append(("descriptor growth", ok, text, {"first_max": base, "last_median": end, "margin": margin}))
    if idle_after and idle_after.get("fds") is not None and first:
        base = max(s["fds_beyond"] for s in first)
        ok = idle_after["fds"] <= base + IDLE_FD_MARGIN and idle_after.get("released", True)
        text = ("with no client connected after the load: %d descriptors; under load, beyond connections, at most "
                "%d early on (margin %d); %s before the load%s" % (
                    idle_after["fds"], base, IDLE_FD_MARGIN,
                    idle_before["fds"] if idle_before else "?",
                    "" if idle_after.get("released", True) else "; the server still counted connections: " +
                    idle_after.get("left", "?")))
        checks.append(("idle descriptors", ok, text, {"before": idle_before["fds"] if idle_before else None,
                                                      "after": idle_after["fds"], "early_beyond_max": base}))
    else:
        checks.append(("idle descriptors", False, "not measured (the server was not running, or too few samples)", {}))
    return checks
