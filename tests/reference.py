"""Where the tests find the reference data that is not part of the project: the charts' default values.

`SIGSCI_REFERENCE_DIR` names the folder; without it, `../shared/reference` beside the checkout is used when it
exists. The folder holds `<chart>-<version>/values.yaml` for each chart the package pins, which
`python scripts/fetch_reference.py <folder>` writes with helm (the workflows' test jobs do so). Tests that read it
are marked `@pytest.mark.reference`: without it they skip, saying what is missing and how to get it, and the run's
header names the folder used (tests/conftest.py). A folder named by the variable must be complete: the tests
fail rather than skip.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path

import harness

ENV = "SIGSCI_REFERENCE_DIR"
BESIDE = harness.ROOT.parent / "shared" / "reference"
SCRIPT = harness.ROOT / "scripts" / "fetch_reference.py"
HOW = (f"set {ENV} to a folder holding <chart>-<version>/values.yaml, or fetch them into one with "
       "`python scripts/fetch_reference.py <folder>` (needs helm), as the workflows' test jobs do")


@functools.cache
def fetcher():
    """scripts/fetch_reference.py: the pinned references and the check of a folder."""
    spec = importlib.util.spec_from_file_location("fetch_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def requested() -> bool:
    """A folder was named with the variable: missing data there is an error, not a reason to skip."""
    return bool(os.environ.get(ENV))


def folder() -> Path | None:
    """The reference folder these tests read, or None."""
    if requested():
        return Path(os.environ[ENV])
    return BESIDE if BESIDE.is_dir() else None


def missing() -> str | None:
    """Why the tests marked `reference` cannot run here, and how to get the data; None when they can."""
    where = folder()
    if where is None:
        return f"no chart reference values: {ENV} is not set and {BESIDE} does not exist; {HOW}"
    absent = [str(where / r.folder / name) for r in fetcher().REFERENCES for name in r.files
              if not (where / r.folder / name).is_file()]
    if absent:
        return f"no chart reference values: {', '.join(absent)} missing; {HOW}"
    return None


def header() -> str:
    """One line for the run's header: the folder used, or why the reference tests skip."""
    why = missing()
    if why is None:
        return f"reference data: {folder()} ({f'from {ENV}' if requested() else 'beside the checkout'})"
    return f"reference data: none, the tests marked reference {'fail' if requested() else 'skip'}: {why}"


def values_file(chart: str, version: str) -> Path:
    """A chart's default values.yaml in the reference folder."""
    where = folder()
    assert where is not None, missing()
    return where / f"{chart}-{version}" / "values.yaml"
