"""crawler.crawl.start: a crawl runs with what was alive at its start frozen out of the garbage collector,
its youngest generation collected less often, and Scrapy's loggers at LOG_LEVEL."""
import gc
import logging

import pytest

from crawler.crawl import YOUNG_GC_THRESHOLD, start


class FakeProcess:
    """Stands for a CrawlerProcess: records the collector's state and Scrapy's log level while it runs."""

    def __init__(self, fail=False, log_level="INFO"):
        self.fail, self.frozen, self.thresholds, self.debug_records = fail, None, None, None
        self.settings = {"LOG_LEVEL": log_level}

    def start(self):
        self.frozen = gc.get_freeze_count()
        self.thresholds = gc.get_threshold()
        self.debug_records = logging.getLogger("scrapy.core.engine").isEnabledFor(logging.DEBUG)
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


def test_scrapy_builds_no_debug_records_it_would_drop_and_its_level_is_restored():
    """Scrapy's own loggers sit at DEBUG and leave LOG_LEVEL to the handler: at INFO the crawl's per-page
    DEBUG records are now declined by the logger, at DEBUG they are still made."""
    scrapy_logger = logging.getLogger("scrapy")
    original = scrapy_logger.level
    scrapy_logger.setLevel(logging.DEBUG)  # as Scrapy's logging configuration leaves it
    try:
        quiet, verbose = FakeProcess(log_level="INFO"), FakeProcess(log_level="DEBUG")
        start(quiet)
        start(verbose)
        assert quiet.debug_records is False and verbose.debug_records is True
        assert scrapy_logger.level == logging.DEBUG
    finally:
        scrapy_logger.setLevel(original)
