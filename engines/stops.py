"""Stop strings over streamed text, for every engine.

Text that could be the start of a stop string is held back until the next piece
says whether it is; a stop string ends the reply and is never shown. A token whose
text is held back counts with the next text shown (`take`, `rest`), so the tokens
of a reply's Deltas always add up to the tokens generated.
"""

from __future__ import annotations

from collections.abc import Sequence

from llamatui.engines.protocol import Delta


class StopMatcher:
    """Feed reply text in pieces; get back what may be shown, and whether to stop."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._held = ""
        self._tokens = 0
        """Tokens fed whose text has not been shown yet."""
        self.stopped = False

    def take(self, text: str, n_tokens: int = 1) -> Delta | None:
        """Feed the text of `n_tokens` tokens; the Delta to stream now, if any."""
        self._tokens += n_tokens
        shown = self.feed(text)
        if not shown:
            return None
        delta, self._tokens = Delta(shown, self._tokens), 0
        return delta

    def rest(self, text: str = "", n_tokens: int = 0) -> Delta | None:
        """At the reply's end (with any last `text` and `n_tokens`): what was held back
        and the tokens not yet counted, if any."""
        self._tokens += n_tokens
        tail = self.feed(text) + self.flush()
        if not tail and not self._tokens:
            return None
        delta, self._tokens = Delta(tail, self._tokens), 0
        return delta

    def feed(self, text: str) -> str:
        """The text that may be shown now; sets `stopped` when a stop string ended it."""
        if not self.stops or self.stopped:
            return "" if self.stopped else text
        buf = self._held + text
        cut = min((i for i in (buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buf[:cut]
        keep = self._partial(buf)
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def _partial(self, buf: str) -> int:
        """The length of the longest tail of buf that begins some stop string."""
        longest = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(buf)), longest, -1):
                if s.startswith(buf[-n:]):
                    longest = n
                    break
        return longest

    def flush(self) -> str:
        """What was held back, once the reply has ended without a stop string."""
        held, self._held = self._held, ""
        return "" if self.stopped else held
