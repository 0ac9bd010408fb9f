"""The one-line status bar under the prompt: model, engine state, speed and context."""

from __future__ import annotations

import time

from textual.content import Content
from textual.reactive import reactive, var
from textual.widget import Widget

from llamatui.engines.handle import EngineState
from llamatui.engines.protocol import ModelInfo, ReplyStats
from llamatui.tui.widgets.direct_paint import repaint

COUNT_EVERY_S = 1.0


class StatusLine(Widget):
    """Model, state, prompt tokens, tokens/s, time to first token, context used."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    model: reactive[ModelInfo | None] = reactive(None)
    """The loaded model, or None."""
    state: reactive[EngineState] = reactive(EngineState.IDLE)
    """What the engine is doing."""
    load_note: reactive[str] = reactive("")
    """While loading: the model's name and how far it is."""
    stats: reactive[ReplyStats | None] = reactive(None)
    """The figures of the last reply."""
    streamed: var[int] = var(0)
    """Tokens of the reply streaming now (shown at most once a second: each repaint
    of this line while a reply streams is CPU taken from the model)."""
    next_prompt: reactive[int | None] = reactive(None)
    """Tokens the next prompt will take (system, history and the draft), when counted."""
    estimated: reactive[bool] = reactive(False)
    """Whether next_prompt is an estimate (the engine cannot count tokens)."""
    sent: var[int] = var(0)
    """Tokens in the context when the streaming reply began (the prompt as last
    counted, or estimated): while it streams, the meter adds what it has streamed."""

    _count_shown_at = 0.0

    def reply_started(self, sent: int) -> None:
        """A reply begins with `sent` tokens in the context (counted or estimated)."""
        self.streamed = 0
        self.sent = sent
        self.next_prompt = None

    def watch_streamed(self) -> None:
        now = time.monotonic()
        if now - self._count_shown_at >= COUNT_EVERY_S or self.state is not EngineState.GENERATING:
            self._count_shown_at = now
            repaint(self)

    def _state_text(self) -> str:
        state = self.state
        if state is EngineState.LOADING:
            what = f" {self.load_note}" if self.load_note else ""
            return f"loading{what} (Esc cancels)"
        if state is EngineState.IDLE:
            return "Ctrl+L picks a model"
        if state is EngineState.FAILED:
            return "the model could not be loaded · Ctrl+L picks one"
        if state is EngineState.GENERATING:
            return f"generating · {self.streamed} tokens"
        return str(state.value)

    def render(self) -> Content:
        # Plain Content: a model name from a file is never read as markup.
        parts = [self.model.name if self.model else "no model", self._state_text()]
        s = self.stats
        if s is not None:
            parts += [f"{s.tokens_per_s:.1f} tok/s", f"TTFT {s.ttft_s * 1000:.0f} ms"]
        if self.model is not None:
            # The context meter: what the next prompt (with the draft) will take,
            # else what the last reply left in the cache.
            used = self.next_prompt
            if used is None:
                used = s.context_used if s is not None else 0
            approx = "~" if self.estimated and self.next_prompt is not None else ""
            if self.state is EngineState.GENERATING:
                used, approx = self.sent + self.streamed, "~"
            parts.append(f"ctx {approx}{used:,}/{self.model.n_ctx:,}")
        if s is not None:
            parts.append(f"prompt {s.prompt_tokens:,} tok")
        return Content(fit(parts, self.size.width))


def fit(parts: list[str], width: int) -> str:
    """The status parts joined to fit `width` (0: any): the least needed go first
    (prompt tokens, then time to first token), then the model's name is shortened."""
    line = " · ".join(parts)
    if width <= 0 or len(line) <= width:
        return line
    for gone in ("prompt ", "TTFT "):
        parts = [p for p in parts if not p.startswith(gone)]
        line = " · ".join(parts)
        if len(line) <= width:
            return line
    over = len(line) - width
    name = parts[0]
    if len(name) - over >= 8:
        parts[0] = name[: len(name) - over - 1] + "…"
    return " · ".join(parts)
