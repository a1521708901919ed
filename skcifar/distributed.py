"""Run hyperparameter searches on a Dask cluster through joblib.

scikit-learn's :class:`~sklearn.model_selection.GridSearchCV` hands its fits to
joblib; under joblib's ``"dask"`` backend every batch of fits becomes a task on
a Dask worker. TensorFlow's thread pool needs care in the worker processes:
each worker should use its share of the cores, and that share can only be set
before TensorFlow's runtime starts in the process (:func:`limit_worker_threads`).

Seeded fits are reproducible on workers because the builders give every
initialiser and random layer an explicit seed derived from ``random_state``:
nothing depends on Python's global :mod:`random` stream, which a worker's
event-loop thread also draws from (``dask.sizeof`` samples large lists with
:func:`random.sample`) while a fit runs in a task thread.

Start workers as single-threaded processes, e.g.
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``: seeding is
process-wide too, so two fits running in threads of one worker would disturb
each other's random streams, and TensorFlow's own thread pool, not Dask's,
should use the cores.

This module needs ``dask[distributed]`` (``pip install "skcifar[distributed]"``),
imported only when a function here is called.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import warnings

__all__ = ["dask_search_backend", "limit_worker_threads"]

_INSTALL_HINT = 'skcifar.distributed needs Dask: pip install "skcifar[distributed]"'


def _require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return distributed


def _limit_threads_here(n_threads, slots_on_host, dask_worker=None):
    """Runs inside a worker: set the budget, apply it, report (wanted, in effect)."""
    from dask.system import CPU_COUNT  # respects cgroup quotas and CPU affinity

    from skcifar.utils import backend as _backend

    if n_threads is None:
        share = slots_on_host.get(dask_worker.address, dask_worker.state.nthreads)
        n_threads = max(1, CPU_COUNT // share)
    os.environ["SKCIFAR_NUM_THREADS"] = str(n_threads)
    # configure_threads() acts once per process: if a fit already ran here (or
    # something else started TensorFlow's runtime), the old setting stays, and
    # the read-back below shows it.
    _backend.configure_threads()
    return n_threads, _backend.intra_op_threads()


def limit_worker_threads(client, n_threads=None):
    """Limit the backend's threads in every Dask worker process.

    On each worker (through :meth:`distributed.Client.run`) this sets
    ``SKCIFAR_NUM_THREADS`` and applies it to Keras' backend at once (a few
    seconds per worker for TensorFlow's import; PyTorch takes
    ``torch.set_num_threads``; JAX sizes its pools from ``XLA_FLAGS`` when it
    starts, so there only the variable is set). Call it after the workers are
    up and before the search: TensorFlow fixes its thread pools when its
    runtime starts, so a worker that has already trained a model keeps the
    count it had. Such workers are reported with a :class:`RuntimeWarning`;
    ``client.restart()`` gives fresh processes, after which this function can be
    called again. The setting lives in the worker process, so workers that are
    restarted or added later need another call, or ``SKCIFAR_NUM_THREADS`` in
    their environment from the start (``LocalCluster(..., env={...})``, or an
    exported variable for ``dask worker``).

    Without this call TensorFlow in a Dask worker uses one thread: Dask's nanny
    starts workers with ``OMP_NUM_THREADS=1``, which skcifar honours.

    Parameters
    ----------
    client : distributed.Client
        Client connected to the cluster.
    n_threads : int, default=None
        Threads per worker. ``None`` gives every concurrently running fit an
        equal share of its machine: the CPU count of the worker's host divided
        by the total ``nthreads`` of the workers on that host (one fit runs per
        Dask thread). With ``threads_per_worker=1`` that is cores // workers.

    Returns
    -------
    threads : dict of str to int or None
        Worker address -> the backend's intra-op threads now in effect there
        (TensorFlow: 0 would mean its default, all cores; None on JAX).

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1)  # doctest: +SKIP
    >>> client = Client(cluster)  # doctest: +SKIP
    >>> limit_worker_threads(client)  # 2 cores, 2 workers  # doctest: +SKIP
    {'tcp://127.0.0.1:40103': 1, 'tcp://127.0.0.1:41711': 1}
    """
    _require_distributed()
    from distributed.comm import get_address_host

    valid = isinstance(n_threads, numbers.Integral) and not isinstance(n_threads, bool)
    if n_threads is not None and not (valid and n_threads >= 1):
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    slots = client.nthreads()  # worker address -> Dask threads (concurrent tasks)
    per_host = {}
    for address, nthreads in slots.items():
        host = get_address_host(address)
        per_host[host] = per_host.get(host, 0) + nthreads
    slots_on_host = {a: per_host[get_address_host(a)] for a in slots}
    # The CPU count is read on each worker's own host, inside the worker.
    outcome = client.run(_limit_threads_here, n_threads, slots_on_host)
    stuck = {a: got for a, (wanted, got) in outcome.items() if got != wanted}
    if stuck:
        warnings.warn(
            "TensorFlow had already started on these Dask workers, so their thread "
            f"count could not change (address: threads in effect): {stuck}. Restart the "
            "workers (client.restart()) and limit their threads before the search.",
            RuntimeWarning,
            stacklevel=2,
        )
    return {a: got for a, (_, got) in outcome.items()}


@contextlib.contextmanager
def dask_search_backend(client, *, n_threads=None, scatter=None):
    """Run scikit-learn's joblib parallelism (searches, ``cross_val_score``) on Dask.

    Calls :func:`limit_worker_threads` and then enters
    ``joblib.parallel_config(backend="dask", client=client, scatter=scatter)``;
    inside the block each batch of fits of a search is a task on a worker, and
    ``n_jobs`` defaults to the cluster's total threads.

    Parameters
    ----------
    client : distributed.Client
        Client connected to the cluster.
    n_threads : int, default=None
        TensorFlow threads per worker, see :func:`limit_worker_threads`.
    scatter : list of array-like, default=None
        Data to send to every worker once, up front (typically ``[X, y]``,
        the very objects later passed to ``fit``). Without it joblib sends
        arguments larger than 1 kB to one worker when first used, and the
        others fetch it from there.

    Yields
    ------
    threads : dict of str to int
        What :func:`limit_worker_threads` returned.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcifar import CNNClassifier, PixelScaler
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> search = GridSearchCV(
    ...     make_pipeline(PixelScaler(), CNNClassifier(random_state=0)),
    ...     {"cnnclassifier__epochs": [2, 4]},
    ...     cv=3,
    ... )
    >>> with dask_search_backend(client, scatter=[X, y]):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    _require_distributed()
    import joblib

    threads = limit_worker_threads(client, n_threads)
    with joblib.parallel_config(backend="dask", client=client, scatter=scatter):
        yield threads
