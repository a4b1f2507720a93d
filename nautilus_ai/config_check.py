"""Strict checking of user-written configuration: one walker for every config surface.

A config a user writes (a run file, a live config, a strategy config, a CSV spec, a backend
config) is plain data (YAML / JSON). :func:`check` walks that data against the type it is meant
to be - a msgspec ``Struct`` (Nautilus' configs and ours, read with :mod:`msgspec.inspect`), a
dataclass, a pydantic model, or any annotation built from those - and refuses, with the key path:

* an unknown key (with the nearest valid key, by :mod:`difflib`),
* a missing required key,
* a value of the wrong type (no silent coercion: ``"0.6"`` is not a number, ``1`` is not a
  bool; a string substituted from ``${VAR}`` - an :class:`EnvText` - may be read as a number or
  a bool, because the environment only holds strings),
* a value out of range (msgspec ``Meta`` constraints, pydantic field constraints, a class's own
  ``__post_init__`` / validators), a non-finite number anywhere.

It returns the data normalised (environment strings converted to the type they stand for), ready
for the real decoder. Errors are :class:`ConfigFieldError`: ``path``, what was wrong, what was
received, the suggestion; ``str()`` is one line (``run.engine.strategies[0].config.min_confidance:
unknown key (received 0.6); did you mean 'min_confidence'?``).

Two ways a config class tells the walker more:

* a ``dict`` field that holds a config of its own (a predictor, sizing) carries a
  :class:`Schema` - ``Annotated[dict[str, Any], schema_meta(Schema(SizingConfig))]`` for msgspec,
  ``Annotated[dict[str, Any], Schema(...)]`` for pydantic - and is checked against it;
* a ``__post_init__`` or validator raises :class:`FieldValueError` to name the field at fault.
  For any other error raised while building, the walker finds the culprit by rebuilding without
  each given optional key in turn (the one whose removal makes the build pass).

:class:`Hooks` carry what the walker cannot know on its own (this module imports nothing from
Nautilus): how to decode custom leaf types (identifiers), extra checks of plain string fields
(currencies, bar types), and which class a ``config`` dict names (``config_path``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import difflib
import importlib
import json
import math
import numbers
import os
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import msgspec
import msgspec.inspect as mi

__all__ = [
    "SCHEMA_KEY",
    "ConfigFieldError",
    "EnvText",
    "FieldValueError",
    "Hooks",
    "KeyPath",
    "Schema",
    "check",
    "check_instance",
    "construct",
    "format_path",
    "import_object",
    "nearest",
    "schema_meta",
]

KeyPath = tuple[str | int, ...]
#: ``Meta(extra={SCHEMA_KEY: Schema(...)})`` marks a msgspec dict field as a nested config.
SCHEMA_KEY: Final = "nautilus_ai.schema"

_MISSING: Final = object()
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def format_path(path: Sequence[str | int]) -> str:
    """``("run", "venues", 0, "name")`` -> ``run.venues[0].name`` (odd keys are quoted)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "<top level>"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ConfigFieldError(ValueError):
    """A config value that is not accepted; ``str()`` is one line naming the key path.

    Parameters
    ----------
    path : tuple
        Keys and list indices from the top of the document to the offending value.
    problem : str
        What is wrong (``"unknown key"``, ``"expected a number"``, ``"must be > 0"``...).
    received : object, optional
        The value found there (left out of the message when absent).
    suggestion : str, optional
        The nearest valid key or value.
    """

    def __init__(
        self,
        path: Sequence[str | int],
        problem: str,
        *,
        received: Any = _MISSING,
        suggestion: str | None = None,
    ) -> None:
        self.path: KeyPath = tuple(path)
        self.problem = problem
        self.received = received
        self.suggestion = suggestion
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{format_path(self.path)}: {self.problem}"
        if self.received is not _MISSING:
            text += f" (received {_received(self.received)})"
        if self.suggestion is not None:
            text += f"; did you mean {self.suggestion!r}?"
        return text

    def under(self, prefix: Sequence[str | int]) -> ConfigFieldError:
        """The same error with ``prefix`` put in front of its path."""
        return ConfigFieldError(
            (*prefix, *self.path),
            self.problem,
            received=self.received,
            suggestion=self.suggestion,
        )


def _received(value: Any) -> str:
    if isinstance(value, EnvText):
        return f"{str(value)!r} from {value.source}"
    if isinstance(value, bool) or value is None:
        return _show(value)
    if isinstance(value, int | float | str):
        return _show(value)
    return f"{_show(value)}, a {_kind(value)}"


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


class FieldValueError(ValueError):
    """Raised by a config's ``__post_init__`` or validator to name the field at fault.

    ``field`` is a key of the config being built, or a path below it (``("sizing", "lot_step")``).
    """

    def __init__(self, field: str | Sequence[str | int], message: str) -> None:
        self.field: KeyPath = (field,) if isinstance(field, str) else tuple(field)
        super().__init__(message)


