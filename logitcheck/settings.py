"""Every knob in one place, shared by the command line and (later) YAML batches."""

from __future__ import annotations

from dataclasses import dataclass

from .report.model import Severity

#: Bytes of float64 working set per chunk: large enough to amortise numpy's per-call
#: overhead, small enough that memory stays bounded whatever the file size.
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    fail_on: Severity | None = Severity.ERROR  # None: never fail on findings
    chunk_rows: int | None = None  # None: derived from chunk_bytes and the class count
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    threads: int = 1
    # what the user's loss expects: "logits" (the argument is LOGITS), "probabilities"
    # (Keras from_logits=False, sklearn log_loss) or "log_probabilities" (nll_loss)
    expects: str = "logits"
    # rows whose label equals this are left out, as torch's F.cross_entropy does
    ignore_index: int = -100
    # extra dtypes to reproduce the naive paths in (mixed precision: float16, bfloat16)
    dtypes: tuple[str, ...] = ()
    # --- inputs (io/): which arrays, which layout, how much may be read ---
    logits_key: str | None = None  # .npz/safetensors: None tries logits, predictions, ...
    labels_key: str | None = None  # None tries labels, targets, y
    label_column: str | None = None  # CSV/TSV: labels from this column
    class_columns: str | None = None  # CSV/TSV: names or globs ('p_*'); None: numeric ones
    class_axis: int | None = None  # None: the last axis
    shift_labels: bool = False  # causal LM: logits[:, :-1] predict labels[:, 1:]
    max_bytes: int | None = None  # None: no cap on mapped data, 8 GiB on decoded data
