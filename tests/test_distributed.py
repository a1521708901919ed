"""GridSearchCV on a local Dask cluster through joblib, against the same search run locally.

Needs ``dask[distributed]`` (skipped without it) and ``SKCIFAR_DATA`` for the search.
The two Dask workers run one fit at a time with one TensorFlow thread each; the local
reference runs in a subprocess with ``SKCIFAR_NUM_THREADS=1``, so both sides sum in the
same order and the cross-validation scores must agree exactly, not just to round-off
(different thread counts change probabilities by ~1e-7). Exactness also needs the
builders' explicit per-layer seeds: when Keras drew initialiser seeds from Python's global
generator, which a worker's event loop also uses, 7 of 10 searches differed.
"""

import os
import re
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler
from skcifar.distributed import limit_worker_threads
from skcifar.utils.backend import backend_name

N_IMAGES = 400
CV = 2
GRID = {"cnnclassifier__filters": [(4,), (8,)], "cnnclassifier__epochs": [1, 2]}


def _search():
    # Log-loss rather than accuracy: a continuous score, so exact equality below is a
    # strict check (accuracies of weak models on 200 images tie too easily).
    # refit=False keeps TensorFlow out of the test process; refitting is local anyway.
    return GridSearchCV(
        make_pipeline(
            PixelScaler(),
            CNNClassifier(dense_units=16, learning_rate=0.003, random_state=0),
        ),
        GRID,
        cv=CV,
        scoring="neg_log_loss",
        refit=False,
    )


@pytest.fixture(scope="module")
def dask_client(tmp_path_factory):
    """A 2-worker LocalCluster on loopback; closed, and the environment restored, always."""
    distributed = pytest.importorskip("distributed", reason="needs skcifar[distributed]")
    # The nanny writes OMP_NUM_THREADS=1 (and more) into *this* process's os.environ
    # before spawning workers; put it back so that later tests do not inherit it.
    saved_env = dict(os.environ)
    cluster = client = None
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            # The scheduler's HTTP server starts even without a dashboard, on port 8787
            # of every interface; keep it on loopback, on a free port.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            local_directory=str(tmp_path_factory.mktemp("dask")),
        )
        client = distributed.Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        for key in set(os.environ) - set(saved_env):
            del os.environ[key]
        os.environ.update(saved_env)


@pytest.fixture(scope="module")
def small_cifar(cifar10_real):
    """The first 400 training images (class-balanced: the loader interleaves classes)."""
    (X, y), _ = cifar10_real
    return X[:N_IMAGES], y[:N_IMAGES]


@pytest.fixture(scope="module")
def local_cv_results(small_cifar, tmp_path_factory):
    """The search run locally (n_jobs=1) in a fresh process with one TensorFlow thread."""
    tmp = tmp_path_factory.mktemp("local_search")
    X, y = small_cifar
    joblib.dump((_search(), X, y), tmp / "job.joblib")
    script = (
        "import sys, joblib\n"
        "search, X, y = joblib.load(sys.argv[1] + '/job.joblib')\n"
        "joblib.dump(search.fit(X, y).cv_results_, sys.argv[1] + '/cv_results.joblib')\n"
    )
    env = {**os.environ, "SKCIFAR_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return joblib.load(tmp / "cv_results.joblib")


def _worker_state():
    import os
    import sys

    from skcifar.utils import backend as _backend

    tf, torch = sys.modules.get("tensorflow"), sys.modules.get("torch")
    state = {
        "budget": os.environ.get("SKCIFAR_NUM_THREADS"),
        "configured": _backend._THREADS_CONFIGURED,
    }
    if tf:
        state.update(
            intra_op=tf.config.threading.get_intra_op_parallelism_threads(),
            inter_op=tf.config.threading.get_inter_op_parallelism_threads(),
        )
    elif torch:
        state.update(intra_op=torch.get_num_threads())
    return state


def test_grid_search_on_dask_matches_local_search(dask_client, small_cifar, local_cv_results):
    from dask.system import CPU_COUNT
    from distributed import get_task_stream

    X, y = small_cifar
    workers = sorted(dask_client.nthreads())
    assert len(workers) == 2

    # Thread limit: 2 cores // 2 one-thread workers (JAX has no limit to report).
    limits = limit_worker_threads(dask_client)
    expected = None if backend_name() == "jax" else max(1, CPU_COUNT // 2)
    assert limits == {w: expected for w in workers}

    search = _search()
    with get_task_stream(dask_client) as stream, joblib.parallel_backend("dask"):
        search.fit(X, y)

    # Same candidates in the same order, same scores to the last bit, same winner.
    local = local_cv_results
    assert search.cv_results_["params"] == local["params"]
    for key in ["mean_test_score", *(f"split{i}_test_score" for i in range(CV))]:
        # Exact: one thread per fit on both sides, on this CPU: the same computation.
        np.testing.assert_array_equal(search.cv_results_[key], local[key], err_msg=key)
    best = local["params"][int(np.argmin(local["rank_test_score"]))]
    assert search.best_params_ == best
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))

    # The fits ran as Dask tasks, on both workers: joblib names each task
    # "batch_of_<function>_<n>_calls-<uuid>"; the batches hold all 4 x 2 fits.
    calls = {}
    for task in stream.data:
        match = re.match(r"(?:mixed_)?batch_of_(\w+?)_(\d+)_calls-", task["key"])
        if match:
            calls[task["worker"]] = calls.get(task["worker"], 0) + int(match[2])
    assert sum(calls.values()) == len(GRID["cnnclassifier__filters"]) * 2 * CV, stream.data
    assert sorted(calls) == workers, calls

    # The backend in each worker trained with the limit skcifar set there.
    for worker, state in dask_client.run(_worker_state).items():
        wanted = {"budget": str(max(1, CPU_COUNT // 2)), "configured": True}
        if backend_name() == "tensorflow":
            wanted.update(intra_op=limits[worker], inter_op=min(limits[worker], 2))
        elif backend_name() == "torch":
            wanted.update(intra_op=limits[worker])
        assert state == wanted, (worker, state)


def _start_tensorflow_runtime():
    from skcifar.utils import backend as _backend

    tf = _backend.import_tensorflow()
    return int(tf.add(1, 1))  # running an op starts the runtime: thread pools are fixed


@pytest.mark.tensorflow
def test_limit_reports_workers_where_tensorflow_already_runs(dask_client):
    limit_worker_threads(dask_client)  # the default limit, as in the search test
    dask_client.run(_start_tensorflow_runtime)
    before = {w: s["intra_op"] for w, s in dask_client.run(_worker_state).items()}
    with pytest.warns(RuntimeWarning, match="already started"):
        limits = limit_worker_threads(dask_client, n_threads=7)
    assert limits == before and 7 not in limits.values()


def test_helpful_import_error_without_dask(monkeypatch):
    import skcifar.distributed as sd

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=re.escape('pip install "skcifar[distributed]"')):
        sd.limit_worker_threads(client=None)
    with pytest.raises(ImportError, match="skcifar.distributed"):
        with sd.dask_search_backend(client=None):
            pass


def test_importing_skcifar_does_not_need_dask():
    script = (
        "import sys\n"
        "sys.modules['dask'] = sys.modules['distributed'] = None\n"
        "import skcifar, skcifar.distributed\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_n_threads_is_validated():
    pytest.importorskip("distributed", reason="needs skcifar[distributed]")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_threads"):
            limit_worker_threads(client=None, n_threads=bad)
