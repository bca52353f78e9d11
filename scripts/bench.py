"""Benchmark: the stack program against the same objects declared flat with pulumi_kubernetes.

`make bench` runs it: for each size N it generates a config of N apps (owned, patched and agent-Service
placements over ten namespaces, and an ingress controller routing to some of them), and the same config with a
`sigsci:gateway` too (an HTTPRoute to every app, and to a Service outside the apps for every fifth one, so the
Gateway API objects, the ReferenceGrants, the agents and Envoy Gateway's release all appear). It captures what
the program declares and generates from that capture a flat program declaring the very same resources (types,
names, inputs, secrets) and reads of live objects with pulumi_kubernetes directly, each pod after the Secret of
its namespace, as one would by hand; that the flat program registers exactly the program's resources and reads
is checked on every run. Each measurement runs in a fresh process, several times; the medians give the ratios,
the growth exponents and the peak RSS against the memory goal, written to BENCHMARKS.md with the machine and the
date. A benchmark, not a test: CI runs it once at a small N (`make bench-smoke`) only to show it works.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = "4dabf18193072939515e22adb298388d"
KEYS = {"sigsci:accessKeyId": "bench-key-id", "sigsci:secretAccessKey": "bench-secret-key"}
# The configs each size is measured with: the apps and an ingress controller, and the same with the gateway.
CONFIGS = {"apps": "apps, ingress", "gateway": "apps, ingress, gateway"}
# The memory goal: the program's peak RSS at most this many times the flat program's, at this size and config.
RSS_GOAL, GOAL_APPS, GOAL_CONFIG = 1.10, 500, "apps"


def bench_config(n: int, config: str = "apps") -> dict:
    apps = []
    for i in range(n):
        namespace, kind = f"team-{i % 10}", i % 20
        app = {"name": f"app-{i}", "namespace": namespace, "port": 8080, "listenerPort": 8001}
        if kind < 12:
            app.update(image=f"registry.example/app-{i}:1.{i}", env={"MODE": "prod"})
        elif kind < 17:
            app.update(placement="patch", deployment=f"app-{i}", service=f"app-{i}",
                       takeOver=["service.targetPort"])
        else:
            app.update(placement="service", upstreamService=f"app-{i}-upstream")
        apps.append(app)
    routes = [{"app": f"app-{i}", "host": f"app-{i}.example.com", "namespace": f"team-{i % 10}"}
              for i in range(0, n, 20)]
    stack = {"sigsci:site": "bench", **KEYS, "sigsci:apps": apps,
             "sigsci:ingress": {"agentLifetime": "nativeSidecar", "routes": routes}}
    if config == "gateway":
        stack["sigsci:gateway"] = gateway_config(n)
    return stack


def gateway_config(n: int) -> dict:
    """An HTTPRoute to every app (in its team's namespace, so a ReferenceGrant each), and one to a Service outside
    `sigsci:apps` (`service:`, a static site of the same team) for every fifth app; HTTP and HTTPS listeners."""
    routes = [{"app": f"app-{i}", "host": f"app-{i}.gateway.example.com", "namespace": f"team-{i % 10}"}
              for i in range(n)]
    routes += [{"name": f"static-{i}", "service": {"name": f"static-{i}", "port": 8080}, "namespace": f"team-{i % 10}",
                "host": f"app-{i}.gateway.example.com", "path": "/static"} for i in range(0, n, 5)]
    return {"listeners": {"tlsSecrets": ["bench-tls"]}, "routes": routes}


# -- inside a fresh process ------------------------------------------------------------------------------------

def _mocks():
    import hashlib

    import pulumi

    class Mocks(pulumi.runtime.Mocks):
        def __init__(self):
            self.registered = []

        def new_resource(self, args):
            self.registered.append((args.typ, args.name, args.inputs, args.resource_id or None, bool(args.custom)))
            state = dict(args.inputs)
            if args.typ == "random:index/randomId:RandomId":
                state["hex"] = hashlib.sha256(json.dumps(args.inputs.get("keepers"), sort_keys=True,
                                                         default=str).encode()).hexdigest()[:16]
            return args.resource_id or f"{args.name}-id", state

        def call(self, args):
            return {}

    return Mocks()


def _run(body, config: dict) -> tuple[float, list]:
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks

    mocks = _mocks()
    pulumi.runtime.set_mocks(mocks, project="sigsci", stack="bench", preview=True)
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()},
                                  list(KEYS))
    start = time.perf_counter()
    pulumi_mocks.test(body)()
    return time.perf_counter() - start, mocks.registered


def _peak_rss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _text(value) -> str:
    """A value JSON has no form for, as text: a value not known at preview (the result of a live check) by what
    it is, not by where it sat in memory, so that two runs compare equal."""
    return "<unknown>" if type(value).__name__ == "Unknown" else str(value)


def _measured(seconds: float, registered: list, capture: str | None) -> dict:
    """The figures of one run (its peak memory before writing `capture`, what it registered)."""
    figures = {"seconds": seconds, "rss_kib": _peak_rss_kib(), "resources": len(registered)}
    if capture:
        Path(capture).write_text(json.dumps([list(r) for r in registered], default=_text))
    return figures


def measure_program(n: int, config: str, capture: str | None) -> dict:
    from sigsci_waf.program import main

    return _measured(*_run(main, bench_config(n, config)), capture)


def _unwrap(value):
    import pulumi

    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return pulumi.Output.secret(_unwrap(value.get("value")))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _flat_classes(types: set[str]) -> tuple[dict, list[str]]:
    """Each resource type's class, found by its type token in the registry each provider's SDK (`pulumi_<package>`)
    fills as it loads, so the flat program follows whatever types the program declares; and the modules they
    come from. A Kubernetes type none of them has (Gateway API, Envoy Gateway) is a custom resource, `None`."""
    import importlib

    from pulumi.runtime.rpc import get_resource_module

    classes, modules = {}, set()
    for typ in types:
        package, module, _ = typ.split(":")
        importlib.import_module(f"pulumi_{package}")
        found = get_resource_module(package, module, "")
        if found is None and package != "kubernetes":
            raise SystemExit(f"bench: no class for {typ}")
        fqn = found.mod_info["fqn"] if found else "pulumi_kubernetes.apiextensions"
        modules.add(fqn)
        classes[typ] = found and getattr(importlib.import_module(fqn), found.mod_info["classes"][typ])
    return classes, sorted(modules)


def measure_flat(capture: str, out: str | None = None, tuned: bool = False) -> dict:
    """The captured resources (the program's own, not its components), declared flat: one pulumi_kubernetes call
    each, pods after their Secret, and the same reads; what it registered written to `out`. `tuned`: with the
    garbage collector set as the stack program sets it, for a like-for-like figure."""
    import gc

    if tuned:
        gc.set_threshold(10_000, 10, 10)

    import pulumi
    from pulumi_kubernetes.apiextensions import CustomResource
    from pydantic.alias_generators import to_snake

    # The engine is told of a read without `custom` (Pulumi's mocks leave it unset): what was read has an id.
    captured = [r[:4] for r in json.loads(Path(capture).read_text()) if r[4] or r[3]]
    classes, modules = _flat_classes({typ for typ, *_ in captured})

    def body():
        secrets = {}
        for typ, name, inputs, read in captured:
            if read:  # a live object the program reads back (a patched Service and Deployment), read the same way
                if classes[typ] is None:  # a custom resource, with its metadata and spec, as the program reads it
                    pulumi.CustomResource(typ, name, {"metadata": None, "spec": None},
                                          opts=pulumi.ResourceOptions(id=read))
                else:
                    classes[typ].get(name, read)
                continue
            metadata = inputs.get("metadata")
            namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
            depends = [secrets[namespace]] if namespace in secrets and typ != "kubernetes:core/v1:Secret" else []
            opts = pulumi.ResourceOptions(depends_on=depends)
            if classes[typ] is None:  # a custom resource: its fields as they are
                fields = {k: _unwrap(v) for k, v in inputs.items() if k not in ("apiVersion", "kind")}
                resource = CustomResource(name, api_version=inputs["apiVersion"], kind=inputs["kind"], opts=opts,
                                          **fields)
            else:
                args = {to_snake(k): _unwrap(v) for k, v in inputs.items() if k not in ("apiVersion", "kind")}
                resource = classes[typ](name, **args, opts=opts)
            if typ == "kubernetes:core/v1:Secret":
                secrets[namespace or name.rsplit(".", 1)[-1]] = resource

    return {**_measured(*_run(body, {}), out), "modules": modules}


def measure_import(which: str, *modules: str) -> dict:
    """The program's modules, or the flat program's `modules`, imported in a fresh process."""
    import importlib

    start = time.perf_counter()
    for module in (modules if which == "flat" else ("sigsci_waf.program",)):
        importlib.import_module(module)
    return {"seconds": time.perf_counter() - start}


# -- the driver -----------------------------------------------------------------------------------------------

def _fresh(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "components")}
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _by_name(capture: str, resources_only: bool = False) -> dict:
    """What a run declared, by type and name: inputs, and the id of what it read; `resources_only`: without
    the component resources (what a flat program declares: its resources and its reads)."""
    return {(typ, name): (inputs, read) for typ, name, inputs, read, custom in json.loads(Path(capture).read_text())
            if custom or read or not resources_only}


def _differences(program: dict, flat: dict) -> list[str]:
    """Up to five resources the flat program declares otherwise than the program, named."""
    named = [f"{typ} {name}: " + ("missing from the flat program" if (typ, name) not in flat else
                                  "not in the program" if (typ, name) not in program else "other inputs")
             for typ, name in sorted(program.keys() | flat.keys()) if program.get((typ, name)) != flat.get((typ, name))]
    return named[:5]


def run(sizes: list[int], reps: int, configs: list[str]) -> dict:
    results: dict = {"runs": {config: {} for config in configs}, "import": {}}
    modules: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for config in configs:
                capture, again, declared = (str(Path(tmp) / f"{what}-{config}-{n}.json")
                                            for what in ("capture", "again", "flat"))
                program = [_fresh("_program", str(n), config, again),
                           *(_fresh("_program", str(n), config, capture) for _ in range(reps))][1:]
                flat = [_fresh("_flat", capture, declared) for _ in range(reps)]
                tuned = [_fresh("_flat", capture, declared, "tuned") for _ in range(reps)]
                modules = modules or flat[0]["modules"]
                differences = _differences(_by_name(capture, resources_only=True),
                                           _by_name(declared, resources_only=True))
                if differences:  # the figures would compare unlike things
                    raise SystemExit(f"bench: at {n} apps ({CONFIGS[config]}) the flat program does not declare "
                                     "what the program declares:\n" + "\n".join(differences))
                results["runs"][config][n] = {
                    "program_s": statistics.median(r["seconds"] for r in program),
                    "flat_s": statistics.median(r["seconds"] for r in flat),
                    "tuned_s": statistics.median(r["seconds"] for r in tuned),
                    "program_rss_mib": statistics.median(r["rss_kib"] for r in program) / 1024,
                    "flat_rss_mib": statistics.median(r["rss_kib"] for r in flat) / 1024,
                    "resources": program[0]["resources"], "flat_resources": flat[0]["resources"],
                    "reads": sum(1 for _, read in _by_name(declared).values() if read),
                    # Two runs in fresh processes declare the same resources with the same inputs (the SDK
                    # registers them asynchronously, so only their registration order may differ).
                    "deterministic": _by_name(capture) == _by_name(again),
                }
    results["import"]["flat"] = statistics.median(_fresh("_import", "flat", *modules)["seconds"] for _ in range(reps))
    results["import"]["program"] = statistics.median(_fresh("_import", "program")["seconds"] for _ in range(reps))
    return results


def _label(config: str, n: int) -> str:
    routes = bench_config(n, config).get("sigsci:gateway", {}).get("routes", [])
    return CONFIGS[config] + (f" ({len(routes)} HTTPRoutes)" if routes else "")


def memory_goal(runs: dict) -> str:
    """The goal line: the peak RSS ratio at the goal's size and config (as the table shows it), and whether it
    is met."""
    goal = (f"- Memory goal: the program's peak RSS at most {RSS_GOAL:.2f}x the flat program's at {GOAL_APPS} apps "
            f"({CONFIGS[GOAL_CONFIG]})")
    run = runs.get(GOAL_CONFIG, {}).get(GOAL_APPS)
    if run is None:
        return f"{goal}: not measured in this run"
    ratio = round(run["program_rss_mib"] / run["flat_rss_mib"], 2)
    return (f"{goal}: {run['program_rss_mib']:.0f} / {run['flat_rss_mib']:.0f} MiB, {ratio:.2f}x, "
            + ("met" if ratio <= RSS_GOAL else "NOT met"))


def report(results: dict, reps: int) -> str:
    runs = results["runs"]
    sizes = sorted({n for by_size in runs.values() for n in by_size})
    lines = ["# Benchmarks", "",
             f"Measured {date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
             f"`make bench` ({reps} fresh processes per figure, medians; the program under Pulumi's mocks against "
             "the same resources declared flat with pulumi_kubernetes, see scripts/bench.py).", "",
             "| apps | config | resources | program (s) | flat (s) | ratio | flat, same GC setting (s) | "
             "ratio to it | peak RSS program / flat (MiB) | RSS ratio |",
             "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        for config, by_size in runs.items():
            r = by_size[n]
            lines.append(f"| {n} | {_label(config, n)} | {r['resources']} | {r['program_s']:.3f} | {r['flat_s']:.3f} | "
                         f"{r['program_s'] / r['flat_s']:.2f}x | {r['tuned_s']:.3f} | "
                         f"{r['program_s'] / r['tuned_s']:.2f}x | {r['program_rss_mib']:.0f} / "
                         f"{r['flat_rss_mib']:.0f} | {r['program_rss_mib'] / r['flat_rss_mib']:.2f}x |")
    lines.append("")
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        for config, by_size in runs.items():
            exponents = {key: math.log(by_size[b][key] / by_size[a][key]) / math.log(b / a)
                         for key in ("program_s", "flat_s", "tuned_s")}
            lines.append(f"- Growth {a} -> {b} apps ({CONFIGS[config]}): exponent {exponents['program_s']:.2f} for "
                         f"the program, {exponents['flat_s']:.2f} flat, {exponents['tuned_s']:.2f} flat with the "
                         "same GC setting")
    counts = "; ".join(f"{by_size[sizes[-1]]['flat_resources']} with {CONFIGS[config]} "
                       f"({by_size[sizes[-1]]['reads']} reads among them)" for config, by_size in runs.items())
    lines.append("- Flat and program declare the same resources (types, names, inputs, secrets) at every size and "
                 f"config, and read the same live objects, checked on each run: at {sizes[-1]} apps, {counts} (the "
                 "resources column adds the program's component resources)")
    lines.append(memory_goal(runs))
    same = all(r["deterministic"] for by_size in runs.values() for r in by_size.values())
    lines.append(f"- Same config twice (fresh processes): {'identical' if same else 'DIFFERENT'} resources and inputs")
    overhead = (results["import"]["program"] - results["import"]["flat"]) * 1000
    lines.append(f"- Import: the program's modules {results['import']['program'] * 1000:.0f} ms, the "
                 f"pulumi_kubernetes modules it uses {results['import']['flat'] * 1000:.0f} ms: "
                 f"{overhead:+.0f} ms over")
    lines += ["", "How to read it:",
              "- *flat* is what a hand-written program declares: the same resources, types, names, inputs and "
              "secrets, with pulumi_kubernetes directly, each pod after the Secret of its namespace, and the same "
              "reads of live objects (each patched app's Service and Deployment, the ingress controller's Service); "
              "the Gateway API and Envoy Gateway objects with pulumi_kubernetes's CustomResource, as the program "
              "declares them. The bench stops if the flat program registers or reads anything other than the "
              "program does.",
              "- *apps, ingress, gateway* is the same config with a `sigsci:gateway`: an HTTPRoute to every app and, "
              "for every fifth app, one to a Service outside `sigsci:apps`, each backend in its team's namespace (so "
              "a ReferenceGrant each); with the Gateway, its class, the two Envoy Gateway policies, the agents and "
              "Envoy Gateway's Helm release.",
              "- The stack program raises CPython's young-generation GC threshold (program.main): without it, "
              "collections rescanning the growing heap take a third of a large run. *flat, same GC setting* is "
              "the flat program given that same setting: the like-for-like cost of the components (one component "
              "resource per app, its outputs and the preview checks); the plain *flat* column is what the same "
              "objects cost written by hand as people write them.",
              "- *peak RSS* is the largest resident memory of the process (ru_maxrss), reached while the engine takes "
              "the registrations, not while the program declares. Most of the program's extra over flat is its "
              "component resources: one per app, the parent every object of the app waits for before it is "
              "registered, so that all of them wait at once. The objects the resolve stage builds are the "
              "resources' inputs as they are, not copies, and an app's component keeps none of them once they are "
              "declared.",
              "- Workloads depend on the Secret of their own namespace and on the namespace only (not on every "
              "Secret of the stack), which keeps dependency edges linear in the number of apps.",
              "- The SDK registers resources asynchronously, so the order in which the engine receives them varies "
              "from run to run; what the program declares, and every input, is the same (checked above)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        sys.path.insert(0, str(ROOT / "components"))
        kind, args = sys.argv[1], sys.argv[2:]
        result = {"_program": lambda: measure_program(int(args[0]), args[1], args[2] if len(args) > 2 else None),
                  "_flat": lambda: measure_flat(args[0], args[1], tuned=args[2:] == ["tuned"]),
                  "_import": lambda: measure_import(*args)}[kind]()
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500", help="app counts, comma-separated (default 100,500)")
    parser.add_argument("--reps", type=int, default=5, help="fresh processes per figure (default 5)")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"configs to measure at each size, comma-separated, of {', '.join(CONFIGS)} "
                             "(default all)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="where to write the report")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    configs = options.configs.split(",")
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"--configs: unknown {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
    results = run(sizes, options.reps, configs)
    out = Path(options.out)
    text = with_notes(report(results, options.reps), out.read_text() if out.is_file() else "")
    out.write_text(text)
    print(text)


# The section of BENCHMARKS.md written by hand (measurements that explain the figures), kept by every run.
NOTES_HEADING = "## Measured by hand (kept by make bench)"


def with_notes(report_text: str, previous: str) -> str:
    """The new report, followed by the hand-written section of the previous one, if it had one."""
    start = previous.find(NOTES_HEADING)
    return report_text if start < 0 else report_text.rstrip("\n") + "\n\n" + previous[start:]


if __name__ == "__main__":
    main()
