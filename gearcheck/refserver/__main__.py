"""``python -m gearcheck.refserver``: the same options as ``gearcheck serve``."""

from __future__ import annotations

import argparse
import sys

from .config import add_arguments, config_from_args
from .server import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gearcheck.refserver",
                                     description="gearcheck's reference Gearman job server")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
