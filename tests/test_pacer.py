"""The pacer: 20 Hz while drawing is cheap, slower when it would slow the model."""

from __future__ import annotations

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


def test_cheap_drawing_posts_at_20_hz() -> None:
    cpu = FakeCPU()
    pacer = Pacer(2, cpus=2, cpu_clock=cpu)
    posts = run(pacer, cpu, cost_per_post=0.001, seconds=2.0)
    assert pacer.interval == 0.05
    assert 35 <= len(posts) <= 41  # every 50 ms, give or take one 5 ms step


def test_costly_drawing_is_spread_to_the_budget() -> None:
    cpu = FakeCPU()
    pacer = Pacer(2, cpus=2, budget=0.05, cpu_clock=cpu)
    posts = run(pacer, cpu, cost_per_post=0.01, seconds=3.0)
    assert abs(pacer.interval - 0.2) < 0.011  # 10 ms per post / 5% = 200 ms
    late = [p for p in posts if p > 101.0]
    share = 0.01 * len(late) / 2.0
    assert share <= 0.055


def test_interval_is_capped() -> None:
    cpu = FakeCPU()
    pacer = Pacer(2, cpus=2, cpu_clock=cpu)
    run(pacer, cpu, cost_per_post=1.0, seconds=3.0)
    assert pacer.interval == 0.5


def test_free_cores_keep_20_hz_however_costly() -> None:
    cpu = FakeCPU()
    pacer = Pacer(4, cpus=16, cpu_clock=cpu)
    assert not pacer.contended
    run(pacer, cpu, cost_per_post=0.02, seconds=2.0)
    assert pacer.interval == 0.05


def test_first_text_of_a_reply_posts_at_once() -> None:
    cpu = FakeCPU()
    pacer = Pacer(2, cpus=2, cpu_clock=cpu)
    run(pacer, cpu, cost_per_post=1.0, seconds=2.0)
    pacer.start(500.0)
    assert pacer.due(500.0)
