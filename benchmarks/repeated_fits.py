"""Leak check: many sequential fits in one process, as a grid search does.

Measures resident memory (RSS) and the wall time of each fit, and reports the
growth of RSS between the end of the first fit and the end of the last, and
the drift of the per-fit time between the first and the last five fits. One
extra warm-up fit runs first (imports, first graph traces: every search pays
it once) and is reported separately.

    python benchmarks/repeated_fits.py            # 20 fits (targets: RSS <= 100 MB,
                                                  #          time drift <= 10%)
    python benchmarks/repeated_fits.py --fits 8 --images 500   # quick look
    python benchmarks/repeated_fits.py --quick --json out.json  # 6 fits of 300 images
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np


def rss_mb():
    """Current resident set size of this process, in MB (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(n_fits, n_images, seed=0):
    """Fit ``n_fits`` fresh small CNN pipelines; return per-fit (seconds, RSS MB)."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    from skcifar import CNNClassifier, PixelScaler

    rng = np.random.RandomState(seed)
    X = rng.randint(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n_images) % 10
    template = make_pipeline(
        PixelScaler(), CNNClassifier(filters=(16, 32), dense_units=32, epochs=1, random_state=0)
    )
    records = []
    for _ in range(n_fits + 1):  # the first one is the warm-up
        start = time.perf_counter()
        model = clone(template).fit(X, y)
        model.predict(X[:256])
        records.append((time.perf_counter() - start, rss_mb()))
        del model
    return records


def summarize(records, window=5):
    """RSS growth (MB) and relative time drift between the first/last ``window`` fits."""
    times = np.array([t for t, _ in records])
    rss = np.array([r for _, r in records])
    first, last = times[:window].mean(), times[-window:].mean()
    return {
        "rss_first_mb": rss[0],
        "rss_last_mb": rss[-1],
        "rss_growth_mb": rss[-1] - rss[0],
        "time_first_s": first,
        "time_last_s": last,
        "time_drift": last / first - 1,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=None, help="default 20 (--quick: 6)")
    parser.add_argument("--images", type=int, default=None, help="default 2000 (--quick: 300)")
    parser.add_argument("--quick", action="store_true", help="6 fits of 300 images")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args()
    fits = args.fits or (6 if args.quick else 20)
    images = args.images or (300 if args.quick else 2000)
    warmup, *records = run(fits, images)
    print(f"warm-up fit: {warmup[0]:6.2f} s   RSS {warmup[1]:7.1f} MB")
    for i, (seconds, rss) in enumerate(records, 1):
        print(f"fit {i:3d}: {seconds:6.2f} s   RSS {rss:7.1f} MB")
    window = min(5, max(len(records) // 2, 1))
    s = summarize(records, window=window)
    print(
        f"RSS growth first->last fit: {s['rss_growth_mb']:.1f} MB (target <= 100)\n"
        f"per-fit time, first {window} vs last {window}: {s['time_first_s']:.2f} s -> "
        f"{s['time_last_s']:.2f} s "
        f"= {100 * s['time_drift']:+.1f}% (target <= 10%)"
    )
    if args.json:
        _common.write_json(
            args.json,
            {
                "quick": args.quick,
                "fits": fits,
                "images": images,
                "warmup": {"seconds": warmup[0], "rss_mb": warmup[1]},
                "records": [{"seconds": t, "rss_mb": r} for t, r in records],
                "window": window,
                **s,
            },
        )


if __name__ == "__main__":
    main()
