"""Locust's full option set, with the harness's own, parsed for an in-process ``Environment``."""

from __future__ import annotations

import argparse


def parse_locust_args(args: list[str]) -> argparse.Namespace:
    """``args`` parsed as the ``locust`` command would, ignoring config files on this machine."""
    from locust.argument_parser import get_parser

    return get_parser(default_config_files=[]).parse_args(args)
