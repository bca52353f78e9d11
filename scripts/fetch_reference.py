"""Fetch the reference data the tests compare with, checked by sha256: each pinned chart's default values, and the
CRDs (Gateway API's and Envoy Gateway's) of the pinned Envoy Gateway release.

    python scripts/fetch_reference.py <folder>

writes <folder>/<chart>-<version>/values.yaml for each chart the package installs, at the version the package
pins (components/sigsci_waf/ingress/flavours.py; tests/test_workflows.py holds the two lists together), with
`helm pull`. Each file must have the sha256 pinned here, so a moved tag or a changed repository fails here instead
of changing what the tests compare with. Then run the tests with SIGSCI_REFERENCE_DIR=<folder> (docs/testing.md).

Needs helm and the network, and nothing outside Python's standard library, so it runs before the project's
dependencies are installed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChartValues:
    """A chart's default values.yaml, from its Helm repository."""

    repository: str
    chart: str
    version: str
    sha256: str

    @property
    def folder(self) -> str:
        return f"{self.chart}-{self.version}"

    @property
    def files(self) -> dict[str, str]:
        """Each file of the folder, with its sha256."""
        return {"values.yaml": self.sha256}

    def fetch(self, target: Path, helm: str) -> None:
        with tempfile.TemporaryDirectory() as unpacked:
            subprocess.run([helm, "pull", self.chart, "--repo", self.repository, "--version", self.version,
                            "--untar", "--untardir", unpacked], check=True)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(unpacked) / self.chart / "values.yaml", target / "values.yaml")


@dataclass(frozen=True)
class ChartCrds:
    """CRD files a chart ships (Envoy Gateway's: its own and the Gateway API's), into a folder named after the
    release they belong to. `sources`: each file's name in the folder -> (its path in the chart, its sha256)."""

    chart_ref: str  # an OCI reference, or the chart's name in `repository`
    version: str
    folder: str
    sources: dict[str, tuple[str, str]]
    repository: str | None = None  # a Helm repository's URL, for a chart not in an OCI registry

    @property
    def files(self) -> dict[str, str]:
        return {name: digest for name, (_, digest) in self.sources.items()}

    def fetch(self, target: Path, helm: str) -> None:
        with tempfile.TemporaryDirectory() as unpacked:
            where = ["--repo", self.repository] if self.repository else []
            subprocess.run([helm, "pull", self.chart_ref, *where, "--version", self.version, "--untar",
                            "--untardir", unpacked], check=True)
            chart = Path(unpacked) / self.chart_ref.rsplit("/", 1)[-1]
            target.mkdir(parents=True, exist_ok=True)
            for name, (source, _) in self.sources.items():
                shutil.copyfile(chart / source, target / name)


_EG_CHART, _EG_VERSION = "oci://docker.io/envoyproxy/gateway-helm", "v1.9.0"
_EG_CRDS = "charts/crds/crds"
# Envoy Gateway v1.9.0 bundles the Gateway API v1.6.1 CRDs (its experimental channel install, which includes the
# standard kinds): the folder keeps the name the shared reference folder gives it.
_ENVOY_GATEWAY_CRDS = {
    "gateway.envoyproxy.io_backends.yaml": "bb1901aea758d05458b853b07db04a96a1ea4346b177e392e5ce7398573805be",
    "gateway.envoyproxy.io_backendtrafficpolicies.yaml":
        "cd75a4c222df5487aa9ca8957b48bcc3255eb25de02ed9153faf620bc160f786",
    "gateway.envoyproxy.io_clienttrafficpolicies.yaml":
        "2c7eaa1ce30de626e9c362b8d9002281c2f435f970020fa81902ad7f30b38d5b",
    "gateway.envoyproxy.io_envoyextensionpolicies.yaml":
        "92f4dfdd67be4b242511381d6175f517782e655233fdf5b5e28a400ea5601f79",
    "gateway.envoyproxy.io_envoypatchpolicies.yaml":
        "8e9110c32b414ea5c43a85e272dc2dee8917ed0bfa36a9a2b72fde1f3fba6083",
    "gateway.envoyproxy.io_envoyproxies.yaml": "3e9ea2f348445e3798b02daf02bf024b0d944227cf5ef8a18da7f675a1afd223",
    "gateway.envoyproxy.io_httproutefilters.yaml":
        "ad46193dbec0a28cc97fa93a64bcd1f464858544d884eeac5e4d767526dcfd3d",
    "gateway.envoyproxy.io_securitypolicies.yaml":
        "6412914ec5b7c48f58b85f60a80767ba15a50c8d374480cf5f2d872e4a764466",
}

