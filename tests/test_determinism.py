"""Same config in, same resources out: a second evaluation must not show a diff."""

import pytest

import harness
from harness import clean


@pytest.mark.parametrize("stack", harness.stack_names())
def test_two_evaluations_give_identical_inputs(stack, stack_runs):
    first = [(r.type, r.name, clean(r.inputs)) for r in stack_runs[stack].resources]
    second = [(r.type, r.name, clean(r.inputs)) for r in harness.run_stack(stack).resources]
    assert sorted(first, key=repr) == sorted(second, key=repr)
    assert first, "the stack declared no resources"
