"""Private files written whole: ``iota_publisher._files.write_private``."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from iota_publisher import _files
from iota_publisher._files import write_private


def test_a_new_file_is_private_and_nothing_else_is_left(tmp_path):
    path = write_private(tmp_path / "config.json", "{}\n", replace=False)
    assert path.read_text() == "{}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_without_replace_an_existing_file_is_untouched(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("mine")
    with pytest.raises(FileExistsError):
        write_private(path, "theirs", replace=False)
    assert path.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_replace_swaps_the_whole_file_and_makes_it_private(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, b"new", replace=True)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_symlink_in_the_way_counts_as_a_file(tmp_path):
    path = tmp_path / "config.json"
    path.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        write_private(path, "x", replace=False)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP])
def test_file_systems_without_hard_links_still_refuse_to_replace(tmp_path, monkeypatch, code):
    def no_links(_src, _dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_files.os, "link", no_links)
    path = write_private(tmp_path / "a.json", "1", replace=False)
    assert path.read_text() == "1"
    with pytest.raises(FileExistsError):
        write_private(path, "2", replace=False)
    assert path.read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def fail(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", fail)
    with pytest.raises(OSError, match="No space"):
        write_private(tmp_path / "a.json", "1", replace=True)
    assert list(tmp_path.iterdir()) == []
