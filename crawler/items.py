"""What spiders yield: raw article pages and navigation outcomes.

Spiders never clean: an ``ArticleItem`` carries the page as fetched (decoded
HTML plus where its bytes live in the WARC), and the cleaning chain runs in
``pipelines.scrapy_adapter``.  Every other fetched or skipped URL becomes a
``PageItem`` so the ``pages`` table explains what happened to it.
"""
from __future__ import annotations

import scrapy


class ArticleItem(scrapy.Item):
    """One article, possibly assembled from several pages.

    ``url`` is the first page's original URL (never a loopback address);
    ``html`` is that page's decoded HTML; for a multi-page article the other
    pages' body containers are appended inside the first page's container, so
    the cleaning chain sees one document.  The provenance fields describe the
    first page; every continuation page is also reported as a PageItem.
    ``hints`` holds what the list page said about the link (list_title, list_date).
    """

    url = scrapy.Field()
    source_name = scrapy.Field()
    html = scrapy.Field()
    encoding = scrapy.Field()
    http_status = scrapy.Field()
    fetched_at = scrapy.Field()
    content_type = scrapy.Field()
    sha256 = scrapy.Field()
    warc_file = scrapy.Field()
    warc_offset = scrapy.Field()
    etag = scrapy.Field()
    last_modified = scrapy.Field()
    hints = scrapy.Field()
    record = scrapy.Field()  # filled by CleanPipeline: the cleaned articles row


class PageItem(scrapy.Item):
    """A URL that is not an article: outcome list / attachment / skipped / error / blocked, with a reason.

    Attachments are recorded without being downloaded, so their provenance
    fields stay empty; errors before any response (DNS, timeout) likewise.
    """

    url = scrapy.Field()
    source_name = scrapy.Field()
    outcome = scrapy.Field()
    reason = scrapy.Field()
    http_status = scrapy.Field()
    fetched_at = scrapy.Field()
    content_type = scrapy.Field()
    encoding = scrapy.Field()
    sha256 = scrapy.Field()
    warc_file = scrapy.Field()
    warc_offset = scrapy.Field()
    etag = scrapy.Field()
    last_modified = scrapy.Field()
