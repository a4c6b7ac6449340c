"""Shared fixtures: real TeX and pdftotext (a failure in CI, a skip elsewhere),
the reference checker, and a hypothesis profile without deadlines (SymPy's
first calls are slow; wall-clock time is never asserted).

Command-line and numeric helpers live in `helpers.py`:

- `run_cli(...)`: click's CliRunner on `exgen.cli.cli` (in process, for
  successful runs and their output);
- `run_main(...)`: `exgen.cli.main(argv)` in process; `main()` prints user
  errors as `exgen: error: ...`, so error paths go through it;
- `run_exgen(...)`: the installed `exgen` console script in a subprocess.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from helpers import TEX_HINT, require_tool, verify_sheet_path

settings.register_profile(
    "exgen", deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "exgen"))


def pytest_configure(config):
    config.addinivalue_line("markers", "tex: needs a real pdflatex (a failure when CI is set, else a skip)")
    # exgen keeps its preloaded TeX preamble in the user's cache: the tests use
    # their own, so every run builds one and none touches the user's.
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="exgen-test-cache-")


def pytest_unconfigure(config):
    import shutil

    cache = os.environ.get("XDG_CACHE_HOME", "")
    if "exgen-test-cache-" in cache:
        shutil.rmtree(cache, ignore_errors=True)


def pytest_runtest_setup(item):
    if item.get_closest_marker("tex") is not None:
        require_tool("pdflatex", TEX_HINT)


@pytest.fixture
def tex() -> str:
    """Path of a real pdflatex: compile tests run for real."""
    return require_tool("pdflatex", TEX_HINT)


@pytest.fixture
def pdftotext() -> str:
    return require_tool("pdftotext", "apt-get install poppler-utils")


@pytest.fixture
def verify_sheet():
    return verify_sheet_path()
