"""skcifar.utils.atomic: files and directories appear whole, permissions kept, or not at all."""

import os
import signal
import stat
import subprocess
import sys

import pytest

from skcifar.utils.atomic import atomic_directory, atomic_output, cleanup_on_sigterm


def test_new_file_gets_umask_permissions(tmp_path):
    target = tmp_path / "out.bin"
    old_umask = os.umask(0o022)
    try:
        with atomic_output(target) as file:
            file.write(b"new")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["out.bin"]


def test_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    with atomic_output(target) as file:
        file.write(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
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


def test_errors_name_the_target_not_the_temporary_file(tmp_path):
    target = tmp_path / "missing" / "out.bin"
    with pytest.raises(FileNotFoundError) as info:
        with atomic_output(target):
            pass
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        with atomic_directory(target):
            pass
    assert info.value.filename == str(target)


def test_directory_replaces_the_old_one_keeping_its_permissions(tmp_path):
    target = tmp_path / "out"
    target.mkdir(mode=0o750)
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as new:
        os.mkdir(new)
        with open(os.path.join(new, "new.txt"), "w") as file:
            file.write("new")
    assert os.listdir(target) == ["new.txt"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert os.listdir(tmp_path) == ["out"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_directory_keeps_the_old_one_and_no_scratch(tmp_path, error):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(error):
        with atomic_directory(target) as new:
            os.mkdir(new)
            raise error
    assert os.listdir(target) == ["old.txt"]
    assert os.listdir(tmp_path) == ["out"]


def test_sigterm_handler_is_the_callers_after_and_untouched_if_set():
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with cleanup_on_sigterm():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with cleanup_on_sigterm():
            assert signal.getsignal(signal.SIGTERM) is handler
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


_TERMINATED_WRITE = """
import os, signal, sys
from skcifar.utils.atomic import atomic_output

with atomic_output(sys.argv[1]) as file:
    file.write(b"half")
    os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` or `timeout` would, mid-write
    signal.pause()
print("not terminated")
"""


@pytest.mark.skipif(not hasattr(signal, "pause"), reason="POSIX signals")
def test_sigterm_mid_write_removes_the_temporary_file_then_terminates(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    done = subprocess.run(
        [sys.executable, "-c", _TERMINATED_WRITE, str(target)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "not terminated" not in done.stdout
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
