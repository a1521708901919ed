"""What a ``.skcifar`` file may declare is checked before anything is inflated or allocated.

Each crafted file is a small saved pipeline with one member swapped for one
that declares far more than it holds: a compressed member that inflates to
64 MiB, a Keras config whose layer has nine hundred million weights. Loading it
is a ``ValueError`` naming the limit, raised before the member is inflated or
the network is built.
"""

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from _synthetic import make_images
from sklearn.pipeline import make_pipeline

import skcifar
from skcifar import CNNClassifier, PixelScaler
from skcifar.utils import file_limits as _limits

BOMB_BYTES = 64 * 2**20  # more than the 16 MiB floor, and 20 times any file here


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X, y = make_images(n=30)
    pipe = make_pipeline(
        PixelScaler(standardize=True),
        CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0),
    ).fit(X, y)
    path = tmp_path_factory.mktemp("saved") / "pipe.skcifar"
    skcifar.save(pipe, path)
    return path


def _write_zeros(archive, name, n_bytes, compress_type=zipfile.ZIP_DEFLATED):
    """A member of ``n_bytes`` zeros, streamed: the test itself never holds them."""
    info = zipfile.ZipInfo(name)
    info.compress_type = compress_type
    chunk = bytes(2**20)
    with archive.open(info, "w", force_zip64=True) as member:
        for _ in range(n_bytes // len(chunk)):
            member.write(chunk)


def replace_member(src, dst, name, write):
    """Copy archive ``src`` to ``dst`` with member ``name`` written by ``write(archive, name)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == name:
                write(zout, name)
            else:
                zout.writestr(info, zin.read(info))
    return dst


def model_member(path):
    with zipfile.ZipFile(path) as archive:
        return next(n for n in archive.namelist() if n.startswith("models/"))


def array_member(path):
    with zipfile.ZipFile(path) as archive:
        return next(n for n in archive.namelist() if n.startswith("arrays/"))


def keras_file(path):
    """The bytes of the saved network's ``.keras`` file."""
    with zipfile.ZipFile(path) as archive:
        return archive.read(model_member(path))


def edited_keras(data, name, write):
    """The ``.keras`` file ``data`` with member ``name`` written by ``write(archive, name)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename == name:
                write(zout, name)
            else:
                zout.writestr(info, zin.read(info))
    return out.getvalue()


def with_keras(saved, dst, data):
    """``saved`` with its network's ``.keras`` member replaced by ``data`` (stored)."""

    def write(archive, name):
        archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)

    return replace_member(saved, dst, model_member(saved), write)


