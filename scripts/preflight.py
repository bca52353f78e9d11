"""Say what is missing before `pulumi preview|up|destroy` runs, one line each: `missing <what>: <what to do>`.

Checks, without the network: the Pulumi CLI on PATH, a current kube context that the kubeconfig defines, the
passphrase that encrypts the local state's secrets (file backend only), the stack's file, and the stack's agent
keys (set as secrets, or `sigsci:existingSecret`). `make preview|up|destroy` run it first; `make keys` runs
it without the keys check, since it is how the keys get set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INSTALL_URL = "https://www.pulumi.com/docs/install/"


def _kubeconfigs(env: dict[str, str]) -> list[Path]:
    if env.get("KUBECONFIG"):
        return [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
    return [Path(env.get("HOME", "~")).expanduser() / ".kube" / "config"]


def _kube_context(env: dict[str, str]) -> tuple[str | None, set[str]]:
    """The current context kubectl would use (the first kubeconfig that names one) and every context defined."""
    current, defined = None, set()
    for path in _kubeconfigs(env):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        if current is None and data.get("current-context"):
            current = str(data["current-context"])
        for context in data.get("contexts") or []:
            if isinstance(context, dict) and context.get("name"):
                defined.add(str(context["name"]))
    return current, defined


def _stack_config(root: Path, stack: str) -> dict | None:
    try:
        data = yaml.safe_load((root / "stacks" / f"Pulumi.{stack}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    config = data.get("config") if isinstance(data, dict) else None
    return config if isinstance(config, dict) else {}


def _keys_problem(stack: str, config: dict) -> str | None:
    if config.get("sigsci:existingSecret"):
        return None
    missing = [k for k in ("sigsci:accessKeyId", "sigsci:secretAccessKey") if k not in config]
    if missing:
        return (f"missing agent keys for stack {stack} ({', '.join(missing)}): run `make keys STACK={stack}`, "
                "which prompts for them and stores them encrypted")
    plain = [k for k in ("sigsci:accessKeyId", "sigsci:secretAccessKey")
             if not (isinstance(config[k], dict) and "secure" in config[k])]
    if plain:
        return (f"missing encryption of {', '.join(plain)} (stack {stack} has it in plain text): run "
                f"`make keys STACK={stack}` to store the keys as secrets")
    return None


def problems(stack: str, env: dict[str, str], which=shutil.which, *, root: Path = ROOT,
             check_keys: bool = True) -> list[str]:
    found = []
    if which("pulumi", path=env.get("PATH")) is None:
        found.append(f"missing Pulumi CLI: install it ({INSTALL_URL}) and run the command again")
    current, defined = _kube_context(env)
    if current is None:
        found.append("missing kube context: point KUBECONFIG (or ~/.kube/config) at your cluster and run "
                     "`kubectl config use-context <name>`")
    elif defined and current not in defined:
        found.append(f"missing kube context '{current}' (the kubeconfig's current-context names no context): "
                     "run `kubectl config get-contexts`, then `kubectl config use-context <name>`")
    backend = env.get("PULUMI_BACKEND_URL", "")
    if (backend.startswith("file://") or backend == "") and not (
            env.get("PULUMI_CONFIG_PASSPHRASE") is not None or env.get("PULUMI_CONFIG_PASSPHRASE_FILE")):
        found.append("missing PULUMI_CONFIG_PASSPHRASE: run `export PULUMI_CONFIG_PASSPHRASE=<passphrase>` "
                     "(or PULUMI_CONFIG_PASSPHRASE_FILE); it encrypts the agent keys in the local state, keep it")
    config = _stack_config(root, stack)
    if config is None:
        available = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))
        found.append(f"missing stacks/Pulumi.{stack}.yaml: use STACK= one of {', '.join(available)}, "
                     "or create that file")
    elif check_keys:
        keys = _keys_problem(stack, config)
        if keys:
            found.append(keys)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack: a file stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--skip-keys", action="store_true",
                        help="do not check the agent keys (for `make keys`, which sets them)")
    args = parser.parse_args()
    found = problems(args.stack, dict(os.environ), check_keys=not args.skip_keys)
    if found:
        print(f"Cannot run Pulumi for stack '{args.stack}' yet:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
