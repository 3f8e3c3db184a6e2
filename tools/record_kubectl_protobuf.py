#!/usr/bin/env python3
"""Record the protobuf request bodies a real kubectl sends for ``kubectl create <kind>``.

Usage: ``python tools/record_kubectl_protobuf.py [--kubectl kubectl] [-o tests/server/data/...]``

Starts ``kubetwin serve`` (paused) and, in front of it, a small recording proxy: every request
with a protobuf body is saved and answered 201 with a minimal object, everything else (discovery,
gets) is forwarded to the twin, where ``SETUP`` first creates what a command reads (the deployment
``kubectl autoscale`` targets). For each command below it keeps the body kubectl sent and the JSON
kubectl prints for the same command with ``--dry-run=client -o json`` (k8s.io/apimachinery's JSON
encoding of the same Go object), and writes both to
``tests/server/data/kubectl_create_protobuf.json``, which tests/server/test_protobuf.py checks the
decoder against. Re-run it when moving to a new kubectl release.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "server" / "data" / "kubectl_create_protobuf.json"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# kubectl create subcommands that send protobuf (kubectl run sends JSON), some with several flag sets.
COMMANDS: list[list[str]] = [
    ["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"],
    ["create", "deployment", "multi", "--image=nginx", "--image=redis:7", "--replicas=0"],
    ["create", "configmap", "cm", "--from-literal=a=b", "--from-literal=empty="],
    ["create", "secret", "generic", "s", "--from-literal=password=hunter2", "--type=Opaque"],
    ["create", "secret", "docker-registry", "reg", "--docker-server=r.io", "--docker-username=u", "--docker-password=p"],
    ["create", "service", "clusterip", "svc", "--tcp=80:8080", "--tcp=443"],
    ["create", "service", "clusterip", "headless", "--clusterip=None"],
    ["create", "service", "nodeport", "np", "--tcp=80", "--node-port=30080"],
    ["create", "service", "loadbalancer", "lb", "--tcp=443:8443"],
    ["create", "service", "externalname", "ext", "--external-name=example.com"],
    ["create", "namespace", "ns1"],
    ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--restart=Never", "--", "date"],
    ["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=10", "--scopes=NotTerminating"],
    ["create", "role", "r", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"],
    ["create", "rolebinding", "rb", "--role=r", "--user=alice", "--serviceaccount=default:sa1"],
    ["create", "clusterrole", "cr", "--verb=get", "--resource=nodes", "--non-resource-url=/healthz"],
    ["create", "clusterrole", "agg", "--aggregation-rule=team=a"],
    ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--group=devs"],
    ["create", "serviceaccount", "sa1"],
    ["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
    ["create", "poddisruptionbudget", "pdb2", "--selector=app=web", "--max-unavailable=50%"],
    ["create", "priorityclass", "high", "--value=1000", "--description=hi", "--preemption-policy=Never"],
    ["create", "priorityclass", "zero", "--value=0"],
    ["create", "ingress", "ing", "--class=nginx", "--rule=foo.com/bar=svc:80", "--rule=tls.io/*=svc2:https,tls=cert"],
    # an autoscaling/v1 HorizontalPodAutoscaler for the deployment SETUP creates
    ["autoscale", "deployment", "web", "--min=2", "--max=10", "--cpu-percent=60"],
]
# Run against the twin itself (not recorded) first: objects the commands above read.
SETUP: list[list[str]] = [
    ["create", "deployment", "web", "--image=nginx"],
]


def _dry_run_args(cmd: list[str]) -> list[str]:
    """The same command with --dry-run=client -o json (flags must precede a ``--``)."""
    return ["--dry-run=client", "-o", "json", *cmd]


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.bodies: list[bytes] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if (request.headers.get("Content-Type") or "").startswith(PROTOBUF) and request.method == "POST":
            self.bodies.append(body)
            return web.json_response({"apiVersion": "v1", "kind": "Status", "metadata": {"name": "recorded"}}, status=201)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession() as s,
            s.request(request.method, self.upstream + request.path_qs, data=body or None, headers=headers) as r,
        ):
            data = await r.read()
            ct = r.headers.get("Content-Type", "application/json")  # keep discovery's ;g=...;as=... params
            return web.Response(body=data, status=r.status, headers={"Content-Type": ct})


def _serve_proxy(proxy: Proxy) -> int:
    box: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", proxy.handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        box["port"] = runner.addresses[0][1]
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return int(box["port"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubectl", default="kubectl")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        kc = Path(tmp) / "kubeconfig"
        server = subprocess.Popen(
            [sys.executable, "-m", "kubetwin.cli.main", "serve", "--port", "0", "--speed", "0", "--kubeconfig", str(kc)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                if kc.exists() and kc.stat().st_size:
                    break
                time.sleep(0.1)
            config = yaml.safe_load(kc.read_text())
            upstream = config["clusters"][0]["cluster"]["server"]
            proxy = Proxy(upstream)
            port = _serve_proxy(proxy)
            config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
            kc2 = Path(tmp) / "proxied"
            kc2.write_text(yaml.safe_dump(config))
            for cmd in SETUP:
                direct = dict(os.environ, KUBECONFIG=str(kc), HOME=tmp)
                subprocess.run([args.kubectl, *cmd], env=direct, capture_output=True, text=True, timeout=60, check=True)
            env = dict(os.environ, KUBECONFIG=str(kc2), HOME=tmp)
            cases = []
            for cmd in COMMANDS:
                before = len(proxy.bodies)
                subprocess.run([args.kubectl, *cmd], env=env, capture_output=True, text=True, timeout=60)
                if len(proxy.bodies) != before + 1:
                    raise SystemExit(f"kubectl {' '.join(cmd)} sent {len(proxy.bodies) - before} protobuf bodies")
                dry = subprocess.run(
                    [args.kubectl, *_dry_run_args(cmd)], env=env, capture_output=True, text=True, timeout=60, check=True
                )
                cases.append(
                    {
                        "command": cmd,
                        "body": base64.b64encode(proxy.bodies[-1]).decode(),
                        "json": json.loads(dry.stdout),
                    }
                )
        finally:
            server.terminate()
            server.wait(30)
    version = subprocess.run([args.kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True)
    git = json.loads(version.stdout or "{}").get("clientVersion", {}).get("gitVersion", "unknown")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"kubectl": git, "cases": cases}, indent=1) + "\n")
    print(f"{args.output}: {len(cases)} bodies from kubectl {git}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
