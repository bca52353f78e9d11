"""Reusable field types with the Kubernetes rules they must obey, each failing with what is allowed."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from .errors import shown
from .sensitive import STRUCTURE

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"  # optional registry host[:port]
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"  # first path component
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"  # more path components
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # optional tag (ASCII only, as every pattern here)
    r"(?:@sha256:[a-f0-9]{64})?$"  # optional digest
)
_REPOSITORY = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# Kubernetes' quantity grammar (apimachinery resource.Quantity), unsigned: requests and limits cannot be negative.
_QUANTITY = re.compile(r"\+?(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                       r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?")
_SUFFIX = {
    None: Decimal(1), "n": Decimal(10) ** -9, "u": Decimal(10) ** -6, "m": Decimal(10) ** -3,
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
QUANTITY_LIMITS = {"cpu": (Decimal(10_000), "10000 cores"), "memory": (Decimal(2) ** 50, "1Pi")}


_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def is_ip(host: str) -> bool:
    """An IPv4 or IPv6 address, where a DNS name is wanted."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_dns_label(name: str) -> bool:
    return len(name) <= 63 and _DNS_LABEL.fullmatch(name) is not None


def is_dns_1035(name: str) -> bool:
    return len(name) <= 63 and _DNS_1035.fullmatch(name) is not None


def is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and _LABEL_VALUE.fullmatch(value) is not None


def is_qualified_name(key: str) -> bool:
    """A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63."""
    prefix, slash, name = key.rpartition("/")
    return (not slash or is_dns_subdomain(prefix)) and len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name) is not None


def _check(pattern: re.Pattern, max_len: int, what: str):
    def check(value: str) -> str:
        if len(value) > max_len or not pattern.fullmatch(value):
            raise ValueError(f"{shown(value)} is not {what}")
        return value

    return check


def _text(pattern: re.Pattern, max_len: int, what: str):
    """A string type that must match `pattern`; the error says what is allowed. Such names and references are
    structure, never secret (config/sensitive.py)."""
    return Annotated[str, AfterValidator(_check(pattern, max_len, what)), STRUCTURE]


# Control characters in free text: a tab or a line break may be part of a value (an env value, a script in
# args, an annotation); no other reaches a process as written (NUL ends a C string), so none is taken.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def no_control(value: object) -> object:
    """Free text holds no control character but tab, line feed and carriage return."""
    found = _CONTROL.search(value) if isinstance(value, str) else None
    if found is not None:
        raise ValueError(f"holds the control character {found.group()!r} (character {found.start() + 1}); "
                         "text may hold tabs and line breaks, no other control character")
    return value


# Free text: any string without control characters (see `no_control`); secret when its key is.
Text = Annotated[str, AfterValidator(no_control)]


def _command(command: list[str]) -> list[str]:
    if command and not command[0].strip():
        raise ValueError("starts with an empty executable: name the program to run first (or leave command out "
                         "to run the image's entrypoint)")
    return command


DnsLabel = _text(_DNS_LABEL, 63, "a DNS-1123 label (lower-case letters, digits and '-', starting and ending "
                                 "with a letter or digit, at most 63 characters)")
ServiceName = _text(_DNS_1035, 63, "a valid Service name (DNS-1035 label: lower-case letters, digits and '-', "
                                   "starting with a letter, at most 63 characters)")
DnsSubdomain = _text(_DNS_SUBDOMAIN, 253, "a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', "
                                          "at most 253 characters)")
EnvName = _text(_ENV_NAME, 256, "a valid environment variable name (letters, digits, '_', '-', '.', "
                                "not starting with a digit)")
Image = _text(_IMAGE, 512, "a container image reference like 'registry/repo:tag' or 'repo@sha256:<64 hex>'")
Repository = _text(_REPOSITORY, 512, "an image repository without tag or digest, like "
                                     "'signalsciences/sigsci-agent' or 'registry.example/mirror/sigsci-agent'")
