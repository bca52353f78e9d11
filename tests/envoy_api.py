"""Check an Istio EnvoyFilter's patches against Envoy's own API: each patch value is parsed, strictly (unknown
fields, wrong enum names, malformed durations refused), into the Envoy message its `applyTo` patches, from the
compiled protos of Envoy's data-plane API (the xds-protos package), `typed_config` resolved by its `@type`.

What this does not check is the EnvoyFilter's own envelope (Istio's CRD schema is not among the pinned
reference files): its fields are asserted by the tests themselves.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
# Imported for the descriptor pool: `typed_config` names these types by URL.
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.http.ext_proc.v3 import ext_proc_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2

# What each `applyTo` of ours patches, as Istio's EnvoyFilter reference has it.
PATCHED = {"HTTP_FILTER": http_connection_manager_pb2.HttpFilter, "LISTENER": listener_pb2.Listener}


def errors(envoy_filter: dict[str, Any]) -> list[str]:
    """Each patch whose value Envoy's API refuses, with the reason."""
    found = []
    for index, patch in enumerate(envoy_filter["spec"]["configPatches"]):
        message = PATCHED.get(patch["applyTo"])
        if message is None:
            found.append(f"configPatches[{index}]: no Envoy message known for applyTo {patch['applyTo']}")
            continue
        try:
            json_format.ParseDict(patch["patch"]["value"], message())
        except json_format.ParseError as error:
            found.append(f"configPatches[{index}] ({patch['applyTo']}): {error}")
    return found
