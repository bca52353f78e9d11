"""What the pack knows about the agent, the ingress charts and the resource types it reads.

The pack runs in a virtualenv of its own, without the sigsci_waf package, so it keeps these values
itself; tests/test_policy_constants.py checks them against the ones the package publishes.
"""

from __future__ import annotations

from typing import Any

AGENT = "sigsci-agent"
CREDENTIAL_ENV = ("SIGSCI_ACCESSKEYID", "SIGSCI_SECRETACCESSKEY")
# The agent's default rpc-address: the socket in its default temp volume.
DEFAULT_RPC_ADDRESS = "/sigsci/tmp/sigsci.sock"
# The module inside every Fastly controller image.
MODULE_PATH = "/usr/lib/nginx/modules/ngx_http_sigsci_module.so"
MODULE_FILE = MODULE_PATH.rsplit("/", 1)[-1]
RELEASE = "kubernetes:helm.sh/v3:Release"
RELEASES = {RELEASE, "kubernetes:helm.sh/v4:Chart"}
SERVICE = "kubernetes:core/v1:Service"
SERVICE_PATCH = "kubernetes:core/v1:ServicePatch"

# The two ingress charts: where each keeps the module's snippets, the controller's mounts and its class.
_LAYOUTS: dict[str, dict[str, Any]] = {
    "ingress-nginx": {"config": ("controller", "config"), "main": "main-snippet", "http": "http-snippet",
                      "mounts": "extraVolumeMounts"},
    "nginx-ingress": {"config": ("controller", "config", "entries"), "main": "main-snippets",
                      "http": "http-snippets", "mounts": "volumeMounts"},
}
# Both charts' default class name when the values do not set one.
_DEFAULT_CLASS = "nginx"

# The gateway's agents: their Deployment and Service, which an EnvoyExtensionPolicy's extProc names.
AGENTS_NAME = "sigsci-extproc"
# A message timeout must allow this much per MiB of the body buffer, and never less than the minimum.
TIMEOUT_MS_PER_MIB = 1000
MIN_MESSAGE_TIMEOUT_MS = 500
# Envoy Gateway's body buffer on a Gateway no ClientTrafficPolicy sets connection.bufferLimit for (bytes),
# and Envoy's ext_proc message timeout when the policy sets none (ms).
DEFAULT_BUFFER_LIMIT = 32768
DEFAULT_MESSAGE_TIMEOUT_MS = 200
