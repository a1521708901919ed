"""Measurement functions shared by the benchmark scripts: a leaf module.

It imports nothing from ``benchmarks/``; the scripts and the report import it.

* :func:`notebook_script`: the reference notebook's CNN script (``X / 255.0`` in
  float64, the raw Keras ``Sequential``, ``cnn.fit(X_train, y_train, epochs=10)``),
  as Python source to run in a fresh interpreter; the single copy of it that
  ``accuracy_budget.py`` and ``wrapper_overhead.py`` use;
* :func:`run_child`: run a command in a fresh process and return its own peak RSS
  (``VmHWM``, reported by the child) and wall time;
* :func:`make_curve_callback`: a Keras callback recording test accuracy after
  each epoch against cumulative training seconds, its own evaluation time excluded;
* :func:`accuracy`, :func:`log_loss`, :func:`forward_flops`, :func:`machine`, and
  :func:`write_json`/:func:`read_json` for the results under ``RESULTS_DIR``.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
# The committed results: the report keeps the baseline's fixed-epoch curves,
# read from here when the results being rendered lack them.
COMMITTED_RESULTS = RESULTS_DIR / "latest.json"

# The notebook's script. Lines marked "benchmark:" are not the notebook's: they only
# time ``cnn.fit`` and, when asked, subset the data (--quick), record a test-accuracy
# curve and write results. Everything else is the notebook, in its order: float64
# pixels, default batch size 32, adam, no seed.
_NOTEBOOK = """\
import time  # benchmark: timing
import tensorflow as tf
from tensorflow.keras import layers, models
from skcifar.datasets import load_data
(X_train, y_train), (X_test, y_test) = load_data()
#SUBSET
X_train = X_train / 255.0
X_test = X_test / 255.0
cnn = models.Sequential([
    layers.Conv2D(filters=32, kernel_size=(3, 3), activation='relu', input_shape=(32, 32, 3)),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(filters=64, kernel_size=(3, 3), activation='relu'),
    layers.MaxPooling2D((2, 2)),
    layers.Flatten(),
    layers.Dense(64, activation='relu'),
    layers.Dense(10, activation='softmax'),
])
cnn.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
#BEFORE_FIT
_fit_start = time.perf_counter()  # benchmark: the budget is the time of cnn.fit itself
cnn.fit(X_train, y_train, epochs=EPOCHS, verbose=0#CALLBACKS)
_fit_wall = time.perf_counter() - _fit_start  # benchmark
cnn.evaluate(X_test, y_test, verbose=0)
#REPORT
"""


def notebook_script(epochs=10, *, n_train=None, n_test=None, curve=False, out=None):
    """Source of the notebook's CNN script, ready for ``python -c``.

    With the defaults it is the notebook's script (plus two timing lines around
    ``cnn.fit``): what the peak-RSS comparison runs. ``n_train``/``n_test`` keep
    only the first images (quick runs); ``curve`` adds :func:`make_curve_callback`
    on the test set; ``out`` writes fit time, test accuracy and log-loss (from
    ``cnn.predict``, after the notebook's lines) and the curve to that JSON file.
    ``verbose=0``: the notebook shows a progress bar, which only costs time, so
    the budget measured here is, if anything, slightly tighter than the notebook's.
    """
    code = _NOTEBOOK.replace("EPOCHS", str(int(epochs)))
    subset = ""
    if n_train is not None or n_test is not None:
        subset = (
            f"X_train, y_train = X_train[:{n_train}], y_train[:{n_train}]  # benchmark: quick\n"
            f"X_test, y_test = X_test[:{n_test}], y_test[:{n_test}]  # benchmark: quick\n"
        )
    before = callbacks = report = ""
    if curve or out:
        before = (
            f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r})  # benchmark\n"
            "import _common  # benchmark\n"
        )
    if curve:
        before += (
            "_curve = _common.make_curve_callback(X_test, y_test)  # benchmark\n"
            "_curve.start()  # benchmark\n"
        )
        callbacks = ", callbacks=[_curve]"
    if out:
        report = (
            "_common.write_notebook_result(  # benchmark\n"
            f"    {str(out)!r}, cnn, X_test, y_test, _fit_wall, {'_curve' if curve else None}\n"
            ")\n"
        )
    return (
        code.replace("#SUBSET\n", subset)
        .replace("#BEFORE_FIT\n", before)
        .replace("#CALLBACKS", callbacks)
        .replace("#REPORT\n", report)
    )


def log_loss(y, proba):
    """Mean cross-entropy of ``proba`` (n, n_classes) at integer labels ``y``."""
    from sklearn.metrics import log_loss as sk_log_loss

    return float(sk_log_loss(y, proba, labels=np.arange(proba.shape[1])))


def accuracy(y, proba):
    return float(np.mean(np.argmax(proba, axis=1) == np.asarray(y)))


def make_curve_callback(X_test, y_test, batch_size=1024):
    """A Keras callback: test accuracy after each epoch vs cumulative training seconds.

    At each epoch end it predicts ``X_test`` (``self.model.predict``, no test-time
    augmentation) and records ``{"epoch", "seconds", "accuracy", "log_loss"}``;
    ``seconds`` counts from :meth:`start` (call it just before ``fit``; otherwise
    the start of training) minus the time spent in these evaluations, which is
    also summed in ``eval_seconds`` so that callers can take it off their own clock.
    """
    import keras

    y_test = np.asarray(y_test)

    class EpochCurve(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.points = []
            self.eval_seconds = 0.0
            self._start = None

        def start(self):
            self._start = time.perf_counter()

        def on_train_begin(self, logs=None):
            if self._start is None:
                self.start()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            proba = self.model.predict(X_test, batch_size=batch_size, verbose=0)
            self.points.append(
                {
                    "epoch": epoch + 1,
                    "seconds": now - self._start - self.eval_seconds,
                    "accuracy": accuracy(y_test, proba),
                    "log_loss": log_loss(y_test, proba),
                }
            )
            self.eval_seconds += time.perf_counter() - now
            point = self.points[-1]
            print(  # progress of a long benchmark run
                f"    epoch {point['epoch']:3d}: {point['seconds']:8.1f} s  "
                f"test accuracy {point['accuracy']:.4f}  log-loss {point['log_loss']:.3f}",
                flush=True,
            )

    return EpochCurve()


def write_notebook_result(path, cnn, X_test, y_test, fit_wall, curve=None):
    """Results of the notebook script (called at its end when ``out`` is given)."""
    start = time.perf_counter()
    proba = cnn.predict(X_test, verbose=0)  # the notebook's own y_pred = cnn.predict(X_test)
    predict_seconds = time.perf_counter() - start
    eval_seconds = curve.eval_seconds if curve is not None else 0.0
    write_json(
        path,
        {
            "fit_seconds": fit_wall - eval_seconds,
            "fit_wall_seconds": fit_wall,
            "curve_eval_seconds": eval_seconds,
            "predict_seconds": predict_seconds,
            "test_accuracy": accuracy(y_test, proba),
            "test_log_loss": log_loss(y_test, proba),
            "curve": curve.points if curve is not None else [],
        },
    )


def write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def read_json(path):
    return json.loads(Path(path).read_text())


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


PEAK_FILE_ENV = "SKCIFAR_BENCH_PEAK_FILE"

# Appended to ``python -c`` children: write this process's own peak RSS where run_child reads it.
_PEAK_SNIPPET = """
import os as _os  # benchmark: this process's own peak RSS
if _os.environ.get(PEAK_FILE_ENV):
    with open('/proc/self/status') as _status, open(_os.environ[PEAK_FILE_ENV], 'w') as _out:
        _out.write(''.join(l for l in _status if l.startswith('VmHWM:')))
""".replace("PEAK_FILE_ENV", repr(PEAK_FILE_ENV))


def own_peak_rss_mb():
    """Peak RSS of this process's own address space, in MB (``VmHWM``).

    Not ``ru_maxrss``: Linux carries a process's ``ru_maxrss`` over from the
    address space it had before ``execve`` - for a subprocess, its parent's - so a
    child started by a process holding 1 GB reports at least 1 GB.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_own_peak():
    """In a child of :func:`run_child`: report this process's peak RSS (call at the end)."""
    path = os.environ.get(PEAK_FILE_ENV)
    if path:
        Path(path).write_text(f"VmHWM: {int(own_peak_rss_mb() * 1024)} kB\n")


def child_env(**extra):
    """Environment for a benchmark child: TensorFlow's start-up logging silenced."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop(PEAK_FILE_ENV, None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_child(argv, *, env=None, check=True):
    """Run ``argv`` in a fresh process; return its own peak RSS and wall time.

    The child reports its peak RSS (``VmHWM``, see :func:`own_peak_rss_mb`) at its
    end into a file named by ``$SKCIFAR_BENCH_PEAK_FILE`` (:func:`python_child` adds
    the code; other children call :func:`write_own_peak`). Without a report,
    ``peak_rss_mb`` is None. Output goes to this process's stdout/stderr.
    Returns ``{"returncode", "peak_rss_mb", "wall_seconds"}``; raises
    CalledProcessError on failure when ``check``.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryDirectory(prefix="skcifar-bench-") as tmp:
        peak_file = Path(tmp) / "peak"
        env = dict(child_env() if env is None else env, **{PEAK_FILE_ENV: str(peak_file)})
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, check=False)
        wall = time.perf_counter() - start
        peak = None
        if peak_file.exists() and peak_file.read_text().split():
            peak = int(peak_file.read_text().split()[1]) / 1024
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return {"returncode": proc.returncode, "peak_rss_mb": peak, "wall_seconds": wall}


