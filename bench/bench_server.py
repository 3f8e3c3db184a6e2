"""``kubetwin serve`` over loopback: ``kubectl get pods -A`` with 10,000 pods, and mutating-request
latency at a fixed rate from concurrent clients.

    python bench/bench_server.py [--pods 10000] [--rate 200] [--seconds 20] [--clients 8] [--quick]

The server runs as its own process (``kubetwin serve --speed 0`` on 127.0.0.1, any free port), as a
user runs it; the cluster is one NodeGroup of m5.4xlarge nodes (234 pods each) and Deployments
adding up to ``--pods`` replicas, brought up by advancing the virtual clock 2 minutes.

1. ``kubectl get pods -A`` (Table, what a person sees) and ``-o json`` (no Table: full objects),
   each timed over 3 runs with a warm discovery cache; the goal is <= 1 s.
2. Mutating latency: ``--clients`` threads, each with its own keep-alive connection, share an
   open-loop schedule of ``--rate`` requests/s for ``--seconds`` (bounded: rate x seconds requests,
   plus 10 s of slack for stragglers): a ConfigMap create, a strategic merge patch of it, or its
   delete, in turn. Latency counts from the scheduled send time (so queueing behind a slow reply
   counts, no coordinated omission). The goal is p99 <= 50 ms.

Measured on the 2-core dev machine (Python 3.11, other sessions running, so +-20 %); kubectl rows
are best of 3, "c0" is ``--chunk-size=0`` (one request instead of pages of 500):

    pods     bring-up   get -A Table (c0)    get -A -o json (c0)   server alone Table/json   mutating p50/p90/p99
    1,000      1.3 s     0.14 s (0.15 s)       0.51 s (0.51 s)         0.02 / 0.01 s          0.8 / 1.1 / 4.5 ms
    4,000      7.7 s     0.38 s (0.38 s)       2.00 s (1.98 s)         0.07 / 0.06 s          0.7 / 1.0 / 3.0 ms
    10,000    36.8 s     2.53 s (0.88 s)       5.40 s (5.45 s)         0.30 / 0.29 s          1.0 / 1.7 / 5.2 ms

(before the store's key index, the ReplicaSet controller's per-pod facts and serve's GC pacing:
bring-up 2.7 / 36.1 / 240.1 s, Table 0.13 / 0.75 / 3.15 s, json 0.52 / 3.05 / 15.2 s, server alone
Table 0.64 s and p99 400 ms at 10,000 pods.)

- Table at 10,000 pods: the server answers each page of 500 in ~10 ms (a page starts at the continue
  key in the store's sorted key index), but kubectl's own client-side rate limiter (5 requests/s
  after a burst of 10; ``-v=6`` logs "Waited for 180ms due to client-side throttling") spaces out
  the 20 pages plus discovery: ~2 s of the 2.5 s is kubectl waiting, as it would against any
  apiserver. In one request (c0) the whole listing is under 1 s.
- ``-o json``: the server sends 23.5 MB in 0.3 s (orjson straight from the stored objects); the
  rest is kubectl decoding and printing it (its CPU time matches the wall time).
- Mutating p99: full cyclic-GC passes over the whole heap (0.4-1.2 s at 10,000 pods) are gone:
  serve freezes what survives each full collection and runs them more often (sim/gcpolicy.py).
- Bring-up is still above linear at 10,000 pods: the ReplicaSet controller syncs once per pod
  status change and each sync visits the set's pods (now a cached-facts lookup each, as upstream
  counts status from a listing).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def manifest(pods: int) -> str:
    per_node = 234
    nodes = max(3, -(-pods // (per_node - 10)))
    deployments = 20
    docs = [
        f"""apiVersion: kubetwin.io/v1alpha1
kind: NodeGroup
metadata:
  name: bench
spec:
  instanceType: m5.4xlarge
  minSize: {nodes}
  maxSize: {nodes}
  capacityType: on-demand
  zones: [us-east-1a, us-east-1b, us-east-1c]
"""
    ]
    left = pods
    for d in range(deployments):
        n = left // (deployments - d)
        left -= n
        docs.append(
            f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{d:02d}
  namespace: default
spec:
  replicas: {n}
  selector:
    matchLabels: {{app: app-{d:02d}}}
  template:
    metadata:
      labels: {{app: app-{d:02d}}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources:
          requests: {{cpu: 10m, memory: 16Mi}}
"""
        )
    return "---\n".join(docs)


