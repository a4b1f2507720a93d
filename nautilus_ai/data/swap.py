"""Replace one catalog directory by a new version so that a crash at any instant leaves either
the old version or the new one in place: never a hole, never both (no Nautilus import).

How a write goes (:func:`replace_directory`, inside :func:`catalog_lock`):

1. Writers of one catalog serialise on an exclusive ``flock`` of the catalog's root directory;
   the kernel releases it when a writer dies, even by SIGKILL.
2. Taking the lock first tidies up after a writer that was killed: leftovers in the staging
   folder are removed, and a fallback swap (below) interrupted half-way is finished.
3. The new version of the directory is built in ``<catalog>/.nautilus-ai-staging/`` (outside
   ``data/``, so no catalog query ever lists it): the caller hard-links the files that do not
   change and writes (and fsyncs) only the merged ones.
4. One ``renameat2(RENAME_EXCHANGE)`` swaps the live directory and the new one. It is a single
   atomic step: a reader or a crash sees the whole old directory or the whole new one.
5. The old version, now in the staging folder, is deleted; a crash here leaves only garbage
   outside ``data/``, removed by the next write.

A directory that does not exist yet is moved in by one ``rename`` (atomic too). Where
``renameat2`` is missing (not Linux, or a filesystem without ``RENAME_EXCHANGE``) the swap falls
back to a journal and two renames (live -> staging, new -> live): a crash between those two
leaves the directory missing until the next write (or :func:`catalog_lock`) reads the journal
and finishes the swap. Readers that list a directory while it is being swapped may see a file
vanish under them (an error, never wrong data): re-read.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; one writer at a time is on the user
    fcntl = None  # type: ignore[assignment]

from nautilus_ai.artifacts import flock_within

__all__ = [
    "LOCK_TIMEOUT_S",
    "STAGING_DIR",
    "CatalogBusyError",
    "CatalogNotWritableError",
    "SwapMethod",
    "catalog_lock",
    "exchange_directories",
    "fsync_directory",
    "link_or_copy",
    "recover",
    "replace_directory",
]

STAGING_DIR = ".nautilus-ai-staging"
SwapMethod = Literal["rename", "exchange", "fallback"]
_JOURNAL_SUFFIX = ".journal.json"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
LOCK_TIMEOUT_S = 600.0  # the longest a writer waits for another one before giving up
_LOCK_POLL_S = 0.05


class CatalogBusyError(TimeoutError):
    """Another process held the catalog's writer lock for longer than the wait allowed."""


class CatalogNotWritableError(ValueError):
    """The catalog folder cannot be written (read-only folder or file system, no permission,
    disk full): raised before anything is written; what it holds is untouched and readable.
    ``folder`` is the folder that refused, ``reason`` the system's word for why."""

    def __init__(self, root: Path, folder: Path, reason: str) -> None:
        self.folder, self.reason = folder, reason
        super().__init__(
            f"catalog {root}: cannot write into {folder} ({reason}); nothing was written and "
            "what it holds is unchanged (reads still work): make it writable or give another "
            "catalog"
        )


def check_writable(root: Path, *, create: bool = True) -> None:
    """Prove that files can be made in ``root`` (and in its ``data/``) with an unnamed temporary
    file, else :class:`CatalogNotWritableError` naming the folder. ``create``: make ``root``
    first; otherwise nothing is made, and a ``root`` still to be made is proven through its
    nearest existing parent (a check before a run that will write there).

    A read-only catalog ended a write in an ``OSError: [Errno 30] Read-only file system:
    '.../.nautilus-ai-staging'`` met half-way (the CLI's catch-all, exit 1)."""
    base = root
    if not create:
        while not base.exists() and base != base.parent:
            base = base.parent
    folder = base
    try:
        if create:
            root.mkdir(parents=True, exist_ok=True)
        for folder in (base / "data", base):
            if folder.is_dir():
                with tempfile.TemporaryFile(dir=folder):
                    pass
    except OSError as exc:
        raise CatalogNotWritableError(root, folder, exc.strerror or type(exc).__name__) from exc


# The syscall exists but this filesystem / kernel cannot exchange: use the fallback.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}


@functools.lru_cache(maxsize=1)
def _renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load
        return None
    function = getattr(libc, "renameat2", None)  # glibc >= 2.28
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


