"""The component provider: serves SigsciSecret, SigsciRevProxyApp, SigsciIngressController, SigsciGateway and
SigsciInjection to programs
in any Pulumi language. Pulumi infers the package schema from the components' typed args and docstrings.

It lives in its own folder so that the Pulumi project at the repository root stays a plain program. Pulumi
runs it as `venv/bin/python <this folder> <engine address>` in the virtual environment that
requirements.txt fills: the package is installed there (with its metadata, so the schema carries its
version), and nothing is imported from the checkout.
"""

from pulumi.provider.experimental import component_provider_host

from sigsci_waf import (SigsciGateway, SigsciIngressController, SigsciInjection, SigsciRevProxyApp, SigsciSecret,
                        __version__)

PACKAGE = "sigsci"  # the components' type tokens are sigsci:index:<Component>
COMPONENTS = [SigsciSecret, SigsciRevProxyApp, SigsciIngressController, SigsciGateway, SigsciInjection]
VERSION = __version__  # the package schema's version: the one in pyproject.toml

if __name__ == "__main__":
    component_provider_host(COMPONENTS, PACKAGE, version=VERSION)
