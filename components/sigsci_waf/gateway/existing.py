"""A Gateway class or an existing Gateway, as the cluster has them, against what the WAF on them needs: a Gateway
the implementation does not serve would ignore the WAF's policy or filter, and traffic Envoy does not handle as
HTTP never reaches an HTTP filter; either way it would pass uninspected."""

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
# The listener protocols whose traffic goes through Envoy's HTTP filters, ext_proc among them.
HTTP_PROTOCOLS = ("HTTP", "HTTPS")


def class_of(live_gateway_spec: Any) -> str:
    return field_of(live_gateway_spec, "gatewayClassName", "gateway_class_name")


def check_class(spec: GatewaySpec, key: str, class_name: str, live_class_spec: Any, served: str) -> str:
    """The controller of the GatewayClass `class_name` when it is the implementation's, else a ConfigError naming
    `key`; `served` says which Gateway the class serves."""
    controller = field_of(live_class_spec, "controllerName", "controller_name") if live_class_spec else None
    expected = CONTROLLERS[spec.implementation]
    if controller != expected:
        found = f"whose controller is {controller!r}" if controller else "which the cluster does not have"
        raise ConfigError(key, f"{served} is of class {class_name!r}, {found}, not {expected!r} "
                               f"({spec.implementation}): the WAF on it would not apply, and its routes would pass "
                               "uninspected; name a class of the implementation, or set implementation to the one "
                               "that serves it")
    return controller


def check_existing(spec: GatewaySpec, key: str, live_gateway_spec: Any, live_class_spec: Any) -> str:
    """The controller of the existing Gateway's class when it is the implementation's and every listener of the
    Gateway carries HTTP, else a ConfigError naming `key` (the existingGateway key)."""
    existing = spec.existing_gateway
    assert existing is not None
    where = f"Gateway {existing.namespace}/{existing.name}"
    controller = check_class(spec, key, class_of(live_gateway_spec), live_class_spec, where)
    listeners = field_of(live_gateway_spec, "listeners", "listeners") or []
    other = [f"{field_of(li, 'name', 'name')} ({field_of(li, 'protocol', 'protocol')})" for li in listeners
             if field_of(li, "protocol", "protocol") not in HTTP_PROTOCOLS]
    if other:
        raise ConfigError(key, f"{where} has listeners that do not carry HTTP: {', '.join(other)}; the WAF is an "
                               "HTTP filter, so their routes (TLSRoute, TCPRoute, UDPRoute) would pass uninspected; "
                               "name a Gateway whose listeners are all HTTP or HTTPS")
    allowed = field_of(live_gateway_spec, "allowedListeners", "allowed_listeners") or {}
    admitted = field_of(field_of(allowed, "namespaces", "namespaces") or {}, "from", "from_")
    if admitted not in (None, "None"):
        raise ConfigError(key, f"{where} admits ListenerSets (spec.allowedListeners from {admitted}): they add "
                               "listeners of any protocol the WAF is not checked for; name a Gateway without "
                               "allowedListeners (or with from: None)")
    if spec.implementation == GatewayImplementation.ISTIO:
        addresses = field_of(live_gateway_spec, "addresses", "addresses") or []
        if any(field_of(a, "type", "type") == "Hostname" for a in addresses):
            raise ConfigError(key, f"{where} uses Istio's manual deployment (a Hostname address): its proxies do "
                                   "not carry the Gateway's name label, so the WAF's filter would apply to none "
                                   "of them; use a Gateway Istio deploys itself")
    return controller
