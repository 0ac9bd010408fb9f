"""The exllama engine: EXL3 and unquantized HF models on NVIDIA GPUs, on exllamav3."""

from llamatui.engines.exllama.engine import ExllamaEngine

__all__ = ["ExllamaEngine"]
