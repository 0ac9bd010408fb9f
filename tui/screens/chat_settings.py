"""A conversation's own settings (F4): its system prompt, a sampling preset, and
each sampling field over it. Stored with the conversation; the next reply uses them."""

from __future__ import annotations

import json
from asyncio import to_thread
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from llamatui.engines.protocol import SamplingParams
from llamatui.tui.chat.sampling import (
    FIELDS,
    WHOLE,
    ChatSettings,
    SamplingError,
    check,
    preset_label,
)
from llamatui.tui.history.store import StoreError

if TYPE_CHECKING:
    from llamatui.tui.screens.chat import ChatScreen

LABELS = {
    "temperature": "Temperature",
    "top_p": "Top p",
    "top_k": "Top k",
    "min_p": "Min p",
    "repeat_penalty": "Repeat penalty",
    "max_tokens": "Max tokens",
    "seed": "Seed",
    "stop": "Stop strings",
}
STOP_HELP = 'as JSON, like ["\\n\\n", "User:"]'


def shown(name: str, value: Any) -> str:
    """A field's value as typed in its box."""
    if name == "stop":
        return json.dumps(list(value), ensure_ascii=False) if value else ""
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def parse(name: str, text: str) -> Any:
    """What the user typed for field `name`, checked; None when left empty.

    Raises:
        SamplingError: it is not a value the field takes (the message says why).
    """
    text = text.strip()
    if not text:
        return None
    if name == "stop":
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            raise SamplingError(f"stop strings must be written {STOP_HELP}") from None
        return check(name, value)
    try:
        number: Any = int(text) if name in WHOLE else float(text)
    except ValueError:
        raise SamplingError(f"{name} must be {FIELDS[name][0]}") from None
    return check(name, number)


class ChatSettingsDialog(ModalScreen[tuple[ChatSettings, str] | None]):
    """The settings of one conversation: (its settings, its system prompt); None when
    cancelled. Empty fields take the preset's values, shown in grey."""

    DEFAULT_CSS = """
    ChatSettingsDialog {
        align: center middle;
        & > Vertical {
            width: 84; max-width: 100%; height: auto; max-height: 100%; padding: 0 1;
            border: round $primary; background: $surface;
        }
        & VerticalScroll { height: auto; max-height: 16; }
        & Grid {
            grid-size: 2; grid-columns: 16 1fr; grid-rows: 1;
            height: auto; margin: 1 0;
        }
        & Horizontal { height: auto; align-horizontal: right; }
        & Button { margin-left: 1; }
        & #settings-error { color: $text-error; height: auto; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="settings.cancel")
    ]

    def __init__(
        self,
        settings: ChatSettings,
        system: str,
        presets: Mapping[str, SamplingParams],
        base: SamplingParams,
    ) -> None:
        """
        Args:
            settings: the conversation's settings now.
            system: its system prompt now.
            presets: the presets to offer (built-in and the user's).
            base: the sampling without a preset (the model's profile, the command line).
        """
        super().__init__()
        self.settings = settings
        self.system = system
        self.presets = presets
        self.base = base

    def compose(self) -> ComposeResult:
        s = self.settings
        start = s.params(self.presets, self.base)
        with Vertical():
            yield Label(Content("Settings of this conversation: the next reply uses them"))
            with VerticalScroll(), Grid():
                yield Label("System prompt")
                yield Input(self.system, placeholder="none", id="system", compact=True)
                yield Label("Preset")
                yield Select(
                    [(preset_label(n, p), n) for n, p in self.presets.items()],
                    value=s.preset if s.preset in self.presets else Select.NULL,
                    prompt="the model's",
                    id="preset",
                    compact=True,
                )
                for name in FIELDS:
                    yield Label(LABELS[name])
                    placeholder = shown(name, getattr(start, name)) or "none"
                    if name == "stop":
                        placeholder = f"{placeholder} · {STOP_HELP}"
                    value = shown(name, s.values.get(name))
                    yield Input(value, placeholder=placeholder, id=name, compact=True)
            yield Label("", id="settings-error")
            with Horizontal():
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#system", Input).focus()

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        """The empty fields show what the chosen preset sets."""
        name = event.value if isinstance(event.value, str) else None
        params = self.presets.get(name, self.base) if name else self.base
        for field in FIELDS:
            box = self.query_one(f"#{field}", Input)
            box.placeholder = shown(field, getattr(params, field)) or "none"

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        values: dict[str, Any] = {}
        try:
            for name in FIELDS:
                value = parse(name, self.query_one(f"#{name}", Input).value)
                if value is not None:
                    values[name] = value
        except SamplingError as e:
            self.query_one("#settings-error", Label).update(Content(str(e)))
            return
        preset = self.query_one("#preset", Select).value
        settings = ChatSettings(preset if isinstance(preset, str) else None, values)
        self.dismiss((settings, self.query_one("#system", Input).value.strip()))


def edit_settings(screen: ChatScreen) -> None:
    """Open the settings of the chat screen's conversation; keep what is saved (in
    the session, and with the stored conversation)."""
    s = screen.session
    store = screen.store
    base = s.settings.presets.get(s.profile.preset or "", s.settings.sampling)

    async def saved(result: tuple[ChatSettings, str] | None) -> None:
        if result is None:
            return
        s.chat, system = result
        changed = system != s.system_prompt()
        if changed or s.conversation_id is not None:  # else the model's stays
            s.system = system
        if s.conversation_id is not None and store is not None:
            try:
                data = s.chat.to_data()
                await to_thread(store.set_settings, s.conversation_id, data, system)
            except StoreError as e:
                screen.notify(str(e), severity="warning", markup=False)
            if changed:  # its first message shows it
                await screen.actions.reopen()
        screen.notify("Saved: the next reply uses these settings.", markup=False)
        screen.count_draft()

    dialog = ChatSettingsDialog(s.chat, s.system_prompt(), s.settings.presets, base)
    screen.app.push_screen(dialog, saved)
