"""A budget on a CPU without AVX-512: the notebook's budget, the chosen network, the fixed one.

Runs, with oneDNN held to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``, how an AVX2-only
CPU such as AMD Zen 3 is tried on this one; float32 then, as there), each in
fresh processes:

1. ``accuracy_budget.py --runs 1x-auto,1x --seeds 0``: the notebook CNN's 10
   epochs (B, on this setting), then ``ResNetClassifier(time_budget=B)`` (the
   sizes "auto": fit chooses the network) and the fixed 1x configuration of
   ``_configs.RUNS`` with the same budget;
2. ``utilisation.py --networks recipe,recipe-32-64-128-b512``: training
   images/s and GFLOP/s of the two candidates against this setting's float32
   convolution peak.

    python benchmarks/avx2_budget.py --json out.json
    python benchmarks/avx2_budget.py --quick
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import _common

SETTING = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
RUNS = ("1x-auto", "1x")
NETWORKS = ("recipe", "recipe-32-64-128-b512")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (numbers mean nothing)")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args()
    env = _common.child_env(**SETTING)
    quick = ["--quick"] if args.quick else []
    result = {"setting": SETTING}
    with tempfile.TemporaryDirectory(prefix="skcifar-avx2-") as tmp:
        for name, argv in (
            ("accuracy_budget", ["--runs", ",".join(RUNS), "--seeds", "0"]),
            ("utilisation", ["--networks", ",".join(NETWORKS)]),
        ):
            out = Path(tmp) / f"{name}.json"
            command = [sys.executable, str(_common.BENCH_DIR / f"{name}.py"), *argv, *quick,
                       "--json", str(out)]  # fmt: skip
            print(f"[avx2_budget] {' '.join(f'{k}={v}' for k, v in SETTING.items())} "
                  f"{' '.join(command[1:])}", flush=True)  # fmt: skip
            proc = _common.run_child(command, env=env, check=False)
            result[name] = _common.read_json(out) if out.exists() else {
                "error": f"exit status {proc['returncode']}"}  # fmt: skip
    if args.json:
        _common.write_json(args.json, result)
    return 1 if any("error" in result[k] for k in ("accuracy_budget", "utilisation")) else 0


if __name__ == "__main__":
    raise SystemExit(main())
