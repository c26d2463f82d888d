"""The protocol's base: versions, error codes, field validation, the ``Record`` base class and
``Method`` declarations with their registries. Every other protocol module builds on this one."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Dict, Generic, Optional, Tuple, Type, TypeVar

# 2: ``hello`` names the console instance, and the daemon replays its reply to a retried
#    request that changes state (see REPLAYED_METHODS) instead of acting twice.
# 3: a store upload may be named by the sender and get its sha256 with ``finish``
#    (``StoreUploadBegin.digest_at_end``), so a package is hashed while it is sent.
PROTOCOL_VERSION = 3
# The first version whose daemon replays replies: a console retries changing requests only then.
REPLAY_PROTOCOL_VERSION = 2
# The first version whose daemon takes a store upload's sha256 at its end (StoreUploadFinish.sha256).
DIGEST_AT_END_PROTOCOL_VERSION = 3
# Oldest protocol version this side still speaks. Bumped only when a change breaks old peers.
MIN_PROTOCOL_VERSION = 1
# A frame larger than this is refused; its bytes are discarded without being buffered.
MAX_FRAME_BYTES = 1 << 20


class ErrorCode:
    """Machine-readable error codes carried in ``error`` replies."""

    BAD_FRAME = "bad_frame"  # not JSON, not an object, or not UTF-8
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    INCOMPATIBLE = "incompatible_protocol"
    NOT_READY = "handshake_required"
    UNKNOWN_METHOD = "unknown_method"
    FAILED = "failed"
    INTERNAL = "internal"
    TOO_MANY_CONNECTIONS = "too_many_connections"  # a per-user or overall connection limit; says which
    NOT_ALLOWED = "not_allowed"  # the method needs the admin role (see README: who can do what)


class ProtocolError(Exception):
    """A frame or message that cannot be accepted. ``code`` is an :class:`ErrorCode`."""

    def __init__(self, code: str, message: str, request_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


# ---------------------------------------------------------------------------------------------
# Field validation: records declare typed fields; decoding checks every one.

_JSON_SCALARS = (str, int, float, bool, type(None))


def _check_text(value: str, where: str) -> str:
    """JSON lets ``\\ud800`` through as a lone surrogate, which no file, log or child process
    can take: refused here, at the edge, instead of failing each time it is used later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError(
            ErrorCode.BAD_FIELD,
            "%s is not valid Unicode text (character %d is a lone surrogate): send UTF-8 text"
            % (where, exc.start),
        ) from None
    return value


