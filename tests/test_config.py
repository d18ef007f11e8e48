"""``[tool.evalgate]`` in pyproject.toml: each key of the wrong type is one clear error
naming the key and the type wanted — never a traceback, never a value read as its str()."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalgate.cli import main
from evalgate.config import read_settings
from evalgate.errors import EvalgateError


@pytest.mark.parametrize(("toml", "said"), [
    ("[tool]\nevalgate = 5\n", "[tool.evalgate] must be a table, got an integer (5)"),
    ('[tool]\nevalgate = "suites"\n',
     "[tool.evalgate] must be a table, got a string ('suites')"),
    ("tool = 5\n", "[tool] must be a table, got an integer (5)"),
    ("tool = [1]\n", "[tool] must be a table, got a list ([1])"),
])
def test_tool_evalgate_that_is_not_a_table_is_named(tmp_path: Path, toml: str,
                                                    said: str) -> None:
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(EvalgateError) as info:
        read_settings(tmp_path)
    assert said in str(info.value)
    assert str(tmp_path / "pyproject.toml") in str(info.value)


@pytest.mark.parametrize(("key", "value", "got"), [
    ("suites", '["suites/quick.yaml"]', "a list (['suites/quick.yaml'])"),
    ("report", "5", "an integer (5)"),
    ("registry", "true", "a boolean (True)"),
    ("signing_key", "{ path = \"k\" }", "a table"),
    ("engine", "1.5", "a number (1.5)"),
    ("suites", '""', "an empty string"),
])
def test_a_path_or_name_key_of_another_type_is_named(tmp_path: Path, key: str, value: str,
                                                      got: str) -> None:
    """``suites = ["suites/quick.yaml"]`` was read as the folder "['suites/quick.yaml']";
    ``report = 5`` wrote the reports to ./5/."""
    (tmp_path / "pyproject.toml").write_text(f"[tool.evalgate]\n{key} = {value}\n")
    with pytest.raises(EvalgateError) as info:
        read_settings(tmp_path)
    assert f"[tool.evalgate] {key}: expected " in str(info.value)
    assert got in str(info.value)


def test_string_keys_still_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.evalgate]\nsuites = "gates"\nreport = "out"\nregistry = "reg"\n'
        'engine = "local"\n')
    settings = read_settings(tmp_path)
    assert (settings.suites, settings.report, settings.registry, settings.engine) == (
        tmp_path / "gates", tmp_path / "out", tmp_path / "reg", "local")


def test_run_says_what_is_wrong_without_a_traceback(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool]\nevalgate = 5\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "model.onnx"]) == 2
    err = capsys.readouterr().err
    assert "[tool.evalgate] must be a table, got an integer (5)" in err
    assert "Traceback" not in err
