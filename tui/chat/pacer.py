"""How often the generation worker hands text to the UI.

When llama.cpp uses every core, each millisecond the UI spends drawing is taken
from the model (its threads meet at a barrier after every step, so one preempted
thread stalls them all): measured here, every 1% of a core the app uses costs
about 1% of the model's speed. So the pacer measures what the app's process spends
per post, drawing included, and spaces posts so that it stays within a budget
(1.5% of one core): 10 Hz when drawing is cheap, never slower than 4 Hz. The same
budget holds for an engine on a GPU or another machine: the app stays light on a
busy box and over SSH. Text is never dropped, only gathered into fewer, larger posts.
The engine is told the interval (`EngineHandle.pace`): it sends no more often.

The first reply starts at 4 Hz (posting faster than drawing allows costs the model
more than posting slower than it could costs the reader), and the interval is
fitted over about half a second of posts, averaged with the windows before: a
post is drawn after it is posted, so its cost is often seen in the next window,
and a shorter window swung between the bounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """Decides when the generation worker posts the text it has gathered."""

    def __init__(
        self,
        *,
        budget: float = 0.015,
        min_interval: float = 0.1,
        max_interval: float = 0.22,
        window: float = 0.6,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        """
        Args:
            budget: the share of one core the app's process may use while streaming.
            min_interval: the shortest time between posts.
            max_interval: the longest time between posts, however slow drawing is.
            window: how long to measure the app's CPU use over before adjusting.
            cpu_clock: the app process's CPU time in seconds.
        """
        self.budget = budget
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.window = window
        self.interval = max_interval
        """Seconds between posts now; kept from one reply to the next."""
        self._cpu_clock = cpu_clock
        self._last_post = 0.0
        self._window_start = 0.0
        self._window_cpu = 0.0
        self._window_posts = 0
        self._cost: float | None = None
        """What one post costs the app, in CPU seconds, averaged over windows."""

    def start(self, now: float) -> None:
        """Begin a reply at `now` (monotonic seconds): its first text posts at once."""
        self._last_post = -self.max_interval
        self._window_start = now
        self._window_cpu = self._cpu_clock()
        self._window_posts = 0

    def due(self, now: float) -> bool:
        """Whether text gathered by `now` should be posted."""
        return now - self._last_post >= self.interval

    def posted(self, now: float) -> None:
        """Note a post; once a window has passed, fit the interval to the budget."""
        self._last_post = now
        self._window_posts += 1
        if now - self._window_start < self.window:
            return
        cpu = self._cpu_clock()
        # What one post costs the app, drawing included (averaged with the windows
        # before: a post's drawing often falls in the next window), and how far
        # apart posts must be for that cost to stay within the budget.
        cost = (cpu - self._window_cpu) / self._window_posts
        self._cost = cost if self._cost is None else (self._cost + cost) / 2
        self.interval = min(self.max_interval, max(self.min_interval, self._cost / self.budget))
        self._window_start, self._window_cpu, self._window_posts = now, cpu, 0