class EnvText(str):
    """A string that came from ``${VAR}`` substitution (``source`` names the placeholder).

    The environment only holds strings, so the walker reads one as the number or bool the
    field wants (``"6379"`` for a port, ``"false"`` for a flag); literal strings are not read.
    """

    source: str

    def __new__(cls, value: str, source: str) -> EnvText:
        text = super().__new__(cls, value)
        text.source = source
        return text

    def __reduce__(self) -> tuple[type[EnvText], tuple[str, str]]:  # copy / deepcopy / pickle
        return EnvText, (str(self), self.source)


@dataclass(frozen=True)
class Schema:
    """The config a ``dict`` field holds.

    Parameters
    ----------
    target : type or callable
        The config type (pydantic model, msgspec Struct, dataclass or annotation), or a function
        ``target(value) -> type`` that picks it from the value (e.g. by its ``kind``; it raises
        :class:`ConfigFieldError`, with a path relative to the value, for an unknown one).
    exclude : mapping
        Keys of the target that this field must not set, each with the reason (e.g. sizing's
        ``min_confidence``, which comes from the strategy).
    """

    target: Any
    exclude: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """The type ``value`` is checked against."""
        target = self.target
        if isinstance(target, type) or get_origin(target) is not None:
            return target
        return target(value)


def schema_meta(schema: Schema) -> msgspec.Meta:
    """``msgspec.Meta`` carrying ``schema`` (for ``Annotated[dict[str, Any], ...]`` fields)."""
    return msgspec.Meta(extra={SCHEMA_KEY: schema})


def import_object(path: str) -> Any:
    """``"package.module:Name"`` -> the object (ImportError / AttributeError when missing)."""
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ImportError(f"expected 'package.module:Name', was {path!r}")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def nearest(word: str, candidates: Sequence[str] | set[str] | frozenset[str]) -> str | None:
    """The closest candidate to ``word`` (difflib, cutoff 0.7; case-insensitive first)."""
    pool = sorted(str(c) for c in candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.7)
    return found[0] if found else None


DecodeHook = Callable[[type, Any], Any]
FieldCheck = Callable[[Any], Any]
ConfigSlot = Callable[[type, Mapping[str, Any]], "tuple[str, Any] | None"]


def _import_config_slot(cls: type, data: Mapping[str, Any]) -> tuple[str, Any] | None:
    """Nautilus' importable configs: ``config`` is checked against the class ``config_path``
    names (``ImportableStrategyConfig``, ``ImportableActorConfig``, fee / fill models...)."""
    names = {f.name for f in _struct_fields(cls)} if _is_struct_like(cls) else set()
    path = data.get("config_path")
    if {"config_path", "config"} <= names and isinstance(path, str):
        try:
            return "config", import_object(path)
        except (ImportError, AttributeError) as exc:
            raise ConfigFieldError(
                ("config_path",), f"cannot import {path}: {exc}", received=path
            ) from None
    return None


@dataclass(frozen=True)
class Hooks:
    """What the walker needs to know about types it cannot inspect.

    Parameters
    ----------
    decode : callable, optional
        ``decode(cls, value) -> object`` for custom leaf types (identifiers...); raises
        ``TypeError`` / ``ValueError`` for a bad value. Also given to ``msgspec.convert`` when
        the walker builds a struct. ``None``: custom leaves must already be instances or strings.
    field_checks : mapping
        ``{(config class, field name): check}``; ``check(value)`` raises ``ValueError`` for a
        value the type allows but the meaning does not (an unknown currency). A class of
        ``None`` applies to a field of that name in any class.
    config_slot : callable
        ``config_slot(cls, data) -> (field, type) | None``: a dict field of ``cls`` holding a
        config of that type. The default reads ``config_path`` (Nautilus' importable configs).
    importable : tuple of str
        Fields, in any struct, naming an object by ``"package.module:Name"`` that must import.
    """

    decode: DecodeHook | None = None
    field_checks: Mapping[tuple[type | None, str], FieldCheck] = field(default_factory=dict)
    config_slot: ConfigSlot = _import_config_slot
    importable: tuple[str, ...] = ()


_DEFAULT_HOOKS: Final = Hooks()


# ------------------------------------------------------------------------------- entry points


def check(
    data: Any,
    target: Any,
    *,
    path: Sequence[str | int] = (),
    hooks: Hooks | None = None,
    build: bool = True,
) -> Any:
    """Check ``data`` against ``target`` (a type or annotation); returns the normalised data.

    With ``build`` (default) structs, dataclasses and pydantic models are also constructed, so
    their ``__post_init__`` / validators run and their errors get a key path too.

    Raises
    ------
    ConfigFieldError
        The first problem found, with its path below ``path``.
    """
    walker = _Walker(hooks or _DEFAULT_HOOKS, build)
    return walker.value(data, target, tuple(path))


