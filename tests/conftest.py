import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "fixtures" / "seeds"


def run_qsnews(*args, cwd=None, timeout=300, check=False):
    """Run the real command line in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *map(str, args)],
        cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout, check=check,
    )


@pytest.fixture
def qsnews():
    return run_qsnews
