"""Where a fetched page came from: the fields every item carries into the ``pages`` table.

Its own module, free of Scrapy, because the cleaning workers (pipelines.offload) need the list and must
not load Scrapy to get it.
"""

# Provenance of one response, set by crawler.middlewares.WarcMiddleware in response.meta["page"].
# ``etag`` and ``last_modified`` are the validators the next crawl sends back (conditional GET).
PAGE_FIELDS = ("http_status", "fetched_at", "content_type", "encoding", "sha256", "warc_file", "warc_offset",
               "etag", "last_modified")