def check_instance(obj: Any, *, hooks: Hooks | None = None) -> None:
    """Check a constructed msgspec Struct's field values against their declared types.

    msgspec checks types and ``Meta`` constraints only when decoding; a config built directly
    (``AIPatternConfig(min_confidence="0.6")``) is not checked. Call this from ``__post_init__``
    so both paths refuse the same values. Nested config dicts (with a :class:`Schema`) are
    checked and built; nested structs that are already built are taken as they are.
    """
    walker = _Walker(hooks or _DEFAULT_HOOKS, build=True)
    cls = type(obj)
    for f in _struct_fields(cls):
        walker.value(getattr(obj, f.name), f.type, (f.name,), owner=cls, name=f.name)


# ------------------------------------------------------------------------------------ walker


def _is_struct_like(cls: Any) -> bool:
    return isinstance(cls, type) and (
        issubclass(cls, msgspec.Struct) or dataclasses.is_dataclass(cls)
    )


@dataclass(frozen=True)
class _Field:
    name: str
    key: str
    type: Any  # msgspec.inspect.Type
    required: bool


def _struct_fields(cls: type) -> tuple[_Field, ...]:
    try:
        info = _type_info(cls)
    except TypeError:  # a field type msgspec cannot inspect (e.g. IB's ibapi enums)
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            raise
        out = []
        for f in msgspec.structs.fields(cls):
            try:
                kind: mi.Type = _type_info(f.type)
            except TypeError:
                kind = mi.AnyType()  # left to the class itself when it is built
            out.append(_Field(f.name, f.encode_name, kind, f.required))
        return tuple(out)
    if not isinstance(info, mi.StructType | mi.DataclassType):
        return ()
    return tuple(_Field(f.name, f.encode_name, f.type, f.required) for f in info.fields)


def construct(cls: type, data: Mapping[str, Any], decode: DecodeHook | None = None) -> Any:
    """Build a msgspec Struct or dataclass from checked plain data (``__post_init__`` runs).

    Falls back to converting field by field for a class with a field type msgspec does not
    support as a whole (IB's configs).
    """
    try:
        return msgspec.convert(dict(data), cls, dec_hook=decode, strict=False)
    except TypeError as exc:
        if "is not supported" not in str(exc) or not issubclass(cls, msgspec.Struct):
            raise
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    kwargs = {}
    for key, item in data.items():
        f = fields[key]
        try:
            kwargs[f.name] = msgspec.convert(item, f.type, dec_hook=decode, strict=False)
        except TypeError as exc:
            if "is not supported" not in str(exc):
                raise
            kwargs[f.name] = item
    return cls(**kwargs)


_INFO_CACHE: dict[Any, mi.Type] = {}


def _type_info(target: Any) -> mi.Type:
    try:
        return _INFO_CACHE[target]
    except (KeyError, TypeError):
        pass
    info = mi.type_info(target)
    with contextlib.suppress(TypeError):  # an unhashable annotation is simply not cached
        _INFO_CACHE[target] = info
    return info


def _is_pydantic_model(cls: Any) -> bool:
    if not isinstance(cls, type):
        return False
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return False
    return issubclass(cls, BaseModel)


