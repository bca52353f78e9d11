import pytest

import harness
import reference


@pytest.fixture(scope="session")
def stack_runs() -> dict:
    """Each stack in stacks/ evaluated once under mocks."""
    return {name: harness.run_stack(name) for name in harness.stack_names()}


def pytest_configure(config):
    config.addinivalue_line("markers", "reference: reads the charts' reference values (tests/reference.py); "
                                       "skips, saying why, where they are missing")


def pytest_report_header(config):
    return reference.header()


def pytest_runtest_setup(item):
    if item.get_closest_marker("reference") is None:
        return
    why = reference.missing()
    if why is not None:
        if reference.requested():
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def pytest_terminal_summary(terminalreporter):
    """Under the results, how many tests skipped for want of reference data, and why (also with -q)."""
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if "no chart reference values" in str(report.longrepr)]
    if skipped:
        terminalreporter.write_sep("-", "reference data")
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {reference.missing()}")
