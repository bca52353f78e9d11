"""The base of every settings model, and parsing into it.

Stack config uses camelCase keys (`listenerPort`); Python args use snake_case (`listener_port`). One pydantic
model accepts both, so every entry point gets the same validation and the same error sentences.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from .errors import check_depth, from_validation_error


class Model(BaseModel):
    """Shared settings: unknown keys are errors, camelCase and snake_case both accepted."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
        # Validators are built on first use, not at import: a stack pays only for the models it uses.
        defer_build=True,
    )

    def given(self) -> dict[str, Any]:
        """What was set, at any depth (defaults left out), by field name: one level of settings to merge."""
        return self.model_dump(exclude_unset=True)


# Parsed as one level of layered settings (`sigsci:agent` under an app's own `agent`): the rules that need
# the whole, merged settings wait for the merge.
PARTIAL = {"partial": True}


def parse(model: type[Model], data: Any, prefix: str, *, snake: bool = False, partial: bool = False):
    """Validate `data` against `model`, raising ConfigError that names the key under `prefix`."""
    check_depth(data, prefix)
    try:
        # Python args are snake_case only: a camelCase key there is the stack config's spelling, an error.
        return model.model_validate(data if data is not None else {}, context=PARTIAL if partial else None,
                                    by_alias=not snake, by_name=True)
    except ValidationError as exc:
        raise from_validation_error(prefix, exc, snake=snake, model=model) from None


def is_partial(info: Any) -> bool:
    """In a validator: is this one level of layered settings, not yet merged?"""
    return bool((getattr(info, "context", None) or {}).get("partial"))


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: maps merge key by key, anything else in `over` replaces.

    Per-app (or ingress) agent settings merge over the shared ones this way, and so do Helm values.
    """
    result: dict[str, Any] = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result