def repair_text(value: Any) -> Any:
    """``value`` with "?" in place of each lone surrogate in its strings (keys too): for text
    stored before the decoder refused it, so one old record cannot fail every read."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [repair_text(item) for item in value]
    if isinstance(value, dict):
        return {repair_text(key): repair_text(item) for key, item in value.items()}
    return value


def _check_json_value(value: Any, where: str = "value", depth: int = 0) -> None:
    if depth > 32:
        raise ProtocolError(ErrorCode.BAD_FIELD, "%s is nested too deeply" % where)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError(ErrorCode.BAD_FIELD, "%s holds a non-finite number" % where)
    if isinstance(value, str):
        _check_text(value, where)
        return
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, "%s[%d]" % (where, i), depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError(ErrorCode.BAD_FIELD, "%s keys must be strings" % where)
            _check_text(key, "a key of %s" % where)
            _check_json_value(item, "%s.%s" % (where, key), depth + 1)
        return
    raise ProtocolError(ErrorCode.BAD_FIELD, "%s has an unsupported type %s" % (where, type(value).__name__))


def _coerce(kind: str, value: Any, where: str) -> Any:
    """Check ``value`` against a small type language: str, int, float, bool, any, json,
    opt:<kind>, list:<kind>, map:<kind>, or a record name registered in ``_RECORDS``."""
    if kind.startswith("opt:"):
        return None if value is None else _coerce(kind[4:], value, where)
    if kind.startswith("list:"):
        if not isinstance(value, list):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be a list" % where)
        return [_coerce(kind[5:], item, "%s[%d]" % (where, i)) for i, item in enumerate(value)]
    if kind.startswith("map:"):
        if not isinstance(value, dict):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be an object" % where)
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError(ErrorCode.BAD_FIELD, "%s keys must be strings" % where)
            _check_text(key, "a key of %s" % where)
            out[key] = _coerce(kind[4:], item, "%s.%s" % (where, key))
        return out
    if kind == "str":
        if not isinstance(value, str):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be a string" % where)
        return _check_text(value, where)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be true or false" % where)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be an integer" % where)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be a number" % where)
        if not math.isfinite(value):
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be finite" % where)
        return float(value)
    if kind in ("any", "json"):
        _check_json_value(value, where)
        return value
    record = _RECORDS.get(kind)
    if record is None:  # pragma: no cover - a programming error in the protocol
        raise AssertionError("unknown field kind %r" % kind)
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_FIELD, "%s must be an object" % where)
    return record.from_wire(value)


def _encode_value(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, list):
        return [_encode_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_value(v) for k, v in value.items()}
    return value


R = TypeVar("R", bound="Record")


class Record:
    """Base of every typed record. Subclasses are dataclasses registered with ``@_record``,
    which derives their ``KINDS`` map from the field annotations: each field's wire type in the
    small type language of :func:`_coerce`. A field's JSON key is its name, unless the field is
    declared with :func:`wire_key` metadata (``WIRE_KEYS`` maps such fields to their keys)."""

    KINDS: ClassVar[Dict[str, str]] = {}
    WIRE_KEYS: ClassVar[Dict[str, str]] = {}

    def to_wire(self) -> Dict[str, Any]:
        keys = self.WIRE_KEYS
        return {keys.get(f.name, f.name): _encode_value(getattr(self, f.name))
                for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_wire(cls: Type[R], data: Dict[str, Any]) -> R:
        kwargs: Dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = cls.WIRE_KEYS.get(f.name, f.name)
            if key in data:
                kwargs[f.name] = _coerce(cls.KINDS[f.name], data[key], key)
            elif _has_default(f):
                continue
            else:
                raise ProtocolError(ErrorCode.BAD_FIELD, "%s needs field %r" % (cls.__name__, key))
        return cls(**kwargs)


_WIRE_KEY = "wire_key"


def wire_key(key: str) -> Dict[str, str]:
    """The metadata of a record field whose JSON key differs from its Python name:
    ``board_model: str = field(metadata=wire_key("model"))`` keeps the key older peers send and
    read while the code says what the field is."""
    return {_WIRE_KEY: key}


def _has_default(f: Any) -> bool:
    from dataclasses import MISSING

    return f.default is not MISSING or f.default_factory is not MISSING


_RECORDS: Dict[str, Type[Record]] = {}


_SCALAR_KINDS = ("str", "int", "float", "bool")
_WRAPPERS = (("Optional[", "opt:"), ("List[", "list:"), ("Dict[str,", "map:"))


def _wire_kind(annotation: Any) -> str:
    """A field's wire kind from its annotation, which is a string here (the protocol's
    modules postpone annotations): ``Optional[X]`` is ``opt:X``, ``List[X]`` ``list:X``, ``Dict[str, X]``
    ``map:X``, ``Any`` ``json``; str, int, float, bool and record names stand for themselves."""
    if not isinstance(annotation, str):  # pragma: no cover - a programming error in the protocol
        raise AssertionError("record fields need postponed annotations, got %r" % (annotation,))
    text = annotation.replace(" ", "")
    for prefix, tag in _WRAPPERS:
        if text.startswith(prefix) and text.endswith("]"):
            return tag + _wire_kind(text[len(prefix):-1])
    if text == "Any":
        return "json"
    if text in _SCALAR_KINDS or text.isidentifier():
        return text  # a record named here may be declared further down: _coerce looks it up when used
    raise AssertionError("no wire kind for the annotation %r" % annotation)  # pragma: no cover


def _record(cls: Type[R]) -> Type[R]:
    cls.KINDS = {f.name: _wire_kind(f.type) for f in fields(cls)}  # type: ignore[arg-type]
    cls.WIRE_KEYS = {f.name: f.metadata[_WIRE_KEY] for f in fields(cls)  # type: ignore[arg-type]
                     if _WIRE_KEY in f.metadata}
    keys = [cls.WIRE_KEYS.get(name, name) for name in cls.KINDS]
    if len(set(keys)) != len(keys):
        raise AssertionError("%s has two fields with the same JSON key" % cls.__name__)
    _RECORDS[cls.__name__] = cls
    return cls


P = TypeVar("P", bound=Record)
T = TypeVar("T", bound=Record)


class Method(Generic[P, T]):
    """One protocol method: its name, its params and result records and what it does to the device.

    ``changes_state``: the daemon keeps its reply for a retry of the same request id after a lost
    link (see :data:`REPLAYED_METHODS`). ``audit``: the action word the audit log records for it
    (None: not audited; a state-changing method is audited unless it is a later step of a transfer
    whose first step is). ``admin``: only an admin may call it. Declaring a method registers it in
    :data:`DECLARED` and :data:`METHODS`; a name declared twice is refused.
    """

    __slots__ = ("admin", "audit", "changes_state", "name", "params", "result")

    def __init__(self, name: str, params: Type[P], result: Type[T], changes_state: bool = False,
                 audit: Optional[str] = None, admin: bool = False) -> None:
        if name in DECLARED:
            raise ValueError("protocol method %r is declared twice" % name)
        if audit is not None and not changes_state:
            raise ValueError("%s is audited but declared as not changing state" % name)
        if admin and audit is None:
            raise ValueError("%s needs the admin role but is not audited" % name)
        self.name = name
        self.params = params
        self.result = result
        self.changes_state = changes_state
        self.audit = audit
        self.admin = admin
        DECLARED[name] = self
        METHODS[name] = (params, result)

    @property
    def replayed(self) -> bool:
        """A retry of the same request id gets the reply the daemon kept: state-changing methods."""
        return self.changes_state

    @property
    def audited(self) -> bool:
        return self.audit is not None

    def __repr__(self) -> str:
        return "Method(%r, %s, %s)" % (self.name, self.params.__name__, self.result.__name__)


# Every declared method by name, in declaration order.
DECLARED: Dict[str, Method[Any, Any]] = {}
# method name -> (params record, result record), derived from the declarations.
METHODS: Dict[str, Tuple[Type[Record], Type[Record]]] = {}


@_record
@dataclass
class Empty(Record):
    """No parameters, or nothing to return."""


def check_compatible(peer_protocol: int, peer_min_protocol: int) -> Optional[str]:
    """Return None when both sides can talk, else a sentence saying why not and what to do."""
    if peer_protocol < MIN_PROTOCOL_VERSION:
        return (
            "the console speaks protocol %d but this runtime needs at least %d: "
            "update the console" % (peer_protocol, MIN_PROTOCOL_VERSION)
        )
    if peer_min_protocol > PROTOCOL_VERSION:
        return (
            "the console needs protocol %d or newer but this runtime speaks %d: "
            "update the runtime on the device" % (peer_min_protocol, PROTOCOL_VERSION)
        )
    return None
