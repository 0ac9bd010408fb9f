"""Edit a model's profile (context, threads, GPU layers, chat format, preset,
system prompt); saved to the config file."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from llamatui.engines.templates import NAMED_FORMATS
from llamatui.tui.config import PRESETS, Profile


class ProfileDialog(ModalScreen[Profile | None]):
    """The profile of one model; None when cancelled."""

    DEFAULT_CSS = """
    ProfileDialog {
        align: center middle;
        & > Vertical {
            width: 72; max-width: 95%; height: auto; padding: 1 2;
            border: round $primary; background: $surface;
        }
        & Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: auto; height: auto; }
        & Grid > Label { padding: 1 0 0 0; }
        & Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
        & Button { margin-left: 1; }
        & #profile-error { color: $text-error; height: auto; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="profile.cancel")
    ]

    def __init__(self, name: str, profile: Profile, gpu_offload: bool) -> None:
        super().__init__()
        self.model_name = name
        self.profile = profile
        self.gpu_offload = gpu_offload

    def compose(self) -> ComposeResult:
        p = self.profile
        with Vertical():
            yield Label(Content(f"Profile of {self.model_name}: applied when it loads"))
            with Grid():
                yield Label("Context")
                yield Input(str(p.ctx or ""), placeholder="default", id="ctx", type="integer")
                yield Label("Threads")
                yield Input(
                    str(p.threads or ""), placeholder="default", id="threads", type="integer"
                )
                yield Label("GPU layers")
                yield Input(
                    str(p.gpu_layers if p.gpu_layers is not None else ""),
                    placeholder="0" if self.gpu_offload else "no GPU offload in this build",
                    id="gpu_layers",
                    type="integer",
                    disabled=not self.gpu_offload,
                )
                yield Label("Chat format")
                yield Select(
                    [(name, name) for name in sorted(NAMED_FORMATS)],
                    value=p.chat_format or Select.NULL,
                    prompt="the model's own",
                    id="chat_format",
                )
                yield Label("Sampling")
                yield Select(
                    [(name, name) for name in PRESETS],
                    value=p.preset or Select.NULL,
                    prompt="default",
                    id="preset",
                )
                yield Label("System prompt")
                yield Input(p.system_prompt or "", placeholder="none", id="system_prompt")
            yield Label("", id="profile-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def _int(self, widget_id: str, low: int) -> int | None:
        text = self.query_one(f"#{widget_id}", Input).value.strip()
        if not text:
            return None
        value = int(text)
        if value < low:
            raise ValueError(f"{widget_id.replace('_', ' ')} must be {low} or more")
        return value

    def _select(self, widget_id: str) -> str | None:
        value = self.query_one(f"#{widget_id}", Select).value
        return value if isinstance(value, str) else None

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "save":
            self.dismiss(None)
            return
        try:
            profile = Profile(
                ctx=self._int("ctx", 128),
                threads=self._int("threads", 1),
                gpu_layers=self._int("gpu_layers", 0),
                chat_format=self._select("chat_format"),
                preset=self._select("preset"),
                system_prompt=self.query_one("#system_prompt", Input).value.strip() or None,
            )
        except ValueError as e:
            self.query_one("#profile-error", Label).update(Content(str(e)))
            return
        self.dismiss(profile)
