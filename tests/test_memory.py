"""memory=: fits resume from cached epoch checkpoints, with the results of fits from scratch."""

import gc
import io
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from _fifo import within
from _processes import run_together
from _synthetic import make_images
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    validation_curve,
)
from sklearn.pipeline import make_pipeline

import skcifar
from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.estimators import _resume
from skcifar.persistence import CheckpointCache
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()

# 96 rows in batches of 16: 6 steps an epoch.
N_STEPS = 6
SMALL = {
    "ann": (ANNClassifier, dict(hidden_layer_sizes=(16,), dropout=0.3, batch_size=16)),
    "cnn": (
        CNNClassifier,
        dict(filters=(4,), dense_units=8, dropout=0.2, augment=True, batch_size=16),
    ),
}


@pytest.fixture(scope="module")
def data():
    X, y = make_images(96, size=8)
    return (X / 255).astype(np.float32), y


@pytest.fixture
def resumed(monkeypatch):
    """The step counts that this process's fits resumed from (0: from scratch), in order."""
    seen = []
    original = _resume.Resume._load_longest

    def spy(self, *args):
        done = original(self, *args)
        seen.append(done)
        return done

    monkeypatch.setattr(_resume.Resume, "_load_longest", spy)
    return seen


def _fit(kind, X, y, memory=None, **params):
    cls, small = SMALL[kind]
    return cls(**{**small, "random_state": 0, "memory": memory, **params}).fit(X, y)


def _same_fit(a, b, X):
    # Exact: a resumed fit trains the same batches, in the same order, with the same ops
    # and shapes as the fit from scratch, in this process: any CPU gives the same bits.
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history_ == b.history_ and a.n_iter_ == b.n_iter_


def _checkpoints(location):
    return CheckpointCache(location).info()["checkpoints"]


# -- exactness ------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(SMALL))
def test_a_resumed_fit_is_bit_identical_to_a_fit_from_scratch(kind, data, tmp_path, resumed):
    X, y = data
    scratch = _fit(kind, X, y, epochs=3, validation_fraction=0.25)
    _fit(kind, X, y, tmp_path, epochs=1, validation_fraction=0.25)
    resumed_fit = _fit(kind, X, y, tmp_path, epochs=3, validation_fraction=0.25)
    steps = 3 * 5  # 72 training rows (a quarter validates) in batches of 16: 5 steps an epoch
    assert resumed == [0, 5]
    _same_fit(scratch, resumed_fit, X)
    assert resumed_fit.current_epoch == 3 and "val_loss" in resumed_fit.history_
    again = _fit(kind, X, y, tmp_path, epochs=3, validation_fraction=0.25)
    assert resumed[-1] == steps  # the very run: loaded, nothing trained
    _same_fit(scratch, again, X)
    assert _checkpoints(tmp_path) == 2


def test_fractional_epochs_resume_from_whole_epochs(data, tmp_path, resumed):
    X, y = data
    _fit("cnn", X, y, tmp_path, epochs=2)
    half = _fit("cnn", X, y, tmp_path, epochs=2.5)
    _same_fit(_fit("cnn", X, y, epochs=2.5), half, X)
    three = _fit("cnn", X, y, tmp_path, epochs=3)  # from epoch 2, not from mid-epoch 2.5
    _same_fit(_fit("cnn", X, y, epochs=3), three, X)
    assert resumed == [0, 2 * N_STEPS, 2 * N_STEPS]
    assert half.n_iter_ == 2.5 and three.n_iter_ == 3
    assert CheckpointCache(tmp_path).steps(_only_key(tmp_path)) == [18, 15, 12]


def _only_key(location):
    (key,) = os.listdir(os.path.join(location, "skcifar-checkpoints"))
    return key


# -- hits and misses --------------------------------------------------------------
def _changed(X, y):
    X2 = X.copy()
    X2[0, 0, 0, 0] += 0.5
    y2 = y.copy()
    y2[[0, 1]] = y2[[1, 0]]
    return {
        "a parameter": (X, y, dict(dropout=0.1), {}),
        "the seed": (X, y, dict(random_state=1), {}),
        "the class weights": (X, y, dict(class_weight="balanced"), {}),
        "one pixel": (X2, y, {}, {}),
        "the labels": (X, y2, {}, {}),
        "the sample weights": (X, y, {}, dict(sample_weight=np.linspace(1, 2, len(y)))),
    }


