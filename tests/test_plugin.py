"""The gate end to end through pytest (pytester): items, node ids, summary line, exit status,
verdict.json and the report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import CANDIDATE, CHAMPION, ROOT, read_verdict


def test_promote_on_the_shipped_example(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-v")
    result.stdout.fnmatch_lines([
        "suites/adult.yaml::performance::roc_auc PASSED*",
        "suites/adult.yaml::performance::accuracy PASSED*",
        "suites/adult.yaml::performance::log_loss PASSED*",
        "*3 passed*",
    ])
    assert result.outlines[-1].startswith("evalgate: PROMOTE")
    assert "reports/evalgate-report.html" in result.outlines[-1]
    assert result.ret == 0
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "promote"
    assert (pytester.path / "reports" / "evalgate-report.html").is_file()


def test_block_when_the_old_model_is_offered(pytester: pytest.Pytester, gate_project) -> None:
    gate_project(champion=CANDIDATE)
    result = pytester.runpytest(f"--evalgate={CHAMPION}")
    result.stdout.fnmatch_lines([
        "*performance::roc_auc*",
        "*Δ vs champion = -0.02*one-sided 95% lower bound*< -0.005 allowed by max_regression*",
        "*threshold: min 0.85, max_regression 0.005*",
        "*3 failed*",
    ])
    assert "Traceback" not in result.stdout.str()
    assert result.outlines[-1].startswith("evalgate: BLOCK (3 of 3 checks failed)")
    assert result.ret == 1
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    assert {c["status"] for c in verdict["suites"][0]["checks"]} == {"fail"}


def test_champion_option_overrides_the_suite(pytester: pytest.Pytester, gate_project) -> None:
    gate_project(champion=CHAMPION)
    result = pytester.runpytest(f"--evalgate={CHAMPION}", f"--evalgate-champion={CANDIDATE}")
    assert result.ret == 1
    assert read_verdict(pytester.path)["champion"]["path"].endswith("candidate.onnx")


def test_without_the_flag_the_plugin_does_nothing(pytester: pytest.Pytester,
                                                  gate_project) -> None:
    gate_project()
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "evalgate:" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_gate_run_collects_suites_alone(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    pytester.makepyfile(test_unrelated="def test_boom():\n    assert False\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    result.assert_outcomes(passed=3)
    assert result.ret == 0


def test_positional_paths_are_collected_in_addition(pytester: pytest.Pytester,
                                                     gate_project) -> None:
    gate_project()
    pytester.makepyfile(test_extra="def test_ok():\n    assert True\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "test_extra.py")
    result.assert_outcomes(passed=4)


def test_k_selects_checks_and_verdict_says_incomplete(pytester: pytest.Pytester,
                                                       gate_project) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-k", "roc_auc")
    result.assert_outcomes(passed=1, deselected=2)
    verdict = read_verdict(pytester.path)
    ids = [c["id"] for c in verdict["suites"][0]["checks"]]
    assert ids == ["adult-income::performance::roc_auc"]
    assert verdict["summary"]["complete"] is False


def test_junitxml_lists_every_check(pytester: pytest.Pytester, gate_project) -> None:
    """Each testcase reads suite.family / check, carries its numbers as properties and its
    own share of the time (not the first one all of it)."""
    import xml.etree.ElementTree as ET

    gate_project(champion=CANDIDATE)
    pytester.runpytest(f"--evalgate={CHAMPION}", "--junitxml", "junit.xml")
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    by_name = {c.get("name"): c for c in cases}
    assert set(by_name) == {"roc_auc", "accuracy", "log_loss"}
    assert {c.get("classname") for c in by_name.values()} == {"adult-income.performance"}
    assert all(c.find("failure") is not None for c in by_name.values())
    verdict = read_verdict(pytester.path)
    auc = next(c for c in verdict["suites"][0]["checks"] if c["metric"] == "roc_auc")
    props = {p.get("name"): p.get("value") for p in by_name["roc_auc"].iter("property")}
    assert props["candidate"] == f"{auc['candidate']:.4g}"
    assert props["champion"] == f"{auc['champion']:.4g}"
    assert props["delta"] == f"{auc['delta']:.4g}" and props["bound"] == f"{auc['ci'][0]:.4g}"
    assert props["threshold"] == "min 0.85, max_regression 0.005"
    assert props["method"] == auc["method"]
    times = [float(c.get("time")) for c in by_name.values()]
    assert min(times) > 0 and max(times) < 0.9 * sum(times)


def test_verbose_shows_a_passing_checks_numbers(pytester: pytest.Pytester,
                                                gate_project) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-v")
    result.stdout.fnmatch_lines([
        "suites/adult.yaml::performance::roc_auc PASSED (roc_auc 0.9*, champion 0.9*, "
        "Δ +0.0*(bound +0.0*); min 0.85, max_regression 0.005)*"])
    quiet = pytester.runpytest(f"--evalgate={CANDIDATE}", "-q")
    assert "PASSED (" not in quiet.stdout.str() and "champion 0.9" not in quiet.stdout.str()


def test_report_and_suites_options(pytester: pytest.Pytester, gate_project) -> None:
    suite = gate_project()
    moved = pytester.path / "gates" / "adult.yaml"
    moved.parent.mkdir()
    suite.rename(moved)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "--evalgate-suites", "gates",
                                "--evalgate-report", "out")
    result.stdout.fnmatch_lines(["*gates/adult.yaml*", "*3 passed*"])
    assert (pytester.path / "out" / "verdict.json").is_file()
    assert (pytester.path / "out" / "evalgate-report.html").is_file()


def test_pyproject_names_the_suites_folder(pytester: pytest.Pytester, gate_project) -> None:
    suite = gate_project()
    (pytester.path / "gates").mkdir()
    suite.rename(pytester.path / "gates" / "adult.yaml")
    pytester.makepyprojecttoml('[tool.evalgate]\nsuites = "gates"\n')
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize("option", ["--evalgate-suites", "--evalgate-champion",
                                    "--evalgate"])
def test_a_repeated_gate_option_is_a_usage_error(pytester: pytest.Pytester, gate_project,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 option: str) -> None:
    """PYTEST_ADDOPTS names the release suites, a step adds its own: the first would be
    dropped without a word (the gate judging the lenient suites alone), so a second
    occurrence is refused, naming the option."""
    gate_project()
    values = {"--evalgate-suites": ("suites", "other"),
              "--evalgate-champion": (str(CHAMPION), str(CANDIDATE)),
              "--evalgate": (str(CANDIDATE), str(CHAMPION))}[option]
    monkeypatch.setenv("PYTEST_ADDOPTS", f"{option}={values[0]}")
    args = [] if option == "--evalgate" else [f"--evalgate={CANDIDATE}"]
    result = pytester.runpytest(*args, f"{option}={values[1]}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option} given twice*"])
    assert not (pytester.path / "reports" / "verdict.json").exists()


def test_one_of_each_gate_option_and_repeated_challengers_still_run(
        pytester: pytest.Pytester, gate_project, monkeypatch: pytest.MonkeyPatch) -> None:
    gate_project()
    monkeypatch.setenv("PYTEST_ADDOPTS", "--evalgate-suites=suites")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", f"--evalgate-champion={CHAMPION}")
    result.assert_outcomes(passed=3)


def test_bad_seed_is_a_usage_error(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "--evalgate-seed", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--evalgate-seed*not a whole number*"])


def test_seed_option_is_recorded(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    pytester.runpytest(f"--evalgate={CANDIDATE}", "--evalgate-seed", "7")
    verdict = read_verdict(pytester.path)
    assert verdict["provenance"]["seed"] == 7
    assert verdict["suites"][0]["seed"] == 7


def test_no_champion_skips_comparisons(pytester: pytest.Pytester, gate_project) -> None:
    gate_project(champion=None, checks="  performance:\n    roc_auc: {max_regression: 0.01}\n"
                                       "    accuracy: {min: 0.8, max_regression: 0.01}\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*no champion given*"])
    verdict = read_verdict(pytester.path)
    assert verdict["champion"] is None
    assert verdict["decision"] == "promote"
    roc = verdict["suites"][0]["checks"][0]
    assert roc["status"] == "skip" and roc["delta"] is None


def test_no_suites_blocks(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    (pytester.path / "suites").mkdir()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert result.ret != 0
    assert result.outlines[-1].startswith("evalgate: BLOCK (no checks ran)")
    assert read_verdict(pytester.path)["decision"] == "block"


def test_same_inputs_same_verdict(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    docs = []
    for _ in range(2):
        pytester.runpytest(f"--evalgate={CANDIDATE}")
        doc = read_verdict(pytester.path)
        for key in ("started_at", "duration_s"):
            doc["provenance"].pop(key)
        docs.append(json.dumps(doc, sort_keys=True))
    assert docs[0] == docs[1]


def test_shipped_suite_as_in_readme(pytester: pytest.Pytester) -> None:
    """README's main command, on a copy of the project's own suite and example. Timing checks
    (latency, load) are measured but not asserted here: this machine is shared and noisy."""
    pytester.makeini("[pytest]\n")
    suites = pytester.path / "suites"
    suites.mkdir()
    text = (ROOT / "suites" / "adult.yaml").read_text()
    text = text.replace("../examples", str(ROOT / "examples"))
    (suites / "adult.yaml").write_text(text)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    verdict = read_verdict(pytester.path)
    checks = verdict["suites"][0]["checks"]
    ids = [c["id"].split("::", 1)[1] for c in checks]
    assert ids[:7] == [f"performance::{m}" for m in (
        "roc_auc", "average_precision", "accuracy", "balanced_accuracy", "f1", "log_loss",
        "brier_score")]
    assert {"latency::batch_1", "latency::batch_256", "stress::load", "stress::memory",
            "stress::malformed", "stress::consistency", "robustness::gaussian_noise",
            "bias::sex::selection_rate"} <= set(ids)
    timing = {"latency::batch_1", "latency::batch_256", "stress::load"}
    assert all(c["status"] in ("pass", "skip") for c, i in zip(checks, ids) if i not in timing)
    if all(c["status"] in ("pass", "skip") for c in checks):
        assert result.ret == 0, result.stdout.str()
        assert result.outlines[-1].startswith("evalgate: PROMOTE")
    assert verdict["suites"][0]["dataset"]["rows"] == 16281
    report = pytester.path / "reports" / "evalgate-report.html"
    assert report.stat().st_size < 2 * 2**20  # one small self-contained page
    assert (pytester.path / "reports" / "summary.md").read_text().startswith("## ")


@pytest.fixture(scope="module")
def untrusted_skops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    """A skops model holding types skops does not trust by default, and their names. Built
    outside any pytester test: pytester drops the modules a test imports, and skops does not
    survive that."""
    import skops.io as sio

    from tests import modelzoo

    zoo = modelzoo.Zoo(tmp_path_factory.mktemp("zoo"))
    model = zoo.skops("forest", "income")
    modelzoo.make_frame(400, seed=7).to_csv(model.parent / "rows.csv", index=False)
    return model, list(sio.get_untrusted_types(file=model))


def test_trust_type_options_reach_the_loader(pytester: pytest.Pytester,
                                             untrusted_skops: tuple[Any, list[str]]) -> None:
    """A skops model whose types are not trusted by default blocks the gate with their
    names; ``--evalgate-trust-type`` for each of them lets the same run judge it."""
    from tests import modelzoo

    model, needed = untrusted_skops
    pytester.makeini("[pytest]\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "s.yaml").write_text(
        f"suite: trust\ntask: binary\ndata:\n  path: {model.parent / 'rows.csv'}\n"
        f"  target: income\n  positive_label: '>50K'\n  features: {list(modelzoo.FEATURES)}\n"
        "checks:\n  performance:\n    accuracy: {min: 0.5}\n")
    refused = pytester.runpytest_subprocess(f"--evalgate={model}", "-p", "no:cacheprovider")
    assert refused.ret != 0 and f"not trusted by default: {', '.join(needed)}" in \
        refused.stdout.str()
    trusted = pytester.runpytest_subprocess(f"--evalgate={model}", "-p", "no:cacheprovider",
                                            *[arg for t in needed
                                              for arg in ("--evalgate-trust-type", t)])
    assert trusted.ret == 0, trusted.stdout.str()
    assert trusted.outlines[-1].startswith("evalgate: PROMOTE")


@pytest.mark.parametrize("names", [["a", "a::b"], ["a::b", "a"], ["a", "a"]],
                         ids=["leaf-first", "group-first", "twice"])
def test_checks_whose_node_ids_collide_are_a_suite_error(names: list[str]) -> None:
    """Drift checks are named by their columns: a column `a::b` beside `a` made pytest's item
    tree crash (TypeError) or drop one check silently (a permanent partial run)."""
    from pathlib import Path

    from evalgate.errors import SpecError
    from evalgate.families import CheckPlan
    from evalgate.plugin import _tree

    plans = [CheckPlan("drift", n, 7 + i, True) for i, n in enumerate(names)]
    with pytest.raises(SpecError, match="shares its pytest node id"):
        _tree(Path("s.yaml"), plans, {None: None})
    tree = _tree(Path("s.yaml"), [CheckPlan("bias", "sex::tpr", 3, True),
                                  CheckPlan("bias", "sex::fpr", 4, True)], {None: None, "c2": None})
    assert set(tree["bias"]["sex"]) == {"tpr", "fpr", "tpr[c2]", "fpr[c2]"}
