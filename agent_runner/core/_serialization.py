"""Message serializers: how a message type travels as bytes (needed across processes).

A runtime keeps a registry keyed by ``(type_name, data_content_type)``. Dataclasses and
pydantic models get JSON serializers automatically when an agent that handles them is
registered; other types need :meth:`MessageRuntime.add_message_serializer`.
"""

from __future__ import annotations

import dataclasses
import json
import json.encoder as json_encoder
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from agent_runner.errors import SerializationError

T = TypeVar("T")

JSON_DATA_CONTENT_TYPE = "application/json"
"""The content type of JSON payloads."""


class MessageSerializer(Protocol[T]):
    """Turns messages of one type into bytes and back.

    Example::

        class PointSerializer(MessageSerializer[Point]):
            @property
            def data_content_type(self) -> str:
                return JSON_DATA_CONTENT_TYPE

            @property
            def type_name(self) -> str:
                return "Point"

            def serialize(self, message: Point) -> bytes:
                return json.dumps([message.x, message.y]).encode()

            def deserialize(self, payload: bytes) -> Point:
                return Point(*json.loads(payload))

        runtime.add_message_serializer(PointSerializer())
    """

    @property
    def data_content_type(self) -> str: ...

    @property
    def type_name(self) -> str: ...

    def deserialize(self, payload: bytes) -> T: ...

    def serialize(self, message: T) -> bytes: ...


@dataclass
class UnknownPayload:
    """A received payload whose type has no registered serializer."""

    type_name: str
    data_content_type: str
    payload: bytes


def type_name(cls_or_message: Any) -> str:
    """The registry name of a message type or of a message (the class's ``__name__``)."""
    if isinstance(cls_or_message, type):
        return cls_or_message.__name__
    return type(cls_or_message).__name__