Tag = _text(_TAG, 128, "a valid image tag (ASCII letters, digits, '_', '.', '-')")
Digest = _text(_DIGEST, 71, "an image digest of the form 'sha256:<64 hex digits>'")
# Plain YAML scalars that YAML 1.1 (which Helm parses a chart's output with) reads as something other than text,
# among DNS names: null, true/false, whole numbers (decimal, 0x, 0o, 0b, leading-0 octal), floats and dates.
_YAML_NOT_TEXT = re.compile(r"null|y|n|yes|no|true|false|on|off|[0-9]+|0x[0-9a-f]+|0o[0-7]+|0b[01]+"
                            r"|([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[-+]?[0-9]+)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")


def _yaml_text(value: str) -> str:
    if _YAML_NOT_TEXT.fullmatch(value):
        raise ValueError(f"{shown(value)} would be read as a number, date, null or true/false where the chart "
                         "writes it unquoted, and its objects would be refused; add a letter, e.g. "
                         f"'x-{value}'")
    return value


# An Ingress host: a DNS subdomain, optionally a wildcard's '*.' first.
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
Host = _text(_HOST, 253, "a host name such as 'shop.example.com' or '*.example.com' (lower case, no port, no IP)")
_CHART_REPOSITORY = re.compile(r"(https?|oci)://[^\s]+")


def _chart_repository(value: str) -> str:
    from urllib.parse import urlsplit

    try:
        credentials = "@" in urlsplit(value).netloc
    except ValueError:
        credentials = "@" in value
    if credentials:
        # The value is not repeated: it holds a password.
        raise ValueError("holds a user name or password (user:password@host): it would be stored in plain text "
                         "in the Helm release's inputs and the stack's state; give the credentials to Helm's repository "
                         "configuration instead (the Kubernetes provider's helmReleaseSettings)")
    if len(value) > 2048 or not _CHART_REPOSITORY.fullmatch(value):
        raise ValueError(f"{shown(value)} is not a chart repository URL: https://…, http://… or oci://…")
    return value


# A Helm chart repository: https://, http:// or oci://, with no credentials in it.
ChartRepository = Annotated[str, AfterValidator(_chart_repository), STRUCTURE]


def chart_source(repository: str, chart: str) -> tuple[str, str | None]:
    """Where Helm finds `chart` in `repository`: (chart, repository URL for the release's repositoryOpts). An
    oci:// repository is part of the chart's reference and takes no repositoryOpts; Helm reads an http(s) chart
    reference as the URL of a chart archive, so a classic repository goes to repositoryOpts beside the bare name."""
    if repository.startswith("oci://"):
        return f"{repository.rstrip('/')}/{chart}", None
    return chart, repository


# Helm's limit is 53 characters; the charts name Services after the release, so no leading digit either.
ReleaseName = _text(_DNS_1035, 53,
                    "a Helm release name the charts can name Services after (lower-case letters, digits and '-', "
                    "starting with a letter, at most 53 characters)")

# Names a chart writes into its manifests unquoted (an IngressClass, the release's namespace and name, which the
# charts also put in label values): their rule, and YAML must read them back as text.
ChartName = Annotated[DnsSubdomain, AfterValidator(_yaml_text)]
ChartNamespace = Annotated[DnsLabel, AfterValidator(_yaml_text)]
ChartReleaseName = Annotated[ReleaseName, AfterValidator(_yaml_text)]


def _annotation_keys(annotations: dict[str, str]) -> dict[str, str]:
    for key in annotations:
        if not is_qualified_name(key):
            raise ValueError(f"{key!r} is not a valid annotation key ('prefix/name' with a DNS prefix and a name "
                             "of letters, digits, '-', '_', '.')")
    return annotations


# Annotations: keys are qualified names, as label keys are.
Annotations = Annotated[dict[str, Text], AfterValidator(_annotation_keys)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True), STRUCTURE]
# IANA_SVC_NAME, Kubernetes' rule for a named port: at most 15, lower case, a letter somewhere, no '--'.
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def _port_name(value: str) -> str:
    if len(value) > 15 or not _PORT_NAME.fullmatch(value) or "--" in value or not any(c.isalpha() for c in value):
        raise ValueError(f"{shown(value)} is not a port name (at most 15 lower-case letters, digits and '-', with a "
                         "letter, no '--')")
    return value


