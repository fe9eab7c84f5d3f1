"""Payload encoding: message objects <-> (type name, content type, bytes).

Serializers are the core's :class:`~agent_runner.core.MessageSerializer`; dataclasses and
pydantic models get one automatically the first time they are sent. ``None`` and plain JSON
values (str, int, float, bool, list, dict) travel as ``application/json`` under the type
names ``null``, ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, so workers in other
languages can answer with plain JSON. A payload whose type has no serializer here decodes as
:class:`~agent_runner.core.UnknownPayload`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent_runner.core import (
    MessageSerializer,
    UnknownPayload,
    try_get_known_serializers_for_type,
)
from agent_runner.distributed._distributed_errors import PayloadTooLargeError
from agent_runner.distributed._wire import JSON_CONTENT_TYPE
from agent_runner.errors import SerializationError

_PLAIN: dict[type[Any], str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "list",
    dict: "dict",
}
_PLAIN_NAMES = frozenset(_PLAIN.values()) | {"null"}


class PayloadCodec:
    """Encode and decode payloads, refusing those over ``max_payload_bytes``."""

    def __init__(self, *, max_payload_bytes: int) -> None:
        self.max_payload_bytes = max_payload_bytes
        self._by_name: dict[tuple[str, str], MessageSerializer[Any]] = {}
        self._by_class: dict[type[Any], MessageSerializer[Any]] = {}

    def add(self, serializer: MessageSerializer[Any] | Sequence[MessageSerializer[Any]]) -> None:
        """Register serializers (``add_message_serializer``)."""
        if isinstance(serializer, Sequence):
            for one in serializer:
                self.add(one)
            return
        self._by_name[(serializer.type_name, serializer.data_content_type)] = serializer

    def is_registered(self, type_name: str, content_type: str = JSON_CONTENT_TYPE) -> bool:
        return (type_name, content_type) in self._by_name

    def _serializer_for(self, cls: type[Any]) -> MessageSerializer[Any]:
        found = self._by_class.get(cls)
        if found is not None:
            return found
        name = cls.__name__
        found = self._by_name.get((name, JSON_CONTENT_TYPE))
        if found is None:
            found = next(
                (s for (n, _), s in self._by_name.items() if n == name),
                None,
            )
        if found is None:
            known = try_get_known_serializers_for_type(cls)
            if not known:
                raise SerializationError(
                    f"no serializer for message type {cls.__qualname__}: use a dataclass or a "
                    "pydantic model, or add_message_serializer()"
                )
            self.add(known)
            found = known[0]
        self._by_class[cls] = found
        return found

    def encode(self, message: Any) -> tuple[str, str, bytes]:
        """``(type_name, content_type, data)``. Raises SerializationError / PayloadTooLargeError."""
        cls = type(message)
        if message is None:
            type_name, data = "null", b"null"
            content_type = JSON_CONTENT_TYPE
        elif cls in _PLAIN:
            type_name, content_type = _PLAIN[cls], JSON_CONTENT_TYPE
            try:
                data = json.dumps(message, separators=(",", ":")).encode()
            except (TypeError, ValueError) as exc:
                raise SerializationError(f"cannot encode {type_name} payload: {exc}") from exc
        else:
            serializer = self._serializer_for(cls)
            type_name, content_type = serializer.type_name, serializer.data_content_type
            try:
                data = serializer.serialize(message)
            except Exception as exc:  # a user serializer may raise anything
                raise SerializationError(f"cannot encode {type_name}: {exc}") from exc
        self.check_size(len(data), type_name)
        return type_name, content_type, data

    def check_size(self, size: int, type_name: str) -> None:
        if size > self.max_payload_bytes:
            raise PayloadTooLargeError(
                f"payload of type {type_name} is {size} bytes, over the limit of "
                f"{self.max_payload_bytes} bytes (max_payload_bytes)"
            )

    def decode(self, type_name: str, content_type: str, data: bytes) -> Any:
        """The message object; UnknownPayload for a type without serializer here.

        Raises SerializationError when a known type's payload is malformed.
        """
        serializer = self._by_name.get((type_name, content_type))
        if serializer is None:
            if type_name in _PLAIN_NAMES and content_type == JSON_CONTENT_TYPE:
                try:
                    return json.loads(data)
                except ValueError as exc:
                    raise SerializationError(f"malformed {type_name} payload: {exc}") from exc
            return UnknownPayload(type_name, content_type, data)
        try:
            return serializer.deserialize(data)
        except Exception as exc:  # a user serializer may raise anything
            raise SerializationError(f"cannot decode payload of type {type_name}: {exc}") from exc