def load_peak(path):
    """``skcifar.load(path)``'s exception and the peak of Python memory while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            skcifar.load(path)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_array_member_that_inflates_too_far_is_refused_before_inflating(saved, tmp_path):
    def bomb(archive, name):
        _write_zeros(archive, name, BOMB_BYTES)

    path = replace_member(saved, tmp_path / "bomb.skcifar", array_member(saved), bomb)
    assert path.stat().st_size < 1_000_000
    error, peak = load_peak(path)
    assert "inflated" in str(error) and f"at most {_limits.INFLATE_RATIO} times" in str(error)
    assert peak < 8 * 2**20  # the member was not inflated


def test_a_network_member_that_inflates_too_far_is_refused_before_extracting(
    saved, tmp_path, monkeypatch
):
    def bomb(archive, name):
        _write_zeros(archive, name, BOMB_BYTES)

    path = replace_member(saved, tmp_path / "bomb.skcifar", model_member(saved), bomb)
    written = []
    real_extract = skcifar.persistence.extract_member
    monkeypatch.setattr(
        skcifar.persistence,
        "extract_member",
        lambda *args: written.append(args) or real_extract(*args),
    )
    error, _ = load_peak(path)
    assert "inflated" in str(error)
    assert written == []  # nothing went to the temporary directory


def test_a_weights_file_that_inflates_too_far_inside_the_keras_file_is_refused(
    saved, tmp_path, monkeypatch
):
    def bomb(archive, name):
        _write_zeros(archive, name, BOMB_BYTES)

    data = edited_keras(keras_file(saved), "model.weights.h5", bomb)
    path = with_keras(saved, tmp_path / "bomb.skcifar", data)
    keras = pytest.importorskip("keras")
    monkeypatch.setattr(keras.saving, "load_model", _never_called)
    error, peak = load_peak(path)
    assert "the Keras file of" in str(error) and "inflated" in str(error)
    assert peak < 8 * 2**20


def _never_called(*args, **kwargs):
    raise AssertionError("Keras loaded the network before its declarations were checked")


def _with_config(saved, tmp_path, edit):
    def write(archive, name):
        with zipfile.ZipFile(io.BytesIO(keras_file(saved))) as original:
            config = json.loads(original.read(name))
        archive.writestr(name, json.dumps(edit(config)) if callable(edit) else edit)

    data = edited_keras(keras_file(saved), "config.json", write)
    return with_keras(saved, tmp_path / "crafted.skcifar", data)


def test_a_layer_declaring_more_weights_than_the_file_holds_is_refused_before_building(
    saved, tmp_path, monkeypatch
):
    def huge_output_layer(config):
        dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
        dense[-1]["config"]["units"] = 10**8  # (8 inputs + a bias) x 10**8 x 4 bytes: 3.6 GB
        return config

    path = _with_config(saved, tmp_path, huge_output_layer)
    keras = pytest.importorskip("keras")
    monkeypatch.setattr(keras.saving, "load_model", _never_called)
    with pytest.raises(ValueError, match=r"declares variables of 36\d{8} bytes") as info:
        skcifar.load(path)
    assert f"allows {_limits.VARIABLES_SLACK} bytes more" in str(info.value)


def test_a_keras_config_nested_too_deep_is_refused(saved, tmp_path):
    path = _with_config(saved, tmp_path, b"[" * 5000 + b"]" * 5000)
    with pytest.raises(ValueError, match=f"more than the {_limits.MAX_NESTING} levels"):
        skcifar.load(path)


def test_a_keras_config_that_builds_nothing_is_a_value_error(saved, tmp_path):
    path = _with_config(saved, tmp_path, lambda config: {"class_name": "NoSuchLayer"})
    with pytest.raises(ValueError, match="does not describe a network"):
        skcifar.load(path)


def test_an_archive_of_too_many_members_is_refused(saved, tmp_path):
    path = tmp_path / "many.skcifar"
    with zipfile.ZipFile(saved) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        for i in range(_limits.MAX_MEMBERS):
            zout.writestr(f"extra/{i}", b"")
    with pytest.raises(ValueError, match=f"more than the {_limits.MAX_MEMBERS}"):
        skcifar.load(path)


def test_counting_a_networks_variables_allocates_none_of_them(saved):
    """A config of 3.6 GB of weights is counted in microseconds, and nothing is left to allocate."""
    pytest.importorskip("keras")
    from keras.src.backend.common import global_state

    with zipfile.ZipFile(io.BytesIO(keras_file(saved))) as archive:
        config = json.loads(archive.read("config.json"))
    dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
    dense[-1]["config"]["units"] = 10**8
    n_bytes = _limits._variable_bytes(config, "a test network")
    assert n_bytes > 3.6e9
    # Keras allocates deferred variables when a later scope ends; none are left.
    assert not global_state.get_global_attribute("uninitialized_variables", [])


def test_saved_networks_declare_what_they_hold(saved):
    with zipfile.ZipFile(io.BytesIO(keras_file(saved))) as archive:
        config = json.loads(archive.read("config.json"))
        held = archive.getinfo("model.weights.h5").file_size
    needed = _limits._variable_bytes(config, "the saved network")
    assert 0 < needed <= held
    loaded = skcifar.load(saved)
    n_values = sum(int(np.prod(w.shape)) for w in loaded[-1].model_.weights)
    assert needed == 4 * n_values  # float32 variables, each counted once


@pytest.mark.parametrize(
    "flag", [0x1, 0x20, 0x40], ids=["encrypted", "patched", "strong-encryption"]
)
def test_a_member_zipfile_cannot_read_is_a_value_error(saved, tmp_path, flag):
    """zipfile raises RuntimeError or NotImplementedError on these flags; found by fuzzing."""
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        offset = archive.getinfo(array_member(saved)).header_offset
    starts = [i for i in range(len(data) - 46) if data[i : i + 4] == b"PK\x01\x02"]
    central = next(i for i in starts if int.from_bytes(data[i + 42 : i + 46], "little") == offset)
    data[central + 8] |= flag  # general-purpose flags, central directory
    data[offset + 6] |= flag  # and the local header
    path = tmp_path / "flagged.skcifar"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encrypted or patched"):
        skcifar.load(path)
