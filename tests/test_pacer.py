"""The pacer: 10 Hz while drawing is cheap, spread to its budget when not, never under 4 Hz."""

from __future__ import annotations

import itertools

from llamatui.tui.chat.pacer import Pacer


class FakeCPU:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def run(pacer: Pacer, cpu: FakeCPU, cost_per_post: float, seconds: float) -> list[float]:
    """Offer text every 5 ms for `seconds`; each post costs the app cost_per_post."""
    now = 100.0
    pacer.start(now)
    posts = []
    for _ in range(int(seconds / 0.005)):
        now += 0.005
        if pacer.due(now):
            posts.append(now)
            cpu.t += cost_per_post
            pacer.posted(now)
    return posts


def test_cheap_drawing_posts_at_10_hz() -> None:
    cpu = FakeCPU()
    pacer = Pacer(cpu_clock=cpu)
    posts = run(pacer, cpu, cost_per_post=0.0005, seconds=2.0)
    assert pacer.interval == 0.1
    late = [p for p in posts if p > 101.0]
    assert 9 <= len(late) <= 11  # every 100 ms, give or take one 5 ms step


def test_the_first_reply_starts_at_4_hz() -> None:
    # Before it knows what drawing costs, the pacer posts as seldom as it may.
    cpu = FakeCPU()
    pacer = Pacer(cpu_clock=cpu)
    posts = run(pacer, cpu, cost_per_post=0.0005, seconds=0.5)
    assert len(posts) == 3
    assert all(0.22 <= b - a <= 0.225 for a, b in itertools.pairwise(posts))


def test_a_cost_seen_late_does_not_swing_the_interval() -> None:
    # A post is drawn after it is posted, so its cost falls in the next window: a
    # short window saw one dear post, then one free, and swung between the bounds.
    cpu = FakeCPU()
    pacer = Pacer(cpu_clock=cpu)
    now, intervals = 100.0, []
    pacer.start(now)
    for _ in range(int(4.0 / 0.005)):
        now += 0.005
        if pacer.due(now):
            cpu.t += 0.006 if len(intervals) % 2 else 0.0  # 3 ms a post, on average
            pacer.posted(now)
            intervals.append(pacer.interval)
    assert min(intervals) >= 0.15, intervals  # not down to 0.1, as it was
    assert abs(intervals[-1] - 0.2) < 0.01  # 3 ms / 1.5%


def test_costly_drawing_is_spread_to_the_budget() -> None:
    cpu = FakeCPU()
    pacer = Pacer(budget=0.015, cpu_clock=cpu)
    posts = run(pacer, cpu, cost_per_post=0.0024, seconds=3.0)
    assert abs(pacer.interval - 0.16) < 0.011  # 2.4 ms per post / 1.5% = 160 ms
    late = [p for p in posts if p > 101.0]
    share = 0.0024 * len(late) / 2.0
    assert share <= 0.017


def test_text_appears_at_least_four_times_a_second() -> None:
    cpu = FakeCPU()
    pacer = Pacer(cpu_clock=cpu)
    posts = run(pacer, cpu, cost_per_post=1.0, seconds=3.0)
    assert pacer.interval == 0.22  # the engine sends at most every 0.24 s
    assert max(b - a for a, b in itertools.pairwise(posts)) <= 0.225


def test_the_interval_found_carries_to_the_next_reply() -> None:
    cpu = FakeCPU()
    pacer = Pacer(cpu_clock=cpu)
    run(pacer, cpu, cost_per_post=0.0024, seconds=1.0)
    found = pacer.interval
    assert found > 0.1
    posts = run(pacer, cpu, cost_per_post=0.0024, seconds=1.0)
    # The second reply starts at the interval the first one found.
    assert posts[1] - posts[0] >= found - 0.006


def test_first_text_of_a_reply_posts_at_once() -> None:
    cpu = FakeCPU()
    pacer = Pacer(cpu_clock=cpu)
    run(pacer, cpu, cost_per_post=1.0, seconds=2.0)
    pacer.start(500.0)
    assert pacer.due(500.0)
