"""``build_archive`` (``nautilus-ai serve package``) refuses what the server could not load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nautilus_ai.serving import ArchiveError, build_archive


@pytest.fixture(scope="module")
def mlp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.torch_mlp import TorchPredictor, save_artifact

    predictor = TorchPredictor.random(FeatureSpec(), seed=3)
    return save_artifact(predictor.module, predictor.card, tmp_path_factory.mktemp("art"))


def test_a_tampered_artifact_is_refused_before_packaging(mlp_dir: Path, tmp_path: Path) -> None:
    # The archive was built (exit 0) and every TorchServe worker then failed to load it.
    tampered = tmp_path / "tampered"
    shutil.copytree(mlp_dir, tampered)
    weights = tampered / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    store = tmp_path / "store"
    with pytest.raises(ArchiveError, match="SHA-256"):
        build_archive(tampered, kind="torch", model_name="m", export_dir=store)
    assert not (store / "m.mar").exists()


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("torch", {"devce": "cuda"}, "devce"),  # a typo was packaged and ignored by the server
        ("torch", {"device": "gpu"}, "device"),
        ("transformers", {"answer_mod": "json"}, "answer_mod"),
        ("transformers", {"model_dir": "/elsewhere"}, "model_dir"),
    ],
)
def test_bad_loader_options_are_refused_naming_the_key(
    mlp_dir: Path,
    tiny_text_dir: Path,
    tmp_path: Path,
    kind: str,
    options: dict[str, object],
    message: str,
) -> None:
    source = mlp_dir if kind == "torch" else tiny_text_dir
    with pytest.raises(ArchiveError, match=message):
        build_archive(
            source,
            kind=kind,  # type: ignore[arg-type]
            model_name="m",
            export_dir=tmp_path,
            options=options,
        )
    assert not (tmp_path / "m.mar").exists()


@pytest.mark.parametrize(
    ("field", "value"), [("max_batch_delay_ms", -5), ("response_timeout_s", 0)]
)
def test_out_of_range_server_settings_are_refused(
    mlp_dir: Path, tmp_path: Path, field: str, value: int
) -> None:
    with pytest.raises(ArchiveError, match=field):
        build_archive(
            mlp_dir,
            kind="torch",
            model_name="m",
            export_dir=tmp_path,
            **{field: value},  # type: ignore[arg-type]
        )


def test_an_archiver_killed_midway_leaves_the_previous_archive_whole(
    mlp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torch-model-archiver writes its zip straight to <store>/<name>.mar: killed (or timed out)
    # while re-packaging, it left a truncated archive where the served one had been, and the
    # next server start failed to load it.
    import subprocess

    from nautilus_ai.serving import archive

    store = tmp_path / "store"
    mar = build_archive(mlp_dir, kind="torch", model_name="m", export_dir=store)
    before = mar.read_bytes()

    def killed_midway(command: list[str], **kwargs: object) -> object:
        export = Path(command[command.index("--export-path") + 1])
        (export / "m.mar").write_bytes(before[:100])  # the archiver's first bytes
        raise subprocess.TimeoutExpired(command, 1.0)

    monkeypatch.setattr(archive.subprocess, "run", killed_midway)
    with pytest.raises(ArchiveError, match="longer than"):
        build_archive(mlp_dir, kind="torch", model_name="m", export_dir=store, timeout_s=1.0)
    assert mar.read_bytes() == before
    assert sorted(p.name for p in store.iterdir()) == ["m.mar"]  # no temporary folder left


@pytest.mark.parametrize("version", ["1/x", "1 0", "", "2\n"])
def test_a_version_no_client_can_name_is_refused(
    mlp_dir: Path, tmp_path: Path, version: str
) -> None:
    # The archiver packaged '1/x' (exit 0); a TorchServe client's model_version refuses it (it
    # would be pasted into the request path), so that version could never be asked for.
    with pytest.raises(ArchiveError, match="version must be letters, digits"):
        build_archive(mlp_dir, kind="torch", model_name="m", export_dir=tmp_path, version=version)
    assert not (tmp_path / "m.mar").exists()
    assert build_archive(
        mlp_dir, kind="torch", model_name="m", export_dir=tmp_path, version="2.1-b"
    )


@pytest.mark.parametrize(
    ("remove", "truncate", "message"),
    [
        (("tokenizer.json", "tokenizer_config.json"), None, "no tokenizer file"),
        (("model.safetensors",), None, "no weights file"),
        ((), "model.safetensors", "not a readable safetensors file"),
    ],
)
def test_a_model_folder_the_server_cannot_load_is_refused(
    tiny_text_dir: Path,
    tmp_path: Path,
    remove: tuple[str, ...],
    truncate: str | None,
    message: str,
) -> None:
    # Each was packaged (exit 0); every TorchServe worker then failed to load it, after
    # `serve start` had waited its whole timeout.
    folder = tmp_path / "model"
    shutil.copytree(tiny_text_dir, folder)
    for name in remove:
        (folder / name).unlink()
    if truncate is not None:
        (folder / truncate).write_bytes((folder / truncate).read_bytes()[:1000])
    store = tmp_path / "store"
    with pytest.raises(ArchiveError, match=message):
        build_archive(folder, kind="transformers", model_name="m", export_dir=store)
    assert not (store / "m.mar").exists()
