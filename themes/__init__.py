"""llamatui's Textual themes, as data."""

from __future__ import annotations

from textual.theme import Theme

LLAMATUI_DARK = Theme(
    name="llamatui-dark",
    primary="#7AA2F7",
    secondary="#BB9AF7",
    accent="#E0AF68",
    warning="#E0AF68",
    error="#F7768E",
    success="#9ECE6A",
    foreground="#C0CAF5",
    background="#1A1B26",
    surface="#24283B",
    panel="#2F3549",
    dark=True,
    variables={
        "role-user": "#7DCFFF",
        "role-assistant": "#9ECE6A",
        "role-notice": "#E0AF68",
    },
)

LLAMATUI_LIGHT = Theme(
    name="llamatui-light",
    primary="#2E5CB8",
    secondary="#7847BD",
    accent="#8F5E15",
    warning="#8F5E15",
    error="#C0304A",
    success="#33691E",
    foreground="#1F2335",
    background="#F5F5F7",
    surface="#E9E9EE",
    panel="#DCDDE5",
    dark=False,
    variables={
        "role-user": "#0F6A8C",
        "role-assistant": "#33691E",
        "role-notice": "#8F5E15",
    },
)

# For terminals of 16 colours (TERM=screen, a Linux console): the terminal's own
# colours by name, so nothing is approximated; chosen on its own there.
LLAMATUI_16 = Theme(
    name="llamatui-16",
    ansi=True,
    primary="ansi_blue",
    secondary="ansi_magenta",
    accent="ansi_yellow",
    warning="ansi_yellow",
    error="ansi_red",
    success="ansi_green",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_default",
    boost="ansi_default",
    dark=True,
    variables={
        "role-user": "ansi_cyan",
        "role-assistant": "ansi_green",
        "role-notice": "ansi_yellow",
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "border-blurred": "ansi_black",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_white",
        "input-cursor-background": "ansi_white",
        "input-cursor-foreground": "ansi_black",
        "input-selection-background": "ansi_blue",
        "input-selection-foreground": "ansi_bright_white",
        "screen-selection-background": "ansi_blue",
        "screen-selection-foreground": "ansi_bright_white",
    },
)

THEMES = (LLAMATUI_DARK, LLAMATUI_LIGHT, LLAMATUI_16)
