"""The config tables (docs/configuration.md, linked from the README) are in step with the schema: every key
documented, no key that does not exist, and the defaults the tables show are the defaults the code uses."""

import re
import typing

import pytest
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

import harness
from sigsci_waf.config.ingress import IngressSpec
from sigsci_waf.config.stack import KNOWN_KEYS
from sigsci_waf.config.agent import AgentSettings
from sigsci_waf.config.app import AppSpec

CONFIG_DOC = harness.ROOT / "docs" / "configuration.md"
README = CONFIG_DOC.read_text()
_CELL_KEY = re.compile(r"`([^`]+)`")


def _table(heading: str) -> list[list[str]]:
    """The rows (cells) of the first table after the line `heading`."""
    start = ("\n" + README).index("\n" + heading + "\n")
    rows, in_table = [], False
    for line in README[start:].splitlines()[1:]:
        if line.startswith("|"):
            in_table = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cells[0] not in ("key", "") and not set(cells[0]) <= {"-"}:
                rows.append(cells)
        elif in_table:
            break
    return rows


def _documented(rows: list[list[str]]) -> dict[str, str]:
    """Key path -> default cell. `a`, `b` name two keys; `x.name`, `.port` is x.name and x.port."""
    keys: dict[str, str] = {}
    for cells in rows:
        previous = ""
        for key in _CELL_KEY.findall(cells[0]):
            if key.startswith("."):
                key = previous.rsplit(".", 1)[0] + key
            keys[key] = cells[2]
            previous = key
    return keys


def _model(annotation) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _is_list(annotation) -> bool:
    return any(typing.get_origin(a) is list for a in (annotation, *typing.get_args(annotation)))


def schema_keys(model: type[BaseModel], prefix: str = "") -> dict[str, object]:
    """Every key path of `model` (camelCase), objects and leaves, with its default."""
    keys: dict[str, object] = {}
    for name, field in model.model_fields.items():
        path = prefix + to_camel(name)
        default = field.default
        keys[path] = default
        nested = _model(field.annotation)
        if nested is not None:
            keys.update(schema_keys(nested, path + ("[]." if _is_list(field.annotation) else ".")))
    return keys


SECTIONS = [
    ("## `sigsci:agent` (and per-app or ingress `agent`, merged key by key over it)", AgentSettings),
    ("## `sigsci:apps[]`", AppSpec),
    ("## `sigsci:ingress`", IngressSpec),
]


def test_top_level_keys_are_the_known_keys():
    documented = _documented(_table("# Stack config"))
    assert set(documented) == {f"sigsci:{k}" for k in KNOWN_KEYS}


@pytest.mark.parametrize("heading,model", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_every_key_is_documented_and_exists(heading, model):
    documented = set(_documented(_table(heading)))
    schema = schema_keys(model)
    assert documented - set(schema) == set(), "documented but not in the schema"
    # A key is covered when it, or an object above it, has a row (`resources` covers `resources.limits.cpu`).
    # An object is covered by rows for its keys.
    def covered(k: str) -> bool:
        return any(k == d or k.startswith((d + ".", d + "[].")) or d.startswith((k + ".", k + "[]."))
                   for d in documented)

    undocumented = {k for k in schema if not covered(k)}
    assert undocumented == set(), "in the schema but not in docs/configuration.md"


def _literal(cell: str):
    """The default a cell shows when it is one literal (`true`, `8001`, `sigsci-nginx`); else None."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    if not match:
        return None
    text = match.group(1)
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("{}", "[]"):
        return None
    return text


@pytest.mark.parametrize("heading,model", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_literal_defaults_match_the_code(heading, model):
    documented = _documented(_table(heading))
    schema = schema_keys(model)
    checked = 0
    for key, cell in documented.items():
        shown = _literal(cell)
        if shown is None or key not in schema:
            continue
        actual = schema[key]
        if isinstance(actual, (bool, int, str)):
            assert shown == actual, f"{key}: docs/configuration.md shows {cell}, the code's default is {actual!r}"
            checked += 1
    assert checked >= 3


def test_the_check_sees_a_missing_row():
    rows = [r for r in _table(SECTIONS[0][0]) if "`accessLog`" not in r[0]]
    documented = set(_documented(rows))
    assert "accessLog" in schema_keys(AgentSettings) and "accessLog" not in documented


def test_the_readme_links_the_config_tables():
    assert "(docs/configuration.md)" in (harness.ROOT / "README.md").read_text()
