"""No `latest` (or untagged) agent or controller image where versions must be pinned."""

from __future__ import annotations

from typing import Mapping

from .common import Report, _containers, _get, _image_text, _kind, _plain, _split_image, _who, is_agent
from .constants import RELEASES


def _unpinned(image: str) -> bool:
    if "@" in image:
        return False
    _, tag, _ = _split_image(image)
    return tag is None or tag == "latest"


def validate_pinned_versions(args, report_violation: Report) -> None:
    """No `latest` (or untagged) agent or controller image where the stack must pin versions."""
    if not (args.get_config() or {}).get("requirePinnedVersions", True):
        return
    props = _plain(args.props)
    who = _who(args.name, args.resource_type, props)
    for where, container in _containers(args.resource_type, props):
        if not is_agent(container):
            continue
        image = _image_text(container.get("image"))
        if not image and _kind(args.resource_type)[1]:
            continue  # a patch that leaves the image to the owner's container (server-side apply merges by name)
        if _unpinned(image):
            report_violation(f"{who}: agent image {image!r} ({where}) is not pinned; set agent.version to a "
                             "release (e.g. 4.70.0) or agent.digest")
    if args.resource_type in RELEASES:
        image = _get(props, "values", "controller", "image") or {}
        if isinstance(image, Mapping) and image.get("tag") == "latest" and not image.get("digest"):
            report_violation(f"{who}: controller image tag 'latest' is not pinned; set "
                             "controller.image.tag to a release or controller.image.digest")