def python_child(code, **kwargs):
    """:func:`run_child` of ``python -c code`` (this interpreter), reporting its peak RSS."""
    return run_child([sys.executable, "-c", code + _PEAK_SNIPPET], **kwargs)


# -- machine ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _lscpu():
    """``lscpu``'s output in English, whatever the locale (its field names are read), once."""
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(["lscpu"], capture_output=True, text=True, check=True, env=env).stdout


def _lscpu_fields(text):
    """``lscpu``'s ``name: value`` lines as a dict."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model():
    try:
        model = _lscpu_fields(_lscpu()).get("Model name")
        if model:
            return model
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# Instruction sets that decide oneDNN's kernels (lscpu's flag names, and how they are reported).
ISA_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX512_BF16", "amx_tile": "AMX"}


def parse_lscpu(text):
    """The CPU class ``lscpu``'s output names: family and model number, threads per core, ISA.

    A figure measured on two vCPUs that are one core's two threads has half
    the arithmetic of two cores behind it; the instruction sets say which
    kernels oneDNN runs.
    """
    fields = _lscpu_fields(text)

    def number(key):
        value = fields.get(key, "")
        return int(value) if value.isdigit() else None

    flags = fields.get("Flags")
    return {
        "family": number("CPU family"),
        "model_number": number("Model"),
        "threads_per_core": number("Thread(s) per core"),
        # None where lscpu lists no flags (some virtual machines): unknown, not "none".
        "isa": None if flags is None else [n for f, n in ISA_FLAGS.items() if f in flags.split()],
    }


def cpu_class():
    """:func:`parse_lscpu` of this machine (empty where ``lscpu`` cannot run)."""
    try:
        text = _lscpu()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return parse_lscpu(text)


def machine():
    info = {
        "cpu_model": cpu_model(),
        "cpu_class": cpu_class(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
    }
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * size / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def forward_flops(model):
    """FLOPs of one image's forward pass through the convolutions and dense layers."""
    total = 0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        out = layer.output.shape  # (None, H, W, C) or (None, units)
        positions = int(np.prod(out[1:-1])) if len(out) == 4 else 1
        total += 2 * int(np.prod(shape)) * positions
    return total


