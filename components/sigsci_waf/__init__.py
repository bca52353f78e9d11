"""Fastly Next-Gen WAF (Signal Sciences) on Kubernetes, as Pulumi components."""

from .errors import ConfigError
from .ingress_controller import SigsciIngressController, SigsciIngressControllerArgs
from .revproxy_app import SigsciRevProxyApp, SigsciRevProxyAppArgs
from .secret import SigsciSecret, SigsciSecretArgs

__all__ = [
    "ConfigError",
    "SigsciIngressController",
    "SigsciIngressControllerArgs",
    "SigsciRevProxyApp",
    "SigsciRevProxyAppArgs",
    "SigsciSecret",
    "SigsciSecretArgs",
]
