"""Sampling settings: the built-in presets, the user's own (`[presets.NAME]` in the
config), and a conversation's own settings (a preset, and fields set over it).

A reply samples with, from the last that applies: the command line's settings, the
model profile's preset, the conversation's preset, the conversation's own fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from llamatui.engines.protocol import SamplingParams

BUILTIN_PRESETS: dict[str, SamplingParams] = {
    "balanced": SamplingParams(),
    "precise": SamplingParams(temperature=0.2, top_k=20, top_p=0.9, min_p=0.1),
    "creative": SamplingParams(temperature=1.0, top_k=0, top_p=0.98, min_p=0.02),
    "greedy": SamplingParams(temperature=0.0),
}

# Each field a preset or a conversation may set: what it is, in words, and its bounds.
FIELDS: dict[str, tuple[str, float, float]] = {
    "temperature": ("a number from 0 to 5 (0 is greedy)", 0, 5),
    "top_p": ("a number from 0 to 1", 0, 1),
    "top_k": ("a whole number, 0 or more (0 is off)", 0, 1_000_000),
    "min_p": ("a number from 0 to 1", 0, 1),
    "repeat_penalty": ("a number from 0.5 to 3 (1 is off)", 0.5, 3),
    "max_tokens": ("a whole number, 1 or more", 1, 10_000_000),
    "seed": ("a whole number, 0 or more", 0, 2**32 - 1),
    "stop": ("a list of texts", 0, 0),
}
WHOLE = ("top_k", "max_tokens", "seed")
assert set(FIELDS) == {f.name for f in fields(SamplingParams)}, "a field without its rule"


class SamplingError(ValueError):
    """A sampling value that is wrong; the message says what it must be."""


def check(name: str, value: Any) -> Any:
    """`value` as field `name` takes it (a list of stop texts becomes a tuple).

    Raises:
        SamplingError: unknown field, or a value out of its kind or bounds.
    """
    if name not in FIELDS:
        raise SamplingError(f"unknown sampling setting {name!r} (known: {', '.join(FIELDS)})")
    what, low, high = FIELDS[name]
    if name == "stop":
        if not isinstance(value, list | tuple) or not all(isinstance(s, str) and s for s in value):
            raise SamplingError(f'stop must be {what}, like ["\\n\\n", "User:"]')
        return tuple(value)
    whole = name in WHOLE
    kind_ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not kind_ok or not math.isfinite(value):
        raise SamplingError(f"{name} must be {what}")
    if not low <= value <= high:
        raise SamplingError(f"{name} must be {what}")
    return value if whole else float(value)


def check_table(table: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The good values of a table of sampling settings, and (key, what is wrong) for
    each bad one."""
    good: dict[str, Any] = {}
    bad: list[tuple[str, str]] = []
    for key, value in table.items():
        try:
            good[key] = check(key, value)
        except SamplingError as e:
            bad.append((key, str(e)))
    return good, bad


def describe(params: SamplingParams) -> str:
    """What a preset sets, in one line: "temperature 0.2, top_k 20, ..."."""
    parts = [
        f"temperature {params.temperature:g}",
        f"top_k {params.top_k}",
        f"top_p {params.top_p:g}",
        f"min_p {params.min_p:g}",
    ]
    base = SamplingParams()
    if params.repeat_penalty != base.repeat_penalty:
        parts.append(f"repeat_penalty {params.repeat_penalty:g}")
    if params.max_tokens != base.max_tokens:
        parts.append(f"max_tokens {params.max_tokens}")
    if params.seed is not None:
        parts.append(f"seed {params.seed}")
    if params.stop:
        parts.append(f"stop {list(params.stop)!r}")
    return ", ".join(parts)


def preset_label(name: str, params: SamplingParams) -> str:
    """A preset with what it sets: "precise: temperature 0.2, top_k 20, ..."."""
    return f"{name}: {describe(params)}"


@dataclass(frozen=True)
class ChatSettings:
    """A conversation's own sampling: a preset, and fields set over it."""

    preset: str | None = None
    """A preset by name (built-in or the user's); None keeps the model's."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Fields set for this conversation (`check`ed), over the preset."""

    def params(self, presets: Mapping[str, SamplingParams], base: SamplingParams) -> SamplingParams:
        """The sampling for a reply: `base` (the model's), under the preset, under
        the fields."""
        start = presets.get(self.preset, base) if self.preset else base
        return replace(start, **dict(self.values))

    def to_data(self) -> dict[str, Any]:
        """As stored with the conversation (JSON)."""
        data: dict[str, Any] = {k: list(v) if k == "stop" else v for k, v in self.values.items()}
        if self.preset:
            data["preset"] = self.preset
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ChatSettings:
        """From what was stored; what no longer checks (an edited file) is left out."""
        preset = data.get("preset")
        good, _ = check_table({k: v for k, v in data.items() if k in FIELDS})
        return cls(preset if isinstance(preset, str) else None, good)
