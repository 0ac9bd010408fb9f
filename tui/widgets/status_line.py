"""The one-line status bar under the prompt: model, speed and context."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from llamatui.engines.base import ModelInfo, ReplyStats


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
    state: reactive[str] = reactive("starting")
    """What the engine is doing: loading, ready, generating, stopped, failed."""
    stats: reactive[ReplyStats | None] = reactive(None)
    """The figures of the last reply."""
    streamed: reactive[int] = reactive(0)
    """Tokens of the reply streaming now."""
    next_prompt: reactive[int | None] = reactive(None)
    """Tokens the next prompt will take (system, history and the draft), when counted."""

    def render(self) -> Content:
        # Plain Content: a model name from a file is never read as markup.
        parts = [self.model.name if self.model else "no model", self.state]
        if self.state == "generating":
            parts.append(f"{self.streamed} tokens")
        s = self.stats
        if s is not None:
            parts += [f"{s.tokens_per_s:.1f} tok/s", f"TTFT {s.ttft_s * 1000:.0f} ms"]
        if self.model is not None:
            # The context meter: what the next prompt (with the draft) will take,
            # else what the last reply left in the cache.
            used = self.next_prompt
            if used is None:
                used = s.context_used if s is not None else 0
            parts.append(f"ctx {used:,}/{self.model.n_ctx:,}")
        if s is not None:
            parts.append(f"prompt {s.prompt_tokens:,} tok")
        return Content(" · ".join(parts))
