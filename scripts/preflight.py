"""Say clearly what is missing before `pulumi preview|up|destroy` runs, instead of a confusing failure later."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _current_context(env: dict[str, str]) -> str | None:
    """The kube context kubectl would use: first kubeconfig in KUBECONFIG (or ~/.kube/config) that names one."""
    paths = env.get("KUBECONFIG", "").split(os.pathsep) if env.get("KUBECONFIG") else [
        str(Path(env.get("HOME", "~")).expanduser() / ".kube" / "config")]
    for path in filter(None, paths):
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("current-context"):
            return str(data["current-context"])
    return None


def problems(stack: str, env: dict[str, str], which=shutil.which) -> list[str]:
    found = []
    if which("pulumi", path=env.get("PATH")) is None:
        found.append("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) "
                     "and run the command again")
    if _current_context(env) is None:
        found.append("no current kube context: point KUBECONFIG (or ~/.kube/config) at the cluster and "
                     "select a context with `kubectl config use-context <name>`")
    backend = env.get("PULUMI_BACKEND_URL", "")
    if (backend.startswith("file://") or backend == "") and not (
            env.get("PULUMI_CONFIG_PASSPHRASE") is not None or env.get("PULUMI_CONFIG_PASSPHRASE_FILE")):
        found.append("PULUMI_CONFIG_PASSPHRASE is not set: the local state backend encrypts the agent keys "
                     "with it; export it (or PULUMI_CONFIG_PASSPHRASE_FILE) and keep it safe")
    if not (ROOT / "stacks" / f"Pulumi.{stack}.yaml").is_file():
        available = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
        found.append(f"there is no stacks/Pulumi.{stack}.yaml; stacks here: {', '.join(available)}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", required=True)
    stack = parser.parse_args().stack
    found = problems(stack, dict(os.environ))
    if found:
        print(f"Cannot run Pulumi for stack '{stack}' yet:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
