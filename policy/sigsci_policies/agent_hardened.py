"""Agent containers run hardened and take their keys from a Secret; no manifest carries the keys."""

from __future__ import annotations

import re
from typing import Any, Mapping

from .common import Report, _containers, _env, _get, _kind, _list, _maps, _plain, _pods, _walk, _who, is_agent
from .constants import AGENT, CREDENTIAL_ENV, RELEASES

# `--accesskeyid=X`, `-secretaccesskey X` (the agent's flags) and `SIGSCI_ACCESSKEYID=X` (a shell line).
_CREDENTIAL_FLAG = re.compile(r"(?i)(?:^|[\s'\";])-{1,2}(accesskeyid|secretaccesskey)(?:=|\s+)(\S+)")
_CREDENTIAL_ASSIGNMENT = re.compile(r"\b(SIGSCI_(?:ACCESSKEYID|SECRETACCESSKEY))=(\S+)")


def _has_secret_env_from(container: Mapping[str, Any]) -> bool:
    return any(_get(source, "secretRef", "name") for source in _maps(container.get("envFrom")))


def _from_secret(entry: Mapping[str, Any]) -> bool:
    """An env entry read from a Secret (its name may be unknown during preview: a Secret the stack creates)."""
    return bool(_get(entry, "valueFrom", "secretKeyRef", "name"))


def _literal(value: str) -> bool:
    """A command-line value that is the key itself, not `$(VAR)`/`$VAR` that Kubernetes or a shell expands."""
    value = value.strip("'\"")
    return bool(value) and not value.startswith("$") and not value.startswith("-")


def _credentials_in_command(container: Mapping[str, Any]) -> list[str]:
    words = [str(w) for key in ("command", "args") for w in _list(container.get(key))]
    text = " ".join(words)
    found = [f"--{m.group(1).lower()}" for m in _CREDENTIAL_FLAG.finditer(text) if _literal(m.group(2))]
    found += [m.group(1) for m in _CREDENTIAL_ASSIGNMENT.finditer(text) if _literal(m.group(2))]
    return list(dict.fromkeys(found))


def validate_agent_hardened(args, report_violation: Report) -> None:
    """Agent containers keep a read-only root filesystem and read their keys from a Secret; no container, env
    list or ConfigMap of any workload kind or Helm release carries the agent's keys as literal values."""
    props = _plain(args.props)
    who = _who(args.name, args.resource_type, props)
    kind, patch = _kind(args.resource_type)
    if kind == "ConfigMap":
        for key in sorted(set(props.get("data") or {}) | set(props.get("binaryData") or {})):
            if str(key).upper() in CREDENTIAL_ENV or str(key).lower() in ("accesskeyid", "secretaccesskey"):
                report_violation(f"{who}: ConfigMap key {key!r} holds an agent key in plain text; put the agent "
                                 "keys in a Secret (keys accesskeyid, secretaccesskey) and reference it")
        return
    seen_env: set[int] = set()
    for where, container in _containers(args.resource_type, props):
        env = _env(container)
        seen_env.update(id(e) for e in env.values())
        # A patch's agent without an image merges into the owner's container (server-side apply keeps the owner's
        # fields): only the fields the patch sets are judged.
        merged = patch and not container.get("image")
        if is_agent(container):
            read_only = _get(container, "securityContext", "readOnlyRootFilesystem")
            if read_only is not True and not (merged and read_only is None):
                report_violation(f"{who}: the {AGENT} container ({where}) must run with securityContext."
                                 "readOnlyRootFilesystem: true (its writable data belongs in the sigsci-tmp volume)")
            for name in CREDENTIAL_ENV:
                entry = env.get(name)
                if entry is None and (_has_secret_env_from(container) or merged):
                    continue
                if entry is not None and ("value" in entry or _from_secret(entry)):
                    continue  # a literal is reported below; a secretKeyRef is what we want
                source = "is not set" if entry is None else "comes from something other than a Secret"
                report_violation(f"{who}: {AGENT} ({where}) must take {name} from a Secret "
                                 f"(valueFrom.secretKeyRef or envFrom.secretRef); it {source}")
        for name in CREDENTIAL_ENV:
            if name in env and "value" in env[name]:
                report_violation(f"{who}: {where} sets {name} as a literal env value; never put the agent keys "
                                 "in a manifest: take it from a Secret (valueFrom.secretKeyRef or envFrom.secretRef)")
        for flag in _credentials_in_command(container):
            report_violation(f"{who}: {where} passes an agent key ({flag}) as a literal in its command/args; "
                             "take SIGSCI_ACCESSKEYID/SIGSCI_SECRETACCESSKEY from a Secret instead")
    # Env lists outside containers (ingress-nginx controller.extraEnvs, F5 controller.env, ...).
    if args.resource_type in RELEASES or _pods(args.resource_type, props):
        for path, value in _walk(props, ""):
            if isinstance(value, Mapping) and value.get("name") in CREDENTIAL_ENV and "value" in value \
                    and id(value) not in seen_env:
                report_violation(f"{who}: {path} sets {value['name']} as a literal env value; take it from a "
                                 "Secret (valueFrom.secretKeyRef or envFrom.secretRef)")
