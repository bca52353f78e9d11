"""The component provider: serves SigsciSecret, SigsciRevProxyApp and SigsciIngressController to programs
in any Pulumi language. Pulumi infers the package schema from the components' typed args and docstrings.

It lives in its own folder so that the Pulumi project at the repository root stays a plain program.
"""

import sys
from pathlib import Path

# The package sits in components/ of the same checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "components"))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from sigsci_waf import SigsciIngressController, SigsciRevProxyApp, SigsciSecret  # noqa: E402

PACKAGE = "sigsci"  # the components' type tokens are sigsci:index:<Component>
COMPONENTS = [SigsciSecret, SigsciRevProxyApp, SigsciIngressController]

if __name__ == "__main__":
    component_provider_host(COMPONENTS, PACKAGE)
