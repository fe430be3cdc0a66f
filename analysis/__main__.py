"""``python -m analysis <command>``: check histories, plot them, write the report.

Each command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``
(the exit status); only the chosen one is imported, so ``check`` never pays for matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "check": ("analysis.check_cli", "find anomalies in run folders and prove each one"),
    "plot": ("analysis.plot_cli", "plot latency, throughput, anomalies and timelines"),
    "report": ("analysis.report_cli", "write report.html, summary.md and summary.json"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sub)
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
