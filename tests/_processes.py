"""Start fresh Python processes: one at a time (``run_python``), or several released together."""

import os
import subprocess
import sys
import time


def run_together(script, argvs, outs, go, timeout):
    """Run ``script`` once per argv in ``argvs``, released together; ``[(stdout, stderr)]``.

    Each process creates ``f"{out}.ready"`` (its ``out`` from ``outs``) once it
    has imported what it needs, then waits for the file ``go``; this creates
    ``go`` when all are ready (or one has ended early: its output says why).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for argv in argvs
    ]
    try:
        while not all(os.path.exists(f"{out}.ready") for out in outs):
            if any(process.poll() is not None for process in processes):
                break
            time.sleep(0.002)
    finally:
        open(go, "w").close()
        results = [process.communicate(timeout=timeout) for process in processes]
    assert [process.returncode for process in processes] == [0] * len(processes), results
    return results


def run_python(script, *args, env=None):
    """Run ``script`` in a fresh Python process with this process's import path (and ``env``)."""
    env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
