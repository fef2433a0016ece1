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
    label_smoothing: float = 0.0  # as torch's F.cross_entropy(label_smoothing=)
    multilabel: bool = False  # (rows, classes) 0/1 labels are independent binary targets
    # extra dtypes to reproduce the naive paths in (mixed precision: float16, bfloat16)
    dtypes: tuple[str, ...] = ()
