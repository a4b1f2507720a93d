"""TorchPredictor: numpy twin == torch, determinism, artifacts (safetensors + card), refusals."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from model_rows import V1_NAMES, NamedSpec
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import (
    Action,
    ArtifactError,
    MarketContext,
    ModelCard,
    PredictionError,
    Predictor,
    SpecMismatchError,
    torch_mlp,
)
from nautilus_ai.models.card import CARD_FILE, WEIGHTS_FILE, MLPArchitecture
from nautilus_ai.models.torch_mlp import (
    MLPClassifier,
    TorchPredictor,
    decide,
    next_version,
    random_module,
    save_artifact,
)

torch.set_num_threads(1)
CTX = MarketContext("EUR/USD.SIM", 0)


def _card(spec: FeatureSpec, module: MLPClassifier, **overrides: object) -> ModelCard:
    fields: dict[str, object] = {
        "name": "mlp-test",
        "version": 1,
        "created_at": datetime(2024, 1, 2, tzinfo=UTC),
        "feature_spec": spec.to_dict(),
        "spec_hash": spec.hash,
        "feature_names": spec.names,
        "architecture": module.architecture,
        "label": {"kind": "forward_return_sign", "horizon_bars": 15, "threshold": 0.0002},
        "metrics": {"test": {"accuracy": 0.41}},
    }
    fields.update(overrides)
    return ModelCard.model_validate(fields)


def _trained_like(spec: FeatureSpec, features: NDArray[np.float64], **kw: object) -> MLPClassifier:
    """A random module with standardisation fitted on real rows, like a trained one."""
    module = random_module(len(spec.names), seed=3, **kw)  # type: ignore[arg-type]
    std = features.std(axis=0)
    module.set_standardisation(features.mean(axis=0), np.where(std > 0, std, 1.0))
    return module


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def test_is_a_predictor_with_card_model_id(spec: FeatureSpec) -> None:
    predictor = TorchPredictor.random(spec, seed=7)
    assert isinstance(predictor, Predictor)
    assert predictor.model_id == "random-mlp-s7-h64-relu/1"
    assert predictor.spec_hash == spec.hash
    assert predictor.device == "cpu"  # no CUDA on the test machines
    assert predictor.card.temperature == 0.1  # RANDOM_TEMPERATURE: spreads the confidences
    predictor.close()
    predictor.close()


def test_random_is_deterministic_and_leaves_global_rng_alone(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    state = torch.random.get_rng_state()
    a = TorchPredictor.random(spec, seed=7, hidden=(32, 16))
    b = TorchPredictor.random(spec, seed=7, hidden=(32, 16))
    c = TorchPredictor.random(spec, seed=8, hidden=(32, 16))
    assert torch.equal(torch.random.get_rng_state(), state)
    for key, tensor in a.module.state_dict().items():
        assert torch.equal(tensor, b.module.state_dict()[key])
    rows = real_features[:200]
    assert np.array_equal(a.predict_proba_batch(rows), b.predict_proba_batch(rows))
    assert not np.array_equal(a.predict_proba_batch(rows), c.predict_proba_batch(rows))
    assert [a.predict(r, CTX).confidence for r in rows[:20]] == [
        b.predict(r, CTX).confidence for r in rows[:20]
    ]


@pytest.mark.parametrize(
    ("hidden", "activation"), [((64,), "relu"), ((32, 16), "gelu"), ((), "relu")]
)
def test_numpy_twin_equals_torch(
    spec: FeatureSpec,
    real_features: NDArray[np.float64],
    hidden: tuple[int, ...],
    activation: str,
) -> None:
    module = _trained_like(spec, real_features, hidden=hidden, activation=activation)
    card = _card(spec, module, temperature=1.7)
    rows = real_features[::7]
    with torch.inference_mode():
        logits = module(torch.from_numpy(rows).float()).double().numpy()
    reference = _softmax(logits / 1.7)  # the module as trained: float32, T applied after
    for batch_dtype, tolerance in (("float64", 1e-9), ("float32", 1e-6)):
        predictor = TorchPredictor(module, card, spec, device="cpu", batch_dtype=batch_dtype)  # type: ignore[arg-type]
        twin = np.array([predictor.predict_proba(r) for r in rows])
        batch = predictor.predict_proba_batch(rows)
        assert np.abs(twin - batch).max() < tolerance
        assert np.abs(twin - reference).max() < 1e-6
        assert np.array_equal(twin.argmax(axis=1), batch.argmax(axis=1))
        np.testing.assert_allclose(twin.sum(axis=1), 1.0, atol=1e-12)
    # predict / predict_batch agree on actions, and on confidence and risk to float64 precision
    predictor = TorchPredictor(module, card, spec, device="cpu")
    singles = [predictor.predict(r, CTX) for r in rows[:3000]]
    batch_predictions = predictor.predict_batch(rows[:3000])
    for one, many in zip(singles, batch_predictions, strict=True):
        assert one.action is many.action
        assert one.confidence == pytest.approx(many.confidence, abs=1e-12)
        assert one.risk_score == pytest.approx(many.risk_score, abs=1e-12)
        assert one.model_id == many.model_id == "mlp-test/1"


def test_confidence_is_max_probability_and_risk_is_normalised_entropy(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    predictor = TorchPredictor(
        _trained_like(spec, real_features),
        _card(spec, _trained_like(spec, real_features)),
        spec,
        device="cpu",
    )
    for row in real_features[:50]:
        p = np.array(predictor.predict_proba(row))
        prediction = predictor.predict(row, CTX)
        assert prediction.confidence == pytest.approx(p.max())
        entropy = -sum(x * math.log(x) for x in p if x > 0)
        assert prediction.risk_score == pytest.approx(entropy / math.log(3))
        assert prediction.action is (Action.SELL, Action.HOLD, Action.BUY)[int(p.argmax())]


def test_decide_edge_cases() -> None:
    probs = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.4, 0.4]])
    index, confidence, risk = decide(probs)
    assert index.tolist() == [0, 0, 1]  # first index on ties
    assert confidence.tolist() == pytest.approx([1.0, 1 / 3, 0.4])
    assert risk[0] == 0.0
    assert risk[1] == pytest.approx(1.0)
    assert 0.0 < risk[2] < 1.0


def test_class_order_comes_from_the_card(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    module = _trained_like(spec, real_features)
    arch = module.architecture.model_copy(update={"classes": ("buy", "hold", "sell")})
    default = TorchPredictor(module, _card(spec, module), spec, device="cpu")
    flipped = TorchPredictor(module, _card(spec, module, architecture=arch), spec, device="cpu")
    swap = {Action.BUY: Action.SELL, Action.SELL: Action.BUY, Action.HOLD: Action.HOLD}
    for row in real_features[:100]:
        assert flipped.predict(row, CTX).action is swap[default.predict(row, CTX).action]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_feature_is_named(
    spec: FeatureSpec, real_features: NDArray[np.float64], bad: float
) -> None:
    predictor = TorchPredictor.random(spec, seed=1)
    row = real_features[0].copy()
    row[V1_NAMES.index("dow_cos")] = bad
    with pytest.raises(PredictionError, match="dow_cos"):
        predictor.predict(row, CTX)
    with pytest.raises(PredictionError, match=r"dow_cos.*row 1"):
        predictor.predict_batch(np.vstack([real_features[0], row]))


def test_wrong_shape_context_and_dtype_errors(spec: FeatureSpec) -> None:
    predictor = TorchPredictor.random(spec, seed=1)
    with pytest.raises(PredictionError, match=r"shape \(28,\)"):
        predictor.predict(np.zeros(5), CTX)
    with pytest.raises(PredictionError, match=r"shape \(28,\)"):
        predictor.predict([0.0] * 28, CTX)  # type: ignore[arg-type]
    with pytest.raises(PredictionError, match="context says nope"):
        predictor.predict(np.zeros(28), MarketContext("EUR/USD.SIM", 0, spec_hash="nope"))
    with pytest.raises(ValueError, match="bfloat16"):
        TorchPredictor.random(spec, seed=1, batch_dtype="bfloat16")
    assert predictor.predict_batch(np.zeros((0, 28))) == []


def test_artifact_round_trip(
    spec: FeatureSpec, real_features: NDArray[np.float64], tmp_path: Path
) -> None:
    module = _trained_like(spec, real_features, hidden=(16, 8), activation="gelu")
    card = _card(spec, module, temperature=1.3)
    folder = save_artifact(module, card, tmp_path)
    assert folder == tmp_path / "mlp-test" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == [WEIGHTS_FILE, CARD_FILE]
    assert [p.name for p in (tmp_path / "mlp-test").iterdir()] == ["v1"]  # no temp leftovers
    stored = json.loads((folder / CARD_FILE).read_text())
    assert stored["spec_hash"] == spec.hash
    assert stored["architecture"] == {
        "input_dim": 28,
        "hidden": [16, 8],
        "activation": "gelu",
        "classes": ["sell", "hold", "buy"],
    }
    assert len(stored["weights_sha256"]) == 64
    assert stored["library_versions"]["torch"] == importlib.metadata.version("torch")
    loaded = TorchPredictor.from_artifact(folder, spec=spec, device="cpu")
    original = TorchPredictor(module, card, spec, device="cpu")
    assert loaded.model_id == "mlp-test/1"
    assert loaded.card.temperature == 1.3
    assert loaded.card.label == card.label
    rows = real_features[:500]
    np.testing.assert_array_equal(
        loaded.predict_proba_batch(rows), original.predict_proba_batch(rows)
    )
    for row in rows[:50]:
        assert loaded.predict(row, CTX).confidence == original.predict(row, CTX).confidence
    assert next_version(tmp_path, "mlp-test") == 2


def test_artifact_is_never_overwritten(spec: FeatureSpec, tmp_path: Path) -> None:
    module = random_module(28, seed=1)
    save_artifact(module, _card(spec, module), tmp_path)
    before = (tmp_path / "mlp-test" / "v1" / WEIGHTS_FILE).read_bytes()
    other = random_module(28, seed=2)
    with pytest.raises(ArtifactError, match=r"already exists.*version 2"):
        save_artifact(other, _card(spec, other), tmp_path)
    assert (tmp_path / "mlp-test" / "v1" / WEIGHTS_FILE).read_bytes() == before
    save_artifact(other, _card(spec, other, version=2), tmp_path)
    assert next_version(tmp_path, "mlp-test") == 3


def test_failed_write_leaves_nothing(
    spec: FeatureSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = random_module(28, seed=1)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch_mlp.safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_artifact(module, _card(spec, module), tmp_path)
    assert list((tmp_path / "mlp-test").iterdir()) == []


def test_card_must_describe_the_module(spec: FeatureSpec, tmp_path: Path) -> None:
    module = random_module(28, seed=1, hidden=(8,))
    wrong = _card(spec, module, architecture=MLPArchitecture(input_dim=28, hidden=(16,)))
    with pytest.raises(ArtifactError, match="hidden"):
        save_artifact(module, wrong, tmp_path)
    with pytest.raises(ArtifactError, match="hidden"):
        TorchPredictor(module, wrong, spec)


def test_mismatched_spec_is_refused_naming_hashes_and_feature(
    spec: FeatureSpec, tmp_path: Path
) -> None:
    module = random_module(28, seed=1)
    folder = save_artifact(module, _card(spec, module), tmp_path)
    renamed = NamedSpec(names=tuple("rsi_14" if n == "rsi" else n for n in V1_NAMES))
    with pytest.raises(SpecMismatchError) as info:
        TorchPredictor.from_artifact(folder, spec=renamed)
    message = str(info.value)
    assert spec.hash in message and renamed.hash in message
    assert "feature #7 is 'rsi' in the model, 'rsi_14' in the given spec" in message
    reparam = FeatureSpec(rsi_period=21)
    with pytest.raises(SpecMismatchError, match=r"field rsi_period: 14 != 21"):
        TorchPredictor.from_artifact(folder, spec=reparam)
    shorter = NamedSpec(names=V1_NAMES[:-1])
    with pytest.raises(SpecMismatchError, match=r"28 features, the given spec 27.*'warm'"):
        TorchPredictor.from_artifact(folder, spec=shorter)


def test_corrupted_or_incomplete_artifacts(spec: FeatureSpec, tmp_path: Path) -> None:
    module = random_module(28, seed=1)
    folder = save_artifact(module, _card(spec, module), tmp_path)
    weights = folder / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="SHA-256"):
        TorchPredictor.from_artifact(folder, spec=spec)
    weights.unlink()
    with pytest.raises(ArtifactError, match=WEIGHTS_FILE):
        TorchPredictor.from_artifact(folder, spec=spec)
    with pytest.raises(ArtifactError, match=CARD_FILE):
        TorchPredictor.from_artifact(tmp_path / "nowhere", spec=spec)
    card_path = folder / CARD_FILE
    stored = json.loads(card_path.read_text())
    stored["temprature"] = 2.0
    card_path.write_text(json.dumps(stored))
    with pytest.raises(ArtifactError, match="temprature"):
        TorchPredictor.from_artifact(folder, spec=spec)


@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        (lambda card: card["feature_spec"].update(atr_period=21), "feature_spec.atr_period: 21"),
        (lambda card: card["feature_names"].reverse(), "feature_names [0]: 'warm' != 'ret_1'"),
    ],
)
def test_a_card_edited_against_its_spec_hash_is_refused(
    spec: FeatureSpec, tmp_path: Path, edit: object, detail: str
) -> None:
    # The card's spec (or names) edited by hand, its spec_hash left alone: the model used to load
    # and trade on the hash's definition while the card (and export-pine, which refuses it) named
    # another. Both loaders now refuse the card.
    from nautilus_ai.models.mlp import MLPPredictor

    module = random_module(28, seed=1)
    folder = save_artifact(module, _card(spec, module), tmp_path)
    card_path = folder / CARD_FILE
    stored = json.loads(card_path.read_text())
    del stored["card_sha256"]  # a card written before cards were sealed (a sealed one: refused)
    edit(stored)  # type: ignore[operator]
    card_path.write_text(json.dumps(stored))
    for loader in (TorchPredictor, MLPPredictor):
        with pytest.raises(SpecMismatchError, match="the card was edited or corrupted") as info:
            loader.from_artifact(folder, spec=spec)
        assert detail in str(info.value) and spec.hash in str(info.value)


def test_weights_that_do_not_match_the_card_are_refused(spec: FeatureSpec, tmp_path: Path) -> None:
    small = random_module(28, seed=1, hidden=(8,))
    folder = save_artifact(small, _card(spec, small), tmp_path)
    card_path = folder / CARD_FILE
    stored = json.loads(card_path.read_text())
    stored["architecture"]["hidden"] = [9]
    stored["weights_sha256"] = stored["card_sha256"] = None
    card_path.write_text(json.dumps(stored))
    with pytest.raises(ArtifactError, match=r"layers\.0\.weight.*\(8, 28\).*\(9, 28\)"):
        TorchPredictor.from_artifact(folder, spec=spec)


def test_bad_standardisation_is_refused() -> None:
    module = MLPClassifier(3, (4,))
    with pytest.raises(ValueError, match="std"):
        module.set_standardisation(np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        module.set_standardisation(np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(3, (4,), activation="tanh")  # type: ignore[arg-type]


def test_loading_never_unpickles() -> None:
    source = inspect.getsource(torch_mlp)
    assert "torch.load(" not in source
    assert "import pickle" not in source


def test_predictor_is_a_snapshot_of_the_module(spec: FeatureSpec) -> None:
    module = random_module(28, seed=5)
    module.train()
    predictor = TorchPredictor(module, _card(spec, module), spec, device="cpu")
    row = np.linspace(-1, 1, 28)
    before = predictor.predict_proba(row)
    with torch.no_grad():
        module.linear_layers()[0].weight.mul_(3.0)  # "more training" on the caller's module
    assert module.training  # the caller's mode is left alone
    assert predictor.predict_proba(row) == before
    np.testing.assert_allclose(predictor.predict_proba_batch(row[None, :])[0], before, atol=1e-12)


def test_unreadable_artifact_files_are_errors_naming_the_file(
    spec: FeatureSpec, tmp_path: Path
) -> None:
    # A truncated safetensors file under a card without a checksum, and a card that is not text,
    # were errors ("invalid header length", "'utf-8' codec can't decode") naming no file.
    from nautilus_ai.models.mlp import MLPPredictor

    module = random_module(28, seed=1)
    folder = save_artifact(module, _card(spec, module), tmp_path)
    card_path = folder / CARD_FILE
    stored = json.loads(card_path.read_text())
    del stored["weights_sha256"], stored["card_sha256"]
    card_path.write_text(json.dumps(stored))
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:300])
    for load in (TorchPredictor.from_artifact, MLPPredictor.from_artifact):
        with pytest.raises(ArtifactError, match=rf"{WEIGHTS_FILE}.*safetensors"):
            load(folder, spec=spec)
    card_path.write_bytes(b"\xff\xfe not a card")
    for load in (TorchPredictor.from_artifact, MLPPredictor.from_artifact):
        with pytest.raises(ArtifactError, match=rf"{CARD_FILE}.*UTF-8"):
            load(folder, spec=spec)
