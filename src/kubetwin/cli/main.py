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
    sub.add_parser("version", help="print kubetwin's version and the Kubernetes version it reproduces")
    return p


def _cmd_version() -> int:
    print(f"kubetwin {__version__} (Kubernetes {KUBERNETES_VERSION} semantics)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
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

                result = run(args.path, args.out, args.duration, args.seed, progress)
        else:
            result = run(args.path, args.out, args.duration, args.seed, None)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "version":
        return _cmd_version()
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
