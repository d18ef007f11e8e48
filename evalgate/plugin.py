"""pytest glue: ``pytest --evalgate CANDIDATE`` turns each suite check into a test item.

The plugin does nothing unless ``--evalgate`` is given. State lives in one
:class:`GateSession` kept in ``config.stash``; the work is done by :mod:`evalgate.engine`,
and this module only translates between it and pytest.
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .cli import common

if TYPE_CHECKING:
    from .engine import Gate, SuiteOutcome
    from .errors import SpecError
    from .families import CheckPlan, CheckResult
    from .spec import Suite
    from .verdict import Summary

OPT_CANDIDATE = "--evalgate"
OPT_CHAMPION = "--evalgate-champion"
OPT_SUITES = "--evalgate-suites"
OPT_REPORT = "--evalgate-report"
OPT_SEED = "--evalgate-seed"
OPT_TRUST = "--evalgate-trust-pickle"
OPT_TRUST_TYPE = "--evalgate-trust-type"
OPT_TIMEOUT = "--evalgate-timeout"
OPT_ENGINE = "--evalgate-engine"
OPT_WORKERS = "--evalgate-workers"
COLLECT_ONLY = "the verdict says block (run in progress)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalgate", "evalgate model release gate")
    group.addoption(OPT_CANDIDATE, metavar="PATH", dest="evalgate", default=None,
                    help="run the release gate on this candidate model file")
    group.addoption(OPT_CHAMPION, metavar="PATH", dest="evalgate_champion", default=None,
                    help="the champion model (overrides each suite's champion: key): a file, "
                         "or registry:NAME@champion, registry:NAME@3, mlflow:NAME@champion")
    group.addoption(OPT_SUITES, metavar="PATH", dest="evalgate_suites", default=None,
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


class GateSession:
    """The state of one gated pytest run.

    The gate's checks are decided here, not by what pytest happens to collect: every suite
    file that ``evalgate run`` would find is *planned*, and a planned check whose item did not
    run (deselected, ignored, dropped by a hook, cut short by ``-x``) makes the run partial,
    which blocks (DESIGN.md §1)."""

    def __init__(self, config: pytest.Config):
        from .config import engine_choice, project_settings
        from .engine import Gate, make_engine
        from .errors import EvalgateError
        from .registry import resolver
        from .registry.attempts import ledger
        from .spec import find_suites

        self.config = config
        invocation = config.invocation_params.dir
        try:  # the project of the folder pytest was run in, as `evalgate run` reads it
            settings = project_settings(invocation)
        except EvalgateError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.settings = settings
        opt = config.getoption
        self.suites_path = (invocation / opt("evalgate_suites")).resolve() \
            if opt("evalgate_suites") else settings.suites.resolve()
        self.report_dir = (invocation / opt("evalgate_report")).resolve() \
            if opt("evalgate_report") else settings.report.resolve()
        self.candidate = invocation / opt("evalgate")
        champion = opt("evalgate_champion")
        if champion and not champion.startswith(("registry:", "mlflow:")):
            champion = invocation / champion  # a file; a registry reference passes unchanged
        self.seed: int | None = opt("evalgate_seed")
        self.timeout_s: float = opt("evalgate_timeout") or settings.timeout_s
        try:
            choice = engine_choice(settings, opt("evalgate_engine"), opt("evalgate_workers"))
        except ValueError as exc:
            raise pytest.UsageError(f"{OPT_ENGINE}: {exc}") from None
        #: the distributed engine (None: local), its cluster started on first use and closed
        #: at the session's end
        self.engine = make_engine(choice, self.say)
        self.progress = common.ProgressLine.under(sys.stderr, config.pluginmanager.get_plugin(
            "capturemanager"), quiet=config.get_verbosity() < 0)
        self.gate: Gate = Gate(self.candidate, champion=champion or None,
                               seed=self.seed, trust_pickle=opt("evalgate_trust_pickle"),
                               trusted_types=(*settings.trusted_types,
                                              *opt("evalgate_trust_type")),
                               resolve=resolver(settings.registry.resolve()),
                               timeout_s=self.timeout_s,
                               ledger=ledger(settings.registry.resolve(),
                                             settings.attempts),
                               engine=self.engine, progress=self.progress)
        self.started_at = __import__("evalgate.verdict", fromlist=["now"]).now()
        self.t0 = time.perf_counter()
        #: the suite files that make up the gate, whatever pytest collects
        self.planned_files: list[Path] = [p.resolve() for p in find_suites(self.suites_path)]
        self.outcomes: dict[Path, SuiteOutcome] = {}
        #: (suite file, check id) of every check whose item ran
        self.ran: set[tuple[Path, str]] = set()
        self.summary_line: str | None = None
        self.output_error: str | None = None
        self.warnings: tuple[str, ...] = ()
        self.summary: Summary | None = None
        self._suites: dict[Path, Suite | SpecError] = {}  # by resolved path, read once

    def say(self, line: str) -> None:
        """A line of progress on the terminal (none under ``-q``)."""
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if self.config.get_verbosity() < 0 or tr is None:
            return
        self.progress.clear()
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        # the run happens inside a test's setup: out past pytest's capture
        with nullcontext() if capman is None else capman.global_and_fixture_disabled():
            tr.write_line(line)

    def close(self) -> None:
        """Close the engine's cluster, if one was started."""
        if self.engine is not None:
            self.engine.close()

    def load(self, path: Path) -> Suite:
        """The suite at ``path``, read once per run (collection and planning share it);
        raises its :class:`SpecError` every time it is asked for."""
        from .errors import SpecError

        key = path.resolve()
        if key not in self._suites:
            try:
                self._suites[key] = self.gate.load(path)
            except SpecError as exc:
                self._suites[key] = exc
        found = self._suites[key]
        if isinstance(found, SpecError):
            raise found
        return found

    def is_suite(self, path: Path) -> bool:
        from .spec import is_suite_file

        if not is_suite_file(path):
            return False
        resolved = path.resolve()
        explicit = any(Path(a.split("::")[0]).resolve() == resolved for a in self.config.args)
        return explicit or resolved in self.planned_files

    def outcome(self, item: CheckItem) -> SuiteOutcome:
        file = item.suite_file
        assert file.suite is not None
        if file.path not in self.outcomes:
            selected = {i.check_id for i in item.session.items
                        if isinstance(i, CheckItem) and i.suite_file is file}
            try:  # under evalgate's own warnings policy (Gate.run_suite), not the project's
                self.outcomes[file.path] = self.gate.run_suite(file.suite, selected)
            finally:
                self.progress.clear()
        return self.outcomes[file.path]

    def planned(self) -> list[tuple[Path, str]]:
        """Every check of the gate: the planned suite files and any suite named on the
        command line, each check once (a file that cannot be read is its one ``suite``
        check)."""
        from .engine import SUITE_ITEM
        from .errors import SpecError
        from .families import plan_checks

        files = dict.fromkeys([*self.planned_files, *(o.resolve() for o in self.outcomes)])
        out: list[tuple[Path, str]] = []
        for path in files:
            try:
                suite = self.load(path)
            except SpecError:
                out.append((path, f"{path.stem}::{SUITE_ITEM}"))
                continue
            out += [(path, suite.check_id(p.family, p.name)) for p in plan_checks(suite)]
        return list(dict.fromkeys(out))

    def finish(self, session: pytest.Session) -> None:
        from .config import display_path
        from .engine.outcome import only_ran
        from .errors import EvalgateError
        from .output import finish

        not_run = [check_id for path, check_id in self.planned()
                   if (path, check_id) not in self.ran]
        outcomes = [only_ran(o, self.ran) for o in self.gate.outcomes]
        try:
            written = finish(outcomes, candidate=self.candidate, report_dir=self.report_dir,
                             seed=self.seed, started_at=self.started_at,
                             duration_s=time.perf_counter() - self.t0, not_run=not_run,
                             signing_key=self.settings.signing_key,
                             suites_path=self.suites_path,
                             engine=None if self.engine is None else self.engine.info())
        except EvalgateError as exc:  # an unwritable report folder, a bad signing key
            self.output_error = f"evalgate: BLOCK — {exc}"
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        self.summary = written.summary
        self.warnings = written.warnings
        self.summary_line = f"{written.summary.line} — report: {display_path(written.report_path)}"
        if written.summary.decision == "block" and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


