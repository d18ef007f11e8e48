"""Suite files: YAML with line numbers (:mod:`.loader`) → a typed, validated, frozen
:class:`Suite` (:mod:`.suite`), with the validation helpers family parsers share
(:mod:`.reader`). The format is DESIGN.md §2; each family's section of ``checks`` is read by
that family (:func:`evalgate.families.load_suite` reads a suite with every family)."""

from __future__ import annotations

from .files import SUITE_SUFFIXES, find_suites, is_suite_file
from .loader import LineDict, LineList, load_yaml
from .reader import Reader, kind_of, plain_number
from .suite import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    KNOWN_FAMILIES,
    MAX_RESAMPLES,
    DataSpec,
    EstimateFrom,
    SectionParser,
    Suite,
    Threshold,
    read_suite,
)

__all__ = ["DEFAULT_CONFIDENCE", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "KNOWN_FAMILIES",
           "MAX_RESAMPLES", "SUITE_SUFFIXES", "DataSpec", "EstimateFrom", "LineDict", "LineList",
           "Reader",
           "SectionParser", "Suite", "Threshold", "find_suites", "is_suite_file", "kind_of",
           "load_yaml", "plain_number", "read_suite"]
