"""The scrapyd path, as README "Scale-out" describes it: a real scrapyd on loopback, `scrapyd-deploy`
from the checkout, a crawl scheduled through the JSON API, articles landing in the archive; a second
job is incremental (known articles come from the archive, crawler.known)."""
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from daemons import LoggedDemoServer, scrapyd, wait_for
from crawler.demo_server import host_map
from loopback import query as rows

SOURCE = "湖北省市场监督管理局（样例）"


def api(base, endpoint, **params):
    """GET with a query, or POST a form (lists repeat the field, as for scrapyd's ``setting``)."""
    if endpoint == "schedule.json":
        data = urllib.parse.urlencode(params, doseq=True).encode()
        reply = urllib.request.urlopen(base + endpoint, data=data, timeout=10)
    else:
        reply = urllib.request.urlopen(f"{base}{endpoint}?{urllib.parse.urlencode(params)}", timeout=10)
    body = json.load(reply)
    assert body["status"] == "ok", body
    return body



@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scrapyd")
    # scrapyd's jobs import qsnews from the checkout (README: the egg is zipped, qsnews reads data files).
    with scrapyd(tmp / "scrapyd", pythonpath=ROOT) as base:
        config = tmp / "xdg"
        config.mkdir()
        # A deploy target for this scrapyd, beside the checkout's own scrapy.cfg (which scrapyd-deploy also reads).
        (config / "scrapy.cfg").write_text(f"[deploy:test]\nurl = {base}\nproject = qsnews\n", encoding="utf-8")
        deploy = subprocess.run([str(Path(sys.executable).parent / "scrapyd-deploy"), "test"], cwd=ROOT,
                                env={**os.environ, "XDG_CONFIG_HOME": str(config)},
                                capture_output=True, text=True, timeout=180)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        yield {"base": base, "tmp": tmp}


def schedule_and_wait(base, db, port):
    settings = {"QSNEWS_DB": str(db), "QSNEWS_WARC_DIR": str(db.parent / "warc"),
                "QSNEWS_HOST_MAP": json.dumps(host_map(port)), "DOWNLOAD_DELAY": "0",
                "AUTOTHROTTLE_ENABLED": "False", "QSNEWS_RETRY_BACKOFF_BASE": "0"}
    job = api(base, "schedule.json", project="qsnews", spider="trs", source=SOURCE,
              registry=str(ROOT / "crawler" / "demo_sources.toml"),
              setting=[f"{name}={value}" for name, value in settings.items()])["jobid"]
    wait_for(lambda: any(j["id"] == job for j in api(base, "listjobs.json", project="qsnews")["finished"]),
             90, f"scrapyd job {job}")
    return job


def test_deploy_lists_the_spiders(deployed):
    spiders = api(deployed["base"], "listspiders.json", project="qsnews")["spiders"]
    assert {"trs", "portal", "generic"} <= set(spiders)


def test_scheduled_crawl_lands_articles_and_the_next_is_incremental(deployed):
    db = deployed["tmp"] / "archive" / "qsnews.db"
    server = LoggedDemoServer()
    with server as port:
        schedule_and_wait(deployed["base"], db, port)
        first = len(server.requests)
        articles = rows(db, "select a.url from articles a join sources s on s.id = a.source_id where s.name = ?", SOURCE)
        assert len(articles) >= 3, list((deployed["tmp"] / "scrapyd" / "logs").rglob("*.log"))
        [run] = rows(db, "select * from crawl_runs")
        assert run["new_articles"] == len(articles) and run["finished_at"]

        schedule_and_wait(deployed["base"], db, port)
        again = {url for _, url in server.requests[first:]}
    assert again and not again & {a["url"] for a in articles}  # list pages fetched, no known article
    runs = rows(db, "select * from crawl_runs order by id")
    assert len(runs) == 2 and runs[1]["new_articles"] == 0