def exchange_directories(first: Path, second: Path) -> bool:
    """Atomically swap two paths with ``renameat2(RENAME_EXCHANGE)``.

    Returns False (nothing done) where the call is unavailable or unsupported here.
    """
    function = _renameat2()
    if function is None:
        return False
    result = function(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, f"renameat2({first}, {second}, RENAME_EXCHANGE): {os.strerror(code)}")


def fsync_directory(path: Path) -> None:
    """Flush a directory's entries to disk (best effort: not every platform can)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` as ``target`` (no data copied); copy where links are impossible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def recover(catalog_path: str | os.PathLike[str]) -> None:
    """Finish or undo what a killed writer left in the staging folder (call under the lock).

    A journal means a fallback swap may have moved the live directory away: if it is missing,
    the complete new version (or else the old one) is moved back in. Everything else in the
    staging folder is an unfinished new version or a replaced old one, and is deleted.
    """
    root = Path(catalog_path)
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return
    for journal in sorted(staging.glob(f"*{_JOURNAL_SUFFIX}")):
        try:
            record = json.loads(journal.read_text())
            target = root / record["target"]
            candidates = [staging / record["new"], staging / record["old"]]
        except (OSError, ValueError, KeyError, TypeError):
            journal.unlink()  # written atomically, so unreadable means foreign: drop it
            continue
        if not target.exists():
            for candidate in candidates:
                if candidate.is_dir():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(candidate, target)
                    fsync_directory(target.parent)
                    break
        journal.unlink()
    for entry in sorted(staging.iterdir()):
        _remove(entry)
    with contextlib.suppress(OSError):
        staging.rmdir()


def _acquire(fd: int, root: Path, timeout_s: float) -> None:
    """``flock(LOCK_EX)`` within ``timeout_s``, else :class:`CatalogBusyError` naming ``root``."""
    if not flock_within(fd, timeout_s, _LOCK_POLL_S):
        raise CatalogBusyError(
            f"catalog {root} is being written by another process (its writer lock is held); "
            f"gave up after {timeout_s:g} s: wait for that write to finish and run again"
        )


@contextlib.contextmanager
def catalog_lock(
    catalog_path: str | os.PathLike[str], *, timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[Path]:
    """Hold the catalog's writer lock (creating the catalog folder) and tidy up first.

    Yields the catalog root. Waits while another process writes to the same catalog, at most
    ``timeout_s`` seconds, then raises :class:`CatalogBusyError` naming the catalog (a writer
    that died released the lock: only a live one makes us wait).
    """
    root = Path(catalog_path)
    check_writable(root)
    fd = os.open(root, os.O_RDONLY)
    try:
        if fcntl is not None:
            _acquire(fd, root, timeout_s)
        recover(root)
        yield root
    finally:
        os.close(fd)  # releases the flock


def _write_journal(staging: Path, name: str, record: dict[str, str]) -> Path:
    journal = staging / f"{name}{_JOURNAL_SUFFIX}"
    partial = staging / f"{name}.journal-partial"
    with open(partial, "w") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(partial, journal)
    fsync_directory(staging)
    return journal


def replace_directory(
    catalog_path: str | os.PathLike[str],
    target: Path,
    populate: Callable[[Path], None],
) -> SwapMethod:
    """Build a new version of ``target`` with ``populate(folder)`` and swap it in atomically.

    Call it under :func:`catalog_lock`; ``target`` must lie inside the catalog. ``populate``
    receives an empty folder on the same filesystem and fills it (hard links to files that do
    not change, new files written and flushed). Returns how the swap was done.
    """
    root = Path(catalog_path)
    staging = root / STAGING_DIR
    staging.mkdir(exist_ok=True)
    token = uuid.uuid4().hex[:12]
    new = staging / f"{token}.new"
    new.mkdir()
    populate(new)
    fsync_directory(new)
    method: SwapMethod
    leftover = new
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(new, target)
        fsync_directory(target.parent)
        method = "rename"
    elif exchange_directories(new, target):
        fsync_directory(target.parent)
        fsync_directory(staging)
        method = "exchange"  # `new` now holds the old version
    else:
        old = staging / f"{token}.old"
        record = {"target": str(target.relative_to(root)), "new": new.name, "old": old.name}
        journal = _write_journal(staging, token, record)
        os.rename(target, old)
        os.rename(new, target)
        fsync_directory(target.parent)
        journal.unlink()
        leftover = old
        method = "fallback"
    if leftover.exists():
        shutil.rmtree(leftover)
    with contextlib.suppress(OSError):
        staging.rmdir()
    return method
