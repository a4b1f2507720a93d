"""Versioned artifact folders ``<root>/<name>/v<N>``: written whole, never overwritten.

Trained models (:func:`nautilus_ai.models.torch_mlp.save_artifact`) and fine-tuned adapters
(:func:`nautilus_ai.finetune.save_adapter`) are published the same way: the files are written
into a temporary sibling folder, fsynced, and the folder is renamed into place, so a reader never
sees half an artifact and an existing version is never replaced.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "ArtifactError",
    "atomic_file",
    "file_sha256",
    "flock_within",
    "fsync_path",
    "next_version",
    "plain_mode",
    "publish_folder",
    "reserved_version",
    "write_bytes_atomic",
]


class ArtifactError(RuntimeError):
    """A model artifact is missing, malformed, or would overwrite an existing one."""


class ArtifactExistsError(ArtifactError):
    """The artifact folder to create exists already (another run may have just stored it)."""


def publish_next_version(
    root: str | os.PathLike[str], name: str, store: Callable[[int], Path], attempts: int = 100
) -> Path:
    """``store(version)`` with ``version = next_version(root, name)``; when another run stored
    that version meanwhile (:class:`ArtifactExistsError`), again with the next free one: two
    runs publishing one name in parallel both land, neither overwrites the other."""
    for _ in range(attempts):
        try:
            return store(next_version(root, name))
        except ArtifactExistsError:
            continue
    raise ArtifactError(
        f"{Path(root) / name}: no free version after {attempts} attempts (other runs keep "
        "storing this name)"
    )


def next_version(root: str | os.PathLike[str], name: str) -> int:
    """1 + the highest ``v<N>`` under ``<root>/<name>`` (1 if none); a file of that name counts
    too (the folder could not be created there), and so does a version a run holds
    (:func:`reserved_version`)."""
    folder = Path(root) / name
    versions = [int(child.name[1:]) for child in folder.glob("v*") if child.name[1:].isdigit()]
    held = (child.name[2 : -len(_RESERVED)] for child in folder.glob(f".v*{_RESERVED}"))
    versions += [int(text) for text in held if text.isdigit()]
    return max(versions, default=0) + 1


_RESERVED = ".reserved"


@contextmanager
def reserved_version(root: str | os.PathLike[str], name: str) -> Iterator[int]:
    """Hold the next free version of ``<root>/<name>`` while a run prepares it (an
    out-of-sample backtest of a staged model that must carry its final id): a marker file
    ``.v<N>.reserved`` (created exclusively), which :func:`next_version` counts, so a parallel
    run takes ``N + 1``; removed on exit (a run killed meanwhile leaves version ``N`` unused)."""
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        version = next_version(root, name)
        marker = folder / f".v{version}{_RESERVED}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:  # another run reserved it between the two calls
            continue
        try:
            yield version
        finally:
            marker.unlink(missing_ok=True)
        return
    raise ArtifactError(f"{folder}: no free version to reserve after 100 attempts")


def publish_folder(parent: Path, name: str, write: Callable[[Path], None]) -> Path:
    """Create ``<parent>/<name>`` holding what ``write(folder)`` writes, atomically.

    ``write`` fills a temporary folder beside the final one; its files are fsynced and the folder
    is renamed into place. If ``<parent>/<name>`` exists by then, :class:`ArtifactError` and
    nothing is overwritten. On any failure the temporary folder is removed.
    """
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / name
    tmp = parent / f".{name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        write(tmp)
        for path in tmp.iterdir():
            fsync_path(path)
        if final.exists():  # lost a race with another writer
            raise ArtifactExistsError(f"{final} appeared while writing; not overwritten")
        try:
            os.rename(tmp, final)
        except OSError as exc:  # lost the race between the check and the rename
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise ArtifactExistsError(f"{final} appeared while writing; not overwritten") from None
        fsync_path(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file of this process beside ``path`` (parents created) to write to; when the
    block ends without error it is fsynced and renamed over ``path``, otherwise removed. An
    interrupted write leaves the previous file (or none), never a truncated one, and two writers
    at once never share a temporary file (each one's rename is whole)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes 0600 files: every model, Pine script and store written here was
        # unreadable to the service user or group that a plain write lets read it (a node or
        # TorchServe under another account). The mode a plain write gives, or the replaced
        # file's own.
        os.fchmod(fd, _mode_for(target))
    finally:
        os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; an error's leftover otherwise


def _mode_for(target: Path) -> int:
    """The replaced file's permission bits, else what ``open(target, "w")`` would give."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return plain_mode()


def plain_mode(*, folder: bool = False) -> int:
    """The permission bits a plain ``open(path, "w")`` (or ``mkdir``) gives a new file (folder)
    under this process's umask: for what ``mkstemp`` / ``mkdtemp`` made private (0600 / 0700)
    and is then published."""
    return (0o777 if folder else 0o666) & ~_umask()


def _umask() -> int:
    try:  # read, not set: setting it to read it races with other threads creating files
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write ``content`` to ``path`` (parents created) through :func:`atomic_file`."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(content)
    return Path(path)


def flock_within(fd: int, timeout_s: float, poll_s: float = 0.05) -> bool:
    """Take an exclusive ``flock`` on ``fd``, waiting at most ``timeout_s`` seconds for the
    process that holds it (one that died released it: only a live holder makes us wait);
    ``False`` when it is still held then. POSIX only (the callers' writers are)."""
    import fcntl

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
