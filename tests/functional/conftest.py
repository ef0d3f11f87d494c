"""Fixtures of the functional tests: a `framework` per test that stops every process it started.

When a test fails, the tail of each node's log (DATADIR/process.log) is attached to the failure
report as its own section, so the reason a node rejected something is next to the assertion.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from .framework import TestFramework


@pytest.fixture
def framework(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[TestFramework]:
    """A TestFramework whose nodes live under tmp_path; shut down after the test, pass or fail."""
    logging.getLogger("functional").setLevel(logging.INFO)
    fw = TestFramework(tmp_path)
    request.node._powchain_framework = fw
    try:
        yield fw
    finally:
        fw.shutdown()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    fw = getattr(item, "_powchain_framework", None)
    if fw is not None and report.failed and call.when in ("setup", "call"):
        for title, text in fw.failure_report():
            report.sections.append((title, text))