@pytest.mark.parametrize(
    "change",
    ["a parameter", "the seed", "the class weights", "one pixel", "the labels",
     "the sample weights"],
)  # fmt: skip
def test_a_changed_run_never_resumes(change, data, tmp_path, resumed):
    X, y = data
    _fit("ann", X, y, tmp_path, epochs=1)
    X2, y2, params, fit_params = _changed(X, y)[change]
    cls, small = SMALL["ann"]
    clf = cls(**{**small, "random_state": 0, "memory": tmp_path, "epochs": 2, **params})
    clf.fit(X2, y2, **fit_params)
    assert resumed == [0, 0]
    assert CheckpointCache(tmp_path).info()["runs"] == 2


def test_what_leaves_the_run_as_it_is_still_resumes(data, tmp_path, resumed, capsys):
    X, y = data
    _fit("ann", X, y, tmp_path, epochs=1)
    _fit("ann", X, y, str(tmp_path), epochs=2, verbose=2)  # a str path, progress lines
    assert resumed == [0, N_STEPS]


def test_a_longer_run_is_never_cut_short(data, tmp_path, resumed):
    X, y = data
    _fit("ann", X, y, tmp_path, epochs=3)
    short = _fit("ann", X, y, tmp_path, epochs=2)
    assert resumed == [0, 0]
    _same_fit(_fit("ann", X, y, epochs=2), short, X)


@pytest.mark.parametrize("kind", ["early_stopping", "resnet"])
def test_inexact_settings_reuse_exact_repeats_only(kind, data, tmp_path, resumed):
    X, y = data
    if kind == "resnet":
        clf = ResNetClassifier(widths=(4,), stem_filters=4, batch_size=16, random_state=0,
                               precision="float32")  # fmt: skip
    else:
        clf = clone(SMALL["ann"][0](**SMALL["ann"][1], random_state=0, early_stopping=True))
    clf.set_params(memory=tmp_path)
    clone(clf).set_params(epochs=2).fit(X, y)
    longer = clone(clf).set_params(epochs=3).fit(X, y)
    again = clone(clf).set_params(epochs=3).fit(X, y)
    scratch = clone(clf).set_params(epochs=3, memory=None).fit(X, y)
    assert resumed[:2] == [0, 0] and resumed[2] > 0  # the third is the second's repeat
    _same_fit(scratch, longer, X)
    _same_fit(scratch, again, X)


@pytest.mark.parametrize(
    "params",
    [
        dict(random_state=None),
        dict(random_state=np.random.RandomState(0)),
        dict(time_budget=1.0),
        dict(warm_start=True),
        dict(optimizer="adam", learning_rate=None, callbacks="callback"),
        dict(optimizer="instance"),
    ],
    ids=["no seed", "RandomState", "time_budget", "warm_start", "callbacks", "optimizer"],
)
def test_fits_the_cache_cannot_repeat_warn_and_leave_it_alone(params, data, tmp_path):
    X, y = data
    params = dict(params)
    if params.get("callbacks") == "callback":
        params["callbacks"] = [keras.callbacks.Callback()]
    if params.get("optimizer") == "instance":
        params["optimizer"] = keras.optimizers.SGD()
    with pytest.warns(UserWarning, match="memory is set, but this fit neither resumes nor"):
        _fit("ann", X, y, tmp_path, epochs=1, **params)
    assert _checkpoints(tmp_path) == 0


@pytest.mark.parametrize("call", ["fit", "pipeline", "cross_val_score"])
def test_memory_warnings_point_at_the_users_call(call, data, tmp_path):
    X, y = data
    clf = SMALL["ann"][0](**SMALL["ann"][1], epochs=1, memory=tmp_path)  # no seed: not cached
    calls = {
        "fit": lambda: clf.fit(X, y),
        "pipeline": lambda: make_pipeline(clf).fit(X, y),
        "cross_val_score": lambda: cross_val_score(clf, X, y, cv=2),
    }
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        calls[call]()
    caught = [w for w in record if "memory is set" in str(w.message)]
    assert caught and {w.filename for w in caught} == {__file__}


