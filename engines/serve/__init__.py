"""`llamatui serve`: the local engines behind the OpenAI-compatible API."""

from llamatui.engines.serve.app import Served, make_app

__all__ = ["Served", "make_app"]
