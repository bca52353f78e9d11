"""What users may type under `sigsci:verify`: an echo backend that `make verify` (scripts/verify.py) proves the
ingress controller and the Gateway with, routed on every entry the stack has."""

from __future__ import annotations

from pydantic import StrictBool, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .agent import Quantities, Resources
from .errors import Problem
from .kube import DnsLabel, Host, Image, is_ip
from .model import Model

# The path prefix scripts/verify.py sends its marked request under (`/sigsci-verify/<random>`).
ECHO_PATH = "/sigsci-verify"
# The echo's Deployment, Service and NetworkPolicy, in `namespace`; its Ingress and HTTPRoute are ROUTE_NAME.
ECHO_NAME = "sigsci-echo"
ROUTE_NAME = "sigsci-verify"
ECHO_PORT = 80  # the Service's port, which the routes name
ECHO_CONTAINER_PORT = 8080  # the image's HTTP listener (its HTTP_PORT)
DEFAULT_VERIFY_NAMESPACE = "sigsci-verify"
# `.invalid` never resolves (RFC 2606): no browser sends a site's cookies to it, nor can a page reach the echo.
DEFAULT_ECHO_HOST = "sigsci-verify.invalid"
# Answers every request with the request it received as JSON (`headers` a map of lower-case names), runs as any
# non-root user on a read-only root filesystem (github.com/mendhak/docker-http-https-echo, version 41).
DEFAULT_ECHO_IMAGE = "mendhak/http-https-echo:41"
ECHO_RESOURCES = Resources(requests=Quantities(cpu="10m", memory="64Mi"), limits=Quantities(cpu="200m", memory="128Mi"))


class VerifySpec(Model):
    """`sigsci:verify`: with `echo`, a backend that answers with the request it received, behind the path prefix
    `/sigsci-verify` on `host` of every entry (the ingress controller's class, the Gateway)."""

    echo: StrictBool = False
    namespace: DnsLabel = DEFAULT_VERIFY_NAMESPACE
    host: Host = DEFAULT_ECHO_HOST
    image: Image = DEFAULT_ECHO_IMAGE
    resources: Resources = Resources()

    @field_validator("host")
    @classmethod
    def _one_host(cls, host: str) -> str:
        if host.startswith("*") or is_ip(host):
            raise ValueError(f"{host!r} is not one DNS name: make verify sends it as its request's Host, so no "
                             "wildcard, no IP address")
        return host

    @field_validator("image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        last = image.split("@", 1)[0].rsplit("/", 1)[-1]  # a registry's port is not a tag
        if "@" not in image and (":" not in last or last.endswith(":latest")):
            raise ValueError(f"{image!r} is not pinned: name a version tag or a digest (the echo is pulled "
                             "IfNotPresent, so a moving tag would never move)")
        return image

    @model_validator(mode="after")
    def _rules(self):
        if not self.echo:
            given = next((name for name in type(self).model_fields if name != "echo"
                          and name in self.model_fields_set), None)
            if given is not None:
                raise Problem(to_camel(given), "applies only with echo: true")
        self.resources.check_defaults(ECHO_RESOURCES)
        return self
