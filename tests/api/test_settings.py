"""Settings: read from the environment, each one documented in the README."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import policy_search.index.analysis.embed
import policy_search.index.analysis.onnx
from policy_search.api.cli import cli
from policy_search.api.settings import Settings
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder


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


def test_a_run_from_another_folder_reuses_the_model_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ONNX export is kept in the user's cache, not in the working directory: `index` run
    from a second folder finds the export the first made, and exports nothing."""
    exports: list[Path] = []

    def export(st_model: object, model_id: str, folder: Path, *, quantize: bool) -> None:
        exports.append(folder)
        folder.mkdir(parents=True)
        (folder / "embedder.json").write_text("{}")

    class Exported(FakeEmbedder):  # what loading an export gives, without onnxruntime
        def __init__(self, folder: Path) -> None:
            super().__init__()

    monkeypatch.setattr(policy_search.index.analysis.onnx, "export_onnx", export)
    monkeypatch.setattr(policy_search.index.analysis.onnx, "OnnxEmbedder", Exported)
    monkeypatch.setattr(
        policy_search.index.analysis.embed,
        "_load_torch",
        lambda *a, **k: SimpleNamespace(model=None),
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("MODEL_CACHE", "BACKEND", "MODEL"):
        monkeypatch.delenv(f"POLICY_SEARCH_{name}", raising=False)
    article = tmp_path / "article.md"
    article.write_text("---\ntitle: Ports\n---\nBaku's port grew along the Middle Corridor.\n")
    said = []
    for folder in (tmp_path / "one", tmp_path / "two" / "deeper"):
        folder.mkdir(parents=True)
        monkeypatch.chdir(folder)
        args = ["index", str(article), "--index-dir", str(tmp_path / "index")]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        said.append("Preparing the model: exporting it to ONNX" in result.stderr)
    assert said == [True, False]  # the one wait a newcomer cannot see a bar for is announced
    assert len(exports) == 1, exports
    assert exports[0].parent == tmp_path / "home" / ".cache" / "policy-search" / "models"
    assert not any((tmp_path / name / "var").exists() for name in ("one", "two"))
