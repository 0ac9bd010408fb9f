"""Edit a model's profile (context, chat format, preset, system prompt, and the
options its engine declares); saved to the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from llamatui.engines.options import OptionError, OptionSpec
from llamatui.engines.protocol import CTX_MIN, SamplingParams
from llamatui.engines.registry import EngineSpec
from llamatui.engines.templates import NAMED_FORMATS
from llamatui.tui.chat.sampling import BUILTIN_PRESETS, preset_label
from llamatui.tui.config import Profile

CTX = OptionSpec("ctx", "Context", int, "context size in tokens", minimum=CTX_MIN)


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

    def __init__(
        self,
        name: str,
        profile: Profile,
        engine: EngineSpec | None,
        *,
        gpu_offload: bool,
        presets: Mapping[str, SamplingParams] = BUILTIN_PRESETS,
    ) -> None:
        """
        Args:
            name: the model's name (the profile's key).
            profile: its profile now.
            engine: the engine that runs it, whose own options get a field each.
            gpu_offload: whether the engine here can use a GPU.
            presets: the sampling presets to offer (built-in and the user's).
        """
        super().__init__()
        self.presets = presets
        self.model_name = name
        self.profile = profile
        self.engine = engine
        self.gpu_offload = gpu_offload

    @property
    def options(self) -> tuple[OptionSpec, ...]:
        """The engine's own options."""
        return self.engine.options if self.engine else ()

    def compose(self) -> ComposeResult:
        p = self.profile
        own = p.options_for(self.engine.kind) if self.engine else {}
        with Vertical():
            yield Label(Content(f"Profile of {self.model_name}: applied when it loads"))
            with Grid():
                yield Label("Context")
                yield Input(str(p.ctx or ""), placeholder="default", id="ctx", type="integer")
                for spec in self.options:
                    off = spec.needs_gpu and not self.gpu_offload
                    value = own.get(spec.name)
                    yield Label(Content(spec.label))
                    if spec.choices:
                        yield Select(
                            [(c, c) for c in spec.choices],
                            value=value if value in spec.choices else Select.NULL,
                            prompt=spec.placeholder,
                            id=spec.name,
                            tooltip=spec.help,
                        )
                        continue
                    yield Input(
                        "" if value is None else str(value),
                        placeholder="no GPU offload here" if off else spec.placeholder,
                        id=spec.name,
                        type="integer" if spec.type is int else "text",
                        disabled=off,
                        tooltip=spec.help,
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
                    [(preset_label(n, p), n) for n, p in self.presets.items()],
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

    def _value(self, spec: OptionSpec) -> Any:
        if spec.choices:
            return self._select(spec.name)
        return spec.parse(self.query_one(f"#{spec.name}", Input).value)

    def _select(self, widget_id: str) -> str | None:
        value = self.query_one(f"#{widget_id}", Select).value
        return value if isinstance(value, str) else None

    @on(Input.Submitted)
    def _enter(self) -> None:
        """Enter in a field saves, as the Save button does."""
        self._save()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "save":
            self.dismiss(None)
            return
        self._save()

    def _save(self) -> None:
        try:
            own = {s.name: v for s in self.options if (v := self._value(s)) is not None}
            engines = dict(self.profile.engines)
            if self.engine is not None:
                engines.pop(self.engine.kind, None)
                if own:
                    engines[self.engine.kind] = own
            profile = Profile(
                ctx=self._value(CTX),
                chat_format=self._select("chat_format"),
                preset=self._select("preset"),
                system_prompt=self.query_one("#system_prompt", Input).value.strip() or None,
                engines=engines,
            )
        except OptionError as e:
            self.query_one("#profile-error", Label).update(Content(str(e)))
            return
        self.dismiss(profile)
