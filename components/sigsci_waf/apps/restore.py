"""Giving the patched Service's targetPort back when the WAF leaves an app of placement `patch`.

Server-side apply cannot do this by itself: the patch takes `targetPort` from the Service's owner with
force, and when the patch is deleted its field manager relinquishes the field, which nobody else owns
then, so the API server re-defaults it to the Service `port` (80 where the app listens on 8080: an
outage). So, before the ServicePatch is deleted, a resource hook writes the owner's value back
(recorded on the patch as OWNER_TARGET_PORT_ANNOTATION) under a field manager of its own, and
traffic is back on the app's port while the agents still run; then the patch relinquishes, and the
value stays, owned by RESTORE_MANAGER.

Everything but the API call is pure: `restore_patch` builds the request from the patch's inputs.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping, Protocol

from ..config.kube import KUBERNETES_DEFAULT_NAMESPACE

OWNER_TARGET_PORT_ANNOTATION = "sigsci.fastly.com/owner-target-port"
RESTORE_MANAGER = "sigsci-waf-restore"
HOOK_NAME = "sigsci-restore-service-target-port"


class ServiceWriter(Protocol):
    def patch_service(self, namespace: str, name: str, body: dict[str, Any], *, field_manager: str) -> None:
        """A strategic-merge patch (an Update, as `kubectl patch` sends) under `field_manager`."""


def restore_patch(patch_inputs: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(namespace, name, body) of the patch that gives the owner's targetPort back; None when the
    ServicePatch recorded none (it was made by an earlier version, or by hand)."""
    metadata = patch_inputs.get("metadata") or {}
    recorded = (metadata.get("annotations") or {}).get(OWNER_TARGET_PORT_ANNOTATION)
    if recorded is None:
        return None
    target: int | str = int(recorded) if str(recorded).isdigit() else str(recorded)
    ports = [{"port": int(p["port"]), "protocol": p.get("protocol", "TCP"), "targetPort": target}
             for p in (patch_inputs.get("spec") or {}).get("ports") or []]
    # `$setElementOrder` is not needed: ports merge by their `port` key and keep their order.
    namespace = str(metadata.get("namespace") or KUBERNETES_DEFAULT_NAMESPACE)
    return namespace, str(metadata["name"]), {"spec": {"ports": ports}}


def restore(patch_inputs: Mapping[str, Any], writer: ServiceWriter) -> bool:
    """Write the owner's targetPort back; False when there was nothing recorded to restore."""
    request = restore_patch(patch_inputs)
    if request is None:
        return False
    namespace, name, body = request
    writer.patch_service(namespace, name, body, field_manager=RESTORE_MANAGER)
    return True


class KubernetesWriter:
    """The real API server, reached the way the default Kubernetes provider reaches it: the
    `kubernetes:kubeconfig` and `kubernetes:context` stack config, else KUBECONFIG or ~/.kube/config,
    else the in-cluster service account."""

    def __init__(self) -> None:
        import pulumi
        from kubernetes import client, config

        settings = pulumi.Config("kubernetes")
        kubeconfig, context = settings.get("kubeconfig"), settings.get("context")
        if kubeconfig and kubeconfig.lstrip().startswith(("{", "apiVersion")):
            import yaml

            config.load_kube_config_from_dict(yaml.safe_load(kubeconfig), context=context)
        else:
            try:
                # Read KUBECONFIG now: the client reads it once, when first imported.
                config.load_kube_config(config_file=kubeconfig or os.environ.get("KUBECONFIG"), context=context)
            except config.ConfigException:
                config.load_incluster_config()
        self._core = client.CoreV1Api()

    def patch_service(self, namespace: str, name: str, body: dict[str, Any], *, field_manager: str) -> None:
        self._core.patch_namespaced_service(name, namespace, body, field_manager=field_manager)


def hook_callback(writer_factory: Callable[[], ServiceWriter] = KubernetesWriter):
    """The before-delete hook of every ServicePatch the package makes."""
    import pulumi

    def before_delete(args: "pulumi.ResourceHookArgs") -> None:
        inputs = args.old_inputs or {}
        request = restore_patch(inputs)
        if request is None:
            pulumi.log.warn(f"{args.name}: no owner targetPort recorded; the Service's targetPort is left to the "
                            "API server's default when the patch goes")
            return
        restore(inputs, writer_factory())
        namespace, name, body = request
        pulumi.log.info(f"{args.name}: gave Service {namespace}/{name} its targetPort back: "
                        f"{json.dumps(body['spec']['ports'])}")

    return before_delete


_HOOK: list[Any] = []  # [(the engine connection it was registered with, the hook)]


def restore_hook():
    """The hook, registered once per program run (a delete hook must be registered in every run, also when
    no patch is declared any more: removing an app from the stack still runs it)."""
    import pulumi
    from pulumi.runtime import settings

    monitor = settings.get_monitor()
    if not _HOOK or _HOOK[0][0] is not monitor:
        _HOOK[:] = [(monitor, pulumi.ResourceHook(HOOK_NAME, hook_callback()))]
    return _HOOK[0][1]