class Serve:
    def __init__(self, tmp: Path, path: Path) -> None:
        self.kubeconfig = tmp / "kubeconfig"
        self.home = tmp / "home"
        self.home.mkdir()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubetwin.cli.main", "serve", str(path), "--port", "0", "--speed", "0",
             "--kubeconfig", str(self.kubeconfig)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if " at http://" not in line:
            self.proc.kill()
            raise SystemExit(f"serve did not start: {line!r}")
        host, port = line.split(" at http://", 1)[1].split()[0].rsplit(":", 1)
        self.addr = (host, int(port))

    def request(self, method: str, path: str, body: object = None, ct: str = "application/json") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(*self.addr, timeout=600)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": ct} if data else {})
        resp = conn.getresponse()
        out = resp.status, resp.read()
        conn.close()
        return out

    def kubectl(self, *args: str) -> tuple[float, str]:
        env = dict(os.environ, HOME=str(self.home), KUBECONFIG=str(self.kubeconfig))
        t = time.perf_counter()
        p = subprocess.run(["kubectl", "--cache-dir", str(self.home / "cache"), *args], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        dt = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed: {p.stderr}")
        return dt, p.stdout

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def bench_get(s: Serve, pods: int) -> None:
    t = time.perf_counter()
    status, body = s.request("POST", "/apis/kubetwin.io/v1alpha1/clock/advance", {"duration": "2m"})
    assert status == 200, body
    print(f"bring-up (advance 2m virtual): {time.perf_counter() - t:.1f} s wall")
    s.kubectl("get", "ns")  # warm the discovery cache (as a user's second command would be)
    for label, args in (("Table", ()), ("-o json", ("-o", "json")), ("Table, --chunk-size=0", ("--chunk-size=0",)),
                        ("-o json, --chunk-size=0", ("-o", "json", "--chunk-size=0"))):  # fmt: skip
        times = []
        out = ""
        for _ in range(3):
            dt, out = s.kubectl("get", "pods", "-A", *args)
            times.append(dt)
        if "json" in args:
            n = len(json.loads(out)["items"])
        else:
            rows = out.splitlines()[1:]
            n = len(rows)
            running = sum(" Running " in r for r in rows)
            if not args:
                print(f"  pods listed: {n} ({running} Running)")
        assert n >= pods, f"only {n} pods"
        print(f"kubectl get pods -A {label:23s} best {min(times):.2f} s, median {sorted(times)[1]:.2f} s "
              f"(goal <= 1 s)")  # fmt: skip
    # the server's share, without kubectl's own decoding/printing
    for label, accept in (("Table", "application/json;as=Table;v=v1;g=meta.k8s.io"), ("json", "application/json")):
        conn = http.client.HTTPConnection(*s.addr, timeout=600)
        t = time.perf_counter()
        conn.request("GET", "/api/v1/pods", headers={"Accept": accept})
        resp = conn.getresponse()
        size = len(resp.read())
        conn.close()
        print(f"  server alone, GET /api/v1/pods ({label}): {time.perf_counter() - t:.2f} s, {size / 1e6:.1f} MB")


def bench_latency(s: Serve, rate: float, seconds: float, clients: int) -> None:
    total = int(rate * seconds)
    t0 = time.perf_counter() + 0.5
    schedule = [t0 + i / rate for i in range(total)]
    lat: list[float] = []
    bad: list[int] = []
    lock = threading.Lock()
    nxt = [0]
    deadline = t0 + seconds + 10.0

    def worker(w: int) -> None:
        conn = http.client.HTTPConnection(*s.addr, timeout=30)
        mine: list[float] = []
        errs: list[int] = []
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= total:
                break
            at = schedule[i]
            now = time.perf_counter()
            if now > deadline:
                break
            if at > now:
                time.sleep(at - now)
            name = f"lat-{i // 3:06d}"
            step = i % 3
            if step == 0:
                method, path, ct = "POST", "/api/v1/namespaces/default/configmaps", "application/json"
                body: object = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": "0"}}
            elif step == 1:
                method, path, ct = "PATCH", f"/api/v1/namespaces/default/configmaps/{name}", \
                    "application/strategic-merge-patch+json"  # fmt: skip
                body = {"data": {"v": "1"}}
            else:
                method, path, ct = "DELETE", f"/api/v1/namespaces/default/configmaps/{name}", "application/json"
                body = None
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": ct} if data else {})
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - at)
            if resp.status >= 300 and resp.status != 404:  # 404: a patch/delete overtook its create
                errs.append(resp.status)
        conn.close()
        with lock:
            lat.extend(mine)
            bad.extend(errs)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    print(f"mutating requests: {len(lat)} of {total} in {elapsed:.1f} s ({len(lat) / elapsed:.0f}/s achieved, "
          f"{rate:.0f}/s offered, {clients} clients, create/SMP patch/delete of ConfigMaps); errors: {len(bad)}")  # fmt: skip
    print(f"  latency p50 {pct(0.50):.1f} ms, p90 {pct(0.90):.1f} ms, p99 {pct(0.99):.1f} ms, "
          f"max {lat[-1] * 1000:.1f} ms (goal p99 <= 50 ms)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="1,000 pods and 5 s of load")
    a = ap.parse_args()
    if a.quick:
        a.pods, a.seconds = 1_000, 5.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = tmp / "cluster.yaml"
        path.write_text(manifest(a.pods))
        t = time.perf_counter()
        s = Serve(tmp, path)
        print(f"serve started in {time.perf_counter() - t:.1f} s (127.0.0.1:{s.addr[1]})")
        try:
            bench_get(s, a.pods)
            bench_latency(s, a.rate, a.seconds, a.clients)
        finally:
            s.stop()


if __name__ == "__main__":
    main()
