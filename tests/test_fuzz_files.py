"""Property-based fuzzing of the readers of files skcifar did not necessarily write.

Each property feeds mutated inputs to one reader: whole ``.skcifar`` archives
(bytes flipped, cut, inserted), their manifests (any node replaced by any JSON
value, or removed), the ``.keras`` network inside them, ``.npy`` data, the
checkpoints of ``memory=`` and the entries of the dataset cache. Every outcome
is a successful read, or a ``ValueError``/``OSError`` with a message (the
caches: the entry discarded with a warning) — never another exception, a hang
or a burst of memory.

``make test`` runs a fixed set of cases (``derandomize``: the same ones on
every run, about 30 seconds in all on two cores); the ``slow`` variant draws
ten times as many, new ones each run.
"""

import io
import json
import os
import resource
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _synthetic import make_images
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline

import skcifar
from skcifar import CNNClassifier, PixelScaler
from skcifar.datasets import _cache
from skcifar.persistence import CheckpointCache
from skcifar.utils import npy

# Seconds one read may take; a tiny pipeline loads in about 0.1 s.
MAX_SECONDS = 10
# Growth of the process's peak memory over a whole property, in MiB.
MAX_GROWTH_MIB = 256

FAST = settings(
    max_examples=1,  # replaced per property below
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzz(prop, n_fast, slow=False):
    """A test of the property ``prop``: ``n_fast`` fixed cases, or ten times as many new ones."""

    def test(request, tmp_path, data):
        prop(request.getfixturevalue, tmp_path, data)

    test = given(data=st.data())(test)
    if not slow:
        return settings(FAST, max_examples=n_fast)(test)
    return pytest.mark.slow(settings(FAST, max_examples=10 * n_fast, derandomize=False)(test))


@pytest.fixture(scope="module")
def images():
    return make_images(n=30)


@pytest.fixture(scope="module")
def saved(images, tmp_path_factory):
    """The bytes of a saved ``PixelScaler(standardize=True) -> CNNClassifier`` pipeline."""
    X, y = images
    pipe = make_pipeline(
        PixelScaler(standardize=True),
        CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0),
    ).fit(X, y)
    path = tmp_path_factory.mktemp("fuzz") / "pipe.skcifar"
    skcifar.save(pipe, path)
    return path.read_bytes()


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_read(read, *args):
    """Run ``read(*args)``: a result, or a ValueError/OSError with a message, in bounded time."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = read(*args)
    except (ValueError, OSError) as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        event(f"{read.__name__}: {type(exc).__name__}")
        result = None
    else:
        event(f"{read.__name__}: read")
    assert time.perf_counter() - start < MAX_SECONDS
    return result


def check_load(path, images):
    """``skcifar.load`` fails cleanly, or gives an estimator that predicts or refuses cleanly."""
    estimator = check_read(skcifar.load, path)
    if estimator is not None and hasattr(estimator, "predict"):
        X, _ = images
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                estimator.predict(X[:4])
            except (ValueError, TypeError) as exc:
                assert str(exc)
                event(f"predict: {type(exc).__name__}")
            else:
                event("predict: predicted")


def rebuild(members, path):
    """Write ``members`` (name -> bytes) as a zip archive at ``path``, CRCs correct."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def members_of(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# Where a byte change matters most: the headers at both ends, or anywhere.
def offsets(size):
    return st.one_of(
        st.integers(0, size - 1),
        st.integers(0, min(size, 200) - 1),
        st.integers(max(0, size - 400), size - 1),
    )


@st.composite
def byte_mutations(draw, data):
    data = bytearray(data)
    if not data:
        return draw(st.binary(max_size=64))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        at = draw(offsets(len(data)))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at : at + draw(st.integers(1, 64))]
        if not data:
            break
    return bytes(data)


def _archive_bytes(fixture, tmp_path, data):
    path = tmp_path / "mutated.skcifar"
    path.write_bytes(data.draw(byte_mutations(fixture("saved"))))
    check_load(path, fixture("images"))


test_mutated_archive_bytes = fuzz(_archive_bytes, 300)
test_mutated_archive_bytes_slow = fuzz(_archive_bytes, 300, slow=True)


def json_values():
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, 1, -1, 2, 3, 32, 255, 10**6, 10**13, 2**63]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.sampled_from(["ndarray", "tuple", "dict", "float", "arrays/0.npy", "models/0.keras"]),
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _manifest_nodes(fixture, tmp_path, data):
    members = members_of(fixture("saved"))
    manifest = json.loads(members["manifest.json"])
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(manifest))[1:]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values())
    members["manifest.json"] = json.dumps(manifest).encode()
    check_load(rebuild(members, tmp_path / "mutated.skcifar"), fixture("images"))


test_mutated_manifest = fuzz(_manifest_nodes, 400)
test_mutated_manifest_slow = fuzz(_manifest_nodes, 400, slow=True)