class _Walker:
    def __init__(self, hooks: Hooks, build: bool) -> None:
        self.hooks = hooks
        self.build = build

    # -- dispatch -------------------------------------------------------------------------

    def value(
        self,
        value: Any,
        target: Any,
        path: KeyPath,
        *,
        owner: type | None = None,
        name: str | None = None,
    ) -> Any:
        if isinstance(target, mi.Type):
            out = self._info(value, target, path)
        elif _is_struct_like(target):
            out = self._struct(value, target, path)
        elif _needs_pydantic(target):
            out = self._pydantic(value, target, path)
        else:
            out = self._info(value, _type_info(target), path)
        if owner is not None and name is not None:
            checks = self.hooks.field_checks
            check_field = checks.get((owner, name)) or checks.get((None, name))
            if check_field is not None and out is not None:
                try:
                    check_field(out)
                except ConfigFieldError as exc:
                    raise exc.under(path) from None
                except (ValueError, TypeError, KeyError) as exc:
                    raise ConfigFieldError(path, _message(exc), received=value) from None
        return out

    # -- msgspec type info ----------------------------------------------------------------

    def _info(self, value: Any, info: mi.Type, path: KeyPath) -> Any:
        if isinstance(info, mi.Metadata):
            schema = (info.extra or {}).get(SCHEMA_KEY)
            inner = self._info(value, info.type, path)
            if isinstance(schema, Schema) and inner is not None:
                return self._schema(inner, schema, path)
            return inner
        if isinstance(info, mi.AnyType):
            return _plain(value, path)
        if isinstance(info, mi.NoneType):
            if value is None:
                return None
            raise _type_error(path, "null", value)
        if isinstance(info, mi.BoolType):
            return _bool(value, path)
        if isinstance(info, mi.IntType):
            number = _int(value, path)
            _check_bounds(number, info, path, value)
            return number
        if isinstance(info, mi.FloatType):
            real = _float(value, path)
            _check_bounds(real, info, path, value)
            return real
        if isinstance(info, mi.StrType):
            text = _str(value, path)
            _check_length(text, info, path, value)
            if info.pattern is not None and not re.search(info.pattern, text):
                raise ConfigFieldError(
                    path, f"must match the pattern {info.pattern!r}", received=value
                )
            return text
        if isinstance(info, mi.LiteralType):
            return _literal(value, info.values, path)
        if isinstance(info, mi.EnumType):
            return self._enum(value, info.cls, path)
        if isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
            items = _sequence(value, path)
            _check_length(items, info, path, value)
            return [self._info(v, info.item_type, (*path, i)) for i, v in enumerate(items)]
        if isinstance(info, mi.TupleType):
            items = _sequence(value, path)
            if len(items) != len(info.item_types):
                raise ConfigFieldError(
                    path, f"expected a list of {len(info.item_types)} values", received=value
                )
            return [
                self._info(v, t, (*path, i))
                for i, (v, t) in enumerate(zip(items, info.item_types, strict=True))
            ]
        if isinstance(info, mi.DictType):
            mapping = _mapping(value, path)
            _check_length(mapping, info, path, value)
            out: dict[Any, Any] = {}
            for key, item in mapping.items():
                checked_key = self._info(key, info.key_type, (*path, str(key)))
                out[checked_key] = self._info(item, info.value_type, (*path, str(key)))
            return out
        if isinstance(info, mi.StructType | mi.DataclassType):
            return self._struct(value, info.cls, path)
        if isinstance(info, mi.UnionType):
            return self._union(value, info, path)
        if isinstance(info, mi.CustomType):
            return self._custom(value, info.cls, path)
        return self._leaf(value, info, path)

    def _union(self, value: Any, info: mi.UnionType, path: KeyPath) -> Any:
        members = info.types
        if value is None:
            if any(isinstance(t, mi.NoneType) for t in members):
                return None
            raise _type_error(path, _describe_union(members), value)
        enums = [t.cls for t in members if isinstance(t, mi.EnumType)]
        if enums and isinstance(value, str) and any(isinstance(t, mi.StrType) for t in members):
            # Nautilus' ``OmsType | str``: the string is the enum's member name.
            return self._enum(value, enums[0], path)
        if isinstance(value, float) and any(isinstance(t, mi.FloatType) for t in members):
            # ``int | float`` and 5.0: a float as written (the int member took it first, so an
            # Optuna range {low: 1.0, high: 5.0} of a float setting sampled only 1, 2, ... 5)
            members = tuple(sorted(members, key=lambda t: not isinstance(t, mi.FloatType)))
        errors: list[ConfigFieldError] = []
        for member in members:
            if isinstance(member, mi.NoneType):
                continue
            if not _kind_fits(value, member):
                continue
            try:
                return self._info(value, member, path)
            except ConfigFieldError as exc:
                errors.append(exc)
        if errors:  # the deepest error: the member the value was most likely meant for
            raise max(errors, key=lambda e: len(e.path))
        raise _type_error(path, _describe_union(members), value)

    def _enum(self, value: Any, cls: type, path: KeyPath) -> Any:
        if isinstance(value, cls):
            return value
        members: Mapping[str, Any] = getattr(cls, "__members__", {})
        if isinstance(value, str) and value in members:
            return value
        try:
            msgspec.convert(value, cls, dec_hook=self.hooks.decode)
            return value
        except (msgspec.ValidationError, TypeError, ValueError, KeyError):
            pass
        names = sorted(members)
        raise ConfigFieldError(
            path,
            f"must be one of {', '.join(names)}",
            received=value,
            suggestion=nearest(value, names) if isinstance(value, str) else None,
        )

    def _custom(self, value: Any, cls: type, path: KeyPath) -> Any:
        if _is_pydantic_model(cls):
            return self._pydantic(value, cls, path)
        if isinstance(value, cls):
            return value
        decode = self.hooks.decode
        if decode is None:
            return _plain(value, path)
        if isinstance(value, Mapping | list):
            raise _type_error(path, f"a {cls.__name__} (text)", value)
        try:
            decode(cls, str(value) if isinstance(value, EnvText) else value)
        except ConfigFieldError as exc:
            raise exc.under(path) from None
        except Exception as exc:  # a third-party parser: any error means a bad value
            raise ConfigFieldError(
                path, f"not a valid {cls.__name__}: {_message(exc)}", received=value
            ) from None
        return str(value) if isinstance(value, EnvText) else value

    def _leaf(self, value: Any, info: mi.Type, path: KeyPath) -> Any:
        py_type = {
            mi.DateTimeType: dt.datetime,
            mi.DateType: dt.date,
            mi.TimeType: dt.time,
            mi.TimeDeltaType: dt.timedelta,
            mi.DecimalType: decimal.Decimal,
            mi.UUIDType: uuid.UUID,
            mi.BytesType: bytes,
        }.get(type(info))
        if py_type is None:
            return _plain(value, path)
        if isinstance(value, py_type):
            return value
        try:
            msgspec.convert(value, py_type, strict=False)
        except (msgspec.ValidationError, TypeError, ValueError) as exc:
            raise ConfigFieldError(path, _message(exc), received=value) from None
        return value

    # -- structs and dataclasses ----------------------------------------------------------

    def _struct(self, value: Any, cls: type, path: KeyPath) -> Any:
        if isinstance(value, cls):
            return value  # an already built config (direct construction)
        data = _mapping(value, path)
        fields = _struct_fields(cls)
        by_key = {f.key: f for f in fields}
        _refuse_unknown(data, by_key, path)
        out: dict[str, Any] = {}
        slot = None
        for key, item in data.items():  # in the document's order: the first problem is reported
            f = by_key[key]
            if key in self.hooks.importable and isinstance(item, str):
                _check_importable(item, (*path, key))
            if key == "config" and slot is None:
                slot = self._slot(cls, data, path)
            if slot is not None and key == slot[0]:
                out[key] = self._nested_config(item, slot[1], (*path, key))
            else:
                out[key] = self.value(item, f.type, (*path, key), owner=cls, name=f.name)
        for f in fields:
            if f.required and f.key not in data:
                raise ConfigFieldError((*path, f.key), "missing required key")
        if self.build and _has_post_init(cls):
            self._build_struct(cls, out, by_key, path)
        return out

    def _slot(self, cls: type, data: Mapping[str, Any], path: KeyPath) -> tuple[str, Any] | None:
        try:
            return self.hooks.config_slot(cls, data)
        except ConfigFieldError as exc:
            raise exc.under(path) from None

    def _nested_config(self, value: Any, target: Any, path: KeyPath) -> Any:
        """A ``config`` dict checked against (and built as) the class its sibling names."""
        checked = self.value(value, target, path)
        if self.build and _is_struct_like(target) and not _has_post_init(target):
            self._build_struct(target, checked, {f.key: f for f in _struct_fields(target)}, path)
        return checked

    def _build_struct(
        self, cls: type, data: dict[str, Any], by_key: Mapping[str, _Field], path: KeyPath
    ) -> None:
        def build(candidate: Mapping[str, Any]) -> None:
            construct(cls, candidate, self.hooks.decode)

        optional = [k for k in data if k in by_key and not by_key[k].required]
        _build_or_blame(build, data, optional, path)

    # -- nested configs in dict fields ----------------------------------------------------

    def _schema(self, value: Any, schema: Schema, path: KeyPath) -> Any:
        data = _mapping(value, path)
        for key, why in schema.exclude.items():
            if key in data:
                raise ConfigFieldError((*path, key), why, received=data[key])
        try:
            target = schema.resolve(data)
        except ConfigFieldError as exc:
            raise exc.under(path) from None
        checked = self.value(data, target, path)
        if self.build and _is_struct_like(target) and not _has_post_init(target):
            self._build_struct(target, checked, {f.key: f for f in _struct_fields(target)}, path)
        return checked

    # -- pydantic models and plain annotations --------------------------------------------

    def _pydantic(self, value: Any, target: Any, path: KeyPath) -> Any:
        checked = self._annotation(value, target, path)
        if self.build:
            _validate_pydantic(target, checked, path)
        return checked

    def _annotation(self, value: Any, ann: Any, path: KeyPath) -> Any:
        origin = get_origin(ann)
        if ann is Any or ann is object:
            return _plain(value, path)
        if origin is Annotated:
            base, *extras = get_args(ann)
            return self._annotated(value, base, extras, path)
        if _is_pydantic_model(ann):
            return self._model(value, ann, path)
        if _is_struct_like(ann):
            return self._struct(value, ann, path)
        if origin in (Union, types.UnionType):
            return self._annotated_union(value, get_args(ann), None, path)
        if origin is Literal:
            return _literal(value, get_args(ann), path)
        if ann is type(None):
            if value is None:
                return None
            raise _type_error(path, "null", value)
        if ann is bool:
            return _bool(value, path)
        if ann is int:
            return _int(value, path)
        if ann is float:
            return _float(value, path)
        if ann is str:
            return _str(value, path)
        if origin in (list, tuple, set, frozenset, Sequence, typing.Sequence):
            items = _sequence(value, path)
            args = get_args(ann)
            if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
                if len(items) != len(args):
                    raise ConfigFieldError(
                        path, f"expected a list of {len(args)} values", received=value
                    )
                return [self._annotation(v, a, (*path, i)) for i, (v, a) in
                        enumerate(zip(items, args, strict=True))]  # fmt: skip
            item = args[0] if args else Any
            return [self._annotation(v, item, (*path, i)) for i, v in enumerate(items)]
        if origin in (dict, Mapping, typing.Mapping):
            mapping = _mapping(value, path)
            args = get_args(ann) or (Any, Any)
            return {
                self._annotation(k, args[0], (*path, str(k))): self._annotation(
                    v, args[1], (*path, str(k))
                )
                for k, v in mapping.items()
            }
        if isinstance(ann, type) and issubclass(ann, Mapping):
            return _plain(_mapping(value, path), path)
        if isinstance(ann, type) and issubclass(ann, list | tuple):
            return _plain(_sequence(value, path), path)
        if isinstance(value, Mapping | list):  # a scalar type (Path, enum, datetime...)
            raise _type_error(path, getattr(ann, "__name__", str(ann)), value)
        return str(value) if isinstance(value, EnvText) else _plain(value, path)

    def _annotated(self, value: Any, base: Any, extras: Sequence[Any], path: KeyPath) -> Any:
        schema = next((e for e in extras if isinstance(e, Schema)), None)
        discriminator = next(
            (
                getattr(e, "discriminator", None)
                for e in extras
                if getattr(e, "discriminator", None)
            ),
            None,
        )
        if get_origin(base) in (Union, types.UnionType) and discriminator:
            out = self._annotated_union(value, get_args(base), discriminator, path)
        else:
            out = self._annotation(value, base, path)
        if schema is not None and out is not None:
            return self._schema(out, schema, path)
        return out

    def _annotated_union(
        self, value: Any, members: Sequence[Any], discriminator: Any, path: KeyPath
    ) -> Any:
        if value is None:
            if type(None) in members:
                return None
            raise _type_error(path, " or ".join(_ann_name(m) for m in members), value)
        candidates = [m for m in members if m is not type(None)]
        if isinstance(discriminator, str) and isinstance(value, Mapping):
            tags = {_literal_tag(m, discriminator): m for m in candidates}
            if discriminator not in value:
                typo = next((k for k in value if nearest(str(k), [discriminator])), None)
                if typo is not None:
                    raise ConfigFieldError(
                        (*path, str(typo)),
                        "unknown key",
                        received=value[typo],
                        suggestion=discriminator,
                    )
            tag = value.get(discriminator)
            if tag not in tags:
                names = sorted(str(t) for t in tags if t is not None)
                raise ConfigFieldError(
                    (*path, discriminator),
                    f"must be one of {', '.join(names)}",
                    received=tag if discriminator in value else None,
                    suggestion=nearest(tag, names) if isinstance(tag, str) else None,
                )
            return self._annotation(value, tags[tag], path)
        errors: list[ConfigFieldError] = []
        for member in candidates:
            try:
                return self._annotation(value, member, path)
            except ConfigFieldError as exc:
                errors.append(exc)
        if errors:
            raise max(errors, key=lambda e: len(e.path))
        raise _type_error(path, " or ".join(_ann_name(m) for m in members), value)

    def _model(self, value: Any, model: Any, path: KeyPath) -> Any:
        if isinstance(value, model):
            return value.model_dump(mode="json")
        data = _mapping(value, path)
        fields = model.model_fields
        keys: dict[str, str] = {}
        for name, info in fields.items():
            keys[name] = name
            if info.alias:
                keys[info.alias] = name
        if model.model_config.get("extra") != "allow":
            _refuse_unknown(data, keys, path)
        for name, info in fields.items():
            if info.is_required() and name not in data and (info.alias or name) not in data:
                raise ConfigFieldError((*path, info.alias or name), "missing required key")
        out: dict[str, Any] = {}
        for key, item in data.items():
            if key not in keys:
                out[key] = _plain(item, (*path, key))
                continue
            info = fields[keys[key]]
            ann = info.annotation
            extras = list(info.metadata)
            if info.discriminator is not None:
                extras.append(info)
            target = Annotated[(ann, *extras)] if extras else ann
            out[key] = self._annotation(item, target, (*path, key))
        return out


