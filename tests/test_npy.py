"""skcifar.utils.npy: .npy data is checked before anything of its declared size is allocated."""

import io
import os
import zipfile

import numpy as np
import pytest
from _fifo import within

from skcifar.utils import npy


def _npy(header, payload=b"", version=1, length=None):
    """``.npy`` bytes written by hand: any header text, however false, then ``payload``."""
    text = header.encode("utf-8" if version == 3 else "latin1")
    size = len(text) if length is None else length
    prefix = size.to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + prefix + text + payload


def _header(descr="<f8", shape=(2,), fortran_order=False):
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran_order!r}, 'shape': {shape!r}, }}\n"


def _saved(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


# -- what numpy writes reads back -------------------------------------------------------
@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.asfortranarray(np.arange(24, dtype=np.int64).reshape(2, 3, 4)),
        np.arange(6, dtype=">i4"),
        np.array([True, False]),
        np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
        np.float16(1.5) * np.ones((2, 0, 3), dtype=np.float16),
        np.array(7, dtype=np.uint8),
        np.array(["cat", "airplane"]),
        np.array([b"ab", b"c"]),
    ],
    ids=["2d", "fortran", "big-endian", "bool", "complex", "empty", "0d", "unicode", "bytes"],
)
@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_what_numpy_writes_reads_back_identically(array, version):
    data = _saved(array, version)
    kinds = npy.NUMERIC_KINDS + npy.STRING_KINDS
    got = npy.loads(data, kinds=kinds)
    expected = np.load(io.BytesIO(data), allow_pickle=False)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.flags.f_contiguous == expected.flags.f_contiguous and got.flags.writeable
    np.testing.assert_array_equal(got, expected)  # exact: the same bytes, no arithmetic


def test_a_file_and_a_zip_member_read_as_the_bytes_do(tmp_path):
    array = np.arange(100_000, dtype=np.float64)  # several zip reads
    path = tmp_path / "a.npy"
    np.save(path, array, allow_pickle=False)
    np.testing.assert_array_equal(npy.load(path), array)
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "a.npy")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        info = archive.getinfo("a.npy")
        with archive.open(info) as member:
            np.testing.assert_array_equal(npy.read_array(member, info.file_size), array)


def test_strings_are_read_only_where_asked_for():
    data = _saved(np.array(["cat"]))
    with pytest.raises(ValueError, match="dtype '<U3' is refused"):
        npy.loads(data)
    assert npy.loads(data, kinds=npy.STRING_KINDS)[0] == "cat"


def test_read_header_leaves_the_file_at_the_data():
    data = _saved(np.arange(3, dtype=np.int16))
    file = io.BytesIO(data)
    header = npy.read_header(file, len(data))
    assert header.dtype == np.int16 and header.shape == (3,) and not header.fortran_order
    assert header.nbytes == 6 and file.tell() == header.offset == len(data) - 6


# -- lies and damage --------------------------------------------------------------------
def test_a_200_byte_file_declaring_73_terabytes_is_refused(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(_npy(_header(shape=(10**13,)), b"\0" * 128))
    assert path.stat().st_size < 256
    # np.load allocates first: MemoryError ("Unable to allocate 72.8 TiB").
    with pytest.raises(ValueError, match=r"declares shape \(10000000000000,\).* 128 bytes follow"):
        npy.load(path)
    with pytest.raises(ValueError, match=str(path)):
        npy.load(path)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated while reading the magic"),
        (b"PK\x03\x04 a zip file", "not .npy data"),
        (_npy(_header())[:12], "header length .* is impossible"),
        (_npy(_header(), version=4), "unsupported .npy format version 4.0"),
        (_npy(_header(), length=60_000), "header length 60000 is impossible"),
        (_npy(_header(), version=2, length=2**32 - 1), "header length 4294967295 is impossible"),
        (_npy("__import__('os').system('true')"), "not a Python literal"),
        (_npy("(" * 5000 + ")" * 5000), "not a Python literal"),
        (b"\x93NUMPY\x03\x00\x02\x00\x00\x00\xff\xfe", "not a Python literal"),
        (_npy("[1, 2]"), "must be a dict"),
        (_npy(_header()[:-3] + "'extra': 1}"), "must be a dict"),
        (_npy(_header(descr="|O", shape=(1,)), b"\0" * 8), "'|O' is refused.*pickle"),
        (_npy(_header(descr=[("a", "<f8")])), "not a plain dtype string"),
        (_npy(_header(descr="<f8,<i4")), "not a plain dtype string"),
        (_npy(_header(descr="(2,)<f8")), "not a plain dtype string"),
        (_npy(_header(descr=",U8")), "not a plain dtype string"),  # np.dtype: SyntaxError
        (_npy(_header(descr="|V8")), "refused"),
        (_npy(_header(descr="<U0", shape=(10**13,))), "refused"),
        (_npy(_header(descr="not a dtype")), "not a plain dtype string"),
        (_npy(_header(descr="<q9")), "is not a dtype"),
        (_npy(_header(fortran_order=1), b"\0" * 16), "'fortran_order' is 1"),
        (_npy(_header(shape=(-1,))), "not a tuple of at most 64"),
        (_npy(_header(shape=[2])), "not a tuple"),
        (_npy(_header(shape=(True,))), "not a tuple"),
        (_npy(_header(shape=(2.0,))), "not a tuple"),
        (_npy(_header(shape=(1,) * 65)), "at most 64"),
        (_npy(_header(shape=(2,)), b"\0" * 15), r"\(16 bytes\), but 15 bytes"),
        (_npy(_header(shape=(2,)), b"\0" * 17), r"\(16 bytes\), but 17 bytes"),
        (_npy(_header(shape=(10**6, 10**6, 10**6)), b"\0" * 8), "declares"),
    ],
    ids=[
        "empty", "bad-magic", "cut-length", "version", "long-header", "long-header-v2",
        "code", "nesting", "bad-utf8", "not-a-dict", "extra-key", "object", "structured",
        "record", "sub-array", "comma-string", "void", "zero-itemsize", "unknown-dtype",
        "unknown-size", "fortran-not-bool",
        "negative", "list-shape", "bool-dim", "float-dim", "too-many-dims", "short-data",
        "trailing-data", "overflowing-size",
    ],
)  # fmt: skip
def test_malformed_data_is_a_value_error_naming_the_problem(data, message):
    with pytest.raises(ValueError, match=message) as info:
        npy.loads(data, where="'x.npy'")
    assert str(info.value).startswith("'x.npy': ")


def test_a_zip_member_shorter_than_it_says_is_a_value_error(tmp_path):
    data = _saved(np.arange(1000, dtype=np.float64))
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("a.npy", data)
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        with archive.open("a.npy") as member:
            with pytest.raises(ValueError, match="8000 bytes\\), but 8008 bytes"):
                npy.read_array(member, len(data) + 8)
    with pytest.raises(ValueError, match="truncated: the data ends after 0 of its 8000 bytes"):
        npy.read_array(io.BytesIO(data[:128]), len(data))


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        npy.load(tmp_path / "missing.npy")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="x.npy' is not a regular file"):
        within(5, lambda: npy.load(fifo), fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        npy.load(tmp_path)  # a directory
