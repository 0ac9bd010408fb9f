"""Options an engine declares: their names, types, bounds and help.

The registry holds each engine's list; the config file, the command line and the
profile dialog validate what a user gives against it, so each bound lives here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class OptionError(ValueError):
    """A value that an option does not take; the message says what it takes."""


@dataclass(frozen=True)
class OptionSpec:
    """One option an engine takes."""

    name: str
    """The key in a profile's engine table (`threads`)."""
    label: str
    """What the profile dialog calls it ("CPU threads")."""
    type: type
    """int, float, str or bool."""
    help: str
    minimum: int | float | None = None
    choices: tuple[str, ...] = ()
    placeholder: str = "default"
    """What the dialog shows in an empty field: what happens when it is not set."""
    needs_gpu: bool = False
    """Only means something where the engine can use a GPU (offloaded layers)."""
    pattern: str = ""
    """For text: a regular expression the whole value must match."""
    example: str = ""
    """For text: what a right value looks like, said when one is wrong."""

    def validate(self, value: Any) -> Any:
        """The value, checked.

        Raises:
            OptionError: a wrong type, below the minimum, or not one of the choices.
        """
        if self.type is bool:
            if not isinstance(value, bool):
                raise OptionError(f"{self.name} must be true or false")
            return value
        if self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise OptionError(f"{self.name} must be a whole number{self._bound()}")
        if self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise OptionError(f"{self.name} must be a number{self._bound()}")
            value = float(value)
        if self.type is str and not isinstance(value, str):
            raise OptionError(f"{self.name} must be text")
        if self.minimum is not None and value < self.minimum:
            raise OptionError(f"{self.name} must be {self.minimum} or more")
        if self.choices and value not in self.choices:
            raise OptionError(f"{self.name} must be one of {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise OptionError(f"{self.name} must look like {self.example or repr(self.pattern)}")
        return value

    def _bound(self) -> str:
        return f", {self.minimum} or more" if self.minimum is not None else ""

    def parse(self, text: str) -> Any:
        """A value typed into a field (None when empty), checked."""
        text = text.strip()
        if not text:
            return None
        value: Any = text
        try:
            if self.type is int:
                value = int(text)
            elif self.type is float:
                value = float(text)
            elif self.type is bool:
                value = {"true": True, "false": False, "yes": True, "no": False}[text.lower()]
        except (ValueError, KeyError):
            kind = {int: "a whole number", float: "a number", bool: "true or false"}
            what = kind.get(self.type, self.type.__name__)
            raise OptionError(f"{self.name}: {text!r} is not {what}") from None
        return self.validate(value)


def validate_options(specs: Sequence[OptionSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value checked against its spec.

    Raises:
        OptionError: an unknown name (with the known ones) or a wrong value.
    """
    by_name = {s.name: s for s in specs}
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(by_name) or "none"
            raise OptionError(f"unknown option {name!r} (known: {known})")
        out[name] = spec.validate(value)
    return out
