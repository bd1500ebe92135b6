"""Serve the archive with Datasette, the qsnews plugin, its metadata and templates.

``serve()`` runs Datasette's own CLI in-process, after making sure the plugin
is registered even when the package is not installed (no entry point);
``datasette_argv()`` gives the same command line for a shell or a service
file, where the installed entry point loads the plugin.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
METADATA = HERE / "metadata.yml"
TEMPLATES = HERE / "templates"
DATABASE_KEY = "qsnews"


def load_metadata(db_path) -> dict:
    """metadata.yml with its database section keyed by the name Datasette will give ``db_path``."""
    from datasette.utils import parse_metadata

    metadata = parse_metadata(METADATA.read_text(encoding="utf-8"))
    name = Path(db_path).stem
    databases = metadata.get("databases", {})
    if name != DATABASE_KEY and DATABASE_KEY in databases:
        databases[name] = databases.pop(DATABASE_KEY)
    return metadata


def _metadata_file(db_path) -> Path:
    if Path(db_path).stem == DATABASE_KEY:
        return METADATA
    target = Path(tempfile.gettempdir()) / f"qsnews-metadata-{Path(db_path).stem}.json"
    target.write_text(json.dumps(load_metadata(db_path), ensure_ascii=False), encoding="utf-8")
    return target


def datasette_argv(db_path, host: str = "127.0.0.1", port: int = 8001, allow_sql: bool = True) -> list[str]:
    """``datasette serve`` arguments for the archive; ``allow_sql=False`` for public deployments."""
    # The facets journalists need are declared in metadata.yml; Datasette's facet *suggestions* probe every
    # column on each table page and cost seconds at 1M articles (bench/search.py, BENCHMARKS.md).
    argv = ["datasette", "serve", str(db_path), "--host", host, "--port", str(port),
            "--metadata", str(_metadata_file(db_path)), "--template-dir", str(TEMPLATES),
            "--setting", "suggest_facets", "off"]
    if not allow_sql:
        argv += ["--setting", "default_allow_sql", "off"]
    return argv


def ensure_plugin() -> None:
    """Register archive.datasette_plugin with Datasette unless the entry point already did."""
    from datasette.plugins import pm

    from archive import datasette_plugin

    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="qsnews")


def serve(db_path, host: str = "127.0.0.1", port: int = 8001, allow_sql: bool = True) -> None:
    """Run Datasette over the archive until interrupted."""
    from datasette.cli import cli

    ensure_plugin()
    cli.main(args=datasette_argv(db_path, host, port, allow_sql)[1:], prog_name="datasette")
