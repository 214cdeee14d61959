"""Writing a private file (a config, a template zip) all at once, never half.

The content goes to a temporary file (``0600``) in the target's folder, is
flushed to disk, then takes the target's name in one step: a reader sees the
old file or the new one, never a part, and a crash leaves at most a stray
``.NAME.*.tmp``. Without ``replace`` the target must not exist: the new file
is linked into place, which fails if another one appeared meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

__all__ = ["write_private"]


def write_private(path: str | os.PathLike[str], content: str | bytes, *, replace: bool) -> Path:
    """Write ``content`` to ``path`` atomically with mode ``0600``.

    With ``replace`` an existing file is replaced; without it a
    :class:`FileExistsError` is raised and the existing file is not touched.
    """
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_folder(target.parent)
    return target


def _link_new(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as exc:
        # a file system without hard links (FAT on an SD card's boot partition): check, then move
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _sync_folder(folder: Path) -> None:
    # the new name survives a power cut only once the folder is on disk too
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
