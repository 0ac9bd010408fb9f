"""Make untrusted model text safe to show."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls: a terminal would act on
# ESC/CSI/OSC sequences (move the cursor, set the title, write the clipboard).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """Drop control characters other than newline and tab."""
    return _CONTROL.sub("", text)
