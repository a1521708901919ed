"""Run the benchmarks, one after another in one run, and report the headline metrics.

``make bench`` runs this; ``make bench-full`` runs it with ``--full``, which adds
what does not fit an hour (``SCRIPTS`` below; docs/benchmarks.md gives the
times). The scripts run as subprocesses, never in parallel (they time things),
each writing its results as JSON; then this prints one markdown table of the
headline metrics (value, target, met; "not run" for those of the other level)
and the extra measurements, and writes

* ``benchmarks/results/latest.json``: every result, the date, the machine (``lscpu``
  model name, cores), library versions and the exact commands;
* ``benchmarks/results/latest.md``: the tables as markdown;
* ``benchmarks/results/latest.log``: everything the scripts printed;
* ``docs/_static/accuracy_vs_time.png``: test accuracy against fit seconds: the
  notebook CNN's per-epoch curve, the recipe's budgeted runs (one point a
  fit) and the baseline's fixed-epoch runs (from the committed results).

With ``--quick`` every script gets ``--quick`` (a smoke run: the numbers mean
nothing) and the outputs go to ``benchmarks/results/quick/`` instead.

    python benchmarks/run_all.py                   # make bench
    python benchmarks/run_all.py --full            # make bench-full: everything
    python benchmarks/run_all.py --quick           # smoke run of make bench's scripts
    python benchmarks/run_all.py --only wrapper_overhead,distributed_search --no-dask
    python benchmarks/run_all.py --from-json benchmarks/results/latest.json  # re-render
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _report import render

# name -> (extra arguments under make bench, under make bench-full); None: not run
# at that level. Run in this order. make bench is meant to take about an hour on
# 2 cores; the estimates per script are in docs/benchmarks.md.
SCRIPTS = {
    "accuracy_budget": ([], ["--full"]),  # bench: notebook, 1x, 1x-auto, 6x; full: + 12x, default
    "utilisation": (["--networks", "recipe"], []),  # full: every network of its CONFIGS
    "avx2_budget": ([], []),  # oneDNN held to AVX2: B, the chosen and the fixed 1x network
    "wrapper_overhead": ([], []),
    "distributed_search": ([], []),
    "repeated_fits": ([], []),
    "search_memory": (None, []),
    "export_speed": (None, []),  # full: predict_proba, ONNX Runtime, SavedModel
    "backend_speed": (None, []),  # full: Keras' torch backend against TensorFlow, if installed
}

PLOT = _common.ROOT / "docs" / "_static" / "accuracy_vs_time.png"
_VERSIONS = {
    "TensorFlow": ("tensorflow", "tensorflow-cpu"),
    "Keras": ("keras",),
    "scikit-learn": ("scikit-learn",),
    "scikeras": ("scikeras",),
    "NumPy": ("numpy",),
    "Dask": ("dask",),
    "distributed": ("distributed",),
    "matplotlib": ("matplotlib",),
    "skcifar": ("skcifar",),
}


# -- running ------------------------------------------------------------------------------
def run_script(name, args, json_path, log):
    """Run one script with ``--json``; tee its output to ``log``; return (returncode, s, argv)."""
    argv = [sys.executable, str(_common.BENCH_DIR / f"{name}.py"), *args, "--json", str(json_path)]
    banner = f"\n=== {name}: {shlex.join(argv)}\n"
    print(banner, end="", flush=True)
    log.write(banner)
    start = time.perf_counter()
    with subprocess.Popen(
        argv,
        env=_common.child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
    seconds = time.perf_counter() - start
    log.flush()
    return proc.returncode, seconds, argv


def script_args(name, full):
    """The extra arguments of script ``name`` at make bench (or bench-full); None: not run."""
    args = SCRIPTS[name][1 if full else 0]
    return None if args is None else list(args)


def _args(name, full):
    """A script's arguments when asked for by name (--only): bench-full's if bench has none."""
    args = script_args(name, full)
    return script_args(name, True) if args is None else args


def run_all(names, quick, no_dask, log, full=False):
    results, scripts = {}, {}
    with tempfile.TemporaryDirectory(prefix="skcifar-bench-") as tmp:
        for name in names:
            args = _args(name, full) + (["--quick"] if quick else [])
            if no_dask and name == "distributed_search":
                args.append("--no-dask")
            json_path = Path(tmp) / f"{name}.json"
            returncode, seconds, argv = run_script(name, args, json_path, log)
            scripts[name] = {
                "command": shlex.join(argv),
                "returncode": returncode,
                "wall_seconds": seconds,
            }
            if json_path.exists():
                results[name] = _common.read_json(json_path)
    return results, scripts


def versions():
    found = {"Python": platform.python_version()}
    for label, dists in _VERSIONS.items():
        for dist in dists:
            try:
                found[label] = importlib.metadata.version(dist)
                if dist != dists[0]:
                    found[label] += f" ({dist})"
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument(
        "--full", action="store_true", help="make bench-full: every script and run (hours)"
    )
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCRIPTS)}")
    parser.add_argument("--no-dask", action="store_true", help="distributed_search --no-dask")
    parser.add_argument(
        "--out-dir",
        type=Path,
        help="where latest.{json,md,log} go (default benchmarks/results, "
        "--quick: benchmarks/results/quick)",
    )
    parser.add_argument(
        "--plot", type=Path, help=f"plot path (default {PLOT}; --quick: in --out-dir)"
    )
    parser.add_argument(
        "--from-json", type=Path, metavar="PATH", help="re-render a latest.json; run nothing"
    )
    args = parser.parse_args()

    if args.from_json:
        report = _common.read_json(args.from_json)
        quick = report.get("quick", False)
    else:
        quick = args.quick
    results_dir = _common.RESULTS_DIR
    out_dir = args.out_dir or (results_dir / "quick" if quick else results_dir)
    plot_path = args.plot or (out_dir / "accuracy_vs_time.png" if quick else PLOT)

    if not args.from_json:
        names = [n for n in SCRIPTS if script_args(n, args.full) is not None]
        if args.only:
            names = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = sorted(set(names) - set(SCRIPTS))
            if unknown:
                parser.error(f"unknown script(s) {unknown}; choose from {list(SCRIPTS)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(out_dir / "latest.log", "w") as log:
            results, scripts = run_all(names, quick, args.no_dask, log, args.full)
        report = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "quick": quick,
            "level": "bench-full" if args.full else "bench",
            "machine": _common.machine(),
            "versions": versions(),
            "environment": {
                k: os.environ[k]
                for k in (
                    "SKCIFAR_DATA",
                    "SKCIFAR_DATA_HOME",
                    "SKCIFAR_NUM_THREADS",
                    "OMP_NUM_THREADS",
                    "TF_CPP_MIN_LOG_LEVEL",
                )
                if k in os.environ
            },
            "commands": [shlex.join([sys.executable, *sys.argv])]
            + [info["command"] for info in scripts.values()],
            "total_wall_seconds": time.perf_counter() - start,
            "scripts": scripts,
            "results": results,
        }
    text = render(report, out_dir, plot_path)
    print("\n" + text)
    print(f"written: {out_dir / 'latest.json'}, {out_dir / 'latest.md'}, {report['plot']}")
    failed = [n for n, info in report.get("scripts", {}).items() if info["returncode"] != 0]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
