"""Overlapping cron runs: the second one must refuse, not corrupt the archive."""
import subprocess
import sys

import pytest

from crawler.runlock import AlreadyRunning, exclusive


def test_second_holder_is_refused_and_lock_is_released(tmp_path):
    db = tmp_path / "a.db"
    with exclusive(db):
        child = subprocess.run(
            [sys.executable, "-c",
             "import sys; from crawler.runlock import exclusive, AlreadyRunning\n"
             f"try:\n  with exclusive({str(db)!r}): sys.exit(0)\nexcept AlreadyRunning as e:\n  print(e); sys.exit(7)"],
            capture_output=True, text=True)
        assert child.returncode == 7 and "already running" in child.stdout
    with exclusive(db):  # released on exit
        pass


def test_lock_in_same_process_is_refused(tmp_path):
    with exclusive(tmp_path / "b.db"):
        with pytest.raises(AlreadyRunning):
            with exclusive(tmp_path / "b.db"):
                pass