def _keras_file(fixture, tmp_path, data):
    members = members_of(fixture("saved"))
    inner = members_of(members["models/0.keras"])
    name = data.draw(st.sampled_from(sorted(inner)))
    if name == "config.json" and data.draw(st.booleans()):
        config = json.loads(inner[name])
        paths = list(_paths(config))[1:]
        path = data.draw(st.sampled_from(paths))
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(json_values())
        inner[name] = json.dumps(config).encode()
    else:
        inner[name] = data.draw(byte_mutations(inner[name]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in inner.items():
            archive.writestr(member, content)
    members["models/0.keras"] = buffer.getvalue()
    check_load(rebuild(members, tmp_path / "mutated.skcifar"), fixture("images"))


test_mutated_keras_file = fuzz(_keras_file, 150)
test_mutated_keras_file_slow = fuzz(_keras_file, 150, slow=True)


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


NPY_SOURCES = [
    np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    np.array(["airplane", "bird"]),
    np.zeros((3, 32, 32, 3), np.uint8),
    np.array(7, np.int64),
]


@st.composite
def npy_mutations(draw):
    data = npy_bytes(draw(st.sampled_from(NPY_SOURCES)))
    if draw(st.booleans()):  # rewrite the header's text: shape, dtype or order
        length = int.from_bytes(data[8:10], "little")
        header = data[10 : 10 + length].decode("latin1")
        field = draw(st.sampled_from(["'descr': ", "'fortran_order': ", "'shape': "]))
        start = header.index(field) + len(field)
        end = header.index(", '", start) if ", '" in header[start:] else header.rindex("}")
        value = draw(
            st.one_of(
                st.sampled_from(["'|O'", "'<f8'", "'>i4'", "'<U99'", "True", "'V8'", "[]"]),
                st.tuples(st.integers(-3, 10**13), st.integers(0, 10**13)).map(str),
                st.text(max_size=10),
            )
        )
        header = header[:start] + value + header[end:]
        header = header.encode("latin1", "replace")
        data = data[:8] + len(header).to_bytes(2, "little") + header + data[10 + length :]
    return draw(byte_mutations(data)) if draw(st.booleans()) else data


def _npy_data(fixture, tmp_path, data):
    check_read(npy.loads, data.draw(npy_mutations()))


test_mutated_npy = fuzz(_npy_data, 1500)
test_mutated_npy_slow = fuzz(_npy_data, 1500, slow=True)


@pytest.fixture(scope="module")
def checkpoint(images, tmp_path_factory):
    """``(memory, key, steps, file bytes)`` of a real checkpoint of a tiny fit."""
    memory = tmp_path_factory.mktemp("memory")
    X, y = images
    CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0, memory=memory).fit(X, y)
    (path,) = memory.glob("skcifar-checkpoints/*/steps-*.npz")
    return memory, path.parent.name, int(path.stem.split("-")[1]), path.read_bytes()


def _checkpoint_entry(fixture, tmp_path, data):
    memory, key, steps, original = fixture("checkpoint")
    cache = CheckpointCache(memory)
    with open(cache._file(key, steps), "wb") as file:
        file.write(data.draw(byte_mutations(original)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = cache.read(key, steps)  # never raises: a damaged entry is discarded
    if read is None:
        assert any("discard" in str(w.message) for w in caught), [str(w.message) for w in caught]
        event("checkpoint: discarded")
    else:
        meta, arrays = read
        assert isinstance(meta, dict) and all(isinstance(a, np.ndarray) for a in arrays)
        event("checkpoint: read")


test_mutated_checkpoint = fuzz(_checkpoint_entry, 600)
test_mutated_checkpoint_slow = fuzz(_checkpoint_entry, 600, slow=True)


@pytest.fixture(scope="module")
def dataset_entry(tmp_path_factory):
    """``(key, arrays, files)`` of a dataset cache entry of 4 + 2 images: name -> bytes."""
    home = str(tmp_path_factory.mktemp("data_home"))
    rng = np.random.default_rng(0)
    arrays = (
        rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
        np.arange(4, dtype=np.int64),
        rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8),
        np.arange(2, dtype=np.int64),
    )
    key = "0" * 16
    _cache.save_cached(home, key, arrays)
    directory = _cache._cache_dir(home, key)
    files = {name: (Path(directory) / name).read_bytes() for name in os.listdir(directory)}
    return key, arrays, files


def _dataset_entry(fixture, tmp_path, data):
    key, arrays, files = fixture("dataset_entry")
    home = str(tmp_path / "home")
    directory = Path(_cache._cache_dir(home, key))
    directory.mkdir(parents=True, exist_ok=True)
    name = data.draw(st.sampled_from(sorted(files)))
    for other, content in files.items():
        mutated = data.draw(byte_mutations(content)) if other == name else content
        (directory / other).write_bytes(mutated)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = _cache.load_cached(home, key)  # never raises: a damaged entry is discarded
    if read is None:
        assert any("damaged" in str(w.message) for w in caught)
        event("dataset cache: discarded")
    else:
        for got, want in zip(read, arrays, strict=True):  # .npy has no checksum: values may differ
            assert got.dtype == want.dtype and got.shape[1:] == want.shape[1:]
        event("dataset cache: read")


test_mutated_dataset_cache = fuzz(_dataset_entry, 600)
test_mutated_dataset_cache_slow = fuzz(_dataset_entry, 600, slow=True)


@pytest.fixture(autouse=True)
def bounded_memory():
    """Fail a property whose reads raised the process's peak memory by more than it allows."""
    before = peak_mib()
    yield
    assert peak_mib() - before < MAX_GROWTH_MIB


def test_the_unmutated_file_loads_and_predicts(saved, images, tmp_path):
    """The fuzzers start from a file that loads: their failures are the mutations'."""
    path = tmp_path / "pipe.skcifar"
    path.write_bytes(saved)
    X, _ = images
    assert skcifar.load(path).predict(X[:4]).shape == (4,)
    assert np.isfinite(skcifar.load(path).predict_proba(X[:4])).all()
