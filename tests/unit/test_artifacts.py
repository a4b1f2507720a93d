"""Versioned artifact folders: published whole, never overwritten, parallel writers both land."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nautilus_ai import artifacts
from nautilus_ai.artifacts import ArtifactExistsError, publish_folder, publish_next_version


def test_a_writer_that_loses_the_race_at_the_rename_takes_the_next_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another run published v1 between our exists() check and our rename: the rename failed
    # with a bare OSError ("Directory not empty"), a traceback for the user, where losing the
    # race earlier takes the next free version.
    real_rename = os.rename
    raced: list[Path] = []

    def rename(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        final = Path(target)
        if not raced:  # the other run lands first
            final.mkdir()
            (final / "model.txt").write_text("theirs")
            raced.append(final)
        real_rename(source, target)

    monkeypatch.setattr(artifacts.os, "rename", rename)

    def store(version: int) -> Path:
        return publish_folder(
            tmp_path / "m", f"v{version}", lambda f: (f / "model.txt").write_text("ours")
        )

    with pytest.raises(ArtifactExistsError, match="v1"):
        store(1)
    assert (tmp_path / "m" / "v1" / "model.txt").read_text() == "theirs"
    raced.clear()
    shutil.rmtree(tmp_path / "m")
    path = publish_next_version(tmp_path, "m", store)
    assert path.name == "v2" and (path / "model.txt").read_text() == "ours"
    assert (tmp_path / "m" / "v1" / "model.txt").read_text() == "theirs"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["v1", "v2"]


def test_a_stray_file_named_like_a_version_is_stepped_over(tmp_path: Path) -> None:
    # A file <root>/m/v2 (a copy gone wrong, a download) was not counted as a version, so
    # every run took v2, found it taken, and after 100 attempts failed with "no free version
    # (other runs keep storing this name)".
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "v1").mkdir()
    (tmp_path / "m" / "v2").write_text("not an artifact")

    def store(version: int) -> Path:
        return publish_folder(tmp_path / "m", f"v{version}", lambda f: (f / "x").write_text("x"))

    assert publish_next_version(tmp_path, "m", store).name == "v3"
    assert (tmp_path / "m" / "v2").read_text() == "not an artifact"


def test_atomic_writes_get_the_mode_a_plain_write_gives_or_keep_the_replaced_files(
    tmp_path: Path,
) -> None:
    # mkstemp's 0600 went through to every model, Pine script and store written atomically:
    # unreadable to the group or service account (a node, TorchServe) a plain write lets read.
    from nautilus_ai.artifacts import write_bytes_atomic

    old = os.umask(0o022)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        atomic = write_bytes_atomic(tmp_path / "model" / "card.json", b"{}")
        assert atomic.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644
        atomic.chmod(0o640)  # the owner's choice survives a rewrite
        write_bytes_atomic(atomic, b"{ }")
        assert atomic.stat().st_mode & 0o777 == 0o640
        os.umask(0o077)
        assert write_bytes_atomic(tmp_path / "private.txt", b"").stat().st_mode & 0o777 == 0o600
        assert artifacts.plain_mode(folder=True) == 0o700
    finally:
        os.umask(old)
