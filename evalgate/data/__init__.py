"""Datasets: reading and checking them (:mod:`.read`), the labels as the gate compares them
(:mod:`.labels`), and the target encoded for the metrics (:mod:`.target`)."""

from __future__ import annotations

from .labels import label_key, plain, show_values, sorted_labels
from .read import Dataset, load_dataset, read_table
from .target import Target, encode_target

__all__ = ["Dataset", "Target", "encode_target", "label_key", "load_dataset", "plain",
           "read_table", "show_values", "sorted_labels"]
