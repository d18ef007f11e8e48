"""pytest glue: ``pytest --evalgate CANDIDATE`` turns each suite check into a test item.

The plugin does nothing unless ``--evalgate`` is given. State lives in one
:class:`GateSession` kept in ``config.stash``; the work is done by :mod:`evalgate.engine`,
and this module only translates between it and pytest.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..cli import common
from .session import (
    COLLECT_ONLY,
    OPT_CANDIDATE,
    OPT_CHALLENGER,
    OPT_CHAMPION,
    OPT_ENGINE,
    OPT_PICK,
    OPT_REPORT,
    OPT_SEED,
    OPT_SUITES,
    OPT_TIMEOUT,
    OPT_TRUST,
    OPT_TRUST_TYPE,
    OPT_WORKERS,
    GateSession,
)

if TYPE_CHECKING:
    from ..families import CheckPlan, CheckResult
    from ..spec import Suite

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalgate", "evalgate model release gate")
    group.addoption(OPT_CANDIDATE, metavar="PATH", dest="evalgate", default=None,
                    action=common.Once,
                    help="run the release gate on this candidate model file")
    group.addoption(OPT_CHAMPION, metavar="PATH", dest="evalgate_champion", default=None,
                    action=common.Once,
                    help="the champion model (overrides each suite's champion: key): a file, "
                         "or registry:NAME@champion, registry:NAME@3, mlflow:NAME@champion")
    group.addoption(OPT_SUITES, metavar="PATH", dest="evalgate_suites", default=None,
                    action=common.Once,
                    help="a suite file or a folder of them (default: suites/, or "
                         "[tool.evalgate] suites in pyproject.toml)")
    group.addoption(OPT_REPORT, metavar="DIR", dest="evalgate_report", default=None,
                    help="where evalgate-report.html and verdict.json go (default: reports/)")
    group.addoption(OPT_SEED, metavar="N", dest="evalgate_seed", default=None, type=common.seed,
                    help="override every suite's seed")
    group.addoption(OPT_TRUST, dest="evalgate_trust_pickle", action="store_true",
                    default=False, help="allow pickle/joblib model files (they can run code)")
    group.addoption(OPT_TRUST_TYPE, metavar="TYPE", dest="evalgate_trust_type",
                    action="append", default=[],
                    help="trust this type in a skops model file (repeatable; adds to "
                         "[tool.evalgate] trusted_types)")
    group.addoption(OPT_TIMEOUT, metavar="S", dest="evalgate_timeout", default=None,
                    type=common.seconds,
                    help="a time limit for the whole gate, in seconds; what did not finish by "
                         "then is an error (default: [tool.evalgate] timeout_s, else 3600)")
    group.addoption(OPT_ENGINE, metavar="ENGINE", dest="evalgate_engine", default=None,
                    help="local (in memory, the default), dask (a LocalCluster for this run) "
                         "or dask://HOST:PORT (an existing Dask scheduler); default: "
                         "[tool.evalgate] engine")
    group.addoption(OPT_WORKERS, metavar="N", dest="evalgate_workers", default=None,
                    type=common.workers, help="worker processes of the dask engine's LocalCluster "
                                        "(default: [tool.evalgate] workers, else one per core)")
    group.addoption(OPT_CHALLENGER, metavar="PATH", dest="evalgate_challengers",
                    action="append", default=[],
                    help="another challenger judged with the candidate against the champion "
                         "(repeatable): each at α/k, one verdict each, a leaderboard")
    group.addoption(OPT_PICK, dest="evalgate_pick", choices=["best"], default=None,
                    help="with challengers: mark the promotable one best on the primary metric; "
                         "exit 0 when there is one")


_SESSION = pytest.StashKey[GateSession]()


def _active(config: pytest.Config) -> GateSession | None:
    return config.stash.get(_SESSION, None)


def _refuse_xdist(config: pytest.Config) -> None:
    """pytest-xdist's -n/--dist (the checks in several processes) is a usage error (-f:
    :func:`pytest_cmdline_main`)."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller refused already
        raise pytest.UsageError("evalgate does not run under pytest-xdist; drop -n")
    if getattr(config.option, "numprocesses", None) or \
            getattr(config.option, "dist", "no") not in ("no", None):
        raise pytest.UsageError("evalgate does not run under pytest-xdist (-n/--dist): the "
                                "gate runs its checks in one process; drop -n")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "evalgate: a check of an evalgate suite")
    from ..families import FAMILIES

    for name in FAMILIES:  # by name alone: a project's ordinary test run imports no family
        family = name.rsplit(".", 1)[-1]
        config.addinivalue_line("markers", f"{family}: evalgate {family} checks")
    if config.getoption("evalgate", None) is None:
        return
    from ..families import registered

    for f in registered():  # a family outside this package may name itself otherwise
        config.addinivalue_line("markers", f"{f.name}: evalgate {f.name} checks")
    _refuse_xdist(config)
    shows = [flag for flag, on in (("--fixtures", config.option.showfixtures),
                                   ("--fixtures-per-test", config.option.show_fixtures_per_test),
                                   ("--markers", config.option.markers),
                                   ("--help", config.option.help)) if on]
    if shows:
        raise pytest.UsageError(f"{shows[0]} lists and judges nothing, but --evalgate must "
                                "exit 0 only on a promote: drop one of them")
    gs = GateSession(config)
    config.stash[_SESSION] = gs
    if config.pluginmanager.register(gs, "evalgate-session") is None:  # its report hooks
        raise pytest.UsageError("-p no:evalgate-session blocks the hooks that count the "
                                "run's other failures, but --evalgate needs them: drop it")
    files = [str(p) for p in gs.planned_files] or [str(gs.suites_path)]
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = files  # a gate run collects the suites alone, each file by name
    else:  # positional paths are collected in addition to the gate's suites
        named = {Path(a.split("::")[0]).resolve() for a in config.args}
        config.args = [*config.args, *(f for f in files if Path(f) not in named)]
    # --collect-only too: no earlier promote survives a gate run
    from ..errors import EvalgateError
    from ..output import clear, start

    try:
        if None in gs.gates:
            start(gs.candidate, gs.report_dir, gs.started_at)
        else:  # each challenger's verdict, in its own folder
            clear(gs.report_dir)
            for who, gate in gs.gates.items():
                start(gate.candidate_ref, gs.report_dir / str(who), gs.started_at)
    except EvalgateError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    gs = _active(parent.config)
    if gs is not None and gs.is_suite(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    gs = _active(session.config)
    if gs is None:
        return
    if session.config.option.collectonly:  # nothing was judged: the verdict stays "in progress"
        gs.summary_line = f"evalgate: BLOCK (collect only: no check ran) — {COLLECT_ONLY}"
        if session.exitstatus in LOOKS_OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    gs.finish(session)


#: the statuses a CI script takes for success: 0, and 5 (no tests collected) for many
LOOKS_OK = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, Any, Any]:
    """The run's exit status, held around everything pytest does — unconfigure hooks
    (a conftest's ``trylast`` one runs after evalgate's) and ``config.add_cleanup`` callbacks
    included: a gate run without a promote never exits 0 or 5. ``--version --version``
    answers before any plugin is configured, with exit 0 and the previous run's verdict
    still on disk: with ``--evalgate`` it is a usage error. (A single ``--version`` is
    answered by ``pytest.main`` before any plugin is loaded.)"""
    if config.getoption("evalgate", None) and config.option.version:
        raise pytest.UsageError("--version judges nothing, but --evalgate must exit 0 only on "
                                "a promote: drop one of them")
    if config.getoption("evalgate", None) and getattr(config.option, "looponfail", False):
        # here, before pytest-xdist's own cmdline_main starts the loop (configure runs only
        # in its child sessions, which it would restart forever)
        raise pytest.UsageError("evalgate does not run under pytest-xdist's looponfail (-f): "
                                "it reruns the gate forever, retriggered by its own report; "
                                "drop -f")
    try:
        ret = yield
    except SystemExit as exc:  # sys.exit() in another plugin's or a conftest's hook
        gs = config.stash.get(_SESSION, None)
        if gs is not None and not gs.exit_ok and exc.code in (None, *LOOKS_OK):
            return pytest.ExitCode.TESTS_FAILED
        raise
    gs = config.stash.get(_SESSION, None)
    if gs is not None and not gs.exit_ok and ret in LOOKS_OK:
        return pytest.ExitCode.TESTS_FAILED
    return ret


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    gs = _active(config)
    if gs is None:
        return
    session = config.pluginmanager.get_plugin("session")
    if session is not None and not gs.exit_ok and session.exitstatus in LOOKS_OK:
        # after every other hook: another plugin's or a conftest's sessionfinish (a "suppress
        # the exit code" plugin, pytest.exit(returncode=0)) cannot make a run without a
        # promote exit 0 — pytest returns the session's status after this hook
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    gs.close()
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return
    for warning in gs.warnings:
        tr.write_line(warning, yellow=True)
    if gs.output_error is not None:
        tr.write_line(gs.output_error, red=True, bold=True)
    elif gs.summary_line is not None:
        promote = gs.promoted if gs.promoted is not None else (
            gs.summary is not None and gs.summary.decision == "promote")
        for line in gs.summary_line.splitlines():
            tr.write_line(line, green=promote, red=not promote, bold=True)
    else:  # pytest.exit before the session finished, a crash in another plugin
        tr.write_line("evalgate: BLOCK — the session ended before the gate judged its checks "
                      "(the verdict stays 'in progress')", red=True, bold=True)


