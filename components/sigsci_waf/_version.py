"""The package's version, read from its installed metadata, so pyproject.toml is the one place it is written."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "pulumi-sigsci-waf"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
