"""Pure value types: ids, topics, tokens, subscriptions, serializers, routing decorators."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from agent_runner.core import (
    AgentId,
    AgentType,
    CancellationToken,
    CantHandleException,
    DefaultSubscription,
    DefaultTopicId,
    MessageContext,
    TopicId,
    TypePrefixSubscription,
    TypeSubscription,
    UnknownPayload,
    try_get_known_serializers_for_type,
)
from agent_runner.core._serialization import SerializationRegistry
from agent_runner.errors import AgentRunnerError, CoreError, SerializationError


@pytest.mark.parametrize(
    ("text", "type_", "key"),
    [("a/b", "a", "b"), ("worker/x/y", "worker", "x/y"), ("t.1-2/", "t.1-2", "")],
)
def test_agent_id_round_trips(text: str, type_: str, key: str) -> None:
    agent_id = AgentId.from_str(text)
    assert (agent_id.type, agent_id.key) == (type_, key)
    assert str(agent_id) == text
    assert agent_id == AgentId(AgentType(type_), key)
    assert hash(agent_id) == hash(AgentId(type_, key))
    assert pickle.loads(pickle.dumps(agent_id)) == agent_id
    assert repr(agent_id) == f'AgentId(type="{type_}", key="{key}")'


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "ü?"])
def test_agent_id_rejects_bad_types(bad: str) -> None:
    with pytest.raises(ValueError):
        AgentId(bad, "k")


def test_agent_id_is_frozen_and_not_equal_to_other_things() -> None:
    agent_id = AgentId("a", "b")
    with pytest.raises(AttributeError):
        agent_id.key = "c"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        agent_id.other = "c"  # type: ignore[attr-defined]
    assert agent_id == ("a", "b")  # a (type, key) tuple underneath
    assert str(agent_id) == "a/b"
    with pytest.raises(TypeError):
        AgentId("a", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AgentId.from_str("no-slash")


def test_topic_id() -> None:
    topic = TopicId.from_str("news.tech:x=1/source/with/slashes")
    assert (topic.type, topic.source) == ("news.tech:x=1", "source/with/slashes")
    assert str(topic) == "news.tech:x=1/source/with/slashes"
    assert topic == TopicId("news.tech:x=1", "source/with/slashes")
    assert len({topic, TopicId("news.tech:x=1", "source/with/slashes")}) == 1
    assert pickle.loads(pickle.dumps(topic)) == topic
    with pytest.raises(AttributeError):
        topic.type = "other"
    with pytest.raises(ValueError):
        TopicId("bad topic", "s")
    with pytest.raises(ValueError):
        TopicId.from_str("nosource")
    assert DefaultTopicId() == TopicId("default", "default")
    assert DefaultTopicId("t", "s") == TopicId("t", "s")


def test_subscriptions_match_and_map() -> None:
    by_type = TypeSubscription("t1", "a1")
    assert by_type.is_match(TopicId("t1", "s1"))
    assert not by_type.is_match(TopicId("t1x", "s1"))
    assert by_type.map_to_agent(TopicId("t1", "s1")) == AgentId("a1", "s1")
    with pytest.raises(CantHandleException):
        by_type.map_to_agent(TopicId("t2", "s1"))
    assert by_type == TypeSubscription("t1", AgentType("a1"))
    assert by_type != TypeSubscription("t1", "a2")
    prefix = TypePrefixSubscription("t1", "a1")
    assert prefix.is_match(TopicId("t1SUFFIX", "s2"))
    assert prefix.map_to_agent(TopicId("t1SUFFIX", "s2")) == AgentId("a1", "s2")
    assert not prefix.is_match(TopicId("t2", "s2"))
    with pytest.raises(CantHandleException):
        prefix.map_to_agent(TopicId("x", "s"))
    assert prefix == TypePrefixSubscription("t1", "a1", id="other")
    assert DefaultSubscription(agent_type="a") == TypeSubscription("default", "a")
    with pytest.raises(CantHandleException):
        DefaultSubscription()  # no agent type in context


async def test_cancellation_token() -> None:
    token = CancellationToken()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("one"))
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    token.link_future(future)
    removed = lambda: calls.append("removed")  # noqa: E731
    token.add_callback(removed)
    token.remove_callback(removed)
    assert not token.is_cancelled()
    token.cancel()
    token.cancel()
    assert token.is_cancelled() and future.cancelled() and calls == ["one"]
    token.add_callback(lambda: calls.append("late"))
    assert calls == ["one", "late"]
    late: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    assert token.link_future(late).cancelled()


def test_message_context_makes_an_id_on_demand() -> None:
    ctx = MessageContext(None, None, True, CancellationToken())
    first = ctx.message_id
    assert first and ctx.message_id == first
    assert MessageContext(None, None, True, CancellationToken()).message_id != first
    given = MessageContext(
        sender=AgentId("a", "b"),
        topic_id=None,
        is_rpc=False,
        cancellation_token=CancellationToken(),
        message_id="m",
    )
    assert given.message_id == "m" and "m" in repr(given)


@dataclass
class Flat:
    a: int
    b: str


@dataclass
class Nested:
    inner: Flat


class Model(BaseModel):
    items: list[Flat]


@dataclass
class Loose:
    """A flat dataclass whose untyped fields may still hold anything JSON takes."""

    n: int
    text: str = 'é\u2028"q'
    ratio: float = 1.5
    items: list[Any] = field(default_factory=lambda: [1, (2, 3), {"k": None}])
    mapping: dict[Any, Any] = field(default_factory=lambda: {1: "a", "b": [True]})
    anything: Any = None


@pytest.mark.parametrize(
    "value",
    [
        Loose(1),
        Loose(2, anything=Flat(5, "x")),
        Loose(3, items=[Flat(1, "y"), {"x": Flat(2, "z")}]),
        Loose(4, ratio=float("nan")),
    ],
)
def test_dataclass_json_is_what_json_dumps_of_asdict_gives(value: Loose) -> None:
    (serializer,) = try_get_known_serializers_for_type(Loose)
    assert serializer.serialize(value) == json.dumps(dataclasses.asdict(value)).encode()


def test_dataclass_json_refuses_what_json_refuses() -> None:
    (serializer,) = try_get_known_serializers_for_type(Loose)
    with pytest.raises(TypeError, match="not JSON serializable"):
        serializer.serialize(Loose(1, anything=object()))


def test_known_serializers() -> None:
    (flat,) = try_get_known_serializers_for_type(Flat)
    assert flat.serialize(Flat(1, "x")) == b'{"a": 1, "b": "x"}'
    assert flat.deserialize(b'{"a": 1, "b": "x"}') == Flat(1, "x")
    assert try_get_known_serializers_for_type(Nested) == []
    (model,) = try_get_known_serializers_for_type(Model)
    value = Model(items=[Flat(1, "x")])
    assert model.deserialize(model.serialize(value)) == value
    (number,) = try_get_known_serializers_for_type(float)
    assert number.deserialize(b"3") == 3.0


def test_registry_unknown_payload_and_errors() -> None:
    registry = SerializationRegistry()
    assert registry.is_registered("str")
    assert not registry.is_registered("Flat")
    payload = registry.deserialize(b"{}", type_name="Flat", data_content_type="application/json")
    assert payload == UnknownPayload("Flat", "application/json", b"{}")
    with pytest.raises(SerializationError):
        registry.serialize(Flat(1, "x"), type_name="Flat", data_content_type="application/json")
    registry.add_serializer(try_get_known_serializers_for_type(Flat))
    data = registry.serialize(Flat(1, "x"), type_name="Flat", data_content_type="application/json")
    assert registry.deserialize(data, type_name="Flat", data_content_type="application/json") == (
        Flat(1, "x")
    )
    assert issubclass(SerializationError, CoreError) and issubclass(CoreError, AgentRunnerError)
