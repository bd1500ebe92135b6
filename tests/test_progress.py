"""Progress lines: drawn in place on a terminal, silent when stderr is a file or a pipe."""
import io

from crawler.progress import ProgressLine


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_one_line_redrawn_with_rate_and_eta():
    term = Terminal()
    line = ProgressLine("ingest", "messages", stream=term, interval=0)
    line.started -= 10  # ten seconds in
    line.update(40, left=20, fields={"new": 3, "errors": 1})
    line.update(50, left=10, fields={"new": 4, "errors": 1})
    line.close()
    out = term.getvalue()
    assert out.count("\r") == 2 and out.endswith("\n")
    last = out.split("\r")[-1]
    assert "ingest: 50 messages" in last and "5.0/s" in last and "new 4" in last and "errors 1" in last
    assert "10 left" in last and "ETA 0m02s" in last


def test_a_budget_gives_an_upper_bound_eta():
    line = ProgressLine("crawl", stream=Terminal())
    line.started -= 10
    assert "ETA ≤ 0m10s" in line.text(10, left=10, bound=True)


def test_not_a_terminal_stays_silent():
    out = io.StringIO()
    line = ProgressLine("reprocess", stream=out, interval=0)
    line.update(1, left=1)
    line.close()
    assert out.getvalue() == ""
