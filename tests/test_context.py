"""Fitting a conversation into the context: trim drops whole old turns, keeps the
system prompt; refuse says what to do."""

from __future__ import annotations

import pytest

from llamatui.engines.templates import ChatMessage
from llamatui.tui.chat.context import ContextFull, fit_context, reply_room, trim_notice


def words(messages: list[ChatMessage]) -> int:
    return sum(len(m["content"].split()) + 4 for m in messages)


def chat(turns: int, system: bool = True) -> list[ChatMessage]:
    out: list[ChatMessage] = [{"role": "system", "content": "be brief"}] if system else []
    for i in range(turns):
        out.append({"role": "user", "content": f"question {i} " + "word " * 20})
        out.append({"role": "assistant", "content": f"answer {i} " + "word " * 30})
    out.append({"role": "user", "content": "last question"})
    return out


def test_fits_untouched() -> None:
    msgs = chat(2)
    fitted = fit_context(msgs, words, 1000, 100, "trim")
    assert fitted.messages == msgs and fitted.dropped == 0


def test_trim_keeps_system_prompt_and_starts_on_a_user_turn() -> None:
    msgs = chat(20)
    fitted = fit_context(msgs, words, 512, 128, "trim")
    assert fitted.dropped > 0 and fitted.dropped % 2 == 0
    assert fitted.messages[0] == msgs[0]
    assert fitted.messages[1]["role"] == "user"
    assert fitted.messages[-1] == msgs[-1]
    assert fitted.tokens <= 512 * 0.75 - 128  # trimmed in a batch, not to the brim
    # The next turn fits without dropping more: the prompt's start stays the same.
    more = [*msgs, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "and?"}]
    again = fit_context(more, words, 512, 128, "trim")
    assert again.dropped == fitted.dropped


def test_refuse_says_what_to_do() -> None:
    with pytest.raises(ContextFull, match="Start a new conversation"):
        fit_context(chat(20), words, 512, 128, "refuse")


def test_a_message_too_long_alone_is_refused_either_way() -> None:
    huge: list[ChatMessage] = [{"role": "user", "content": "word " * 2000}]
    with pytest.raises(ContextFull, match="Your message alone"):
        fit_context(huge, words, 512, 128, "trim")


def test_a_continued_reply_keeps_the_message_it_answers() -> None:
    msgs = [*chat(20), {"role": "assistant", "content": "word " * 60}]
    fitted = fit_context(msgs, words, 512, 128, "trim", continuing=True)
    assert fitted.messages[-2:] == msgs[-2:] and fitted.dropped > 0
    no_room = [*chat(1), {"role": "assistant", "content": "word " * 400}]
    with pytest.raises(ContextFull, match="no room to continue it"):
        fit_context(no_room, words, 512, 128, "trim", continuing=True)


def test_reply_room() -> None:
    assert reply_room(512, 1024) == 128 and reply_room(8192, 1024) == 1024


def test_the_trim_notice_counts_in_words() -> None:
    assert trim_notice(1, 512).startswith("The oldest message is left out")
    assert trim_notice(3, 4096).startswith("The 3 oldest messages are left out")
    assert "4,096-token context" in trim_notice(3, 4096)
