"""RAM, engine, CPU and GPU meters with sparklines: one line by default, a pane
when expanded. The widget samples in a thread worker of its own and shows the
newest sample (older ones not yet shown are replaced, never queued)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from textual import work
from textual.content import Content
from textual.message import Message
from textual.reactive import var
from textual.widget import Widget
from textual.worker import get_current_worker

from llamatui.engines.handle import EngineState
from llamatui.engines.meters import Sample, Sampler
from llamatui.engines.protocol import MemoryUse, ModelInfo
from llamatui.tui.widgets.direct_paint import repaint

BLOCKS = "▁▂▃▄▅▆▇█"
HISTORY = 40
# Once a second while a model loads or replies, as system monitors refresh (htop,
# nvtop, nvidia-smi -l): each sample costs the app about 1.3 ms (the sampler
# thread's wake-up and reads, the meters drawn), and twice a second was 0.2% of a
# core taken from the model while it replied.
PERIOD_S = 1.0
# When nothing is loading or generating: still live, at half the cost.
IDLE_PERIOD_S = 2.0


def sparkline(values: deque[float], width: int, top: float) -> str:
    """The last `width` values as block characters, scaled to `top`.

    Always `width` wide: before there are that many samples, the oldest one stands
    in for the missing ones, so the line does not grow while the app starts.
    """
    recent = list(values)[-width:]
    if not recent or top <= 0:
        return " " * width
    recent = [recent[0]] * (width - len(recent)) + recent
    return "".join(BLOCKS[min(7, int(v / top * 7.999))] for v in recent)


def gib(n: float) -> str:
    """Bytes as GiB with one decimal, or MiB under 1 GiB."""
    return f"{n / 2**30:.1f}G" if n >= 2**30 else f"{n / 2**20:.0f}M"


class Meters(Widget):
    """Hardware meters; `expanded` shows a line per meter with a longer history."""

    DEFAULT_CSS = """
    Meters {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $panel;
        &.-expanded { height: auto; border-top: hkey $primary 30%; }
    }
    """

    expanded: var[bool] = var(False, toggle_class="-expanded")
    """Whether the meters show as a pane (a line each) rather than one line."""

    @dataclass
    class Sampled(Message, bubble=False):
        """A new sample, for the meters alone; a newer one replaces it if it is not
        shown yet."""

        sample: Sample

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Meters.Sampled)

    def __init__(
        self,
        engine_pid: Callable[[], int | None],
        sampler: Sampler | None = None,
        *,
        id: str | None = None,
    ) -> None:
        """
        Args:
            engine_pid: the engine's own process now (None when it has none).
            sampler: takes the samples (default: this machine's; tests fix one).
        """
        super().__init__(id=id)
        self.engine_pid = engine_pid
        self.sampler = sampler
        self.sample: Sample | None = None
        self.history: dict[str, deque[float]] = {}
        self.model_share: MemoryUse | None = None
        """The loaded model's weights, KV cache and compute buffers, as reported."""
        self.remote: str | None = None
        """The server the model runs on, when it runs elsewhere."""
        self.busy = False
        """Whether a model is loading or generating: samples once a second, else
        every two."""
        self._shown = ""
        """The text drawn last: a sample that changes nothing draws nothing."""

    def show_model(self, info: ModelInfo, memory: MemoryUse) -> None:
        """The loaded model: its share of memory here, or where it runs if elsewhere."""
        self.model_share = memory
        remote = info.ref.engine == "remote"
        self.remote = urlsplit(info.ref.location).netloc if remote else None
        self._redraw()

    def follow(self, state: EngineState) -> None:
        """Sample faster while the engine is busy."""
        self.busy = state in (EngineState.LOADING, EngineState.GENERATING)

    def start(self) -> None:
        """Begin sampling (after the first frame: NVML's start-up is not free)."""
        self._sample()

    @work(thread=True, exclusive=True, exit_on_error=False, group="meters")
    def _sample(self) -> None:
        """Sample the hardware (once a second while busy) until the widget goes."""
        worker = get_current_worker()
        sampler = self.sampler or Sampler()
        while not worker.is_cancelled:
            self.post_message(self.Sampled(sampler.sample(self.engine_pid())))
            time.sleep(PERIOD_S if self.busy else IDLE_PERIOD_S)

    def on_meters_sampled(self, message: Sampled) -> None:
        self.show(message.sample)

    def _push(self, key: str, value: float) -> deque[float]:
        values = self.history.setdefault(key, deque(maxlen=HISTORY))
        values.append(value)
        return values

    def show(self, sample: Sample) -> None:
        """Take a new sample and redraw."""
        self.sample = sample
        self._push("ram", sample.ram_used)
        self._push("cpu", sample.cpu_percent)
        if sample.engine_rss is not None:
            self._push("engine", sample.engine_rss)
        for g in sample.gpus:
            self._push(f"vram{g.index}", g.vram_used)
            self._push(f"util{g.index}", g.utilization)
        self._redraw()

    def _redraw(self) -> None:
        """Repaint if what the meters say has changed (straight to the terminal, as
        cheap as a line of text); lay out only if their height has."""
        text = self._text()
        if text != self._shown:
            lines = text.count("\n") != self._shown.count("\n")
            self._shown = text
            if lines:
                self.refresh(layout=True)
            else:
                repaint(self)

    def watch_expanded(self) -> None:
        self._shown = self._text()
        self.refresh(layout=True)

    def _parts(self, width: int) -> list[str]:
        s = self.sample
        if s is None:
            return ["meters: sampling…"]
        h = self.history
        parts = [
            f"RAM {gib(s.ram_used)}/{gib(s.ram_total)} {sparkline(h['ram'], width, s.ram_total)}",
            f"CPU {s.cpu_percent:3.0f}% {sparkline(h['cpu'], width, 100)}",
        ]
        if s.engine_rss is not None:
            parts.insert(
                1, f"engine {gib(s.engine_rss)} {sparkline(h['engine'], width, s.ram_total)}"
            )
            m = self.model_share
            if self.expanded and m is not None:
                parts[2:2] = _model_lines(m)
        for g in s.gpus:
            vram = sparkline(h[f"vram{g.index}"], width, g.vram_total)
            parts.append(
                f"GPU{g.index} {gib(g.vram_used)}/{gib(g.vram_total)} {vram} "
                f"{g.utilization}% {g.temperature}°C"
            )
        if s.gpu_note:
            parts.append(s.gpu_note)
        if self.remote is not None:  # the meters are this machine's, not the model's
            parts.insert(0, f"model on {self.remote}")
        return parts

    def _text(self) -> str:
        if self.expanded:
            return "\n".join(self._parts(24))
        return " │ ".join(self._parts(6))

    def render(self) -> Content:
        return Content(self._shown or self._text())

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return (self._shown or self._text()).count("\n") + 1


def _model_lines(m: MemoryUse) -> list[str]:
    """The loaded model's share: one line, or one per device when GPUs hold it."""
    # One line when it is all in RAM; a line per device once a GPU holds any of it.
    devices = m.devices if any(d.device != "cpu" for d in m.devices) else ()
    lines = [("model", m.weights, m.kv_cache, m.compute)]
    if devices:
        lines = [(f"model on {d.device}", d.weights, d.kv_cache, d.compute) for d in devices]
    return [
        f"  {what}: weights {gib(w)} · KV cache {gib(kv)} · compute {gib(c)} reserved"
        for what, w, kv, c in lines
    ]
