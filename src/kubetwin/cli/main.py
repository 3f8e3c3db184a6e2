"""``kubetwin`` — a Kubernetes digital twin on a virtual clock.

Errors are one line on stderr (``error: ...``) and exit code 1; ``--help`` explains each command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kubetwin import KUBERNETES_VERSION, __version__

EXAMPLES = """\
examples:
  kubetwin run examples/quickstart/                 # 1h of virtual time (or the Scenario's duration)
  kubetwin run my-manifests/ --duration 24h --seed 7 --out out/
  kubetwin serve examples/quickstart/ --kubeconfig ./kubetwin.kubeconfig   # a live API for kubectl
  kubetwin clock advance 30m                        # jump the served cluster's virtual time
  kubetwin version
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubetwin",
        description=(
            "A Kubernetes cluster in one process: your manifests on simulated nodes, "
            "driven by a virtual clock, so hours of cluster life replay in seconds."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="apply manifests at virtual time 0, run the clock, write state, change log and report",
        description=(
            "Load every *.yaml/*.yml/*.json under PATH (multi-document files and kind: List included), "
            "apply them in dependency order at virtual time 0, run the simulation for the scenario's "
            "duration and write state.yaml, events.jsonl and report.html to --out. Nodes come from "
            "NodeGroup objects (kubetwin.io/v1alpha1) or plain Node objects. A Scenario object "
            "(kubetwin.io/v1alpha1) sets duration and seed; the flags override it."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("path", metavar="PATH", help="a manifest file or a directory of manifests")
    run.add_argument(
        "--out", default="kubetwin-out", metavar="DIR", help="output directory (default: ./kubetwin-out/)"
    )
    run.add_argument(
        "--seed", type=int, default=None, metavar="N", help="random seed (default: the Scenario's, else 1)"
    )
    run.add_argument(
        "--duration",
        default=None,
        metavar="DURATION",
        help="virtual time to run, e.g. 90s, 30m, 2h, 1h30m (default: 1h)",
    )
    run.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    run.add_argument(
        "--cluster-autoscaler",
        action="store_true",
        help="run the cluster autoscaler with upstream's defaults (creates the ClusterAutoscaler 'default' "
        "unless the manifests have one)",
    )
    serve = sub.add_parser(
        "serve",
        help="serve a live cluster over the Kubernetes API (kubectl, client libraries, operators)",
        description=(
            "Start the twin and serve a Kubernetes v1.32 API on --address:--port until Ctrl-C. With PATH, "
            "its manifests are applied first (like `kubetwin run`); without, the cluster starts empty "
            "with one NodeGroup of 3 x m5.large. Virtual time runs at --speed times wall time "
            "(0 = paused; see `kubetwin clock`). Writes a kubeconfig that works as is."
        ),
    )
    serve.add_argument("path", metavar="PATH", nargs="?", help="a manifest file or directory to apply at start")
    serve.add_argument("--address", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=6443, help="port to listen on (default: 6443; 0 = any free port)")
    serve.add_argument(
        "--kubeconfig",
        default="kubetwin.kubeconfig",
        metavar="PATH",
        help="kubeconfig to write (default: ./kubetwin.kubeconfig)",
    )
    serve.add_argument("--speed", type=float, default=1.0, metavar="N", help="virtual seconds per wall second (default 1; 0 = paused)")
    serve.add_argument(
        "--data-dir", default=None, metavar="DIR", help="keep state in DIR/state.sqlite; restarting on DIR resumes it"
    )
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a generated self-signed CA")
    serve.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default: 1)")
    serve.add_argument(
        "--start-time",
        default="now",
        metavar="TIME",
        help="the instant virtual time starts at: 'now' (default; ages kubectl computes itself, e.g. in describe, "
        "then read right) or an RFC 3339 time such as 2026-01-01T00:00:00Z; a --data-dir keeps its own",
    )
    clock = sub.add_parser(
        "clock",
        help="show or control the virtual clock of a running `kubetwin serve`",
        description="Talks to the server named by the kubeconfig's current context.",
    )
    clock.add_argument("action", choices=["show", "advance", "pause", "resume", "speed"])
    clock.add_argument("value", nargs="?", help="advance: a duration (30s, 15m, 2h); speed: a factor")
    clock.add_argument("--kubeconfig", default=None, metavar="PATH", help="kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    sub.add_parser("version", help="print kubetwin's version and the Kubernetes version it reproduces")
    return p


def _cmd_version() -> int:
    print(f"kubetwin {__version__} (Kubernetes {KUBERNETES_VERSION} semantics)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from kubetwin.sim import gcpolicy

    installed = gcpolicy.PACER.install(throughput=True)  # rare collections over the twin's large, long-lived heap
    try:
        return _run_scenario(args)
    finally:
        if installed:
            gcpolicy.PACER.uninstall()  # leave the collector as found when main() is called in-process


def _run_scenario(args: argparse.Namespace) -> int:
    from kubetwin.scenario.run import ScenarioError, run
    from kubetwin.sim import format_duration

    show = not args.no_progress and sys.stderr.isatty()
    try:
        if show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("[bold]virtual time[/bold] {task.fields[vt]}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                transient=False,
            ) as bar:
                task = bar.add_task("run", total=1.0, vt="0s")
                last = [-1.0]

                def progress(now: float, total: float) -> None:
                    if now - last[0] >= total / 500 or now >= total:
                        last[0] = now
                        bar.update(
                            task,
                            completed=now / total,
                            total=1.0,
                            vt=f"{format_duration(now)} / {format_duration(total)}",
                        )

                result = run(args.path, args.out, args.duration, args.seed, progress, args.cluster_autoscaler)
        else:
            result = run(args.path, args.out, args.duration, args.seed, None, args.cluster_autoscaler)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    s = result.settings
    summary = result.report_data
    pods = summary["samples"]["pods_by_phase"]
    final = {k: v[-1] for k, v in pods.items() if v and v[-1]}
    print(
        f"scenario {s.name}: {format_duration(s.duration)} of virtual time in {result.wall_seconds:.1f}s "
        f"(seed {s.seed}); pods: " + (", ".join(f"{v} {k}" for k, v in final.items()) or "none")
    )
    for name in ("report", "state", "events"):
        print(f"  {result.files[name]}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from kubetwin.server.serve import ServeOptions, run

    return run(
        ServeOptions(
            path=args.path,
            address=args.address,
            port=args.port,
            kubeconfig=args.kubeconfig,
            speed=args.speed,
            data_dir=args.data_dir,
            tls=args.tls,
            seed=args.seed,
            start_time=args.start_time,
        )
    )


def _cmd_clock(args: argparse.Namespace) -> int:
    import json
    import ssl
    import urllib.error
    import urllib.request

    from kubetwin.server import kubeconfig

    try:
        ep = kubeconfig.read(args.kubeconfig)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    base = ep.server.rstrip("/") + "/apis/kubetwin.io/v1alpha1/clock"
    body: dict[str, object] | None = None
    if args.action in ("advance", "speed") and not args.value:
        print(f"error: kubetwin clock {args.action} needs a value", file=sys.stderr)
        return 1
    if args.action == "show":
        req = urllib.request.Request(base)
    else:
        if args.action == "advance":
            body = {"duration": args.value}
        elif args.action == "speed":
            body = {"speed": args.value}
        req = urllib.request.Request(
            f"{base}/{args.action}", data=json.dumps(body or {}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
    if ep.token:
        req.add_header("Authorization", f"Bearer {ep.token}")
    ctx = ssl.create_default_context(cadata=ep.ca_pem.decode()) if ep.ca_pem else None
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=300) as resp:
            clock = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("message") or str(e)
        except ValueError:
            msg = str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as e:
        print(f"error: cannot reach {ep.server}: {getattr(e, 'reason', e)}", file=sys.stderr)
        return 1
    st = clock.get("status") or {}
    state = "paused" if st.get("paused") else f"speed {st.get('speed', 0):g}x"
    print(f"virtual time {st.get('now')} ({st.get('elapsed')} since start), {state}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "version":
        return _cmd_version()
    if args.command == "serve":
        return _cmd_serve(args)
    if args.command == "clock":
        return _cmd_clock(args)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
