"""The strict config checker (pure: msgspec structs, dataclasses, pydantic models)."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from nautilus_ai.config_check import (
    ConfigFieldError,
    EnvText,
    FieldValueError,
    Schema,
    check,
    check_instance,
    format_path,
    nearest,
    schema_meta,
)
from nautilus_ai.config_env import find_placeholders, missing_variables, substitute


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["inner"] = "inner"
    rate: float = Field(default=1.0, gt=0.0)
    low: float = 0.0
    high: float = 1.0

    def model_post_init(self, _: Any) -> None:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be > low ({self.low})")


@dataclass(frozen=True)
class Sizes:
    lot: float = 1000.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if self.lot <= 0:
            raise ValueError(f"lot must be > 0, was {self.lot}")


class Outer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    count: Annotated[int, msgspec.Meta(ge=1)] = 1
    ratio: float | None = None
    flag: bool = False
    mode: Literal["fast", "slow"] = "fast"
    tags: list[str] = []
    inner: Annotated[dict[str, Any], schema_meta(Schema(Inner))] = {}
    sizes: Annotated[dict[str, Any], schema_meta(Schema(Sizes))] = {}

    def __post_init__(self) -> None:
        check_instance(self)
        if self.name == "forbidden":
            raise FieldValueError("name", "this name is taken")


def problem(data: Any, target: Any = Outer) -> str:
    with pytest.raises(ConfigFieldError) as info:
        check(data, target, path=("cfg",))
    return str(info.value)


def test_format_path() -> None:
    assert format_path(("run", "venues", 0, "name")) == "run.venues[0].name"
    assert format_path(("x", "EUR/USD.SIM")) == "x['EUR/USD.SIM']"
    assert format_path(()) == "<top level>"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "a", "cuont": 2}, "cfg.cuont: unknown key (received 2); did you mean 'count'?"),
        ({"count": 2}, "cfg.name: missing required key"),
        ({"name": "a", "count": "2"}, "cfg.count: expected an integer (received '2')"),
        ({"name": "a", "count": 0}, "cfg.count: must be >= 1 (received 0)"),
        ({"name": "a", "count": True}, "cfg.count: expected an integer (received True)"),
        ({"name": "a", "ratio": math.nan}, "cfg.ratio: must be a finite number (received nan)"),
        (
            {"name": "a", "ratio": [1]},
            "cfg.ratio: expected a number or null (received [1], a list)",
        ),
        ({"name": "a", "flag": "yes"}, "cfg.flag: expected true or false (received 'yes')"),
        (
            {"name": "a", "mode": "fsat"},
            "cfg.mode: must be one of 'fast', 'slow' (received 'fsat')",
        ),
        (
            {"name": "a", "tags": {"a": 1}},
            "cfg.tags: expected a list (received {'a': 1}, a mapping)",
        ),
        ({"name": "a", "tags": ["x", 2]}, "cfg.tags[1]: expected text (received 2)"),
        (
            {"name": "a", "inner": {"rte": 1}},
            "cfg.inner.rte: unknown key (received 1); did you mean 'rate'?",
        ),
        (
            {"name": "a", "inner": {"rate": 0}},
            "cfg.inner.rate: Input should be greater than 0 (received 0)",
        ),
        ({"name": "a", "inner": {"rate": "1"}}, "cfg.inner.rate: expected a number (received '1')"),
        (
            {"name": "a", "sizes": {"lot": -1}},
            "cfg.sizes.lot: lot must be > 0, was -1.0 (received -1)",
        ),
        ({"name": "forbidden"}, "cfg.name: this name is taken (received 'forbidden')"),
        (["name"], "cfg: expected a mapping (received ['name'], a list)"),
        (None, "cfg: expected a mapping (received None)"),
        ({"name": "a", 3: 1}, "cfg['3']: keys must be text (received 3)"),
    ],
)
def test_problems_are_named_with_their_path(data: Any, message: str) -> None:
    assert problem(data).startswith(message)


def test_suggestion_uses_mode_names() -> None:
    assert problem({"name": "a", "mode": "fsat"}).endswith("did you mean 'fast'?")


def test_a_cross_field_error_blames_the_key_whose_removal_fixes_it() -> None:
    # low 2.0 > high 0.2: dropping "low" (default 0.0) passes, dropping "high" (1.0) does not.
    message = problem({"name": "a", "inner": {"low": 2.0, "high": 0.2}})
    assert message == "cfg.inner.low: high (0.2) must be > low (2.0) (received 2.0)"
    # Either drop fixes it: the mapping is to blame, and the message names both.
    message = problem({"name": "a", "inner": {"low": 0.5, "high": 0.2}})
    assert message == "cfg.inner: high (0.2) must be > low (0.5)"


def test_environment_text_is_read_as_the_type_it_stands_for() -> None:
    data = {
        "name": EnvText("a", "${N}"),
        "count": EnvText("3", "${C}"),
        "flag": EnvText("true", "${F}"),
    }
    assert check(data, Outer) == {"name": "a", "count": 3, "flag": True}
    bad = problem({"name": "a", "count": EnvText("3x", "${C:-3x}")})
    assert bad == "cfg.count: expected an integer (received '3x' from ${C:-3x})"


def test_direct_construction_is_checked_like_decoding() -> None:
    with pytest.raises(ConfigFieldError, match="count: must be >= 1"):
        Outer(name="a", count=0)
    with pytest.raises(msgspec.ValidationError, match="Expected `int` >= 1"):
        msgspec.json.decode(b'{"name": "a", "count": 0}', type=Outer)
    with pytest.raises(ConfigFieldError, match="ratio: expected a number or null"):
        Outer(name="a", ratio="0.5")  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError, match="unknown field `cuont`"):
        msgspec.json.decode(b'{"name": "a", "cuont": 2}', type=Outer)
    with pytest.raises(ConfigFieldError, match=r"inner\.rte: unknown key"):
        Outer(name="a", inner={"rte": 1})
    assert Outer(name="a", inner={"rate": 2.0}).inner == {"rate": 2.0}


def test_nearest() -> None:
    assert nearest("min_confidance", ["min_confidence", "max_holding_bars"]) == "min_confidence"
    assert nearest("netting", ["NETTING", "HEDGING"]) == "NETTING"
    assert nearest("zzz", ["kind"]) is None


# -- environment placeholders --------------------------------------------------------------------


def test_substitution_marks_environment_text() -> None:
    out = substitute({"a": "${X}/y", "b": ["${MISSING:-d}", 3], "c": "${PASS:-}", "d": "$plain"},
                     {"X": "abc"})  # fmt: skip
    assert out == {"a": "abc/y", "b": ["d", 3], "c": None, "d": "$plain"}
    assert isinstance(out["a"], EnvText) and out["a"].source == "${X}/y"
    assert not isinstance(out["d"], EnvText)
    copied = copy.deepcopy(out)  # an edited copy of a loaded file re-parses the same
    assert isinstance(copied["a"], EnvText) and copied["a"].source == "${X}/y"
    assert substitute(copied, {}) == out


def test_only_a_single_typo_counts_as_a_twin() -> None:
    env = {"NAUTILUS_AI_REDIS_PORT": "6379"}  # HOST is two letters away from PORT: no typo
    assert substitute({"host": "${NAUTILUS_AI_REDIS_HOST:-127.0.0.1}"}, env) == {
        "host": "127.0.0.1"
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("${NAUTILUS_AI_CATALOG", "malformed environment placeholder"),
        ("${NAUTILUS_AI_CATALOG-catalogs/demo}", "malformed environment placeholder"),
        ("$HOME/catalogs", "malformed environment placeholder"),
        ("${1X}", "malformed environment placeholder"),
    ],
)
def test_malformed_placeholders_are_refused(text: str, match: str) -> None:
    with pytest.raises(ConfigFieldError, match=rf"^run.path: {match}"):
        find_placeholders({"run": {"path": text}})


def test_a_misspelt_variable_whose_twin_is_set_is_refused() -> None:
    env = {"NAUTILUS_AI_CATALOG": "/data/catalog"}
    with pytest.raises(ConfigFieldError, match=r"NAUTILUS_AI_CATALG is not set.*CATALOG is set"):
        substitute({"path": "${NAUTILUS_AI_CATALG:-catalogs/demo}"}, env)
    with pytest.raises(ConfigFieldError, match=r"^path: environment variable NOPE is not set"):
        substitute({"path": "${NOPE}"}, {})
    assert missing_variables({"a": ["${A}", "${B:-x}"]}, {}) == {"A": ("a", 0)}


# -- junk never crashes the checker ----------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "count",
                    "ratio",
                    "flag",
                    "mode",
                    "tags",
                    "inner",
                    "sizes",
                    "rate",
                    "lot",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_junk_is_accepted_or_refused_with_a_path_never_a_crash(data: Any) -> None:
    try:
        checked = check(data, Outer)
    except ConfigFieldError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    # what passes builds, and means what it said
    built = msgspec.convert(checked, Outer)
    assert json.loads(json.dumps(checked)) == checked
    assert built.name == data["name"]
