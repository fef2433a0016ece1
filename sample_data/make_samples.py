"""Writes the sample files, deterministically: python sample_data/make_samples.py

Each file shows one situation logitcheck diagnoses:

- healthy_logits.npy       float32 logits of a 10-class classifier, 77 % accurate: clean
- probs_as_logits.npy      the same rows after softmax, saved as if they were logits: LC201
- fp16_overflow_logits.npy float16 logits of a sharper model; max logit above 11.09: LC101
- fp32_underflow_logits.npy float32 logits with confidently wrong rows (range > 103.97): LC102
- double_softmax.npy       softmax applied twice: LC202
- log_probs.npy            log_softmax output: LC205 (info); LC204 with --expects probabilities
- softmax_wrong_axis.npy   softmax over the batch axis: LC209
- sigmoid_multilabel.npy   independent sigmoids of a multi-label model: LC207 (warning)
- binary_logits.npy        a binary classifier's logits, shape (N,): clean
- binary_probs.npy         their sigmoid: LC206 (binary probabilities where logits go)
- double_sigmoid.npy       sigmoid applied twice: LC208
- labels.npy               int64 class ids shared by the 10-class files
- binary_labels.npy        0/1 labels for the binary files

gaussian.npz, gaussian_wide.npz and gaussian_fp16.npz hold Gaussian NLL heads (see _gaussian).

healthy_logits.npy also shows LC203 (--expects probabilities) and LC211
(--expects log-probabilities); probs_as_logits.npy shows LC210 (--expects log-probabilities).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROWS, CLASSES = 2000, 10
HERE = Path(__file__).resolve().parent


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make(out: Path = HERE) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261122)
    labels = rng.integers(0, CLASSES, size=ROWS)
    # A plausible classifier: noise, a margin for the true class, some confident mistakes.
    logits = rng.normal(0.0, 1.5, size=(ROWS, CLASSES))
    rows = np.arange(ROWS)
    logits[rows, labels] += rng.normal(4.0, 1.5, size=ROWS)
    healthy = logits.astype(np.float32)

    probs = _softmax(healthy.astype(np.float64)).astype(np.float32)

    # The same logits with a constant offset (softmax ignores it; a bias term adds one),
    # stored in float16: the top 3 % of rows pass exp's 11.09 limit in float16.
    # Scaled by 0.9 so that no row's range reaches float16's 17.33 underflow range.
    sharp = 0.9 * logits
    offset = 11.5 - np.quantile(sharp.max(axis=1), 0.97)
    fp16 = (sharp + offset).astype(np.float16)

    # A model that is sometimes confidently wrong: the top logit of 40 rows sits ~110
    # above the label's, past float32's 103.97 underflow range but below its overflow.
    underflow = healthy.copy()
    wrong = np.sort(rng.choice(ROWS, size=40, replace=False))
    other = (labels[wrong] + 1 + rng.integers(0, CLASSES - 1, size=wrong.size)) % CLASSES
    underflow[wrong, other] = rng.uniform(55.0, 70.0, size=wrong.size)
    underflow[wrong, labels[wrong]] = rng.uniform(-60.0, -45.0, size=wrong.size)

    double = _softmax(probs.astype(np.float64)).astype(np.float32)
    shifted = healthy.astype(np.float64) - healthy.max(axis=1, keepdims=True)
    log_probs = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).astype(np.float32)
    wrong_axis = _softmax(healthy.astype(np.float64).T).T.astype(np.float32)
    multi = rng.normal(-3.0, 2.5, size=(ROWS, CLASSES))
    sigmoid_multi = (1 / (1 + np.exp(-multi))).astype(np.float32)
    binary_labels = rng.integers(0, 2, size=ROWS)
    binary = rng.normal(0.0, 1.5, size=ROWS) + 3.0 * (2 * binary_labels - 1)
    binary_probs = 1 / (1 + np.exp(-binary))

    gaussian = _gaussian(rng)

    arrays = {
        "labels": labels.astype(np.int64),
        "healthy_logits": healthy,
        "probs_as_logits": probs,
        "fp16_overflow_logits": fp16,
        "fp32_underflow_logits": underflow,
        "double_softmax": double,
        "log_probs": log_probs,
        "softmax_wrong_axis": wrong_axis,
        "sigmoid_multilabel": sigmoid_multi,
        "binary_labels": binary_labels.astype(np.int64),
        "binary_logits": binary.astype(np.float32),
        "binary_probs": binary_probs.astype(np.float32),
        "double_sigmoid": (1 / (1 + np.exp(-binary_probs))).astype(np.float32),
    }
    for name, array in arrays.items():
        np.save(out / f"{name}.npy", array, allow_pickle=False)
    for name, members in gaussian.items():
        np.savez(out / f"{name}.npz", **members)
        arrays.update({f"{name}.{k}": v for k, v in members.items()})
    return arrays


def _gaussian(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """Gaussian NLL heads (mean, scale, targets), one .npz each:

    - gaussian.npz        healthy: mean, log_std (~ -1.5, a std of 0.22), log_var (the same
                          scale as a log-variance: LC223 when passed as a log-std), targets
    - gaussian_wide.npz   a std of about 20 exported under the log-std's name: LC222
    - gaussian_fp16.npz   float16 log_std with 30 rows above 5.545 (the variance overflows:
                          LC121) and 20 below -8.66 (it rounds to 0: LC122; torch clamps
                          those variances at 1e-6: LC123)
    """
    n = ROWS
    mean = rng.normal(0.0, 2.0, n)
    log_std = rng.normal(-1.5, 0.3, n)
    targets = mean + np.exp(log_std) * rng.normal(size=n)
    wide_std = np.exp(rng.normal(3.0, 0.3, n))
    wide_targets = mean + wide_std * rng.normal(size=n)
    f16 = rng.normal(-0.5, 0.3, n)
    f16[rng.choice(n, 30, replace=False)] = rng.uniform(5.6, 7.0, 30)
    low = rng.choice(np.flatnonzero(f16 < 1), 20, replace=False)
    f16[low] = rng.uniform(-10.0, -8.8, 20)
    f16_targets = mean + np.exp(f16) * rng.normal(size=n)
    f32 = np.float32
    return {
        "gaussian": {"mean": mean.astype(f32), "log_std": log_std.astype(f32),
                     "log_var": (2 * log_std).astype(f32), "targets": targets.astype(f32)},
        "gaussian_wide": {"mean": mean.astype(f32), "std": wide_std.astype(f32),
                          "targets": wide_targets.astype(f32)},
        "gaussian_fp16": {"mean": mean.astype(np.float16), "log_std": f16.astype(np.float16),
                          "targets": f16_targets.astype(np.float16)},
    }


if __name__ == "__main__":
    for name, array in make().items():
        print(f"{name}.npy  {array.shape}  {array.dtype}")
