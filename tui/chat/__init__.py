"""The conversation core, with no Textual: the session (turns, context fitting, the
continue state, running one reply), the pacer, the reply recorder."""
