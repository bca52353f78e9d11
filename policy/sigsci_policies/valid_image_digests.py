"""Agent and Fastly controller images carry well-formed digests, and the Fastly image no stock one."""

from __future__ import annotations

import re
from typing import Mapping

from .common import (UNKNOWN, Report, _containers, _get, _image_text, _layout, _plain, _who, is_agent,
                     is_fastly_controller_image)
from .constants import RELEASES

# Digests a container runtime accepts: a registered algorithm and its lower-case hex encoding.
_DIGEST = re.compile(r"(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})")


def _bad_digest(image: str) -> str | None:
    """The digest part of a reference that no runtime accepts, else None."""
    if "@" not in image:
        return None
    digest = image.split("@", 1)[1]
    return None if _DIGEST.fullmatch(digest) else digest


def validate_image_digests(args, report_violation: Report) -> None:
    """Agent and Fastly controller images carry a well-formed digest, if any (`sha256:` + 64 lower-case hex)."""
    props = _plain(args.props)
    who = _who(args.name, args.resource_type, props)
    fix = "a digest is sha256: followed by exactly 64 lower-case hex digits (or sha384/sha512 with 96/128)"
    for where, container in _containers(args.resource_type, props):
        image = _image_text(container.get("image"))
        if not (is_agent(container) or is_fastly_controller_image(image)):
            continue
        digest = _bad_digest(image)
        if digest is not None:
            report_violation(f"{who}: image {image!r} ({where}) has a malformed digest {digest!r}, so it never "
                             f"pulls; {fix}")
    if args.resource_type not in RELEASES:
        return
    image = _get(props, "values", "controller", "image")
    if not isinstance(image, Mapping):
        return
    for key in ("digest", "digestChroot"):
        value = image.get(key)
        if value not in (None, "", UNKNOWN) and not (isinstance(value, str) and _DIGEST.fullmatch(value)):
            report_violation(f"{who}: values.controller.image.{key} {value!r} is malformed, so the controller "
                             f"never pulls; {fix}, or \"\" for none")
    for key in ("repository", "image", "tag"):
        value = image.get(key)
        if isinstance(value, str) and "@" in value and _bad_digest(value) is not None:
            report_violation(f"{who}: values.controller.image.{key} {value!r} has a malformed digest; {fix}")
    if _layout(props) == "ingress-nginx" and is_fastly_controller_image(image):
        # The chart's own digest would pin the stock controller under the Fastly repository and tag.
        missing = ["digest"] + (["digestChroot"] if image.get("chroot") else [])
        for key in missing:
            if key not in image:
                report_violation(f"{who}: values.controller.image.{key} is not set, so the ingress-nginx chart "
                                 "appends its default digest (of the stock controller) to the Fastly image and the "
                                 f"pod never pulls; set controller.image.{key}: \"\" (or the Fastly image's digest)")
