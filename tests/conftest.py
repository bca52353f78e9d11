import pytest

import harness


@pytest.fixture(scope="session")
def stack_runs() -> dict:
    """Each stack in stacks/ evaluated once under mocks."""
    return {name: harness.run_stack(name) for name in harness.stack_names()}