_SESSION = pytest.StashKey[GateSession]()


def _active(config: pytest.Config) -> GateSession | None:
    return config.stash.get(_SESSION, None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "evalgate: a check of an evalgate suite")
    from .families import FAMILIES

    for name in FAMILIES:  # by name alone: a project's ordinary test run imports no family
        family = name.rsplit(".", 1)[-1]
        config.addinivalue_line("markers", f"{family}: evalgate {family} checks")
    if config.getoption("evalgate", None) is None:
        return
    from .families import registered

    for f in registered():  # a family outside this package may name itself otherwise
        config.addinivalue_line("markers", f"{f.name}: evalgate {f.name} checks")
    if hasattr(config, "workerinput"):  # an xdist worker: the controller refused already
        raise pytest.UsageError("evalgate does not run under pytest-xdist; drop -n")
    if getattr(config.option, "numprocesses", None) or \
            getattr(config.option, "dist", "no") not in ("no", None):
        raise pytest.UsageError("evalgate does not run under pytest-xdist (-n/--dist): the "
                                "gate runs its checks in one process; drop -n")
    shows = [flag for flag, on in (("--fixtures", config.option.showfixtures),
                                   ("--fixtures-per-test", config.option.show_fixtures_per_test),
                                   ("--markers", config.option.markers)) if on]
    if shows:
        raise pytest.UsageError(f"{shows[0]} lists and judges nothing, but --evalgate must "
                                "exit 0 only on a promote: drop one of them")
    gs = GateSession(config)
    config.stash[_SESSION] = gs
    files = [str(p) for p in gs.planned_files] or [str(gs.suites_path)]
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = files  # a gate run collects the suites alone, each file by name
    else:  # positional paths are collected in addition to the gate's suites
        named = {Path(a.split("::")[0]).resolve() for a in config.args}
        config.args = [*config.args, *(f for f in files if Path(f) not in named)]
    if not config.option.help:  # --collect-only too: no earlier promote survives a gate run
        from .errors import EvalgateError
        from .output import start

        try:
            start(gs.candidate, gs.report_dir, gs.started_at)
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
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    gs.finish(session)


