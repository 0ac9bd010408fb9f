"""The llama.cpp engine: GGUF models on llama-cpp-python."""

from llamatui.engines.llamacpp.engine import LlamaCppEngine
from llamatui.engines.llamacpp.native import default_threads

__all__ = ["LlamaCppEngine", "default_threads"]
