"""Optimistic concurrency under contention over real HTTP (k8s.io/apiserver's GuaranteedUpdate: a
PUT carrying a stale metadata.resourceVersion is a 409 Conflict, never a lost update).

20 clients, each with its own keep-alive connection and thread, make 500 read-modify-write
increments of one ConfigMap counter: PUT with the resourceVersion last read; on 200 the reply is
the next base, on 409 the client re-reads. Every acknowledged write must be there (the counter
equals the number of 200s, and the values written are exactly 1..N, each once), and every
rejected write must be a 409 Conflict Status with upstream's message.
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest

CLIENTS = 20
UPDATES = 500
PATH = "/api/v1/namespaces/default/configmaps/counter"
CONFLICT = (
    'Operation cannot be fulfilled on configmaps "counter": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.written: list[int] = []  # counter values acknowledged with a 200
        self.conflicts = 0
        self.other: list[tuple[int, Any]] = []

    def request(self, method: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, PATH, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read())

    def run(self, start: threading.Barrier) -> None:
        start.wait()
        status, obj = self.request("GET")
        assert status == 200
        for _ in range(UPDATES):
            value = int(obj["data"]["n"]) + 1
            obj["data"]["n"] = str(value)
            status, reply = self.request("PUT", obj)
            if status == 200:
                self.written.append(value)
                obj = reply
                continue
            if status == 409 and reply.get("reason") == "Conflict" and reply.get("message") == CONFLICT:
                self.conflicts += 1
            else:
                self.other.append((status, reply))
            status, obj = self.request("GET")
            assert status == 200
        self.conn.close()


@pytest.mark.slow
def test_conflicting_updates_lose_nothing(served_cluster: Any) -> None:
    s = served_cluster
    r = s.api("POST", "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "counter"}, "data": {"n": "0"},
    })  # fmt: skip
    assert r.status == 201
    clients = [Client(*s.host_port) for _ in range(CLIENTS)]
    start = threading.Barrier(CLIENTS)
    errors: list[BaseException] = []

    def body(c: Client) -> None:
        try:
            c.run(start)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[0]
    assert [c.other for c in clients] == [[] for _ in clients]  # nothing but 200s and 409 Conflicts
    acked = [v for c in clients for v in c.written]
    conflicts = sum(c.conflicts for c in clients)
    assert len(acked) + conflicts == CLIENTS * UPDATES
    final = s.api("GET", PATH).body
    assert int(final["data"]["n"]) == len(acked)  # no lost update
    assert sorted(acked) == list(range(1, len(acked) + 1))  # each value acknowledged exactly once
    assert conflicts > 0 and len(acked) > 0  # it did contend