# --------------------------------------------------------------------------- nodes


class SuiteFile(pytest.File):
    """A suite YAML file; its items are the suite's checks, nested by the parts of their
    names so that a node id as printed (``suites/adult.yaml::performance::roc_auc``,
    ``…::bias::sex::selection_rate``) selects its check."""

    suite: Suite | None = None

    def collect(self) -> Any:
        from ..engine import SUITE_ITEM
        from ..errors import SpecError
        from ..families import plan_checks

        gs = _active(self.config)
        assert gs is not None
        try:
            self.suite = gs.load(self.path)
        except SpecError as exc:
            for name, gate in gs.gates.items():
                gs.outcomes[self.path, name] = gate.spec_error(self.path, exc)
            yield SuiteErrorItem.from_parent(self, name=SUITE_ITEM, message=str(exc))
            return
        try:
            tree = _tree(self.path, plan_checks(self.suite), gs.gates)
        except SpecError as exc:
            for name, gate in gs.gates.items():
                gs.outcomes[self.path, name] = gate.spec_error(self.path, exc)
            yield SuiteErrorItem.from_parent(self, name=SUITE_ITEM, message=str(exc))
            return
        yield from _nodes(self, tree)


def _tree(path: Path, plans: list[CheckPlan], gates: Any) -> dict[str, Any]:
    """The suite's checks nested by the parts of their names (``::``), one leaf per check and
    challenger; :class:`SpecError` where two checks would share a node — a drift column
    named ``a::b`` beside ``a`` — which would drop one of them from the run."""
    from ..errors import SpecError

    tree: dict[str, Any] = {}
    for plan in plans:
        parts: list[str] = [plan.family, *plan.name.split("::")]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SpecError(path, plan.line, None, _collide(plan))
        for name in gates:  # with challengers, one item per challenger: roc_auc[c2]
            key = parts[-1] if name is None else f"{parts[-1]}[{name}]"
            if key in node:
                raise SpecError(path, plan.line, None, _collide(plan))
            node[key] = (plan, name)
    return tree