def test_partial_fit_does_not_use_the_cache(data, tmp_path):
    X, y = data
    cls, small = SMALL["ann"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(**small, random_state=0, memory=tmp_path).partial_fit(X, y)
    assert _checkpoints(tmp_path) == 0


# -- the memory parameter -------------------------------------------------------------
def test_a_joblib_memory_caches_in_its_location(data, tmp_path, resumed):
    X, y = data
    _fit("ann", X, y, joblib.Memory(tmp_path, verbose=0), epochs=1)
    _fit("ann", X, y, joblib.Memory(tmp_path, verbose=0), epochs=2)
    assert resumed == [0, N_STEPS]
    assert "skcifar-checkpoints" in os.listdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit("ann", X, y, joblib.Memory(None), epochs=1)  # no location: no cache, quietly
    assert resumed == [0, N_STEPS]


class _CacheWithoutLocation:
    """Passes the parameter check (it has a cache method) but names no directory."""

    def cache(self, function):
        return function


def test_bad_memory_is_refused_with_a_clear_message(data, tmp_path):
    X, y = data
    with pytest.raises((TypeError, ValueError), match="'memory' parameter"):
        _fit("ann", X, y, 3, epochs=1)
    with pytest.raises(TypeError, match="joblib.Memory with a location"):
        _fit("ann", X, y, _CacheWithoutLocation(), epochs=1)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        _fit("ann", X, y, tmp_path / "file", epochs=1)


def test_save_stores_no_memory(data, tmp_path):
    """A path is machine-specific and never read from a file: skcifar.save stores None."""
    X, y = data
    clf = _fit("ann", X, y, str(tmp_path / "cache"), epochs=1)
    for memory in (str(tmp_path / "cache"), joblib.Memory(tmp_path)):
        skcifar.save(clf.set_params(memory=memory), tmp_path / "m.skcifar")
        assert skcifar.load(tmp_path / "m.skcifar").memory is None
        assert clf.memory is memory


# -- damaged entries, parallel writers --------------------------------------------------
def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _inflate(data):
    """``.npy`` bytes whose shape gets ten more digits in front (its header grows)."""
    length = int.from_bytes(data[8:10], "little")
    header = data[10 : 10 + length].decode("latin1").replace("'shape': (", "'shape': (9999999999")
    new = data[:8] + len(header).to_bytes(2, "little") + header.encode("latin1")
    return new + data[10 + length :]


# Damage to the members of a checkpoint (a zip of .npy files): name -> edit of the members.
_MEMBER_DAMAGE = {
    "meta a list": lambda m: m.update({"meta.npy": _npy_bytes(np.array("[1, 2]"))}),
    "meta a string": lambda m: m.update({"meta.npy": _npy_bytes(np.array('"steps"'))}),
    "meta a number": lambda m: m.update({"meta.npy": _npy_bytes(np.array(5))}),
    "meta nested deep": lambda m: m.update({"meta.npy": _npy_bytes(np.array("[" * 100_000))}),
    "meta missing": lambda m: m.pop("meta.npy"),
    "a variable missing": lambda m: m.pop("v1.npy"),
    "a huge shape": lambda m: m.update({"v0.npy": _inflate(m["v0.npy"])}),
    "an object array": lambda m: m.update({"v0.npy": m["v0.npy"].replace(b"<f4", b"|O ", 1)}),
}


def _damage(path, how):
    if how in _MEMBER_DAMAGE:
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        _MEMBER_DAMAGE[how](members)
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 100)
    else:
        with np.load(path) as stored:
            members = {name: stored[name] for name in stored.files}
        meta = json.loads(str(members["meta"][()]))
        if how == "another network":  # readable, but its variables do not fit
            meta["n_variables"] = 2
            members.update(v0=np.zeros(3), v1=np.zeros(2))
        else:
            meta["history"] = {"loss": "nan"}
        members["meta"] = np.array(json.dumps(meta))
        with path.open("wb") as file:
            np.savez(file, **members)


@pytest.mark.parametrize(
    "how", ["truncated", "garbage", "another network", "bad history", *_MEMBER_DAMAGE]
)
def test_damaged_checkpoints_are_ignored_and_rewritten(how, data, tmp_path, resumed):
    X, y = data
    _fit("ann", X, y, tmp_path, epochs=1)
    _fit("ann", X, y, tmp_path, epochs=2)
    folder = tmp_path / "skcifar-checkpoints" / _only_key(tmp_path)
    for path in folder.glob("steps-*.npz"):
        _damage(path, how)
    (folder / ".steps-000000012.npz.0badcafe.tmp").write_bytes(b"left by a killed writer")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        refit = _fit("ann", X, y, tmp_path, epochs=2)
        gc.collect()  # an unclosed file warns when it is collected
    messages = [str(w.message) for w in record if w.category is UserWarning]
    for steps in (N_STEPS, 2 * N_STEPS):  # each damaged checkpoint is named, and discarded
        assert any(f"steps-{steps:09d}.npz" in m and "discarded" in m for m in messages), messages
    assert {w.filename for w in record if "discarded" in str(w.message)} == {__file__}
    assert not [w for w in record if issubclass(w.category, ResourceWarning)]
    assert resumed == [0, N_STEPS, 0]  # neither damaged checkpoint was used
    _same_fit(_fit("ann", X, y, epochs=2), refit, X)
    assert CheckpointCache(tmp_path).steps(folder.name) == [2 * N_STEPS]  # rewritten
    assert CheckpointCache(tmp_path).read(folder.name, 2 * N_STEPS) is not None


