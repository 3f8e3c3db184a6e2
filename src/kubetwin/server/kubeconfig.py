"""Write and read the kubeconfig for a served twin (client-go's clientcmd v1 Config shape)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONTEXT = "kubetwin"
TOKEN = "kubetwin"


def write(path: Path, server: str, ca_pem: bytes | None = None) -> None:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": {"token": TOKEN}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    tmp.chmod(0o600)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Endpoint:
    server: str
    ca_pem: bytes | None
    token: str | None


def default_path() -> str:
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    return str(Path.home() / ".kube" / "config")


def read(path: str | None = None) -> Endpoint:
    """The current context's server, CA and token. Raises ValueError with a one-line message."""
    p = Path(path or default_path())
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ValueError(f"cannot read kubeconfig {p}: {e.strerror}") from None
    except yaml.YAMLError:
        raise ValueError(f"kubeconfig {p} is not valid YAML") from None
    ctx_name = cfg.get("current-context")
    ctx = next((c.get("context") or {} for c in cfg.get("contexts") or [] if c.get("name") == ctx_name), None)
    if ctx is None:
        raise ValueError(f"kubeconfig {p}: no current context")
    cluster = next((c.get("cluster") or {} for c in cfg.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
    user = next((u.get("user") or {} for u in cfg.get("users") or [] if u.get("name") == ctx.get("user")), {})
    server = cluster.get("server")
    if not server:
        raise ValueError(f"kubeconfig {p}: the current context has no server")
    ca = cluster.get("certificate-authority-data")
    ca_pem = base64.b64decode(ca) if ca else None
    if ca_pem is None and cluster.get("certificate-authority"):
        ca_pem = Path(cluster["certificate-authority"]).read_bytes()
    return Endpoint(str(server), ca_pem, user.get("token"))