def _has_post_init(cls: type) -> bool:
    return getattr(cls, "__post_init__", None) is not None


def _needs_pydantic(target: Any) -> bool:
    """Whether ``target`` is (or contains) a pydantic model or pydantic-style ``Annotated``
    metadata, which msgspec cannot inspect."""
    if _is_pydantic_model(target):
        return True
    origin = get_origin(target)
    if origin is None:
        return False
    args = get_args(target)
    if origin is Annotated:
        if any(not isinstance(extra, msgspec.Meta) for extra in args[1:]):
            return True
        return _needs_pydantic(args[0])
    return any(_needs_pydantic(arg) for arg in args if arg is not Ellipsis)


def _ann_name(ann: Any) -> str:
    return getattr(ann, "__name__", None) or str(ann).replace("typing.", "")


def _literal_tag(model: Any, discriminator: str) -> Any:
    if _is_pydantic_model(model):
        info = model.model_fields.get(discriminator)
        if info is not None and get_origin(info.annotation) is Literal:
            return get_args(info.annotation)[0]
    return None


def _check_importable(path_text: str, path: KeyPath) -> None:
    try:
        import_object(path_text)
    except (ImportError, AttributeError) as exc:
        raise ConfigFieldError(
            path, f"cannot import: {_message(exc)}", received=path_text
        ) from None


