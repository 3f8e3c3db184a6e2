"""MetricsPipeline.container_samples: the per-container usage of many (pod uid, container name)
keys as arrays, what container_usage answers for each key, through a join cache the caller keeps
across pod restarts, scale ups and downs."""

from __future__ import annotations

from .conftest import NS, Env, KeptRows, fresh_rows


def test_container_samples_are_the_per_pod_answers_as_arrays(env: Env) -> None:
    env.deployment(replicas=3)
    env.profile(traffic={"ramp": {"from": 100, "to": 900, "over": "10m"}})
    # two containers, the first OOM-killed and restarted again and again (its engine record changes)
    env.oom_deployment()
    env.profile("oom", per_pod={"baseline": {"cpu": "30m", "memory": "100Mi"}, "memoryLeakPerHour": "1200Mi"})
    kept = KeptRows()
    served = unserved = 0
    for t in [14, 29, *range(31, 900, 7)]:
        if t in (178, 409):
            dep = env.client.get("deployments.apps", "web", NS)
            dep["spec"]["replicas"] = 6 if t == 178 else 2
            env.client.update(dep)
        env.run_to(t)
        pods = env.client.list("pods", NS)
        keys: list[tuple[str | None, str | None]]
        keys = [(p["metadata"]["uid"], name) for p in pods for name in ("app", "a", "b")]
        keys += [(None, None), ("no-such-uid", "app")]
        rows = kept.sync(keys)
        got = env.pipeline.container_samples(kept.keys)
        if got is None:
            assert t < 30  # before two scrapes
            assert env.pipeline.container_samples(fresh_rows(keys)) is None
            continue
        fresh = env.pipeline.container_samples(fresh_rows(keys))  # joined from scratch: the same
        assert fresh is not None
        got = got[0][rows], got[1][rows], got[2][rows]
        assert [a.tolist() for a in got] == [a.tolist() for a in fresh], t
        want = []
        for p in pods:
            usage = env.pipeline.container_usage(p) or {}
            want += [(True, *usage[name]) if name in usage else (False, 0, 0) for name in ("app", "a", "b")]
        want += [(False, 0, 0)] * 2
        has, cpu, mem = got
        assert list(zip(has.tolist(), cpu.tolist(), mem.tolist(), strict=True)) == want, t
        served += sum(w[0] for w in want)
        unserved += sum(not w[0] for w in want)
    assert served and unserved
