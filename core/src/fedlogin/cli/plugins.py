"""``fedlogin plugins list`` and ``fedlogin presets list|show``: what the plugins offer.

A broken plugin is listed with its reason; it never stops the command.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from fedlogin.cli.common import Subparsers, write_table
from fedlogin.plugins import PluginInfo, Plugins


def _plugins_list(args: argparse.Namespace, out: TextIO) -> int:
    plugins = Plugins.load()
    header = ("PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "PRESETS")
    write_table(out, header, [_plugin_row(info) for info in plugins.infos()])
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


def register(groups: Subparsers) -> None:
    plugins = groups.add_parser("plugins", help="installed provider plugins")
    plugins_sub = plugins.add_subparsers(dest="action", required=True, metavar="ACTION")
    plugins_sub.add_parser("list", help="list plugins, their presets and health").set_defaults(
        handler=_plugins_list
    )

    presets = groups.add_parser("presets", help="provider presets offered by plugins")
    presets_sub = presets.add_subparsers(dest="action", required=True, metavar="ACTION")
    presets_sub.add_parser("list", help="list presets").set_defaults(handler=_presets_list)
    show = presets_sub.add_parser("show", help="a preset's defaults and setup guide")
    show.add_argument("name", help="preset id, e.g. google")
    show.add_argument("--callback-url", default="", help="callback URL to put in the guide")
    show.set_defaults(handler=_presets_show)
