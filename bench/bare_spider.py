"""The peer for bench/throughput.py: a bare Scrapy spider over the same loopback site.

    .venv/bin/python bench/bare_spider.py URL --out FILE [-s NAME=VALUE ...]

It follows the list pages' next-page links and fetches every article page they
link, and does nothing else: no item pipelines, middlewares or extensions of
qsnews, no cleaning, no archive, no WARC.  What qsnews adds on top of this is
what the throughput ratio measures, so the settings that pace a crawl
(concurrency, delay, robots.txt) are given on the command line by
throughput.py, the same for both crawlers.  Writes ``{"articles": n, "lists": n}``
(pages answered 200) to FILE when the crawl closes.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import scrapy
from scrapy.crawler import CrawlerProcess


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, url: str, out: str, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [url]
        self.out = Path(out)
        self.counts = {"articles": 0, "lists": 0}

    async def start(self):
        yield scrapy.Request(self.start_urls[0], self.parse_list)

    def parse_list(self, response):
        self.counts["lists"] += 1
        for href in response.css("ul.list a::attr(href)").getall():
            yield response.follow(href, self.parse_article)
        for href in response.xpath('//a[normalize-space(.) = "下一页"]/@href').getall():
            yield response.follow(href, self.parse_list)

    def parse_article(self, response):
        self.counts["articles"] += 1

    def closed(self, reason):
        self.out.write_text(json.dumps(self.counts), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--out", required=True)
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    settings = {"LOG_LEVEL": "INFO", "TELNETCONSOLE_ENABLED": False, **dict(s.split("=", 1) for s in args.set)}
    process = CrawlerProcess(settings)
    process.crawl(BareSpider, url=args.url, out=args.out)
    process.start()


if __name__ == "__main__":
    main()