def _one_checkpoint(location, compression):
    """A small checkpoint written by the cache: ``(cache, key, path, meta, arrays)``."""
    cache = CheckpointCache(location)
    key = cache.key({"k": 1})
    arrays = [np.arange(24, dtype=np.float32).reshape(4, 6), np.ones(3)]
    cache.write(key, 6, {"history": {"loss": [1.5]}, "n_iter": 1}, arrays, {"k": 1})
    path = cache._file(key, 6)
    if compression == zipfile.ZIP_DEFLATED:
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        with zipfile.ZipFile(path, "w", compression) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    meta, _ = cache.read(key, 6)
    return cache, key, path, meta, arrays


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
def test_every_truncation_and_byte_flip_of_a_checkpoint_is_discarded_or_read_whole(
    compression, tmp_path
):
    # Each prefix of the file, and the file with each byte inverted (which hits every
    # zip header field: versions, flags such as encryption, sizes, offsets, CRCs).
    cache, key, path, meta, arrays = _one_checkpoint(tmp_path, compression)
    with open(path, "rb") as file:
        data = file.read()
    damaged = [data[:n] for n in range(len(data))]
    damaged += [data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :] for i in range(len(data))]
    discarded = 0
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for content in damaged:
            with open(path, "wb") as file:
                file.write(content)
            before = len(record)
            found = cache.read(key, 6)
            if found is None:  # named, and removed
                (warning,) = record[before:]
                assert warning.category is UserWarning and "discarded the damaged" in str(
                    warning.message
                ) and os.path.basename(path) in str(warning.message)  # fmt: skip
                assert not os.path.exists(path)
                discarded += 1
            else:  # a byte no reader looks at (a time stamp, a comment length): all there
                assert found[0] == meta and len(found[1]) == len(arrays)
                for got, want in zip(found[1], arrays, strict=True):
                    np.testing.assert_array_equal(got, want)
                    assert got.dtype == want.dtype
        gc.collect()  # an unclosed file warns when it is collected
    assert not [w for w in record if issubclass(w.category, ResourceWarning)]
    assert discarded > 0.9 * len(damaged)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_place_of_a_checkpoint_is_discarded_without_waiting(tmp_path):
    cache, key, path, _, _ = _one_checkpoint(tmp_path, zipfile.ZIP_STORED)
    os.remove(path)
    os.mkfifo(path)
    with pytest.warns(UserWarning, match=r"discarded the damaged .*not a regular file"):
        assert within(5, lambda: cache.read(key, 6), path) is None
    assert not os.path.exists(path)


