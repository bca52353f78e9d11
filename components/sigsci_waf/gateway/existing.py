"""An existing Gateway, as the cluster has it, against what the WAF on it needs: a Gateway the implementation
does not serve would ignore the WAF's policy or filter, and its routes would pass uninspected."""

from __future__ import annotations

from typing import Any

from ..declare import field_of
from ..config.choices import GatewayImplementation
from ..config.errors import ConfigError
from ..config.gateway import ENVOY_GATEWAY_CONTROLLER, ISTIO_CONTROLLER, GatewaySpec

CONTROLLERS = {GatewayImplementation.ENVOY_GATEWAY: ENVOY_GATEWAY_CONTROLLER,
               GatewayImplementation.ISTIO: ISTIO_CONTROLLER}
# The annotation the objects that rely on the check carry, with the controller it found.
CHECKED_ANNOTATION = "sigsci.fastly.com/gateway-controller"


def class_of(live_gateway_spec: Any) -> str:
    return field_of(live_gateway_spec, "gatewayClassName", "gateway_class_name")


def check_existing(spec: GatewaySpec, key: str, live_gateway_spec: Any, live_class_spec: Any) -> str:
    """The controller of the existing Gateway's class when it is the implementation's, else a ConfigError naming
    `key` (the existingGateway key)."""
    existing = spec.existing_gateway
    assert existing is not None
    where = f"Gateway {existing.namespace}/{existing.name}"
    controller = field_of(live_class_spec, "controllerName", "controller_name")
    expected = CONTROLLERS[spec.implementation]
    if controller != expected:
        raise ConfigError(key, f"{where} is of class {class_of(live_gateway_spec)!r}, whose controller is "
                               f"{controller!r}, not {expected!r} ({spec.implementation}): the WAF on it would not "
                               "apply, and its routes would pass uninspected; name a Gateway of the implementation, "
                               "or set implementation to the one that serves it")
    if spec.implementation == GatewayImplementation.ISTIO:
        addresses = field_of(live_gateway_spec, "addresses", "addresses") or []
        if any(field_of(a, "type", "type") == "Hostname" for a in addresses):
            raise ConfigError(key, f"{where} uses Istio's manual deployment (a Hostname address): its proxies do "
                                   "not carry the Gateway's name label, so the WAF's filter would apply to none "
                                   "of them; use a Gateway Istio deploys itself")
    return controller
