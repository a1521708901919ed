"""skcifar.utils.atomic: files appear complete, with ordinary permissions, or not at all."""

import os
import stat

import pytest

from skcifar.utils.atomic import atomic_output


def test_complete_write_replaces_the_file_with_umask_permissions(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    old_umask = os.umask(0o022)
    try:
        with atomic_output(target) as file:
            file.write(b"new")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_write_keeps_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_output(target) as file:
            file.write(b"half")
            raise error
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
