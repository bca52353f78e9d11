"""The config tables (docs/configuration.md, linked from the README) are in step with the schema: every key
documented, no key that does not exist, the defaults the tables show are the defaults the code uses (the oracle
of tests/test_defaults.py), and each closed choice lists its enum's values."""

import re
import typing
from enum import Enum

import pytest
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

import harness
from test_defaults import agrees, expectation, shown_value
from sigsci_waf.config.ingress import IngressSpec
from sigsci_waf.config.injection import InjectionSpec
from sigsci_waf.config.verify import VerifySpec
from sigsci_waf.config.gateway import GatewaySpec
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
    return {key: cells[2] for key, cells in _documented_rows(rows).items()}


def _documented_rows(rows: list[list[str]]) -> dict[str, list[str]]:
    """Key path -> the cells of its row (key, type, default, ...)."""
    keys: dict[str, list[str]] = {}
    for cells in rows:
        previous = ""
        for key in _CELL_KEY.findall(cells[0]):
            if key.startswith("."):
                key = previous.rsplit(".", 1)[0] + key
            keys[key] = cells
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
    ("## `sigsci:gateway`", GatewaySpec),
    ("## `sigsci:injection`", InjectionSpec),
    ("## `sigsci:verify`", VerifySpec),
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


def _field(model: type[BaseModel], path: str) -> tuple[type[BaseModel], str]:
    """The model and field name a documented key path names (`controller.image.pullPolicy`, `routes[].name`)."""
    *objects, last = path.replace("[]", "").split(".")

    def name(model: type[BaseModel], key: str) -> str:
        return next(n for n in model.model_fields if to_camel(n) == key)

    for key in objects:
        model = _model(model.model_fields[name(model, key)].annotation)
    return model, name(model, last)


def _shows(cell: str, kind: str, expected) -> bool:
    """Whether a default cell shows the expected default (test_defaults.expectation). "—" is no default, with
    an optional word on why ("— (required)"); a shown default may be followed by a parenthetical pointer."""
    if cell == "—" or cell.startswith("— ("):
        return kind == "none"
    if cell in ("`{}`", "`[]`"):
        return kind == "empty" and (isinstance(expected, BaseModel) and cell == "`{}`"
                                    or expected == shown_value(cell.strip("`")))
    main = re.sub(r" \(see [^()]*\([^()]*\)\)$", "", cell)  # "per flavour (see [Flavours](ingress.md#flavours))"
    return kind in ("value", "derived") and agrees(main, kind, expected)


@pytest.mark.parametrize("heading,model", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_every_default_shown_is_the_models(heading, model):
    """Each default cell shows the model's default (or the named constant, or the words of a derived default,
    from test_defaults' one oracle); "—" only where there is none, so a field with a default shows it."""
    wrong = []
    for key, cell in _documented(_table(heading)).items():
        kind, expected = expectation(*_field(model, key))
        if not _shows(cell, kind, expected):
            wrong.append(f"{key}: docs/configuration.md shows {cell!r}; the default is {kind} {expected!r}")
    assert wrong == []


def test_the_default_check_sees_a_wrong_cell():
    from sigsci_waf.config.ingress import ControllerSpec

    assert _shows("`8001`", *expectation(AppSpec, "listener_port"))
    assert not _shows("`8002`", *expectation(AppSpec, "listener_port"))
    assert not _shows("—", *expectation(AppSpec, "replicas"))
    assert not _shows("`1`", *expectation(AgentSettings, "access_log"))
    assert not _shows("`ClusterIP`", *expectation(AppSpec, "namespace"))
    assert not _shows("`{}`", *expectation(AppSpec, "image"))
    assert not _shows("requests `100m`/`128Mi`, limits `1`/`512Mi`", *expectation(ControllerSpec, "resources"))
    assert not _shows("agent's + 6", *expectation(AppSpec, "pre_stop_sleep_seconds"))


def _enum_in(annotation) -> type[Enum] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    return next(filter(None, (_enum_in(a) for a in typing.get_args(annotation))), None)


@pytest.mark.parametrize("heading,model", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_every_choice_lists_exactly_the_enums_values(heading, model):
    """A closed choice's type cell lists the values of its enum (config/choices.py): all, and no other."""
    checked = 0
    for key, cells in _documented_rows(_table(heading)).items():
        owner, name = _field(model, key)
        enum = _enum_in(owner.model_fields[name].annotation)
        if enum is None:
            continue
        assert set(_CELL_KEY.findall(cells[1])) == {m.value for m in enum}, \
            f"{key}: docs/configuration.md lists {cells[1]!r}; {enum.__name__} is {[m.value for m in enum]}"
        checked += 1
    # The check ran wherever the section's own fields have a choice (sigsci:injection has none).
    assert checked >= 1 or not any(_enum_in(f.annotation) for f in model.model_fields.values())


def test_the_check_sees_a_missing_row():
    rows = [r for r in _table(SECTIONS[0][0]) if "`accessLog`" not in r[0]]
    documented = set(_documented(rows))
    assert "accessLog" in schema_keys(AgentSettings) and "accessLog" not in documented


def test_the_readme_links_the_config_tables():
    assert "(docs/configuration.md)" in (harness.ROOT / "README.md").read_text()
