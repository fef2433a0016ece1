"""PyTorch: torch.log_softmax / torch.softmax / ..., and F.cross_entropy, nn.NLLLoss and
F.binary_cross_entropy_with_logits as a user calls them."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import ApiRows, Backend, BackendUnavailable

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
           "float64": torch.float64}


class TorchBackend(Backend):
    name = "torch"
    label = "PyTorch"
    stable_primitive = "torch.log_softmax"
    stable_sigmoid = "F.logsigmoid"

    @property
    def version(self) -> str:
        return torch.__version__

    def tensor(self, x, dtype):
        # a copy: chunks may be read-only memory maps, which torch.from_numpy warns about
        t = torch.from_numpy(np.array(x, order="C"))
        return t.to(device=self.device, dtype=_DTYPES[dtype])

    def numpy(self, t):
        t = t.detach().cpu()
        return t.numpy() if t.dtype == torch.bool else t.to(torch.float64).numpy()

    def log_softmax(self, t):
        return torch.log_softmax(t, dim=1)

    def softmax(self, t):
        return torch.softmax(t, dim=1)

    def log_sigmoid(self, t):
        return F.logsigmoid(t)

    def sigmoid(self, t):
        return torch.sigmoid(t)

    def exp(self, t):
        return torch.exp(t)

    def log(self, t):
        return torch.log(t)

    def row_sum(self, t, keepdims=False):
        return t.sum(dim=1, keepdim=keepdims)

    def pick(self, t, index):
        # copies: labels may be a read-only memory map too (see tensor())
        idx = torch.from_numpy(np.array(index, dtype=np.int64)).to(t.device)
        return t.gather(1, idx[:, None])[:, 0]

    def select(self, mask, a, other):
        return torch.where(torch.from_numpy(np.asarray(mask)).to(a.device), a, other)

    def api_losses(self, z, task):
        dtype = task.api_dtype
        x = self.tensor(z, dtype)
        if task.sigmoid:
            t = self.tensor(task.multi, dtype)
            el = F.binary_cross_entropy_with_logits(x, t, reduction="none")
            return {"torch F.binary_cross_entropy_with_logits": ApiRows(self.numpy(el.mean(1)))}
        ids = torch.from_numpy(np.array(task.ids, dtype=np.int64)).to(self.device)
        target = ids if task.dense_labels is None else self.tensor(task.dense_labels, dtype)
        ce = F.cross_entropy(x, target, reduction="none", ignore_index=task.ignore_index,
                             label_smoothing=task.smoothing)
        out = {"torch F.cross_entropy": ApiRows(self.numpy(ce))}
        if task.dense_labels is None and not task.smoothing:
            nll = torch.nn.NLLLoss(reduction="none", ignore_index=task.ignore_index)
            out["torch nn.NLLLoss(log_softmax)"] = ApiRows(
                self.numpy(nll(torch.log_softmax(x, dim=1), ids)))
        return out


def make(device: str) -> TorchBackend:
    try:
        dev = torch.device(device)
        torch.empty(1, device=dev)
    except (RuntimeError, AssertionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackendUnavailable(
            f"--device {device}: not available to PyTorch {torch.__version__} ({first})"
        ) from None
    return TorchBackend(str(dev))