_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skcifar.persistence import CheckpointCache
    cache, key, me = CheckpointCache(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    for _ in range(25):
        cache.write(key, 10, {"writer": me}, [np.full(250_000, me), np.full(7, me)], {"k": 1})
    """
)


def test_parallel_writers_of_one_checkpoint_never_leave_a_partial_file(tmp_path, monkeypatch):
    cache = CheckpointCache(tmp_path)
    key = cache.key({"k": 1})
    damaged = []
    monkeypatch.setattr(cache, "discard", lambda *args, **kwargs: damaged.append(args))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), key, str(me)], env=env)
        for me in (1, 2)
    ]
    seen = set()
    while any(writer.poll() is None for writer in writers):
        found = cache.read(key, 10)
        if found is not None:
            meta, arrays = found
            assert all(np.all(a == meta["writer"]) for a in arrays) and len(arrays[0]) == 250_000
            seen.add(meta["writer"])
    assert [writer.returncode for writer in writers] == [0, 0]
    assert not damaged and seen and cache.info()["checkpoints"] == 1
    left = os.listdir(tmp_path / "skcifar-checkpoints" / key)
    assert not [name for name in left if name.endswith(".tmp")]


_FITTER = textwrap.dedent(
    """
    import ast, json, os, sys, time, warnings
    import numpy as np
    from _synthetic import make_images
    from skcifar import ANNClassifier
    location, params, go, out = sys.argv[1:]
    X, y = make_images(96, size=8)
    X = (X / 255).astype(np.float32)
    clf = ANNClassifier(**ast.literal_eval(params), memory=location)
    open(out + ".ready", "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf.fit(X, y)
    np.save(out, clf.predict_proba(X))
    # Keras' own deprecation notices (on PyTorch, NumPy 2 about its tensors) are not the cache's.
    seen = [str(w.message) for w in record if not issubclass(w.category, DeprecationWarning)]
    print(json.dumps({"history": clf.history_, "warnings": seen}))
    """
)


def test_two_processes_fitting_one_run_at_once_store_one_whole_checkpoint(data, tmp_path, resumed):
    X, y = data
    location, go = tmp_path / "cache", tmp_path / "go"
    params = repr({**SMALL["ann"][1], "random_state": 0, "epochs": 2})  # tuples stay tuples
    outs = [tmp_path / f"{me}.npy" for me in "ab"]
    argvs = [(str(location), params, str(go), str(out)) for out in outs]
    results = run_together(_FITTER, argvs, outs, go, timeout=120)  # train, then store, at once
    reports = [json.loads(out.splitlines()[-1]) for out, _ in results]
    assert [report["warnings"] for report in reports] == [[], []]  # nothing discarded or lost
    scratch = _fit("ann", X, y, epochs=2)
    # Exact, as _same_fit: the same steps on the same machine, in processes with the same
    # thread budget, compute the same bits (as a parallel search's workers do).
    for out, report in zip(outs, reports, strict=True):
        np.testing.assert_array_equal(np.load(out), scratch.predict_proba(X))
        assert report["history"] == scratch.history_
    key = _only_key(location)
    assert CheckpointCache(location).steps(key) == [2 * N_STEPS]
    assert not [n for n in os.listdir(location / "skcifar-checkpoints" / key) if n.startswith(".")]
    _same_fit(scratch, _fit("ann", X, y, location, epochs=2), X)
    assert resumed == [2 * N_STEPS]  # the stored checkpoint is the result: nothing trained


# -- trust ----------------------------------------------------------------------------------
def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    """The usual umask, under which a directory made without a mode is 0o755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_cache_directories_skcifar_creates_are_private(data, tmp_path, umask_022):
    X, y = data
    location = tmp_path / "new" / "cache"
    _fit("ann", X, y, location, epochs=1)
    folder = location / "skcifar-checkpoints"
    run = folder / _only_key(location)
    assert [_mode(path) for path in (location, folder, run)] == [0o700] * 3


@pytest.mark.parametrize(
    "where, mode",
    [("location", 0o777), ("location", 0o770), ("skcifar-checkpoints", 0o757), ("run", 0o777)],
    ids=["location-777", "location-770", "skcifar-checkpoints-757", "run-777"],
)
def test_a_cache_directory_others_can_write_to_warns(where, mode, data, tmp_path, resumed):
    X, y = data
    _fit("ann", X, y, tmp_path, epochs=1)
    folder = tmp_path / "skcifar-checkpoints"
    path = {"location": tmp_path, "skcifar-checkpoints": folder}.get(where)
    path = path or folder / _only_key(tmp_path)
    os.chmod(path, mode)
    expected = re.escape(f"{str(path)!r} is writable by other users (mode {mode:o})")
    with pytest.warns(UserWarning, match=f"memory: {expected}.*planted.*'Trust model'"):
        _fit("ann", X, y, tmp_path, epochs=1)
    assert resumed == [0, N_STEPS]  # the cache is still used


def test_a_sticky_location_with_a_private_cache_in_it_is_trusted(data, tmp_path, umask_022):
    X, y = data
    os.chmod(tmp_path, 0o1777)  # as /tmp: others may add files, not replace this user's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit("ann", X, y, tmp_path, epochs=1)
    assert _mode(tmp_path / "skcifar-checkpoints") == 0o700


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a directory away needs root"
)
def test_a_location_of_another_user_warns(data, tmp_path):
    X, y = data
    (tmp_path / "theirs").mkdir(mode=0o755)
    os.chown(tmp_path / "theirs", 54321, 54321)
    with pytest.warns(UserWarning, match=r"theirs' belongs to another user \(uid 54321\)"):
        _fit("ann", X, y, tmp_path / "theirs", epochs=1)


# -- searches -----------------------------------------------------------------------------
def _search_pipeline(memory=None):
    clf = CNNClassifier(filters=(4,), dense_units=8, batch_size=16, random_state=0, memory=memory)
    return make_pipeline(PixelScaler(), clf)


GRID = {"cnnclassifier__filters": [(4,), (6,)], "cnnclassifier__epochs": [1, 2, 3]}


def _test_scores(cv_results):
    return {k: v for k, v in cv_results.items() if "test_score" in k and "rank" not in k}


def _same_scores(a, b):
    a, b = _test_scores(a), _test_scores(b)
    assert a.keys() == b.keys()
    # Exact, as _same_fit: resumed and fresh fits compute the same steps in this process.
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(scope="module")
def search_data():
    return make_images(72, size=8)


@pytest.fixture(scope="module")
def plain_grid_search(search_data):
    return GridSearchCV(_search_pipeline(), GRID, cv=2).fit(*search_data)


def test_grid_search_over_epochs_trains_the_longest_epochs_only(
    search_data, plain_grid_search, tmp_path, resumed
):
    search = GridSearchCV(_search_pipeline(tmp_path), GRID, cv=2).fit(*search_data)
    _same_scores(plain_grid_search.cv_results_, search.cv_results_)
    # 36 training rows in batches of 16: 3 steps an epoch. Per filter setting and fold,
    # epochs 1, 2, 3 resume from 0, 1, 2 epochs; the refit on all rows starts afresh.
    assert resumed == [0] * 4 + [3] * 4 + [6] * 4 + [0]
    assert _checkpoints(tmp_path) == 2 * 2 * 3 + 1
    # Exact: the refit starts afresh in both searches (the same computation).
    np.testing.assert_array_equal(
        search.predict_proba(search_data[0]), plain_grid_search.predict_proba(search_data[0])
    )


def test_randomized_search_and_validation_curve(search_data, plain_grid_search, tmp_path):
    X, y = search_data
    randomized = RandomizedSearchCV(_search_pipeline(tmp_path), GRID, n_iter=4, cv=2,
                                    random_state=0).fit(X, y)  # fmt: skip
    for i, params in enumerate(randomized.cv_results_["params"]):
        j = plain_grid_search.cv_results_["params"].index(params)
        for k in range(2):
            name = f"split{k}_test_score"
            # Exact, as _same_fit: the same fits, resumed or not, in this process.
            assert randomized.cv_results_[name][i] == plain_grid_search.cv_results_[name][j]
    curves = [
        validation_curve(
            _search_pipeline(memory),
            X,
            y,
            param_name="cnnclassifier__epochs",
            param_range=[1, 2, 3],
            cv=2,
        )  # fmt: skip
        for memory in (None, tmp_path)
    ]
    # Exact, as _same_fit.
    np.testing.assert_array_equal(curves[0][1], curves[1][1])


def test_halving_search_over_epochs_continues_its_earlier_rounds(search_data, tmp_path, resumed):
    X, y = search_data

    def halving(memory):
        grid = {"cnnclassifier__filters": [(4,), (6,), (8,)]}
        return HalvingGridSearchCV(
            _search_pipeline(memory), grid, resource="cnnclassifier__epochs",
            min_resources=1, max_resources=3, factor=3, cv=2, random_state=0,
        ).fit(X, y)  # fmt: skip

    plain, cached = halving(None), halving(tmp_path)
    _same_scores(plain.cv_results_, cached.cv_results_)
    assert list(cached.n_resources_) == [1, 3]
    # round 0: 3 candidates x 2 folds from scratch; round 1: the best one, from epoch 1
    assert resumed == [0] * 6 + [3, 3] + [0]


@pytest.mark.slow
def test_parallel_search_workers_share_the_cache(search_data, plain_grid_search, tmp_path):
    X, y = search_data
    for _ in range(2):  # the second search finds every fit in the cache
        search = GridSearchCV(_search_pipeline(tmp_path), GRID, cv=2, n_jobs=2).fit(X, y)
        _same_scores(plain_grid_search.cv_results_, search.cv_results_)
    assert _checkpoints(tmp_path) == 2 * 2 * 3 + 1