def _validate_pydantic(target: Any, data: Any, path: KeyPath) -> None:
    from pydantic import TypeAdapter, ValidationError

    def build(candidate: Any) -> None:
        text = json.dumps(candidate, default=str)
        if _is_pydantic_model(target):
            target.model_validate_json(text, strict=True)
        else:
            TypeAdapter(target).validate_json(text, strict=True)

    try:
        build(data)
        return
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = _data_path(data, error["loc"])
        if loc or not isinstance(data, Mapping):
            raise ConfigFieldError(
                (*path, *loc),
                _pydantic_message(error),
                received=_at(data, loc),
            ) from None
        first = _pydantic_message(error)
    except Exception as exc:  # a model_post_init or validator that raised something else
        named = _field_value_error(exc)
        if named is not None:
            raise ConfigFieldError(
                (*path, *named.field), str(named), received=_at(data, named.field)
            ) from None
        first = _message(exc)
    optional = [k for k in data if isinstance(k, str)] if isinstance(data, Mapping) else []
    _build_or_blame(build, data, optional, path, first_message=first)


def _pydantic_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _data_path(data: Any, loc: Sequence[Any]) -> KeyPath:
    """A pydantic error location mapped onto the data.

    pydantic puts the chosen member of a union into the location (a tag such as ``"fixed"``,
    or a class name), which the data does not have: such parts are skipped. A last part that
    the data lacks is a missing key and is kept.
    """
    out: list[str | int] = []
    current = data
    parts = list(loc)
    for index, part in enumerate(parts):
        in_mapping = isinstance(current, Mapping) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_mapping or in_list:
            out.append(part)
            current = current[part]
        elif index == len(parts) - 1 and isinstance(part, str) and isinstance(current, Mapping):
            out.append(part)
    return tuple(out)


