"""The README's reference tables are the code's: `rft presets --markdown` makes them, and the
README's copies must be the same, so a changed default or a new rate cannot leave them stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rft.tables import metrics_table, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def copy_in_readme(which: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- rft presets --markdown: {which} -->\n(.*?)<!-- end -->", text, re.DOTALL)
    assert found, f"the README has no generated {which} table"
    return found.group(1)


@pytest.mark.parametrize(("which", "make"), [("settings", settings_table), ("metrics", metrics_table)])
def test_the_readme_tables_are_what_the_code_says(which, make):
    assert copy_in_readme(which) == make(), f"run `rft presets --markdown` and paste the {which} table"


def test_the_presets_command_prints_both_tables(capsys):
    from rft.cli import main

    assert main(["presets", "--markdown"]) == 0
    printed = capsys.readouterr().out
    assert settings_table() in printed and metrics_table() in printed


def test_every_rate_an_evaluation_reports_is_explained():
    from rft.wordle.play import METRIC_MEANINGS, game_metrics

    rates = {
        name for name in game_metrics([]) if name.endswith(("_rate", "_share")) or name.startswith("mean_")
    }
    assert rates <= set(METRIC_MEANINGS), sorted(rates - set(METRIC_MEANINGS))
