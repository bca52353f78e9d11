"""Where the agent credentials come from: keys the stack turns into a Secret, or an existing Secret."""

from __future__ import annotations

from pydantic import StrictBool, model_validator

from .errors import Problem
from .kube import DnsSubdomain
from .model import Model

class SecretSpec(Model):
    """Where the agent credentials come from."""

    site: DnsSubdomain | None = None
    existing_secret: DnsSubdomain | None = None
    has_keys: StrictBool = False

    @model_validator(mode="after")
    def _one_source(self):
        if self.existing_secret is not None and self.has_keys:
            raise Problem("existingSecret", "cannot be combined with accessKeyId/secretAccessKey: "
                             "either the stack creates the Secret from the keys or it uses an existing one")
        if self.existing_secret is None and not self.has_keys:
            raise Problem("accessKeyId", "and secretAccessKey are required (set both with "
                             "`pulumi config set --secret`), or set existingSecret to the name of a Secret "
                             "created out of band")
        if self.has_keys and self.site is None:
            raise Problem("site", "is required when the stack creates the Secret: it is named sigsci.<site>")
        if self.has_keys and len(self.secret_name) > 253:
            raise Problem("site", f"is {len(self.site)} characters long; the Secret the stack creates is named "
                             "sigsci.<site>, so site may have at most 246 characters (a Secret name has 253)")
        return self

    @property
    def secret_name(self) -> str:
        return self.existing_secret or f"sigsci.{self.site}"
