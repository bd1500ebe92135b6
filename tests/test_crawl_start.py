"""crawler.crawl.start: a crawl runs with what was alive at its start frozen out of the garbage collector,
and with its youngest generation collected less often."""
import gc

import pytest

from crawler.crawl import YOUNG_GC_THRESHOLD, start


class FakeProcess:
    """Stands for a CrawlerProcess: records what the collector holds frozen while it runs."""

    def __init__(self, fail=False):
        self.fail, self.frozen, self.thresholds = fail, None, None

    def start(self):
        self.frozen = gc.get_freeze_count()
        self.thresholds = gc.get_threshold()
        if self.fail:
            raise RuntimeError("the reactor stopped badly")


def test_what_is_alive_at_start_is_frozen_for_the_crawl_and_released_after():
    alive = [[n] for n in range(1000)]  # lists are tracked by the collector
    assert gc.get_freeze_count() == 0
    process = FakeProcess()
    start(process)
    assert process.frozen >= len(alive)
    assert gc.get_freeze_count() == 0


def test_a_crawl_that_fails_still_unfreezes():
    process = FakeProcess(fail=True)
    with pytest.raises(RuntimeError):
        start(process)
    assert process.frozen > 0 and gc.get_freeze_count() == 0


def test_the_crawl_runs_with_a_higher_young_threshold_and_the_callers_is_restored():
    before = gc.get_threshold()
    process = FakeProcess()
    start(process)
    assert process.thresholds == (YOUNG_GC_THRESHOLD, *before[1:]) and YOUNG_GC_THRESHOLD > before[0]
    assert gc.get_threshold() == before
    failing = FakeProcess(fail=True)
    with pytest.raises(RuntimeError):
        start(failing)
    assert failing.thresholds[0] == YOUNG_GC_THRESHOLD and gc.get_threshold() == before