def pytest_unconfigure(config: pytest.Config) -> None:
    gs = _active(config)
    if gs is None:
        return
    gs.close()
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return
    for warning in gs.warnings:
        tr.write_line(warning, yellow=True)
    if gs.output_error is not None:
        tr.write_line(gs.output_error, red=True, bold=True)
    elif gs.summary_line is not None:
        promote = gs.summary is not None and gs.summary.decision == "promote"
        tr.write_line(gs.summary_line, green=promote, red=not promote, bold=True)


# --------------------------------------------------------------------------- nodes


class SuiteFile(pytest.File):
    """A suite YAML file; its items are the suite's checks, nested by the parts of their
    names so that a node id as printed (``suites/adult.yaml::performance::roc_auc``,
    ``…::bias::sex::selection_rate``) selects its check."""

    suite: Suite | None = None

    def collect(self) -> Any:
        from .engine import SUITE_ITEM
        from .errors import SpecError
        from .families import plan_checks

        gs = _active(self.config)
        assert gs is not None
        try:
            self.suite = gs.load(self.path)
        except SpecError as exc:
            outcome = gs.gate.spec_error(self.path, exc)
            gs.outcomes[self.path] = outcome
            yield SuiteErrorItem.from_parent(self, name=SUITE_ITEM, message=str(exc))
            return
        tree: dict[str, Any] = {}
        for plan in plan_checks(self.suite):
            *groups, leaf = [plan.family, *plan.name.split("::")]
            node = tree
            for part in groups:
                node = node.setdefault(part, {})
            node[leaf] = plan
        yield from _nodes(self, tree)


def _nodes(parent: pytest.Collector, tree: dict[str, Any]) -> Any:
    for name, child in tree.items():
        if isinstance(child, dict):
            yield CheckGroup.from_parent(parent, name=name, tree=child)
        else:
            yield CheckItem.from_parent(parent, name=name, plan=child)


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

    def __init__(self, *, plan: CheckPlan, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan = plan
        file = self.parent
        while not isinstance(file, SuiteFile):
            assert file is not None
            file = file.parent
        self.suite_file: SuiteFile = file
        assert file.suite is not None
        self.check_id = file.suite.check_id(plan.family, plan.name)
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
        gs.ran.add((self.suite_file.path.resolve(), self.check_id))
        from .verdict.lines import properties

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
            from .verdict.lines import failure_text

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
        from .engine import SUITE_ITEM

        gs = _active(self.config)
        if gs is not None:
            gs.ran.add((self.path.resolve(), f"{self.path.stem}::{SUITE_ITEM}"))
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
        from .engine.outcome import check_seconds
        from .verdict.lines import numbers_line

        report.evalgate_numbers = numbers_line(item.result)
        gs = _active(item.config)
        outcome = gs.outcomes.get(item.suite_file.path) if gs is not None else None
        if call.when == "setup" and outcome is not None:
            report.duration = check_seconds(outcome, item.check_id)
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """``pytest -v`` shows a passing check's numbers after PASSED; ``-q`` keeps its dot."""
    numbers = getattr(report, "evalgate_numbers", None)
    if numbers and report.when == "call" and report.passed and config.get_verbosity() > 0:
        return "passed", ".", (f"PASSED ({numbers})", {"green": True})
    return None
