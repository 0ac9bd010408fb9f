"""Textual's strips make their caches on first use, and behave as before."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from llamatui.tui import strip_caches

BOLD = Style(bold=True)
RED = Style(color="red")


@pytest.fixture(autouse=True)
def installed() -> None:
    strip_caches.install()


def test_the_patch_is_for_the_strip_textual_has() -> None:
    # A Textual whose strips keep other slots is left alone by install(): this says
    # the patch needs looking at again, rather than silently doing nothing.
    assert set(Strip.__slots__) == {*strip_caches.CACHE_SIZES, *strip_caches.PLAIN_SLOTS}
    assert Strip.__init__ is strip_caches._init


def test_a_strip_makes_its_caches_only_when_used() -> None:
    strip = Strip([Segment("hello ", BOLD), Segment("world", RED)])
    assert not any(_has(strip, name) for name in strip_caches.CACHE_SIZES)
    first = strip.crop(2, 8)
    assert _has(strip, "_crop_cache") and not _has(strip, "_divide_cache")
    assert strip.crop(2, 8) is first  # the cache made is the one used next time
    assert strip._crop_cache._maxsize == strip_caches.CACHE_SIZES["_crop_cache"]


def test_strips_behave_as_before() -> None:
    strip = Strip([Segment("hello ", BOLD), Segment("wide 字 ok", RED)])
    assert strip.cell_length == 16
    assert strip.text == "hello wide 字 ok"
    assert strip.crop(3, 9).text == "lo wid"
    assert [s.text for s in strip.divide([4, 13, 16])] == ["hell", "o wide 字", " ok"]
    assert strip.apply_style(Style(italic=True)).text == strip.text
    assert strip.extend_cell_length(20).cell_length == 20
    assert strip.crop_extend(0, 20, None).cell_length == 20
    joined = Strip.join([strip, Strip([Segment("!")])])
    assert joined.text == "hello wide 字 ok!"
    console = Console(color_system="truecolor")
    assert strip.render(console) == "".join(s.style.render(s.text) for s in strip if s.style)
    with pytest.raises(AttributeError):
        strip.no_such_thing  # noqa: B018


def _has(strip: Strip, name: str) -> bool:
    try:
        object.__getattribute__(strip, name)
    except AttributeError:
        return False
    return True
