"""Every knob in one place, shared by the command line and (later) YAML batches."""

from __future__ import annotations

from dataclasses import dataclass, field

from .report.model import Severity

#: Bytes of the file per chunk: large enough to amortise the per-chunk Python work, small
#: enough that memory stays bounded whatever the file size (two chunks are read at once).
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class DriftThresholds:
    """compare: how far a candidate export may drift from the reference before a finding."""

    max_abs_diff: float = 0.05  # LC401: largest |candidate - reference| logit
    max_kl: float = 0.01  # LC402: mean KL(reference || candidate) of the softmaxes, nats
    min_top1_agreement: float = 0.99  # LC403: share of rows with the same argmax
    max_loss_delta: float = 0.01  # LC404: |mean loss difference|, nats (labels only)


@dataclass(frozen=True)
class Settings:
    fail_on: Severity | None = Severity.ERROR  # None: never fail on findings
    chunk_rows: int | None = None  # None: derived from chunk_bytes and the class count
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    threads: int = 0  # 0: one per core (engine.thread_count)
    # where the chunks are computed: "local" (this process, --threads) or "dask" (tasks on a
    # dask.distributed cluster: `scheduler`'s address, or a LocalCluster started for the run)
    engine: str = "local"
    scheduler: str | None = None
    # what the user's loss expects: "logits" (the argument is LOGITS), "probabilities"
    # (Keras from_logits=False, sklearn log_loss) or "log_probabilities" (nll_loss)
    expects: str = "logits"
    # the loss path the user computes: "stable" (log-softmax, F.cross_entropy,
    # from_logits=True; the naive paths' failures are hazards, warnings) or "naive"
    # (softmax then log by hand: their failures are the user's, errors)
    loss_path: str = "stable"
    # rows whose label equals this are left out, as torch's F.cross_entropy does
    ignore_index: int = -100
    label_smoothing: float = 0.0  # as torch's F.cross_entropy(label_smoothing=)
    multilabel: bool = False  # (rows, classes) 0/1 labels are independent binary targets
    # extra dtypes to reproduce the naive paths in (mixed precision: float16, bfloat16)
    dtypes: tuple[str, ...] = ()
    # where the losses are also computed (backends/): numpy is the reference and needs
    # nothing more; torch, tensorflow or jax add their own stable and naive paths
    backend: str = "numpy"
    device: str = "cpu"  # torch and jax: cpu, cuda, cuda:1, ...
    cross_check: bool = False  # the stable path on every installed backend (LC110)
    # the gate (gate/), applied to the findings after the checks ran
    select: tuple[str, ...] = ()  # rule codes or prefixes; empty: every rule
    ignore: tuple[str, ...] = ()  # rule codes or prefixes; wins over select
    severity: dict[str, Severity] = field(default_factory=dict)  # code -> overridden severity
    baseline: str | None = None  # a file from `logitcheck baseline write`
    exit_zero: bool = False  # report only: findings never fail the run (errors still do)
    drift: DriftThresholds = field(default_factory=DriftThresholds)

    # --- inputs (io/): which arrays, which layout, how much may be read ---
    logits_key: str | None = None  # .npz/safetensors: None tries logits, predictions, ...
    labels_key: str | None = None  # None tries labels, targets, y
    label_column: str | None = None  # CSV/TSV: labels from this column
    class_columns: str | None = None  # CSV/TSV: names or globs ('p_*'); None: numeric ones
    class_axis: int | None = None  # None: the last axis
    shift_labels: bool = False  # causal LM: logits[:, :-1] predict labels[:, 1:]
    max_bytes: int | None = None  # None: no cap on mapped data, 8 GiB on decoded data

    # --- Gaussian NLL heads (gaussian.py) ---
    scale: str = "log-std"  # how the scale column is given: log-std, log-var, std or var
    mean_key: str | None = None  # .npz/safetensors key or CSV column of each array
    scale_key: str | None = None
    targets_key: str | None = None


@dataclass(frozen=True)
class Output:
    """Where the report goes: the chosen format on stdout (or -o FILE), plus side files."""

    format: str = "rich"
    output: str | None = None  # -o FILE instead of stdout
    json_report: str | None = None
    junit_xml: str | None = None
    summary_md: str | None = None
    color: str = "auto"  # auto | always | never
    verbosity: int = 0  # -1: the verdict line only (-q); 1: evidence and zones too (-v)
    html: str | None = None  # --html FILE: a self-contained page with the plots
