"""`harness.memory`'s verdict on synthetic series: a sawtooth over a flat floor is flat, a rising
floor is not, and too few generation swaps give no verdict."""

from __future__ import annotations

import numpy as np

from harness.memory import MIN_SWAPS, MemorySampler, floor_of


def _sampler(values: list[float]) -> MemorySampler:
    sampler = MemorySampler(pid=0)
    sampler.began = 1000.0
    sampler.samples = [(1000.0 + t, {"VmRSS": mb * 1024}) for t, mb in enumerate(values)]
    return sampler


def _sawtooth(seconds: int, floor_per_second: float) -> list[float]:
    """1 GB plus a 400 MB tooth lasting 3 s every 12 s, on a floor rising as given."""
    return [
        1000 + floor_per_second * t + (400 if t % 12 in (3, 4, 5) else 0) for t in range(seconds)
    ]


def _swaps(seconds: int) -> list[float]:
    return [1000.0 + t for t in range(0, seconds, 3)]


def test_floor_ignores_teeth_shorter_than_its_window() -> None:
    times = np.arange(60.0)
    values = np.asarray(_sawtooth(60, 0.0))
    assert floor_of(times, values).max() == 1000


def test_a_sawtooth_over_a_flat_floor_is_flat() -> None:
    figures = _sampler(_sawtooth(240, 0.0)).figures(240, _swaps(240))
    assert figures["flat"] is True
    assert figures["peak_mb"] == 1400 and abs(figures["floor_second_half_growth_mb"]) < 1


def test_a_floor_rising_by_a_fifth_over_the_second_half_is_not_flat() -> None:
    figures = _sampler(_sawtooth(240, 200 / 120)).figures(240, _swaps(240))
    assert figures["flat"] is False
    assert 180 < figures["floor_second_half_growth_mb"] < 220


def test_too_few_generations_in_the_second_half_give_no_verdict() -> None:
    swaps = [1000.0 + 130 + t for t in range(MIN_SWAPS - 1)]
    figures = _sampler(_sawtooth(240, 0.0)).figures(240, swaps)
    assert figures["swaps_second_half"] == MIN_SWAPS - 1 and figures["flat"] is None


def test_the_heap_is_judged_where_sampled_and_mapped_pages_are_reported_beside() -> None:
    """Resident memory rising as queries touch more of the mapped segment files is not a leak;
    the heap (RssAnon) rising is."""
    heap, mapped = _sawtooth(240, 0.0), [300 + 2.0 * t for t in range(240)]
    sampler = _sampler(heap)
    times = [t for t, _ in sampler.samples]
    sampler.samples = [
        (t, {"VmRSS": (h + m) * 1024, "RssAnon": h * 1024})
        for t, h, m in zip(times, heap, mapped, strict=True)
    ]
    figures = sampler.figures(240, _swaps(240))
    assert figures["judged"] == "RssAnon" and figures["flat"] is True
    assert figures["resident_mb"]["floor_end"] > figures["resident_mb"]["floor_start"] + 400
    leaking = _sampler(_sawtooth(240, 200 / 120))
    leaking.samples = [(t, kb | {"RssAnon": kb["VmRSS"]}) for t, kb in leaking.samples]
    assert leaking.figures(240, _swaps(240))["flat"] is False
