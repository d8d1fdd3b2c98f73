"""The regulator presets, taxonomies and the calendar overlay in the start-time
configuration check: a broken one is refused naming the variable, the file and the
key; a bank's own new taxonomy (the FCA's PS25/19 from 2027) is a new file beside its
policy, not new code."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from policy.loader import load_policy_document, resolve_policy
from preflight.check import ConfigurationError, check_configuration, configuration_problems
from tests.test_config_check import settings_for


def preset_text(name: str) -> str:
    return resources.files("policy").joinpath("presets", f"{name}.toml").read_text("utf-8")


def test_the_shipped_presets_taxonomies_and_no_overlay_pass(tmp_path: Path) -> None:
    assert configuration_problems(settings_for(tmp_path)) == []


def test_a_broken_regulator_limit_is_refused_naming_the_key(tmp_path: Path) -> None:
    policy = tmp_path / "uk.toml"
    good = "limit = { working_days = 15 }"
    assert good in preset_text("uk-fca")
    policy.write_text(preset_text("uk-fca").replace(good, 'limit = "15 business days"', 1), "utf-8")
    [problem] = configuration_problems(settings_for(tmp_path, CASE_POLICY_FILE=str(policy)))
    assert problem.startswith("CASE_POLICY_FILE: ")
    assert "regulator.regimes[0].limit" in problem
    with pytest.raises(ConfigurationError, match=r"regulator\.regimes\[0\]\.limit"):
        check_configuration(settings_for(tmp_path, CASE_POLICY_FILE=str(policy)))


def test_an_unknown_taxonomy_is_refused_naming_the_key(tmp_path: Path) -> None:
    policy = tmp_path / "cn.toml"
    text = preset_text("cn-nfra").replace('"jrt-0169-2018"', '"jrt-9999"', 1)
    policy.write_text(text, "utf-8")
    [problem] = configuration_problems(settings_for(tmp_path, CASE_POLICY_FILE=str(policy)))
    assert "regulator.taxonomy" in problem
    assert "jrt-9999" in problem


NEW_TAXONOMY = """
taxonomy = "fca-ps25-19"
version = "2027"
title = "FCA complaints data from 2027 (PS25/19)"
source = "test copy"

[[axes]]
name = "product_group"
label_en = "Product"
label_zh = "产品"
codes = [{ code = "current_accounts", label_en = "Current accounts", label_zh = "活期账户" }]
"""


def test_a_new_taxonomy_is_a_new_file_beside_the_policy(tmp_path: Path) -> None:
    (tmp_path / "taxonomies").mkdir()
    (tmp_path / "taxonomies" / "fca-ps25-19.toml").write_text(NEW_TAXONOMY, "utf-8")
    policy = tmp_path / "uk.toml"
    policy.write_text(preset_text("uk-fca").replace('"fca-disp-2026"', '"fca-ps25-19"', 1), "utf-8")
    assert configuration_problems(settings_for(tmp_path, CASE_POLICY_FILE=str(policy))) == []
    resolved = resolve_policy(load_policy_document(policy), "complaint", "normal", [])
    assert resolved.regulator is not None
    assert resolved.regulator.taxonomy is not None
    assert resolved.regulator.taxonomy.axes == {"product_group": ["current_accounts"]}

    broken = NEW_TAXONOMY.replace('label_zh = "产品"\n', "", 1)
    (tmp_path / "taxonomies" / "fca-ps25-19.toml").write_text(broken, "utf-8")
    problems = configuration_problems(settings_for(tmp_path, CASE_POLICY_FILE=str(policy)))
    assert any(
        p.startswith("CASE_POLICY_FILE's taxonomies: ") and "axes[0].label_zh: missing" in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (
            '[[holidays]]\ncalendar = "CN"\ndate = "8 Oct"\nname = "x"\nsource = "n"\n',
            "holidays[0].date",
        ),
        (
            '[[working_days]]\ncalendar = "CN"\ndate = 2027-09-26\n',
            "working_days[0].source: missing",
        ),
        (
            '[[holidays]]\ncalendar = "cn"\ndate = 2027-10-08\nname = "x"\nsource = "n"\n',
            "holidays[0].calendar",
        ),
        ("[[holiday]]\n", "holiday: unknown key"),
    ],
)
def test_a_broken_calendar_overlay_is_refused_naming_the_key(
    tmp_path: Path, content: str, key: str
) -> None:
    overlay = tmp_path / "overlay.toml"
    overlay.write_text(content, "utf-8")
    [problem] = configuration_problems(
        settings_for(tmp_path, CASE_CALENDAR_OVERLAY_FILE=str(overlay))
    )
    assert problem.startswith("CASE_CALENDAR_OVERLAY_FILE: calendar overlay ")
    assert key in problem


def test_the_documented_overlay_example_is_a_valid_overlay(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "docs" / "calendar-overlay.example.toml"
    settings = settings_for(tmp_path, CASE_CALENDAR_OVERLAY_FILE=str(example))
    assert configuration_problems(settings) == []
