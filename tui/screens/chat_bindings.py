"""The chat screen's keys: each with an id (for a keymap) and a tooltip."""

from __future__ import annotations

from textual.binding import Binding, BindingType

CHAT_BINDINGS: list[BindingType] = [
    Binding("escape", "stop", "Stop reply", id="chat.stop", tooltip="Stop the reply"),
    Binding(
        "ctrl+b",
        "toggle_conversations",
        "Chats",
        id="chat.toggle_conversations",
        tooltip="Show or hide the conversations pane",
    ),
    Binding(
        "ctrl+f",
        "search",
        "Search",
        id="chat.search",
        show=False,
        tooltip="Search every saved message",
    ),
    Binding(
        "ctrl+n", "new_chat", "New chat", id="chat.new_chat", tooltip="Start a new conversation"
    ),
    Binding(
        "ctrl+l",
        "models",
        "Models",
        id="chat.models",
        tooltip="The model library: pick a model to load",
    ),
    Binding(
        "ctrl+o",
        "quick_switch",
        "Switch model",
        id="chat.quick_switch",
        show=False,
        tooltip="Switch to a recent model",
    ),
    Binding(
        "ctrl+t",
        "continue_reply",
        "Continue",
        id="chat.continue_reply",
        show=False,
        tooltip="Continue a reply that was cut off",
    ),
    Binding(
        "ctrl+g",
        "toggle_meters",
        "Meters",
        id="chat.toggle_meters",
        show=False,
        tooltip="Show the hardware meters as a pane, or as one line",
    ),
    Binding(
        "ctrl+r",
        "restart_engine",
        "Restart engine",
        id="chat.restart_engine",
        show=False,
        tooltip="Start the engine again and reload the model",
    ),
]
