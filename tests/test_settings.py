"""Settings: read from the environment, each one documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_search.settings import Settings
from tests.conftest import ROOT


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_SEARCH_INDEX_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("POLICY_SEARCH_PORT", "9001")
    settings = Settings()
    assert settings.index_dir == Path("/tmp/elsewhere") and settings.port == 9001
    assert Settings(port=9002).port == 9002


def test_bad_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_SEARCH_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        Settings()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_each_setting_is_documented(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"`POLICY_SEARCH_{name.upper()}`" in readme
    default = Settings.model_fields[name].default
    assert str(default) in readme
