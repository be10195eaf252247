"""Command-line arguments shared by several ``imu`` commands (commands never import each other)."""

from __future__ import annotations


def add_filter_argument(parser) -> None:
    """``--filter NAME``: the fusion filter, with its choices and default (every command), and
    ``--causal``."""
    from imu.fusion import DEFAULT_FILTER, FILTERS

    parser.add_argument("--filter", default=None, choices=list(FILTERS), metavar="NAME",
                        help=f"fusion filter: {', '.join(FILTERS)} (default {DEFAULT_FILTER})")
    add_causal_argument(parser)


def add_causal_argument(parser) -> None:
    """``--causal``: the live view's causal filter instead of a recording's non-causal one."""
    parser.add_argument("--causal", action="store_true",
                        help="the causal filter the live view runs (reproduces what it showed) "
                             "instead of the non-causal estimate of a recording")


def add_save_intrinsics_argument(parser) -> None:
    """``--save-intrinsics``: let a session from elsewhere write the intrinsics store."""
    parser.add_argument("--save-intrinsics", action="store_true",
                        help="store the sensors' intrinsic corrections found in this session "
                             "even if it was imported or comes from elsewhere (they are then "
                             "applied to later sessions of the same sensor ids)")


def add_exercise_arguments(parser) -> None:
    """``--exercise`` and ``--side``, the same for every command that analyses a session."""
    parser.add_argument("--exercise", metavar="NAME",
                        help="with set events: analyse only this exercise's sets; without: the "
                             "whole session is one set of NAME (hinge, single_leg_hinge, ir_hinge, "
                             "single_leg_stance, hip_airplane, squat, posture) instead of the "
                             "recognised sets")
    parser.add_argument("--side", choices=("left", "right"),
                        help="stance leg for single-leg work (single-leg stance and hinge, "
                             "internal-rotation hinge, hip airplane) in sets that name none")


def add_lsl_scope_argument(parser) -> None:
    """``--lsl-scope``: who may discover the LSL streams (health data on the network)."""
    from imu.sources.lsl import DEFAULT_SCOPE, SCOPES

    parser.add_argument("--lsl-scope", choices=SCOPES, default=DEFAULT_SCOPE,
                        help="with --lsl: 'machine' (default) lets only this computer discover "
                             "and connect to the streams (sockets tied to loopback); 'link' "
                             "publishes them to the local network (anyone on it can record them)")


def add_method_argument(parser) -> None:
    """``--method protocol|auto``: how a session calibrates itself."""
    parser.add_argument("--method", choices=("protocol", "auto"), default=None,
                        help="calibration from the session itself: the docs/calibration.md "
                             "protocol, or auto (quiet standing + walking, hinges, squats or "
                             "swings); default: the protocol when the session has it, else auto")


def seed(text: str) -> int:
    """``--seed``'s type: a whole number from 0 (numpy's generators take no negative seed; one
    ended ``imu simulate`` and ``imu record --simulate`` in a ValueError traceback)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: a whole number from 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid seed {value}: a whole number from 0")
    return value
