"""The archived copy of a fetched page, read back from its WARC record.

``pages.warc_file`` is a file name (or path) written by the crawler's WARC
recorder; relative names live in ``warc/`` beside the database (see README),
with the database directory itself as a fallback.  The body is returned as
text for display as ``text/plain``: it is evidence, never rendered.
"""
from __future__ import annotations

from pathlib import Path

from warcio.archiveiterator import ArchiveIterator


def warc_path(db_path, warc_file: str) -> Path:
    candidate = Path(warc_file)
    if candidate.is_absolute():
        return candidate
    base = Path(db_path).resolve().parent
    for folder in (base / "warc", base):
        if (folder / candidate).is_file():
            return folder / candidate
    raise FileNotFoundError(f"WARC file {warc_file!r} not found under {base / 'warc'} or {base}")


def read_raw(db_path, page: dict) -> str:
    """The HTTP body of the record at ``page['warc_offset']``, decoded with the page's encoding."""
    with open(warc_path(db_path, page["warc_file"]), "rb") as stream:
        stream.seek(int(page["warc_offset"]))
        record = next(iter(ArchiveIterator(stream)), None)
        if record is None:
            raise FileNotFoundError(f"no WARC record at offset {page['warc_offset']} of {page['warc_file']}")
        body = record.content_stream().read()
    for encoding in (page.get("encoding"), "utf-8", "gb18030"):
        if encoding:
            try:
                return body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode("utf-8", errors="replace")
