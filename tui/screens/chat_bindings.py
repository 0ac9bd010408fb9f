"""The app's keys: each with an id (for a keymap) and a tooltip; the chat screen's
here, with the app's own (which work on every screen), and how F1 groups them."""

from __future__ import annotations

from textual.binding import Binding, BindingType

CHAT_BINDINGS: list[BindingType] = [
    Binding("escape", "stop", "Stop reply", id="chat.stop", tooltip="Stop the reply"),
    # Not Ctrl+B: that is tmux's prefix.
    Binding(
        "f2",
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
        tooltip="Continue the last reply (offered when it was cut off)",
    ),
    Binding(
        "f3,alt+up",
        "select_messages",
        "Messages",
        id="chat.select_messages",
        tooltip="Select a message: regenerate, edit, copy, delete, versions",
    ),
    Binding(
        "f4",
        "chat_settings",
        "Settings",
        id="chat.chat_settings",
        show=False,
        tooltip="This conversation's system prompt and sampling (presets, seed, stop)",
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

APP_BINDINGS: list[BindingType] = [
    Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit llamatui", priority=True),
    # Before the prompt's own Ctrl+C (copy): people from llama-cli and ollama stop a
    # reply with it. With no reply streaming it copies the selected text.
    Binding(
        "ctrl+c",
        "stop_or_copy",
        "Stop reply",
        id="app.stop_or_copy",
        show=False,
        priority=True,
        tooltip="Stop the reply; else copy the selected text",
    ),
    Binding("f1", "help", "Keys", id="app.help", tooltip="Show the keys"),
    Binding(
        "ctrl+p",
        "command_palette",
        "Commands",
        id="app.command_palette",
        show=False,
        priority=True,
        tooltip="Find any command: new chat, models, themes, …",
    ),
]

# The keys screen (F1): the app's keys by what they are for, in this order. The
# prompt's own keys come first; each id is looked up, so a [keymap] shows as remapped.
PROMPT_KEYS = [("Enter", "Send the message"), ("Shift+Enter, Ctrl+J", "A new line")]
HELP_GROUPS: list[tuple[str, list[str]]] = [
    ("Reply", ["chat.stop", "app.stop_or_copy", "chat.continue_reply", "chat.chat_settings"]),
    ("Conversations", ["chat.new_chat", "chat.toggle_conversations", "chat.search"]),
    (
        "A selected message (F3)",
        [
            "chat.select_messages",
            "messages.up",
            "messages.down",
            "messages.regenerate",
            "messages.previous",
            "messages.next",
            "messages.edit",
            "messages.continue",
            "messages.copy",
            "messages.copy_code",
            "messages.delete",
            "messages.leave",
        ],
    ),
    ("Models", ["chat.models", "chat.quick_switch", "chat.restart_engine"]),
    ("Screen", ["chat.toggle_meters", "app.help", "app.command_palette", "app.quit"]),
]
