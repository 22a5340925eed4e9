"""Run the registered benchmarks, print one table and write it to docs/benchmarks.md."""

import argparse
import importlib
import shlex
import sys
import time

from bench import MODULES
from bench.common import (
    BENCHMARKS,
    SCALES,
    Harness,
    environment,
    missed_targets,
    select,
    setup_django,
    text_table,
    write_report,
)


def main(argv=None) -> int:
    modules = [importlib.import_module(module) for module in MODULES]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        help="benchmarks to run, or a prefix such as 'points' (default: all): " + ", ".join(BENCHMARKS),
    )
    parser.add_argument(
        "--scale", choices=SCALES, default="full", help="data size and run length (default: full)"
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="run every benchmark through a PgBouncer in transaction pooling (Debian's: make pgbouncer); "
        "the table goes to docs/benchmarks-pgbouncer.md",
    )
    args = parser.parse_args(argv)
    chosen = select(args.names)
    scale = SCALES[args.scale]

    setup_django()
    # Import the app code under test now, in this process: forked workers then
    # share it, and an edit to the files during the run cannot mix versions.
    for module in modules:
        for name in getattr(module, "APP_MODULES", ()):
            importlib.import_module(name)
    figures, started = [], time.perf_counter()
    with Harness(scale, pgbouncer=args.pgbouncer) as harness:
        env = environment()
        print(f"PostgreSQL {env['postgresql']}; {env['machine']}", flush=True)
        for bench in chosen:
            print(f"{bench.name}: {bench.doc}", flush=True)
            t0 = time.perf_counter()
            figures += bench.run(harness)
            print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    print()
    print(text_table(figures))
    for line in missed_targets(figures):
        print(f"- {line}")
    command = "python -m bench " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    report = write_report(
        figures, harness.notes, scale=scale, command=command.strip(), env=env, partial=bool(args.names)
    )
    print(
        f"\n{len(figures)} figures, {sum(f.met for f in figures)} targets met, "
        f"{time.perf_counter() - started:.0f} s; written to {report.relative_to(report.parent.parent)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
