"""Fastly Next-Gen WAF (Signal Sciences) on Kubernetes, as Pulumi components."""

from .errors import ConfigError
from .revproxy_app import SigsciRevProxyApp, SigsciRevProxyAppArgs
from .secret import SigsciSecret, SigsciSecretArgs

__all__ = [
    "ConfigError",
    "SigsciRevProxyApp",
    "SigsciRevProxyAppArgs",
    "SigsciSecret",
    "SigsciSecretArgs",
]