def _at(data: Any, loc: KeyPath) -> Any:
    current = data
    for part in loc:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return current


def _build_or_blame(
    build: Callable[[Any], None],
    data: Any,
    optional: Sequence[str],
    path: KeyPath,
    *,
    first_message: str | None = None,
) -> None:
    """Run ``build(data)``; on failure raise :class:`ConfigFieldError` at the key to blame.

    A :class:`FieldValueError` names its key. Otherwise each given optional key is dropped in
    turn: if exactly one drop makes the build pass, that key is at fault; else the whole
    mapping is.
    """
    if first_message is None:
        try:
            build(data)
            return
        except Exception as exc:  # __post_init__ / validators raise many types
            named = _field_value_error(exc)
            if named is not None:
                key_path = (*path, *named.field)
                raise ConfigFieldError(
                    key_path, str(named), received=_at(data, named.field)
                ) from None
            first_message = _message(exc)
    culprits = []
    if isinstance(data, Mapping):
        for key in optional:
            try:
                build({k: v for k, v in data.items() if k != key})
            except Exception:
                continue
            culprits.append(key)
    if len(culprits) == 1:
        key = culprits[0]
        raise ConfigFieldError((*path, key), first_message, received=data[key])
    raise ConfigFieldError(path, first_message)


def _field_value_error(exc: BaseException) -> FieldValueError | None:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, FieldValueError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    text = re.sub(r" - at `\$[^`]*`$", "", text)
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------------ leaves


def _refuse_unknown(data: Mapping[Any, Any], known: Mapping[str, Any], path: KeyPath) -> None:
    for key in data:
        if not isinstance(key, str):
            raise ConfigFieldError((*path, str(key)), "keys must be text", received=key)
        if key not in known:
            raise ConfigFieldError(
                (*path, key),
                "unknown key",
                received=data[key],
                suggestion=nearest(key, list(known)),
            )


def _type_error(path: KeyPath, expected: str, value: Any) -> ConfigFieldError:
    return ConfigFieldError(path, f"expected {expected}", received=value)


