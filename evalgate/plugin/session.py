"""The state of one gated pytest run (:class:`GateSession`), kept in ``config.stash`` by the
plugin (:mod:`evalgate.plugin`), and the plugin's option names."""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..cli import common

if TYPE_CHECKING:
    from ..engine import Gate, SuiteOutcome
    from ..errors import SpecError
    from ..spec import Suite
    from ..verdict import Summary
    from . import CheckItem

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
OPT_CHALLENGER = "--evalgate-challenger"
OPT_PICK = "--evalgate-pick"
COLLECT_ONLY = "the verdict says block (run in progress)"



class GateSession:
    """The state of one gated pytest run.

    The gate's checks are decided here, not by what pytest happens to collect: every suite
    file that ``evalgate run`` would find is *planned*, and a planned check whose item did not
    run (deselected, ignored, dropped by a hook, cut short by ``-x``) makes the run partial,
    which blocks (DESIGN.md §1)."""

    def __init__(self, config: pytest.Config):
        from ..config import engine_choice, project_settings
        from ..engine import make_engine
        from ..errors import EvalgateError
        from ..spec import find_suites

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
        self.gate: Gate = common.make_gate(
            settings, self.candidate, champion=champion or None, seed=self.seed,
            trust_pickle=opt("evalgate_trust_pickle"), trust_types=opt("evalgate_trust_type"),
            timeout_s=self.timeout_s, engine=self.engine, progress=self.progress)
        #: with challengers: each one's gate by its name (the candidate is the first); else
        #: the one gate, named None
        self.gates: dict[str | None, Gate] = {None: self.gate}
        self.pick: str | None = opt("evalgate_pick")
        #: with challengers, the bootstrap replicates remembered (see :meth:`remembering`)
        self.memo: dict[Any, Any] = {}
        if opt("evalgate_challengers"):
            from ..engine.challengers import gates

            others = [invocation / c for c in opt("evalgate_challengers")]
            self.gates = {k: g for k, g in gates(self.gate, [self.candidate, *others]).items()}
        elif self.pick:
            raise pytest.UsageError(f"{OPT_PICK} picks among challengers: add {OPT_CHALLENGER}")
        self.started_at = __import__("evalgate.verdict", fromlist=["now"]).now()
        self.t0 = time.perf_counter()
        #: the suite files that make up the gate, whatever pytest collects
        self.planned_files: list[Path] = [p.resolve() for p in find_suites(self.suites_path)]
        self.outcomes: dict[tuple[Path, str | None], SuiteOutcome] = {}
        #: per challenger (None: the one candidate), (suite file, check id) of every check
        #: whose item ran
        self.ran: dict[str | None, set[tuple[Path, str]]] = {name: set() for name in self.gates}
        self.summary_line: str | None = None
        self.output_error: str | None = None
        self.warnings: tuple[str, ...] = ()
        self.summary: Summary | None = None
        #: with challengers: whether the run promotes (its board's answer)
        self.promoted: bool | None = None
        #: whether the run may exit 0, as the gate decided it (a promote; with challengers: a
        #: pick, or every challenger promoted). Held once every other hook has run
        #: (``pytest_unconfigure``): nothing else turns a run without it into exit 0
        self.exit_ok = False
        #: failed test reports that are not a challenger's check (a unit test, a hook):
        #: a pick never turns those into exit 0
        self.other_failures = 0
        #: the node ids of the challengers' check items
        self.check_nodeids: set[str] = set()
        self._suites: dict[Path, Suite | SpecError] = {}  # by resolved path, read once

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A failure of anything but a challenger's check (a hook of this session): a check
        item has no teardown of its own, so a failure there (a session fixture's) is
        another's."""
        if report.failed and (report.nodeid not in self.check_nodeids
                              or report.when == "teardown"):
            self.other_failures += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A file that does not collect (``--continue-on-collection-errors``) is a failure
        no pick passes over."""
        if report.failed:
            self.other_failures += 1

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

    def remembering(self) -> AbstractContextManager[None]:
        """With challengers, the session's remembered bootstrap replicates
        (:mod:`evalgate.stats.memo`): each challenger's checks are judged again at the
        suite's own level for the leaderboard."""
        if len(self.gates) < 2:
            return nullcontext()
        from ..stats.memo import remembered

        return remembered(self.memo)

    def close(self) -> None:
        """Close the engine's cluster, if one was started."""
        if self.engine is not None:
            self.engine.close()

    def load(self, path: Path) -> Suite:
        """The suite at ``path``, read once per run (collection and planning share it);
        raises its :class:`SpecError` every time it is asked for."""
        from ..errors import SpecError

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
        from ..spec import is_suite_file

        if not is_suite_file(path):
            return False
        resolved = path.resolve()
        explicit = any(Path(a.split("::")[0]).resolve() == resolved for a in self.config.args)
        return explicit or resolved in self.planned_files

    def outcome(self, item: CheckItem) -> SuiteOutcome:
        file, name = item.suite_file, item.challenger
        assert file.suite is not None
        if (file.path, name) not in self.outcomes:
            # the check items of this file and challenger (only check items have suite_file)
            selected = {getattr(i, "check_id", "") for i in item.session.items
                        if getattr(i, "suite_file", None) is file
                        and getattr(i, "challenger", None) == name}
            try:  # under evalgate's own warnings policy (Gate.run_suite), not the project's
                with self.remembering():
                    self.outcomes[file.path, name] = self.gates[name].run_suite(file.suite,
                                                                                selected)
            finally:
                self.progress.clear()
        return self.outcomes[file.path, name]

    def planned(self) -> list[tuple[Path, str]]:
        """Every check of the gate: the planned suite files and any suite named on the
        command line, each check once (a file that cannot be read is its one ``suite``
        check)."""
        from ..engine import SUITE_ITEM
        from ..errors import SpecError
        from ..families import plan_checks

        files = dict.fromkeys([*self.planned_files,
                               *(path.resolve() for path, _ in self.outcomes)])
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
        from ..config import display_path
        from ..engine.outcome import only_ran
        from ..errors import EvalgateError
        from ..output import finish

        if len(self.gates) > 1:
            self.finish_challengers(session)
            return
        not_run = [check_id for path, check_id in self.planned()
                   if (path, check_id) not in self.ran[None]]
        outcomes = [only_ran(o, self.ran[None]) for o in self.gate.outcomes]
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
        self.exit_ok = written.summary.decision == "promote"
        if written.summary.decision == "block" and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


    def finish_challengers(self, session: pytest.Session) -> None:
        """One verdict per challenger (a check whose item did not run makes that one
        partial), the leaderboard, and the run's status: with a pick, 0 when there is a
        winner (and nothing else failed); else 0 only when every challenger promotes — a
        challenger whose checks were all deselected is partial, and blocks the run."""
        from ..compare import board_of
        from ..errors import EvalgateError

        try:
            with self.remembering():  # the unadjusted bounds from the replicates drawn
                board = board_of(self.gate, self.gates, self.ran, self.planned(),
                                 self.report_dir, seed=self.seed, started_at=self.started_at,
                                 duration_s=time.perf_counter() - self.t0,
                                 signing_key=self.settings.signing_key,
                                 suites_path=self.suites_path, pick=self.pick)
        except EvalgateError as exc:
            self.output_error = f"evalgate: BLOCK — {exc}"
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        self.summary_line = "\n".join([*board.lines.values(), board.line])
        self.promoted = board.ok
        if self.pick is not None:  # the other challengers' failed checks are expected
            picked = board.ok and not self.other_failures and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
            self.exit_ok = picked
            if picked or session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.OK if picked else \
                    pytest.ExitCode.TESTS_FAILED
            return
        every = len(board.doc["promotable"]) == len(board.doc["challengers"])
        self.exit_ok = board.ok and every
        if not self.exit_ok and session.exitstatus in (pytest.ExitCode.OK,
                                                       pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
