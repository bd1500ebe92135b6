"""Test-only item pipeline: every item as one JSON line (with its class name) in QSNEWS_TEST_ITEMS."""
import json

from itemadapter import ItemAdapter


class CollectPipeline:
    def __init__(self, path):
        self.handle = open(path, "a", encoding="utf-8")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("QSNEWS_TEST_ITEMS"))

    def process_item(self, item, spider=None):
        row = {"type": type(item).__name__, **ItemAdapter(item).asdict()}
        self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.handle.flush()
        return item

    def close_spider(self, spider=None):
        self.handle.close()