def _nested_dataclass(value: Any) -> Any:
    """JSON's ``default`` hook: a dataclass instance found inside a field's value becomes its
    dict, as :func:`dataclasses.asdict` would have made it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _json_dumps() -> Callable[[dict[str, Any]], str]:
    """``json.dumps`` of a dict with the default options, without building an encoder per
    call (that costs about a microsecond, more than encoding a small message)."""
    make: Any = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder
        return json.JSONEncoder(default=_nested_dataclass).encode
    # No markers (circular-reference checks): a shared dict would keep the ids of an encoding
    # that failed half-way. asdict() recursed forever on a cycle before JSON saw it anyway.
    encode = make(
        None, _nested_dataclass, json_encoder.encode_basestring_ascii, None,
        ": ", ", ", False, False, True,
    )  # fmt: skip
    return lambda value: "".join(encode(value, 0))


_dumps = _json_dumps()


def _is_union(t: object) -> bool:
    origin = get_origin(t)
    return origin is Union or origin is types.UnionType


def _mentions_nested_model(t: object) -> bool:
    if isinstance(t, type) and (dataclasses.is_dataclass(t) or issubclass(t, BaseModel)):
        return True
    return any(_mentions_nested_model(arg) for arg in get_args(t))


class _JsonSerializer(MessageSerializer[T]):
    """What the JSON serializers share: the class they serve and the content type."""

    def __init__(self, cls: type[T]) -> None:
        self.cls = cls

    @property
    def data_content_type(self) -> str:
        return JSON_DATA_CONTENT_TYPE

    @property
    def type_name(self) -> str:
        return type_name(self.cls)


class DataclassJsonMessageSerializer(_JsonSerializer[T]):
    """JSON for flat dataclasses (no unions, no nested dataclasses or models)."""

    def __init__(self, cls: type[T]) -> None:
        try:
            resolved = get_type_hints(cls)
        except (NameError, TypeError):
            resolved = {}
        hints = [
            resolved.get(f.name, f.type)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        ]
        if any(_is_union(h) for h in hints):
            raise ValueError(
                "Dataclass has a union type, which is not supported. Use a pydantic model."
            )
        if any(_mentions_nested_model(h) for h in hints):
            raise ValueError(
                "Dataclass has nested dataclasses or models, which are not supported. "
                "Use a pydantic model."
            )
        super().__init__(cls)
        self._fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def deserialize(self, payload: bytes) -> T:
        return self.cls(**json.loads(payload.decode("utf-8")))

    def serialize(self, message: T) -> bytes:
        # What json.dumps(dataclasses.asdict(message)) gives, without asdict's deep copy of
        # every field (half the time of a small message).
        fields = {name: getattr(message, name) for name in self._fields}
        return _dumps(fields).encode("utf-8")


class PydanticJsonMessageSerializer(_JsonSerializer[T]):
    """JSON for pydantic models."""

    def deserialize(self, payload: bytes) -> T:
        return self.cls.model_validate_json(payload)  # type: ignore[attr-defined, no-any-return]

    def serialize(self, message: T) -> bytes:
        return message.model_dump_json().encode("utf-8")  # type: ignore[attr-defined, no-any-return]


class JsonValueSerializer(_JsonSerializer[T]):
    """JSON for plain values: ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``."""

    def deserialize(self, payload: bytes) -> T:
        value = json.loads(payload.decode("utf-8"))
        if type(value) is not self.cls and not (self.cls is float and type(value) is int):
            raise SerializationError(f"Expected a JSON {self.cls.__name__}, got {value!r}")
        return self.cls(value)  # type: ignore[call-arg]

    def serialize(self, message: T) -> bytes:
        return json.dumps(message).encode("utf-8")


JSON_VALUE_TYPES: tuple[type[Any], ...] = (str, int, float, bool, list, dict)
"""Types every registry can serialize from the start (as JSON)."""


def try_get_known_serializers_for_type(cls: type[Any]) -> list[MessageSerializer[Any]]:
    """The built-in serializers for ``cls``: JSON for pydantic models and flat dataclasses;
    ``[]`` for any other type (or a dataclass the JSON serializer cannot handle)."""
    if not isinstance(cls, type):
        return []
    if issubclass(cls, BaseModel):
        return [PydanticJsonMessageSerializer(cls)]
    if cls in JSON_VALUE_TYPES:
        return [JsonValueSerializer(cls)]
    if dataclasses.is_dataclass(cls):
        try:
            return [DataclassJsonMessageSerializer(cls)]
        except ValueError:
            return []
    return []


class SerializationRegistry:
    """:meta private: The serializers a runtime knows, keyed by type name and content type.

    Plain JSON values (:data:`JSON_VALUE_TYPES`) are registered from the start.
    """

    __slots__ = ("_by_name", "_serializers")

    def __init__(self) -> None:
        self._serializers: dict[tuple[str, str], MessageSerializer[Any]] = {}
        self._by_name: dict[str, MessageSerializer[Any]] = {}
        for cls in JSON_VALUE_TYPES:
            self.add_serializer(JsonValueSerializer(cls))

    def add_serializer(
        self, serializer: MessageSerializer[Any] | Sequence[MessageSerializer[Any]]
    ) -> None:
        if isinstance(serializer, Sequence):
            for one in serializer:
                self.add_serializer(one)
            return
        self._serializers[(serializer.type_name, serializer.data_content_type)] = serializer
        self._by_name.setdefault(serializer.type_name, serializer)

    def is_registered(self, type_name: str, data_content_type: str | None = None) -> bool:
        if data_content_type is None:
            return type_name in self._by_name
        return (type_name, data_content_type) in self._serializers

    def get(self, type_name: str, data_content_type: str | None = None) -> MessageSerializer[Any]:
        """The serializer for a type; SerializationError when none is registered."""
        if data_content_type is None:
            serializer = self._by_name.get(type_name)
        else:
            serializer = self._serializers.get((type_name, data_content_type))
        if serializer is None:
            raise SerializationError(
                f"No serializer registered for message type {type_name!r}"
                + (f" with content type {data_content_type!r}" if data_content_type else "")
                + "; register the agent that handles it or call add_message_serializer()."
            )
        return serializer

    def serialize(self, message: Any, *, type_name: str, data_content_type: str) -> bytes:
        return self.get(type_name, data_content_type).serialize(message)

    def deserialize(self, payload: bytes, *, type_name: str, data_content_type: str) -> Any:
        serializer = self._serializers.get((type_name, data_content_type))
        if serializer is None:
            return UnknownPayload(type_name, data_content_type, payload)
        return serializer.deserialize(payload)

    def type_name(self, message: Any) -> str:
        return type_name(message)


__all__ = [
    "JSON_DATA_CONTENT_TYPE",
    "JSON_VALUE_TYPES",
    "DataclassJsonMessageSerializer",
    "JsonValueSerializer",
    "MessageSerializer",
    "PydanticJsonMessageSerializer",
    "SerializationRegistry",
    "UnknownPayload",
    "try_get_known_serializers_for_type",
    "type_name",
]