# Every reference the tests read: each kind is a class with a folder, its files with their sha256, and a fetch.
REFERENCES = [
    ChartValues("https://kubernetes.github.io/ingress-nginx", "ingress-nginx", "4.15.1",
                "0d8eac2d4e5cc2ffa225debea7b1feb1fb372520c5b046e21f6177919d54e622"),
    ChartValues("https://helm.nginx.com/stable", "nginx-ingress", "2.5.0",
                "456fc61fd230f18f4786870bf14042d187830489f9b05ab66e1b2c3b517bd57b"),
    ChartCrds(_EG_CHART, _EG_VERSION, "gateway-api-v1.6.1", {"standard-crds.yaml": (
        f"{_EG_CRDS}/gatewayapi-crds.yaml", "f0342ed49e7cd1b62624659984ea2934addd334efc8630827d0e1a81194b157a")}),
    ChartCrds(_EG_CHART, _EG_VERSION, "envoy-gateway-v1.9.0",
              {name: (f"{_EG_CRDS}/generated/{name}", digest) for name, digest in _ENVOY_GATEWAY_CRDS.items()}),
]


# References the tests use where they are, and say so where they are not: Istio's CRDs (its `base` chart's),
# for the EnvoyFilter of sigsci:gateway's Istio implementation. Fetched with the others; a failure is reported,
# not fatal.
OPTIONAL = [
    ChartCrds("base", "1.30.3", "istio-1.30.3", {"crd-all.gen.yaml": (
        "files/crd-all.gen.yaml", "dcb43ff6b9af2f629b80b6a82597f5a91db259c757e66cc5353ac007da28351a")},
        repository="https://istio-release.storage.googleapis.com/charts"),
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(folder: Path, references: list = REFERENCES) -> list[str]:
    """What is missing or different in `folder`, one line each; empty when every pinned file is there."""
    found = []
    for reference in references:
        for name, digest in reference.files.items():
            path = folder / reference.folder / name
            if not path.is_file():
                found.append(f"{path} is missing")
            elif _sha256(path) != digest:
                found.append(f"{path} has sha256 {_sha256(path)}, not the pinned {digest}")
    return found


def fetch(folder: Path, references: list = REFERENCES, helm: str = "helm") -> list[str]:
    """Fetch every reference into `folder`; what is then wrong with it, as `problems` says."""
    for reference in references:
        try:
            reference.fetch(folder / reference.folder, helm)
        except FileNotFoundError as missing:
            return [f"{reference.folder}: {missing.filename or helm} not found (is helm installed?)"]
        except subprocess.CalledProcessError as failed:
            return [f"{reference.folder}: {' '.join(failed.cmd)} failed with exit code {failed.returncode}"]
    return problems(folder, references)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     epilog="See docs/testing.md (Reference data).")
    parser.add_argument("folder", type=Path, help="where to write <chart>-<version>/values.yaml")
    parser.add_argument("--check", action="store_true", help="fetch nothing: only verify what the folder holds")
    parser.add_argument("--helm", default="helm", help="the helm binary (default: helm on PATH)")
    args = parser.parse_args(argv)
    found = problems(args.folder, REFERENCES) if args.check else fetch(args.folder, REFERENCES, helm=args.helm)
    for line in found:
        print(line, file=sys.stderr)
    if not args.check:
        for line in fetch(args.folder, OPTIONAL, helm=args.helm):
            print(f"optional, the tests that need it skip: {line}", file=sys.stderr)
    if not found:
        print(f"{args.folder}: " + ", ".join(reference.folder for reference in REFERENCES))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
