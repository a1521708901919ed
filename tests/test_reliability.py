"""Long-running use: repeated fits without leaks, and Ctrl-C during fit.

The full-size leak measurement (20 fits) is benchmarks/repeated_fits.py.
"""

import gc
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler
from skcifar.utils.backend import import_keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "benchmarks"))
from repeated_fits import rss_mb  # noqa: E402

keras = import_keras()


def _custom_gradients():
    from tensorflow.python.framework import ops

    return sum(name.startswith("CustomGradient-") for name in ops._gradient_registry._registry)


@pytest.mark.tensorflow  # the gradient registry is TensorFlow's
def test_repeated_fits_release_their_networks():
    """8 fits of a fresh small CNN, as a grid search does: nothing accumulates."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(300, 16, 16, 3), dtype=np.uint8)
    y = np.arange(300) % 3
    template = make_pipeline(
        PixelScaler(), CNNClassifier(filters=(8,), dense_units=16, epochs=1, random_state=0)
    )
    clone(template).fit(X, y)  # warm-up: imports, first traces
    registered, rss_start = _custom_gradients(), rss_mb()
    for _ in range(8):
        clone(template).fit(X, y).predict(X[:50])
        # Collect each fit's garbage at once: fit spaces its own collections out
        # (release_memory), and the garbage of a few fits between them would raise
        # the allocator's high-water mark, which RSS keeps; this test is about leaks.
        gc.collect()
    # The train step's gradient registrations (which would pin every traced graph) are released,
    assert _custom_gradients() == registered
    # no network survives its estimator,
    assert sum(isinstance(o, keras.Model) for o in gc.get_objects()) == 0
    # and the process does not grow.
    assert rss_mb() - rss_start < 40


class _InterruptAt(keras.callbacks.Callback):
    """Raise KeyboardInterrupt (what Ctrl-C does) after batch 1 of ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            raise KeyboardInterrupt


@pytest.fixture
def small_data():
    rng = np.random.RandomState(0)
    return rng.rand(64, 8, 8, 3).astype(np.float32), np.arange(64) % 2


def test_ctrl_c_in_first_epoch_leaves_the_estimator_unfitted(small_data):
    X, y = small_data
    clf = CNNClassifier(filters=(4,), dense_units=4, epochs=5, callbacks=[_InterruptAt(0)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert not [name for name in vars(clf) if name.endswith("_") and not name.startswith("_")]
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_ctrl_c_later_keeps_the_completed_epochs(small_data):
    X, y = small_data
    clf = CNNClassifier(filters=(4,), dense_units=4, epochs=5, callbacks=[_InterruptAt(2)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert len(clf.history_["loss"]) == 2
    assert clf.predict(X).shape == (64,)


def test_ctrl_c_during_a_warm_start_keeps_the_earlier_fit(small_data):
    X, y = small_data
    clf = CNNClassifier(filters=(4,), dense_units=4, epochs=2, warm_start=True).fit(X, y)
    # Epochs are numbered on: 2 and 3 are the continued fit's; interrupt its second.
    clf.set_params(callbacks=[_InterruptAt(3)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert len(clf.history_["loss"]) == 3  # 2 earlier epochs + 1 completed now
    assert clf.predict(X).shape == (64,)


@pytest.mark.tensorflow
def test_joblib_worker_thread_limit_reaches_tensorflow():
    """joblib's process workers get OMP_NUM_THREADS=cores//n_jobs; a fit applies it to TF."""
    import os
    import subprocess

    script = (
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "from skcifar import ANNClassifier\n"
        "X = np.random.RandomState(0).rand(20, 4).astype('float32')\n"
        "ANNClassifier(hidden_layer_sizes=(4,), epochs=1).fit(X, np.arange(20) % 2)\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SKCIFAR_NUM_THREADS"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
