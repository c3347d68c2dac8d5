"""The ``fedlogin`` command line.

Each command group lives in its own small function; they share one rule: a broken plugin or
a bad argument ends in a readable message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from fedlogin.errors import FedloginError
from fedlogin.plugins import PluginInfo, Plugins


def _plugins_list(args: argparse.Namespace, out: TextIO) -> int:
    plugins = Plugins.load()
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "PRESETS")]
    rows += [_plugin_row(info) for info in plugins.infos()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    for info in plugins.infos():
        if info.error:
            out.write(f"\n{info.name}: {info.status}: {info.error}\n")
    return 0


def _plugin_row(info: PluginInfo) -> tuple[str, str, str, str, str]:
    return (
        info.name,
        info.distribution or "-",
        info.version or "-",
        info.status,
        ", ".join(info.presets) or "-",
    )


def _presets_list(args: argparse.Namespace, out: TextIO) -> int:
    plugins = Plugins.load()
    for preset in plugins.presets():
        owner = plugins.owner_of(preset.id)
        out.write(f"{preset.id:<16} {preset.name:<24} (plugin {owner}) {preset.description}\n")
    return 0


def _presets_show(args: argparse.Namespace, out: TextIO) -> int:
    plugins = Plugins.load()
    preset = plugins.preset(args.name)
    guide = plugins.setup_guide(preset.id, args.callback_url)
    out.write(f"{preset.name} (preset {preset.id}, plugin {plugins.owner_of(preset.id)})\n")
    out.write(f"{preset.description}\n\nDefaults\n")
    out.write(f"  Domain:                {preset.domain or '(enter your provider domain)'}\n")
    if preset.domain_examples:
        out.write(f"  Domain examples:       {', '.join(preset.domain_examples)}\n")
    out.write(f"  Scopes:                {' '.join(preset.scopes)}\n")
    out.write(f"  Authentication method: {preset.auth_method}\n")
    out.write(f"  Button text:           {preset.button_text}\n")
    out.write("  Attribute mapping:\n")
    for field, claim in preset.attribute_mapping.items():
        out.write(f"    {field:<10} <- {claim}\n")
    if preset.fields:
        out.write("\nPreset fields\n")
        for f in preset.fields:
            flags = "required" if f.required else f"default {f.default!r}"
            choices = f" (one of {', '.join(f.choices)})" if f.choices else ""
            out.write(f"  {f.name} — {f.label}, {flags}{choices}\n      {f.help}\n")
    out.write("\nSetup guide\n")
    for number, step in enumerate(guide.steps, start=1):
        out.write(f"  {number}. {step}\n")
    out.write(f"\n  Domain: {guide.domain}\n  Scopes: {guide.scopes}\n")
    for note in guide.notes:
        out.write(f"  Note: {note}\n")
    if guide.field_help:
        out.write("\nField help\n")
        for field, text in guide.field_help.items():
            out.write(f"  {field}: {text}\n")
    return 0


Command = Callable[[argparse.Namespace, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedlogin", description="Federated login server.")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    plugins = groups.add_parser("plugins", help="installed provider plugins")
    plugins_sub = plugins.add_subparsers(dest="action", required=True)
    plugins_sub.add_parser("list", help="list plugins, their presets and health").set_defaults(
        handler=_plugins_list
    )

    presets = groups.add_parser("presets", help="provider presets offered by plugins")
    presets_sub = presets.add_subparsers(dest="action", required=True)
    presets_sub.add_parser("list", help="list presets").set_defaults(handler=_presets_list)
    show = presets_sub.add_parser("show", help="a preset's defaults and setup guide")
    show.add_argument("name", help="preset id, e.g. google")
    show.add_argument("--callback-url", default="", help="callback URL to put in the guide")
    show.set_defaults(handler=_presets_show)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args, out or sys.stdout)
    except FedloginError as exc:
        sys.stderr.write(f"fedlogin: {exc.message}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