# -- training speed -----------------------------------------------------------------------
# A training speed is the median of TIMED_STEPS steps after the first WARMUP_STEPS.
WARMUP_STEPS = 3
TIMED_STEPS = 12


def conv_shapes(model, batch, distinct=True):
    """The 3x3 convolution shapes of ``model``, as :func:`conv_peak` takes them.

    ``distinct=False``: one per convolution, in the network's order.
    """
    shapes = []
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None or tuple(kernel.shape[:2]) != (3, 3):
            continue
        shape = dict(
            batch=batch,
            size=int(layer.input.shape[1]),
            channels_in=int(kernel.shape[2]),
            channels_out=int(kernel.shape[3]),
        )
        if shape not in shapes or not distinct:
            shapes.append(shape)
    return shapes


def training_speed(params, *, n_images, image_size=32, seed=0, probe_batch=None):
    """Images/s of ``ResNetClassifier(**params).fit``, the network's forward FLOPs and,
    with ``probe_batch``, its 3x3 convolution shapes at that batch."""
    from skcifar import ResNetClassifier
    from skcifar.utils.backend import import_keras

    keras = import_keras()

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append((time.perf_counter(), time.process_time()))

    rng = np.random.RandomState(seed)
    X = rng.rand(n_images, image_size, image_size, 3).astype(np.float16)
    y = np.arange(n_images) % 10
    clock = StepTimes()
    clf = ResNetClassifier(**params, random_state=seed, callbacks=[clock])
    batch_size = clf.batch_size
    if batch_size == "auto":  # what a fit without a budget trains with
        batch_size = ResNetClassifier(**params).initialize(X[:2], y[:2]).batch_size_
    clf.set_params(epochs=(WARMUP_STEPS + TIMED_STEPS) * batch_size / n_images)
    clf.fit(X, y)
    wall, cpu = np.diff(np.array(clock.times[WARMUP_STEPS - 1 :]), axis=0).T
    speed = {
        "batch_size": batch_size,
        "images_per_second": batch_size / float(np.median(wall)),
        "images_per_cpu_second": batch_size / float(np.median(cpu)),
        "forward_mflop_per_image": forward_flops(clf.model_) / 1e6,
        "compute_dtype": clf.model_.layers[-2].compute_dtype,
    }
    if probe_batch:
        speed["conv_shapes"] = conv_shapes(clf.model_, probe_batch)
        speed["conv_layers"] = conv_shapes(clf.model_, batch_size, distinct=False)
    return speed