def _target_port(value: object) -> int | str:
    # Checked before pydantic's union, whose errors would name its member types instead of the key.
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 65535:
            raise ValueError(f"{value} is not a port number (1-65535)")
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():  # other languages pass IntOrString as text
        return _target_port(int(value))
    if isinstance(value, str):
        return _port_name(value)
    raise ValueError(f"{shown(value)} must be a port number or a port name")


# A Service port's targetPort: a number, or the name of a container port.
TargetPort = Annotated[int | str, BeforeValidator(_target_port), STRUCTURE]
UnprivilegedPort = Annotated[int, Field(ge=1024, le=65535, strict=True), STRUCTURE]


def quantity_value(text: str) -> Decimal:
    """Numeric value of a Kubernetes quantity ('500m' -> 0.5, '1Gi' -> 1073741824, '1e3' -> 1000).

    Valued here rather than with the kubernetes client's parse_quantity: importing that pulls in the whole
    client (a third of a second on every preview), and the client is laxer than the API server (it takes
    '1 ', '1_000' and '1K'). The tests hold this against a table of Kubernetes' documented quantities.
    """
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) and len(text) <= 64 else None
    if not match:
        raise ValueError(f"{shown(text)} is not a Kubernetes quantity (e.g. '250m', '1', '0.5', '1e3', '512Mi', '1Gi')")
    number, suffix = Decimal(match["number"]), match["suffix"]
    if suffix and len(suffix) > 1 and suffix[0] in "eE" and suffix != "Ei":  # "E" is exa, "Ei" exbi
        exponent = Decimal(suffix[1:])
        if exponent > 100:  # far beyond any limit; Decimal would overflow long before the text runs out
            return Decimal("Infinity")
        if exponent < -100:
            return Decimal(0)
        return number.scaleb(int(exponent)) if exponent == exponent.to_integral_value() \
            else number * Decimal(10) ** exponent
    return number * _SUFFIX[suffix]


def _quantity(kind: str):
    def check(value: object) -> str:
        # Checked before pydantic's union, whose errors would name its member types instead of the key.
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"{shown(value)} is not a Kubernetes quantity (e.g. '250m', '1', '512Mi', '1Gi')")
        text = str(value)
        limit, most = QUANTITY_LIMITS[kind]
        if quantity_value(text) > limit:
            raise ValueError(f"{shown(text)} is more {kind} than any node has; at most {most}")
        return text

    return check


Cpu = Annotated[str, BeforeValidator(_quantity("cpu")), STRUCTURE]
Memory = Annotated[str, BeforeValidator(_quantity("memory")), STRUCTURE]


# A container's command: free text, the program to run first.
Command = Annotated[list[Text], AfterValidator(_command)]

# An HTTP path a probe requests: '/', then no whitespace or control character.
_HTTP_PATH = re.compile(r"/[^\s\x00-\x1f\x7f-\x9f]*")


def _http_path(value: str) -> str:
    if not _HTTP_PATH.fullmatch(value):
        raise ValueError(f"{shown(value)} is not an HTTP path: it starts with '/' and holds no whitespace or "
                         "control character, like '/healthz'")
    return value


HttpPath = Annotated[str, AfterValidator(_http_path)]


def _scalar(value: object) -> object:
    if not isinstance(value, (str, bool, int)):
        raise ValueError(f"{shown(value)} must be a string, true/false or a whole number")
    return no_control(value)


# An agent option's value: the agent reads each as an environment variable.
OptionValue = Annotated[str | bool | int, BeforeValidator(_scalar)]


# The user (and group) a container runs as unless the config says otherwise: not root, not a system user.
DEFAULT_UID = 10001
# The namespace Kubernetes means when none is named: an app's, and a route's Service backend's, unless set.
KUBERNETES_DEFAULT_NAMESPACE = "default"
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


def absolute_path(value: str) -> str:
    """A mount path as Kubernetes and the images take it: absolute, normalised, no odd characters."""
    segments = value.split("/")[1:]
    if not value.startswith("/") or len(value) > 4096 or not all(segments) \
            or any(s in (".", "..") or not _PATH_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"{value!r} must be an absolute path like '/sigsci/tmp' (letters, digits, '.', '_', '-' "
                         "between single '/'; no trailing '/', no '.' or '..' segments)")
    return value