def _describe_union(members: Sequence[mi.Type]) -> str:
    names = []
    for member in members:
        name = type(member).__name__.removesuffix("Type").lower()
        if isinstance(member, mi.StructType | mi.DataclassType | mi.DictType):
            name = "a mapping"
        elif isinstance(member, mi.ListType | mi.VarTupleType | mi.TupleType):
            name = "a list"
        elif isinstance(member, mi.FloatType):
            name = "a number"
        elif isinstance(member, mi.IntType):
            name = "an integer"
        elif isinstance(member, mi.BoolType):
            name = "true or false"
        elif isinstance(member, mi.StrType):
            name = "text"
        elif isinstance(member, mi.NoneType):
            name = "null"
        elif isinstance(member, mi.CustomType | mi.EnumType):
            name = member.cls.__name__
        if name not in names:
            names.append(name)
    return " or ".join(names)


def _kind_fits(value: Any, info: mi.Type) -> bool:
    """Whether ``value``'s JSON kind could be ``info`` (to pick a union member)."""
    if isinstance(info, mi.Metadata):
        return _kind_fits(value, info.type)
    if isinstance(info, mi.StructType | mi.DataclassType | mi.DictType | mi.TypedDictType):
        return isinstance(value, Mapping | getattr(info, "cls", Mapping))
    if isinstance(info, mi.ListType | mi.VarTupleType | mi.TupleType | mi.SetType):
        return isinstance(value, list | tuple)
    if isinstance(info, mi.BoolType):
        return isinstance(value, bool | EnvText)
    if isinstance(info, mi.IntType | mi.FloatType):
        return isinstance(value, numbers.Real | EnvText) and not isinstance(value, bool)
    if isinstance(info, mi.StrType):
        return isinstance(value, str)
    return True


def _bool(value: Any, path: KeyPath) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, EnvText):
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
    raise _type_error(path, "true or false", value)


def _int(value: Any, path: KeyPath) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, EnvText) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    raise _type_error(path, "an integer", value)


def _float(value: Any, path: KeyPath) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, EnvText):
        try:
            number = float(value)
        except ValueError:
            raise _type_error(path, "a number", value) from None
    else:
        raise _type_error(path, "a number", value)
    if not math.isfinite(number):
        raise ConfigFieldError(path, "must be a finite number", received=value)
    if isinstance(value, numbers.Integral):  # JSON 3 is a valid float; keep it as written
        return int(value)  # type: ignore[return-value]
    return number


def _str(value: Any, path: KeyPath) -> str:
    if isinstance(value, EnvText):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):  # a Path given by a caller in Python
        return str(os.fspath(value))
    raise _type_error(path, "text", value)


def _sequence(value: Any, path: KeyPath) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise _type_error(path, "a list", value)


def _mapping(value: Any, path: KeyPath) -> Mapping[Any, Any]:
    if isinstance(value, Mapping):
        return value
    raise _type_error(path, "a mapping", value)


def _literal(value: Any, allowed: Sequence[Any], path: KeyPath) -> Any:
    for option in allowed:
        if value == option and type(value) is type(option):
            return option
        if isinstance(value, EnvText) and str(value) == option:
            return option
    texts = [str(a) for a in allowed]
    raise ConfigFieldError(
        path,
        f"must be one of {', '.join(repr(a) for a in allowed)}",
        received=value,
        suggestion=nearest(value, texts) if isinstance(value, str) else None,
    )


def _check_bounds(number: float, info: Any, path: KeyPath, received: Any) -> None:
    bounds = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
    for attr, sign in bounds:
        limit = getattr(info, attr, None)
        if limit is None:
            continue
        ok = {
            "gt": number > limit,
            "ge": number >= limit,
            "lt": number < limit,
            "le": number <= limit,
        }[attr]
        if not ok:
            raise ConfigFieldError(path, f"must be {sign} {limit}", received=received)
    multiple = getattr(info, "multiple_of", None)
    if multiple is not None and number % multiple:
        raise ConfigFieldError(path, f"must be a multiple of {multiple}", received=received)


def _check_length(value: Any, info: Any, path: KeyPath, received: Any) -> None:
    low, high = getattr(info, "min_length", None), getattr(info, "max_length", None)
    if low is not None and len(value) < low:
        raise ConfigFieldError(path, f"must have at least {low} item(s)", received=received)
    if high is not None and len(value) > high:
        raise ConfigFieldError(path, f"must have at most {high} item(s)", received=received)


def _plain(value: Any, path: KeyPath) -> Any:
    """Free-form data (``Any``): refuse what no JSON config means (NaN, infinity, odd keys)."""
    if isinstance(value, EnvText):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigFieldError(path, "must be a finite number", received=value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigFieldError((*path, str(key)), "keys must be text", received=key)
            out[key] = _plain(item, (*path, key))
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, (*path, i)) for i, item in enumerate(value)]
    return value
