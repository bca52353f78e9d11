"""Fetch the reference data the chart tests compare with: each pinned chart's default values, checked by sha256.

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


# Every reference the tests read. Another kind (a release's CRD files, say) is one more class with a folder, its
# files with their sha256, and a fetch.
REFERENCES = [
    ChartValues("https://kubernetes.github.io/ingress-nginx", "ingress-nginx", "4.15.1",
                "0d8eac2d4e5cc2ffa225debea7b1feb1fb372520c5b046e21f6177919d54e622"),
    ChartValues("https://helm.nginx.com/stable", "nginx-ingress", "2.5.0",
                "456fc61fd230f18f4786870bf14042d187830489f9b05ab66e1b2c3b517bd57b"),
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
    found = problems(args.folder) if args.check else fetch(args.folder, helm=args.helm)
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"{args.folder}: " + ", ".join(reference.folder for reference in REFERENCES))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
