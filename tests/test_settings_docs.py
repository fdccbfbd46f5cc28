"""The README documents every setting, and the environment names follow the rule."""

from __future__ import annotations

import re
from pathlib import Path

from kintogql.config import env_name, load_settings, setting_names

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_settings() -> set[str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def test_every_setting_is_documented_in_the_readme() -> None:
    assert documented_settings() == set(setting_names())


def test_environment_names_follow_kintos_rule() -> None:
    assert env_name("multiauth.policies") == "KINTOGQL_MULTIAUTH_POLICIES"
    assert env_name("paginate_by") == "KINTOGQL_PAGINATE_BY"


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    ini = tmp_path / "kinto.ini"
    ini.write_text("[app:main]\nkinto.paginate_by = 7\nkinto.batch_max_requests = 9\n")
    settings = load_settings(
        str(ini), overrides={"batch_max_requests": 11}, environ={"KINTOGQL_PAGINATE_BY": "5"}
    )
    assert settings.paginate_by == 5
    assert settings.batch_max_requests == 11
    assert settings.userid_hmac_secret  # generated in memory mode


def test_dynamic_principal_settings_are_read_from_the_environment() -> None:
    settings = load_settings(environ={"KINTOGQL_RECORD_READ_PRINCIPALS": "a,b"})
    assert settings.principals_setting("record_read_principals") == ("a", "b")