def _collide(plan: CheckPlan) -> str:
    return (f"the check {plan.family}::{plan.name} shares its pytest node id with another "
            f"check ('::' separates the parts of a node id); rename the column or group so "
            f"that no check's name is another's followed by '::'")


def _nodes(parent: pytest.Collector, tree: dict[str, Any]) -> Any:
    for name, child in tree.items():
        if isinstance(child, dict):
            yield CheckGroup.from_parent(parent, name=name, tree=child)
        else:
            plan, challenger = child
            yield CheckItem.from_parent(parent, name=name, plan=plan, challenger=challenger)


class CheckGroup(pytest.Collector):
    """A family (``performance``) or a part of a check's name (``bias::sex``)."""

    def __init__(self, *, tree: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.tree = tree

    def collect(self) -> Any:
        return list(_nodes(self, self.tree))


class CheckFailed(Exception):
    """Raised by a failing check item; shown as its message, not as a traceback."""

    def __init__(self, result: CheckResult):
        super().__init__(result.message)
        self.result = result


class CheckItem(pytest.Item):
    """One check of one suite."""

    def __init__(self, *, plan: CheckPlan, challenger: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan = plan
        #: the challenger it judges (None: the one candidate)
        self.challenger = challenger
        file = self.parent
        while not isinstance(file, SuiteFile):
            assert file is not None
            file = file.parent
        self.suite_file: SuiteFile = file
        assert file.suite is not None
        self.check_id = file.suite.check_id(plan.family, plan.name)
        gs = _active(self.config)
        if gs is not None and challenger is not None:
            gs.check_nodeids.add(self.nodeid)
        self.result: CheckResult | None = None
        self.add_marker(pytest.mark.evalgate)
        self.add_marker(getattr(pytest.mark, plan.family))

    def setup(self) -> None:
        gs = _active(self.config)
        assert gs is not None
        outcome = gs.outcome(self)
        self.result = next((r for r in outcome.results if r.id == self.check_id), None)
        if self.result is None:
            pytest.fail(f"evalgate produced no result for {self.check_id}", pytrace=False)
        gs.ran[self.challenger].add((self.suite_file.path.resolve(), self.check_id))
        from ..verdict.lines import properties

        self.user_properties.extend(properties(self.result))
        _junit_names(self, self.result.family)
        if self.result.status == "error":
            pytest.fail(self.result.message, pytrace=False)
        if self.result.status == "skip":  # reported at the suite's line, not here
            raise pytest.skip.Exception(self.result.message, _use_item_location=True)

    def runtest(self) -> None:
        assert self.result is not None
        if self.result.status == "fail":
            if self.result.blocking:
                raise CheckFailed(self.result)
            self.warn(pytest.PytestWarning(f"non-blocking check failed: {self.result.message}"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            from ..verdict.lines import failure_text

            r = excinfo.value.result
            where = f"{self.path.name}:{r.line}" if r.line else str(self.path)
            return failure_text(r, r.message, r.confidence, where)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.plan.line - 1 if self.plan.line else None
        return self.path, line, f"{self.plan.family}::{self.plan.name}"


class SuiteErrorItem(pytest.Item):
    """Stands for a suite file that could not be read: one error, and the gate blocks."""

    def __init__(self, *, message: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.message = message

    def setup(self) -> None:
        from ..engine import SUITE_ITEM

        gs = _active(self.config)
        for ran in gs.ran.values() if gs is not None else ():
            ran.add((self.path.resolve(), f"{self.path.stem}::{SUITE_ITEM}"))
        pytest.fail(self.message, pytrace=False)

    def runtest(self) -> None:  # pragma: no cover - setup always fails
        pass

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, "suite"


def _junit_names(item: CheckItem, family: str) -> None:
    """JUnit XML's classname reads ``suite.family`` and the name the rest of the check's
    path (``sex::selection_rate``), not the file's dotted path."""
    from _pytest.junitxml import xml_key  # pytest's own reporter; no public door to its names

    xml = item.config.stash.get(xml_key, None)
    if xml is not None and item.suite_file.suite is not None:
        reporter = xml.node_reporter(item.nodeid)
        reporter.add_attribute("classname", f"{item.suite_file.suite.name}.{family}")
        reporter.add_attribute("name", item.plan.name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A check item's report carries its numbers (for ``-v``) and, for its setup, the time
    the check accounts for (the gate computes every check of a suite in the first item's
    setup; JUnit and ``--durations`` would otherwise give it all)."""
    report = yield
    if isinstance(item, CheckItem) and item.result is not None:
        from ..engine.outcome import check_seconds
        from ..verdict.lines import numbers_line

        report.evalgate_numbers = numbers_line(item.result)
        gs = _active(item.config)
        outcome = gs.outcomes.get((item.suite_file.path, item.challenger)) if gs else None
        if call.when == "setup" and outcome is not None:
            report.duration = check_seconds(outcome, item.check_id)
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """``pytest -v`` shows a passing check's numbers after PASSED; ``-q`` keeps its dot."""
    numbers = getattr(report, "evalgate_numbers", None)
    if numbers and report.when == "call" and report.passed and config.get_verbosity() > 0:
        return "passed", ".", (f"PASSED ({numbers})", {"green": True})
    return None
