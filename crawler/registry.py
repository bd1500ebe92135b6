"""The source registry: sources are data (TOML), not code.

``sources.toml`` lists the real sources; ``demo_sources.toml`` the bundled
sample sites the demo and the tests crawl over loopback.
"""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
REGISTRY = HERE / "sources.toml"
DEMO_REGISTRY = HERE / "demo_sources.toml"

KINDS = {"bureau", "portal", "mirror"}
LEVELS = {"national", "province", "prefecture", "county"}
CMS_FAMILIES = {"trs", "hanweb", "portal", "generic"}
LAYOUTS = {"confirmed", "assumed"}


class RegistryError(ValueError):
    """A registry file that does not describe its sources correctly."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    level: str
    region_code: str
    cms: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    homepage: str = ""
    layout: str = "assumed"
    notes: str = ""
    max_pages: int = 500  # per-run page budget: a trap cannot run away with a crawl
    extra: dict = field(default_factory=dict)  # family-specific settings (e.g. Hanweb form fields)

    def row(self) -> dict:
        """The ``sources`` table columns (region names are filled by the archive)."""
        d = asdict(self)
        return {
            "name": d["name"],
            "kind": d["kind"],
            "level": d["level"],
            "region_code": d["region_code"],
            "cms": d["cms"],
            "homepage": d["homepage"] or (d["start_urls"][0] if d["start_urls"] else ""),
            "start_urls": "\n".join(d["start_urls"]),
        }


def _source(entry: dict, where: str) -> Source:
    missing = [k for k in ("name", "kind", "level", "region_code", "cms", "start_urls") if k not in entry]
    if missing:
        raise RegistryError(f"{where}: missing {', '.join(missing)}")
    known = set(Source.__dataclass_fields__) - {"extra"}
    extra = {k: v for k, v in entry.items() if k not in known}
    fields = {k: v for k, v in entry.items() if k in known}
    fields["start_urls"] = tuple(fields["start_urls"])
    fields["region_code"] = str(fields["region_code"])
    if "allowed_domains" not in fields:
        from urllib.parse import urlsplit
        fields["allowed_domains"] = tuple(sorted({urlsplit(u).hostname for u in fields["start_urls"]}))
    else:
        fields["allowed_domains"] = tuple(fields["allowed_domains"])
    return Source(extra=extra, **fields)


def load(path: Path | str = REGISTRY) -> list[Source]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    return [_source(e, f"{path.name} source #{i + 1}") for i, e in enumerate(data.get("source", []))]


def problems(sources: list[Source]) -> list[str]:
    """Everything wrong with a registry, checked offline; empty when it is valid."""
    from pipelines.regions import valid_code

    found, seen = [], set()
    for s in sources:
        if s.name in seen:
            found.append(f"{s.name}: duplicate name")
        seen.add(s.name)
        for attr, allowed in (("kind", KINDS), ("level", LEVELS), ("cms", CMS_FAMILIES), ("layout", LAYOUTS)):
            if getattr(s, attr) not in allowed:
                found.append(f"{s.name}: unknown {attr} {getattr(s, attr)!r}")
        if not valid_code(s.region_code):
            found.append(f"{s.name}: region_code {s.region_code!r} is not an administrative division")
        if not s.start_urls:
            found.append(f"{s.name}: no start_urls")
        for url in s.start_urls:
            if not url.startswith(("http://", "https://")):
                found.append(f"{s.name}: start url {url!r} is not http(s)")
    return found


def find(names: list[str], path: Path | str = REGISTRY) -> list[Source]:
    sources = {s.name: s for s in load(path)}
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise RegistryError(f"unknown source(s): {', '.join(unknown)}")
    return [sources[n] for n in names] if names else list(sources.values())
