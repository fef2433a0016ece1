""".pt / .pth inputs: torch.save files read with torch.load(weights_only=True), a tensor or
a dict of tensors chosen by key; anything else, or no torch, is one line and exit 2."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import assert_clean_error
from .reference import exact_losses

torch = pytest.importorskip("torch")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def analyze_json(*args: str):
    result = run("analyze", *args, "--format", "json")
    return result.exit_code, (json.loads(result.stdout) if result.stdout else None)


@pytest.fixture
def arrays():
    g = torch.Generator().manual_seed(0)
    return torch.randn(300, 7, generator=g) * 3, torch.randint(0, 7, (300,), generator=g)


def _reference(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(exact_losses(z.astype(np.float64), y)))


def test_a_tensor_and_its_labels(tmp_path, arrays):
    z, y = arrays
    torch.save(z, tmp_path / "logits.pt")
    torch.save(y, tmp_path / "labels.pth")
    code, doc = analyze_json(str(tmp_path / "logits.pt"), "--labels", str(tmp_path / "labels.pth"))
    assert code == 0
    assert doc["inputs"][0]["format"] == "pt" and doc["inputs"][0]["shape"] == [300, 7]
    assert doc["inputs"][1]["dtype"] == "int64"
    assert doc["metrics"]["loss_stable"] == pytest.approx(_reference(z.numpy(), y.numpy()),
                                                          rel=1e-12)
    expected = torch.nn.functional.cross_entropy(z.double(), y).item()
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)


def test_a_dict_of_tensors_chosen_by_key(tmp_path, arrays):
    z, y = arrays
    path = tmp_path / "outputs.pth"
    torch.save({"scores": z.softmax(dim=1), "targets": y, "epoch": 3}, path)
    code, doc = analyze_json(str(path), "--logits-key", "scores")
    assert code == 1  # softmax output where logits are expected
    assert [(f["code"], f["severity"]) for f in doc["findings"]][0] == ("LC201", "error")
    assert (doc["inputs"][0]["key"], doc["inputs"][1]["key"]) == ("scores", "targets")
    result = run("analyze", str(path), "--logits-key", "epoch")
    assert_clean_error(result, str(path), "no array 'epoch' (--logits-key); it holds 'scores', "
                       "'targets'")


def test_bfloat16_and_float16_tensors(tmp_path, arrays):
    z, y = arrays
    torch.save({"logits": z.to(torch.bfloat16), "labels": y}, tmp_path / "bf.pt")
    code, doc = analyze_json(str(tmp_path / "bf.pt"))
    assert code == 0 and doc["inputs"][0]["dtype"] == "bfloat16"
    widened = z.to(torch.bfloat16).float().numpy()
    assert doc["metrics"]["loss_stable"] == pytest.approx(_reference(widened, y.numpy()),
                                                          rel=1e-12)
    torch.save((z / 4).half(), tmp_path / "h.pt")  # within float16's naive range
    code, doc = analyze_json(str(tmp_path / "h.pt"))
    assert code == 0 and doc["inputs"][0]["dtype"] == "float16"


def test_legacy_format_is_read_too(tmp_path, arrays):
    z, _ = arrays
    torch.save(z, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    code, doc = analyze_json(str(tmp_path / "old.pt"))
    assert code == 0 and doc["inputs"][0]["shape"] == [300, 7]


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)


def test_pickled_objects_are_refused_not_run(tmp_path, arrays):
    z, y = arrays
    torch.save(Net(), tmp_path / "model.pt")
    assert_clean_error(run("analyze", str(tmp_path / "model.pt")), "model.pt: holds pickled "
                       "objects that are not tensors", "weights_only=True", "Net")
    torch.save([z, y], tmp_path / "pair.pt")
    assert_clean_error(run("analyze", str(tmp_path / "pair.pt")),
                       "pair.pt: holds a list of 2 items; logitcheck reads a tensor or a dict")
    torch.save({"epoch": 3}, tmp_path / "meta.pt")
    assert_clean_error(run("analyze", str(tmp_path / "meta.pt")),
                       "meta.pt: holds a dict with no tensor in it (keys: 'epoch')")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    assert_clean_error(run("analyze", str(tmp_path / "junk.pt")), "junk.pt: not a readable "
                       "PyTorch file")
    torch.save(z, tmp_path / "one.pt")
    assert_clean_error(run("analyze", str(tmp_path / "one.pt"), "--logits-key", "x"),
                       "holds one tensor, not a dict: --logits-key 'x' does not apply")


def test_without_torch_the_message_gives_the_conversion(tmp_path, arrays, monkeypatch):
    z, _ = arrays
    torch.save(z, tmp_path / "model_logits.pt")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails, as uninstalled
    line = assert_clean_error(run("analyze", str(tmp_path / "model_logits.pt")))
    assert line == (
        f"logitcheck: error: {tmp_path / 'model_logits.pt'}: is a PyTorch file: reading it "
        "needs torch (pip install 'logitcheck[torch]'); or convert it where torch is "
        "installed: t = torch.load('model_logits.pt', weights_only=True); "
        "numpy.save('model_logits.npy', t.float().numpy()) (a dict of tensors: "
        "numpy.savez('model_logits.npz', **{k: v.numpy() for k, v in t.items()}))")


def test_inspect_lists_the_tensors(tmp_path, arrays):
    z, y = arrays
    torch.save({"logits": z, "labels": y}, tmp_path / "d.pt")
    result = run("inspect", str(tmp_path / "d.pt"))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "  logits: 300 × 7 float32, 8,400 bytes (torch.load, mapped)",
        "  labels: 300 int64, 2,400 bytes (torch.load, mapped)",
    ]


def test_the_values_are_the_tensors(tmp_path, arrays):
    from logitcheck.io import open_logits

    z, _ = arrays
    torch.save(z.t().contiguous().t(), tmp_path / "strided.pt")  # not C-contiguous
    source = open_logits(tmp_path / "strided.pt")
    assert np.array_equal(source.read(0, 300), z.numpy())
