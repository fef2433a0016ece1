"""Which array of a multi-array file (.npz, safetensors) holds the logits, which the labels."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InputError

LOGITS_KEYS = ("logits", "predictions", "outputs", "probs")
LABELS_KEYS = ("labels", "targets", "y")


def _listing(keys: Sequence[str]) -> str:
    return ", ".join(repr(k) for k in keys) if keys else "none"


def logits_key(path: object, keys: Sequence[str], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in keys:
            raise InputError(path, f"no array {wanted!r} (--logits-key); it holds {_listing(keys)}")
        return wanted
    for k in LOGITS_KEYS:
        if k in keys:
            return k
    others = [k for k in keys if k not in LABELS_KEYS]
    if len(others) == 1:  # np.savez(f, arr) stores 'arr_0'
        return others[0]
    raise InputError(
        path,
        f"no logits array among {_listing(keys)} (looked for {', '.join(LOGITS_KEYS)}); "
        "choose one with --logits-key",
    )


def labels_key(path: object, keys: Sequence[str], wanted: str | None, required: bool) -> str | None:
    """The labels' key; None when none is present and none was asked for (not required)."""
    if wanted is not None:
        if wanted not in keys:
            raise InputError(path, f"no array {wanted!r} (--labels-key); it holds {_listing(keys)}")
        return wanted
    for k in LABELS_KEYS:
        if k in keys:
            return k
    if required:
        if len(keys) == 1:
            return keys[0]
        raise InputError(
            path,
            f"no labels array among {_listing(keys)} (looked for {', '.join(LABELS_KEYS)}); "
            "choose one with --labels-key",
        )
    return None
