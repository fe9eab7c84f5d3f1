"""Reply.buttons: small validated choices that fit every platform's button payload."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent_runner import Button, Reply
from agent_runner.message import MAX_BUTTON_VALUE_BYTES, MAX_BUTTONS


def test_a_reply_offers_buttons_and_defaults_to_none() -> None:
    assert Reply(text="hi").buttons == ()
    reply = Reply(text="ok?", buttons=(Button(label="Yes", value="yes"),))
    assert reply.buttons[0] == Button(label="Yes", value="yes")
    assert Reply.model_validate({"text": "x", "buttons": [{"label": "A", "value": "a"}]}).buttons


@pytest.mark.parametrize(
    "fields",
    [
        {"label": "", "value": "v"},
        {"label": "   ", "value": "v"},
        {"label": "L", "value": ""},
        {"label": "L", "value": "x" * (MAX_BUTTON_VALUE_BYTES + 1)},
        {"label": "L", "value": "é" * 33},  # 66 bytes: over Telegram's callback_data
        {"label": "x" * 76, "value": "v"},
        {"label": "L", "value": "v", "style": "red"},
    ],
)
def test_invalid_buttons_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Button.model_validate(fields)


def test_values_of_64_bytes_fit_and_at_most_25_buttons() -> None:
    Button(label="L", value="x" * MAX_BUTTON_VALUE_BYTES)
    with pytest.raises(ValidationError):
        Reply(
            text="many",
            buttons=tuple(Button(label=str(i), value=str(i)) for i in range(MAX_BUTTONS + 1)),
        )
