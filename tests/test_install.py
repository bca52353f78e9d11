"""Another Pulumi program can `pip install` this repository and use the components from `sigsci_waf`."""

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import venv
from pathlib import Path

import harness

CONSUMER = textwrap.dedent('''
    import json
    import pulumi
    import sigsci_waf
    from sigsci_waf import SigsciRevProxyApp, SigsciRevProxyAppArgs, SigsciSecret, SigsciSecretArgs

    seen = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            seen.append(args.typ)
            return args.name + "-id", args.inputs

        def call(self, args):
            return {}

    pulumi.runtime.set_mocks(Mocks(), project="consumer", stack="test", preview=True)

    @pulumi.runtime.test
    def program():
        secret = SigsciSecret("keys", SigsciSecretArgs(namespaces=["web"], site="demo",
                                                       access_key_id="id", secret_access_key="key"))
        SigsciRevProxyApp("web", SigsciRevProxyAppArgs(
            namespace="web", image="example/web:1.0", port=8080,
            secret_name=secret.secret_name, credentials_hash=secret.credentials_hash))

    program()
    print(json.dumps({"file": sigsci_waf.__file__, "version": sigsci_waf.__version__, "types": sorted(seen)}))
''')


def test_installed_package_works_from_a_fresh_environment(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(harness.ROOT / "components", source / "components",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(harness.ROOT / name, source / name)

    env_dir = tmp_path / "consumer-venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    # Dependencies come from the test environment, so the install needs no network; pip still checks
    # that everything the package declares is present.
    (site / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-build-isolation", "--no-index", str(source)], check=True, timeout=300)
    shutil.rmtree(source)  # the consumer must not be reading our source tree

    done = subprocess.run([str(python), "-c", CONSUMER], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(site))
    assert result["version"] == tomllib.loads((harness.ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (site / "sigsci_waf" / "py.typed").is_file()  # PEP 561: type checkers read the annotations
    assert result["types"] == sorted([
        "sigsci:index:SigsciSecret", "kubernetes:core/v1:Secret", "random:index/randomId:RandomId",
        "sigsci:index:SigsciRevProxyApp",
        "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:policy/v1:PodDisruptionBudget"])
