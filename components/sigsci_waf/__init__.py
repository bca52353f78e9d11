"""Fastly Next-Gen WAF (Signal Sciences) on Kubernetes, as Pulumi components."""

from typing import Any

from ._version import __version__
from .apps.component import SigsciRevProxyApp, SigsciRevProxyAppArgs
from .config.errors import ConfigError
from .secret.component import SigsciSecret, SigsciSecretArgs

# The ingress controller (its schema, chart tables and Helm), the gateway and injection load on first use: stacks and programs without
# one do not pay for its import.
_LAZY = {"SigsciIngressController": "ingress.component", "SigsciIngressControllerArgs": "ingress.component",
         "SigsciGateway": "gateway.component", "SigsciGatewayArgs": "gateway.component",
         "SigsciInjection": "injection.component", "SigsciInjectionArgs": "injection.component"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ConfigError",
    "SigsciGateway",
    "SigsciGatewayArgs",
    "SigsciIngressController",
    "SigsciIngressControllerArgs",
    "SigsciInjection",
    "SigsciInjectionArgs",
    "SigsciRevProxyApp",
    "SigsciRevProxyAppArgs",
    "SigsciSecret",
    "SigsciSecretArgs",
    "__version__",
]
