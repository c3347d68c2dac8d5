"""The admin guide's provider setup guides are the presets' own (P19), so the two cannot drift.

After changing a built-in preset's setup guide, refresh the guide with
``uv run python -m tests.test_admin_guide``.
"""

from __future__ import annotations

import re
from pathlib import Path

from fedlogin.plugins import Plugins

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "admin-guide.md"
BUILT_IN = ("google", "azure-ad", "auth0", "okta", "pingone", "generic-oidc")
SECTION = re.compile(r"(<!-- setup-guides:start -->\n)(.*?)(<!-- setup-guides:end -->)", re.S)


def render_setup_guides(plugins: Plugins) -> str:
    parts: list[str] = []
    for preset_id in BUILT_IN:
        preset = plugins.preset(preset_id)
        guide = plugins.setup_guide(preset_id)
        lines = [f"### {preset.name} (preset `{preset_id}`)", ""]
        lines += [f"{number}. {step}" for number, step in enumerate(guide.steps, 1)]
        lines.append("")
        if guide.domain:
            lines.append(f"- Domain: `{guide.domain}`")
        lines.append(f"- Scopes: `{guide.scopes}`")
        lines += [f"- {note}" for note in guide.notes]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def current_section(text: str) -> str:
    found = SECTION.search(text)
    assert found, "docs/admin-guide.md lost its setup-guides markers"
    return found.group(2)


def test_the_admin_guide_carries_each_built_in_presets_setup_guide() -> None:
    expected = render_setup_guides(Plugins.load())
    assert current_section(GUIDE.read_text(encoding="utf-8")) == expected, (
        "docs/admin-guide.md's setup guides differ from the presets': "
        "run `uv run python -m tests.test_admin_guide`"
    )


def test_the_rendering_shows_a_presets_steps_and_notes() -> None:
    # The comparison above would pass on two empty sections; this one cannot.
    rendered = render_setup_guides(Plugins.load())
    assert "### Microsoft (preset `azure-ad`)" in rendered
    assert "5. Add your callback URL as a Redirect URI (Web platform)." in rendered
    assert "xms_edov" in rendered


if __name__ == "__main__":
    text = GUIDE.read_text(encoding="utf-8")
    section = render_setup_guides(Plugins.load())
    GUIDE.write_text(SECTION.sub(lambda m: m.group(1) + section + m.group(3), text), "utf-8")
    print(f"refreshed the setup guides in {GUIDE}")
