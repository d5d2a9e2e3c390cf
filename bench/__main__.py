"""python -m bench [--quick] [NAME ...]

Runs the benchmarks (all of them, or the NAMEs given) on a throw-away embedded
PostgreSQL and prints one table: each measured value, its ratio to the baseline
measured in the same run, the issue's target for that ratio, and whether it is met.
Progress, workloads and query plans go to stderr as each benchmark runs.

--quick  fewer jobs, rows and repetitions (the shapes stay the same), for a smoke run.
"""

import argparse
import importlib
import signal
import sys
import time

from bench.harness import Bench, Row

BENCHMARKS = {
    "trigger_cost": "enqueue trigger on a 100,000-row update, on vs off",
    "queue_throughput": "claim -> commit of trivial jobs vs procrastinate, pgqueuer, pgbench",
    "wake_latency": "committed update -> claim, vs procrastinate's pickup",
    "llm_overhead": "worker.py around a 300 ms fake LLM, concurrency 1 and 4",
    "commit_cards": "guarded cards per second against 100,000 active cards",
    "gather": "study_card_gather at 10,000 and 100,000 chunks",
    "quality": "commit_cards on a reviewed corpus of model replies: false drops and bad cards caught",
    "recall": "recall@5 of study_card_gather on a labelled Korean set: stem-only vs current query",
    "live_install": "writer's worst stall while schema apply installs and upgrades (100,000 chunks)",
}


def table(rows: list[Row]) -> str:
    header = ("benchmark", "measure", "value", "ratio", "baseline", "target", "met")
    lines = [header]
    for row in rows:
        met = {True: "yes", False: "NO", None: ""}[row.met]
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append((row.benchmark, row.measure, row.value, ratio, row.baseline, row.target, met))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    out.insert(1, "-|-".join("-" * width for width in widths))
    notes = [f"  {row.benchmark} / {row.measure}: {row.note}" for row in rows if row.note]
    return "\n".join(out + (["", "notes:"] + notes if notes else []))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    # On SIGTERM, exit like on Ctrl-C: the exit handlers stop the embedded server and
    # the worker processes (daemons) instead of leaving them running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    bench = Bench(quick=args.quick)
    rows: list[Row] = []
    started = time.monotonic()
    for name in names:
        bench.say(f"\n=== {name}: {BENCHMARKS[name]}{' (quick)' if args.quick else ''}")
        began = time.monotonic()
        rows += importlib.import_module(f"bench.{name}").run(bench)
        bench.say(f"=== {name} took {time.monotonic() - began:.0f} s")
    print(table(rows))
    print(f"\n{len(names)} benchmark(s) in {time.monotonic() - started:.0f} s"
          f"{' (--quick)' if args.quick else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
