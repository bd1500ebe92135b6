"""crawler.crawl.start: a crawl runs with what was alive at its start frozen out of the garbage collector."""
import gc

import pytest

from crawler.crawl import start


class FakeProcess:
    """Stands for a CrawlerProcess: records what the collector holds frozen while it runs."""

    def __init__(self, fail=False):
        self.fail, self.frozen = fail, None

    def start(self):
        self.frozen = gc.get_freeze_count()
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
