"""The README and docs/: every command runs as written, as far as it can be run here.

There is no Pulumi CLI, cluster or network here, so each kind of command is checked as far as it goes:
shell blocks and inline commands pass `bash -n` and have no `<placeholder>`; every `make` target named
exists in the Makefile (and every `STACK=` is a stack); every `python scripts/...` answers `--help`; every
`pulumi` command is one this table knows with flags the CLI has; every repository path named exists;
every link and `#anchor` resolves; Python blocks compile, JSON blocks parse, Kubernetes objects pass
kubernetes-validate --strict. And the README's first screen says what this is and gives the two commands.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import harness

ROOT = harness.ROOT
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STACKS = harness.stack_names()

# Flags of the Pulumi CLI commands the docs use: read from the CLI's source (pkg/cmd/pulumi/...: operations/
# preview.go, up.go, destroy.go, refresh.go; stack/stack_select.go, stack_output.go; config/config.go;
# packagecmd/package_add.go; auth/login.go) and its command reference pages. Long names; short ones after "/".
GLOBAL = {"color", "cwd/C", "disable-integrity-checking", "emoji/e", "fully-qualify-stack-names/Q", "logflow",
          "logtostderr", "memprofilerate", "non-interactive", "otel-traces", "profiling", "tracing",
          "tracing-header", "verbose/v", "help/h"}
_OPERATION = {"stack/s", "config-file", "config/c", "config-path", "diff", "debug/d", "json/j", "message/m",
              "parallel/p", "refresh/r", "run-program", "show-config", "show-replacement-steps", "show-sames",
              "skip-preview/f", "suppress-outputs", "suppress-permalink", "suppress-progress", "target/t",
              "target-dependents", "yes/y", "exclude/x", "exclude-dependents", "event-log", "client",
              "skip-plugin-pre-install", "skip-config-validation"}
PULUMI = {
    ("preview",): _OPERATION | {"policy-pack", "policy-pack-config", "expect-no-changes", "show-reads",
                                "show-secrets", "save-plan", "import-file", "replace", "target-replace"},
    ("up",): _OPERATION | {"policy-pack", "policy-pack-config", "expect-no-changes", "show-reads", "show-secrets",
                           "plan", "replace", "target-replace", "secrets-provider", "continue-on-error", "strict"},
    ("destroy",): _OPERATION | {"exclude-protected", "remove", "preview-only", "continue-on-error"},
    ("refresh",): _OPERATION | {"expect-no-changes", "preview-only", "clear-pending-creates",
                                "skip-pending-creates", "import-pending-creates"},
    ("stack", "select"): {"stack/s", "create/c", "secrets-provider"},
    ("stack", "output"): {"stack/s", "json/j", "shell", "show-secrets"},
    ("config", "set"): {"stack/s", "config-file", "path", "plaintext", "secret", "type", "raw"},
    ("config", "get"): {"stack/s", "config-file", "path", "json/j", "open"},
    ("package", "add"): {"language", "server"},
    ("login",): {"cloud-url/c", "default-org", "insecure", "local/l", "interactive", "oidc-token", "oidc-org",
                 "oidc-team", "oidc-user", "oidc-expiration"},
}


def _flags(names: set[str]) -> set[str]:
    flags = set()
    for name in names:
        long, _, short = name.partition("/")
        flags.add("--" + long)
        if short:
            flags.add("-" + short)
    return flags


def _text(path: Path) -> str:
    return path.read_text()


_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(_text(path))]


def _prose(path: Path) -> str:
    return _FENCE.sub("", _text(path))


def _spans(path: Path) -> list[str]:
    return re.findall(r"`([^`\n]+)`", _prose(path))


_COMMAND = re.compile(r"^(make|pulumi|python3?|kubectl|curl|pip|helm|git)\s")


def _inline_commands(path: Path) -> list[str]:
    return [s for s in _spans(path) if _COMMAND.match(s)]


def _block_commands(path: Path) -> list[str]:
    """Each logical line of the shell blocks, comments dropped."""
    lines = []
    for lang, body in _blocks(path):
        if lang in ("sh", "bash", "shell"):
            for line in body.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip() if not line.strip().startswith("#") else ""
                if line:
                    lines.append(line)
    return lines


def _all_commands() -> list[tuple[str, str]]:
    return [(p.name, c) for p in DOCS for c in [*_block_commands(p), *_inline_commands(p)]]


def _ids(items):
    return [f"{name}: {command[:60]}" for name, command in items]


COMMANDS = _all_commands()


# -- the first screen ----------------------------------------------------------------------------------------------

def test_the_first_screen_says_what_it_is_and_gives_the_two_commands():
    first = "\n".join(_text(ROOT / "README.md").splitlines()[:25])
    assert "Fastly Next-Gen WAF" in first and "Kubernetes" in first and "Pulumi" in first
    [(lang, block)] = _blocks_of(first)
    assert lang == "sh"
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make up", "make test"]
    # Where something is missing, make up says what: the reader learns that on the same screen.
    for piece in ("missing Pulumi CLI", "missing kube context", "missing PULUMI_CONFIG_PASSPHRASE"):
        assert piece in first


def _blocks_of(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def test_the_readme_links_every_docs_page_and_each_links_back():
    readme = _text(ROOT / "README.md")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, page.name
        assert "(../README.md)" in _text(page), page.name


def test_the_reference_moved_out_of_the_readme():
    readme = _text(ROOT / "README.md")
    assert len(readme.splitlines()) < 60
    assert "| key | type | default |" not in readme and "```mermaid" not in readme


# -- commands ------------------------------------------------------------------------------------------------------

def test_there_are_commands_to_check():
    kinds = {re.split(r"\s", c, maxsplit=1)[0] for _, c in COMMANDS}
    assert {"make", "pulumi", "kubectl", "python"} <= kinds
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("name,command", COMMANDS, ids=_ids(COMMANDS))
def test_commands_parse_and_have_no_placeholder(name, command):
    assert not re.search(r"<[A-Za-z][^>]*>|…|\.\.\.", command), f"a placeholder in {command!r}"
    done = subprocess.run(["bash", "-n"], input=command + "\n", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_shell_blocks_pass_bash_n(path):
    for lang, body in _blocks(path):
        if lang in ("sh", "bash", "shell"):
            done = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
            assert done.returncode == 0, f"{body}\n{done.stderr}"


def _make_targets() -> set[str]:
    targets = set()
    for line in _text(ROOT / "Makefile").splitlines():
        match = re.match(r"^([A-Za-z][\w.-]*(?:\s+[A-Za-z][\w.-]*)*)\s*:(?!=)", line)
        if match and not line.startswith(".PHONY"):
            targets.update(match.group(1).split())
    return targets


MAKES = [(n, c) for n, c in COMMANDS if c.startswith("make ")]


@pytest.mark.parametrize("name,command", MAKES, ids=_ids(MAKES))
def test_make_targets_exist(name, command):
    words = shlex.split(command)[1:]
    targets = [w for w in words if "=" not in w]
    assert targets, command
    assert set(targets) <= _make_targets(), command
    for word in words:
        if word.startswith("STACK="):
            assert word.split("=", 1)[1] in STACKS, command


PULUMIS = [(n, c) for n, c in COMMANDS if c.startswith("pulumi ")]


@pytest.mark.parametrize("name,command", PULUMIS, ids=_ids(PULUMIS))
def test_pulumi_commands_use_flags_the_cli_has(name, command):
    words = shlex.split(command, comments=True)[1:]
    for length in (2, 1):
        key = tuple(w for w in words[:length])
        if key in PULUMI:
            break
    else:
        pytest.fail(f"{command!r}: a pulumi command this test does not know; add its flags from the CLI")
    known = _flags(PULUMI[key] | GLOBAL)
    for word in words[len(key):]:
        if word.startswith("-"):
            assert word.split("=", 1)[0] in known, f"{command!r}: pulumi {' '.join(key)} has no flag {word}"


PYTHONS = [(n, c) for n, c in COMMANDS if re.match(r"python3? scripts/", c)]


@pytest.mark.parametrize("name,command", PYTHONS, ids=_ids(PYTHONS))
def test_python_scripts_answer_help(name, command):
    script = shlex.split(command)[1]
    done = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_make_keys_target_runs_the_documented_commands():
    """What docs/operations.md says `make keys` runs is what it runs."""
    done = subprocess.run(["make", "-n", "keys", "STACK=dev"], capture_output=True, text=True, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    lines = done.stdout.splitlines()
    assert "pulumi config set --stack dev --secret sigsci:accessKeyId" in lines
    assert "pulumi config set --stack dev --secret sigsci:secretAccessKey" in lines
    operations = _text(ROOT / "docs" / "operations.md")
    for line in lines[-2:]:
        assert line in operations


# -- paths and links -----------------------------------------------------------------------------------------------

_PATH = re.compile(r"^(?:\.github|\.ci|components|docs|examples|policy|provider|scripts|stacks|tests)/[\w.<>/-]*$"
                   r"|^(?:Makefile|pyproject\.toml|requirements(?:-dev)?\.txt|Pulumi\.yaml|CHANGELOG\.md|LICENSE"
                   r"|\.yamllint\.yaml|README\.md|BENCHMARKS\.md)$")
GENERATED = {"provider/venv", "policy/venv"}  # made by Pulumi when it installs the plugin or the pack


def _paths(path: Path) -> list[str]:
    found = []
    for span in _spans(path):
        if _PATH.match(span):
            found.append(span)
    for command in [*_block_commands(path), *_inline_commands(path)]:
        for word in shlex.split(command, comments=True):
            if _PATH.match(word):
                found.append(word)
    return found


PATHS = sorted({(p.name, q) for p in DOCS for q in _paths(p)})


def test_there_are_paths_to_check():
    assert len(PATHS) > 30


@pytest.mark.parametrize("name,path", PATHS, ids=[f"{n}: {p}" for n, p in PATHS])
def test_paths_exist(name, path):
    if path.rstrip("/") in GENERATED:
        return
    candidates = [path.replace("<stack>", s) for s in STACKS] if "<stack>" in path else [path]
    for candidate in candidates:
        assert "<" not in candidate, f"a placeholder in {path}"
        assert (ROOT / candidate).exists(), candidate


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", _prose(path), re.M)}


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", [*DOCS, ROOT / "CHANGELOG.md"], ids=lambda p: p.name)
def test_links_and_anchors_resolve(path):
    for target in _LINK.findall(_prose(path)):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name}: {target}"
        if anchor:
            assert anchor in _anchors(linked), f"{path.name}: no #{anchor} in {linked.name}"


def test_the_anchor_check_sees_a_broken_one():
    assert "running-the-stacks" in _anchors(ROOT / "docs" / "operations.md")
    assert "no-such-section" not in _anchors(ROOT / "docs" / "operations.md")
    assert _slug("`sigsci:apps[]`") == "sigsciapps"


# -- the other blocks ----------------------------------------------------------------------------------------------

def _all_blocks(lang: str) -> list[tuple[str, str]]:
    return [(p.name, body) for p in DOCS for block_lang, body in _blocks(p) if block_lang == lang]


def test_python_blocks_compile():
    blocks = _all_blocks("python")
    assert blocks
    for name, body in blocks:
        compile(body, name, "exec")


def test_json_blocks_parse():
    blocks = _all_blocks("json")
    assert blocks
    for _, body in blocks:
        json.loads(body)


def test_kubernetes_objects_in_the_docs_are_valid():
    objects = [obj for _, body in _all_blocks("yaml") for obj in yaml.safe_load_all(body)
               if isinstance(obj, dict) and "apiVersion" in obj]
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, kubernetes_validate.utils.latest_version(), strict=True)
