"""DESIGN.md's layering, enforced: lower layers never import higher ones, and the peer packages
(scheduler, kubelet, controllers, cloud, network, security) never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kubetwin"
BASE = ["sim", "api", "store", "client"]
PEERS = ["scheduler", "kubelet", "controllers", "cloud", "network", "security"]
TOP = ["scenario", "server", "cli"]
# One layer above the peers: the cluster autoscaler simulates placement with the scheduler's
# framework and builds template nodes with the cloud package (as upstream vendors kube-scheduler).
# The metrics pipeline reads the kubelet usage engine's arrays (DESIGN principle 8), as
# metrics-server scrapes the kubelets.
ABOVE_PEERS = ["autoscaler", "metrics"]

ALLOWED: dict[str, set[str]] = {
    "sim": {"sim"},
    "api": {"sim", "api"},
    "store": {"sim", "api", "store"},
    "client": {"sim", "api", "store", "client"},
    **{p: {*BASE, p} for p in PEERS},
    "autoscaler": {*BASE, "scheduler", "cloud", "autoscaler"},
    "metrics": {*BASE, "kubelet", "metrics"},
    "scenario": {*BASE, *PEERS, *ABOVE_PEERS, "scenario"},
    "server": {*BASE, *PEERS, *ABOVE_PEERS, "scenario", "server"},
    "cli": {*BASE, *PEERS, *ABOVE_PEERS, *TOP},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, mod) for line, mod in found if mod == "kubetwin" or mod.startswith("kubetwin.")]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _package_files() -> list[tuple[str, Path]]:
    out = []
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC)
        if len(rel.parts) > 1:
            out.append((rel.parts[0], f))
    return out


@pytest.mark.parametrize(("layer", "path"), _package_files(), ids=lambda v: str(v.relative_to(SRC)) if isinstance(v, Path) else v)
def test_imports_respect_layers(layer: str, path: Path) -> None:
    assert layer in ALLOWED, f"package {layer!r} is not in the layering table; add it to DESIGN.md and this test"
    bad = [
        f"{path.relative_to(SRC)}:{line} imports {mod}"
        for line, mod in _imports(path)
        if _layer(mod) is not None and _layer(mod) not in ALLOWED[layer]
    ]
    assert not bad, "layering violation: " + "; ".join(bad)


def test_every_package_is_known() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)


FORBIDDEN = ("time.time(", "time.sleep(", "datetime.now(", "datetime.utcnow(", "import random", "from random ")


@pytest.mark.parametrize(("layer", "path"), _package_files(), ids=lambda v: str(v.relative_to(SRC)) if isinstance(v, Path) else v)
def test_one_clock_one_rng(layer: str, path: Path) -> None:
    """DESIGN.md principle 2: wall time and global randomness only inside sim/."""
    if layer == "sim":
        return
    text = path.read_text(encoding="utf-8")
    bad = [pat for pat in FORBIDDEN if pat in text]
    assert not bad, f"{path.relative_to(SRC)} uses {bad}: take the injected clock / SeededRNG instead"
