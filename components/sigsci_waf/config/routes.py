"""The route shape every entry shares (`sigsci:ingress.routes`, `sigsci:gateway.routes`): a host and a path to
an app of `sigsci:apps` or to a named Service."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from .choices import PathType
from .errors import Problem
from .sensitive import STRUCTURE
from .kube import DnsLabel, DnsSubdomain, Host, Port, ServiceName, is_ip
from .model import Model


class ServiceBackend(Model):
    name: ServiceName
    port: Port


class RouteBase(Model):
    """Host and path to a backend: an app of `sigsci:apps` by name, or a Service by name and port. Each entry
    adds how its routes match and what else they carry."""

    name: DnsSubdomain | None = None
    host: Host | None = None
    path: Annotated[str, STRUCTURE] = Field(default="/", pattern=r"^/[^\s{};]*$")
    app: ServiceName | None = None
    service: ServiceBackend | None = None
    namespace: DnsLabel | None = None
    # A path type of the entry's that takes any path (Kubernetes' rules are for Prefix and Exact only); None where
    # the entry has none.
    LOOSE_PATH_TYPE: ClassVar[str | None] = None

    @model_validator(mode="after")
    def _one_backend(self):
        if (self.app is None) == (self.service is None):
            raise Problem("app", "is required, or service instead (one of the two, not both): route to an app of "
                                 "sigsci:apps by name, or to a Service with {name, port}")
        if self.host is not None and is_ip(self.host):
            raise Problem("host", f"{self.host!r} is an IP address; a route's host must be a DNS name (leave host "
                                  "unset to match any host)")
        path_type = getattr(self, "path_type", PathType.PREFIX)
        if path_type in (PathType.PREFIX, PathType.EXACT):
            # The API server's own rules for these path types; it would refuse the object at apply time.
            bad = next((s for s in ("//", "/./", "/../", "%2f", "%2F") if s in self.path), None) \
                or next((s for s in ("/..", "/.") if self.path.endswith(s)), None)
            if bad is not None:
                instead = f" or pathType {self.LOOSE_PATH_TYPE}" if self.LOOSE_PATH_TYPE else ""
                raise Problem("path", f"{self.path!r} contains {bad!r}, which Kubernetes refuses for pathType "
                                      f"{path_type}; use a normalised path{instead}")
        return self
