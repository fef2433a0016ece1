"""Gaussian NLL heads: the stable NLL, the naive path per dtype, the mistakes, torch."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.analyses.gaussian import GaussStats, chunk_gaussian
from logitcheck.cli.app import cli
from logitcheck.compute.stats import naive_dtypes

from .conftest import SAMPLES

G, W, F16 = (str(SAMPLES / f"{n}.npz") for n in ("gaussian", "gaussian_wide", "gaussian_fp16"))


def load(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def run(path: str, scale_key: str, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, [
        "gaussian", path, path, "--targets", path, "--mean-key", "mean", "--scale-key",
        scale_key, "--targets-key", "targets", "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def reference_nll(mu, log_std, y) -> float:
    """Element by element with the math module, as written in the issue."""
    terms = [
        ls + 0.5 * math.log(2 * math.pi) + 0.5 * ((t - m) * math.exp(-ls)) ** 2
        for m, ls, t in zip(map(float, mu), map(float, log_std), map(float, y), strict=True)
    ]
    return math.fsum(terms) / len(terms)


def simulate_naive(mu, log_std, y, dtype) -> list[int]:
    """Rows where var = exp(2 log_std) first, then the NLL, is not finite in `dtype`."""
    t = np.dtype(dtype).type
    rows = []
    with np.errstate(all="ignore"):
        for i in range(len(mu)):
            var = t(np.exp(t(2) * t(log_std[i])))
            r = t(t(y[i]) - t(mu[i]))
            nll = t(t(0.5) * t(np.log(var))) + t(0.5 * math.log(2 * math.pi)) + t(
                t(0.5) * t(t(r * r) / var))
            if not np.isfinite(nll):
                rows.append(i)
    return rows


def test_healthy_head_matches_the_reference_and_is_clean():
    a = load(G)
    code, doc = run(G, "log_std")
    assert (code, doc["findings"], doc["command"]) == (0, [], "gaussian")
    expected = reference_nll(a["mean"], a["log_std"], a["targets"])
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    # the same head given as a log-variance, declared as one: the same NLL
    code, doc = run(G, "log_var", "--scale", "log-var")
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-6)
    assert doc["findings"] == []


def test_log_var_read_as_log_std_is_lc223():
    a = load(G)
    code, doc = run(G, "log_var")
    [finding] = doc["findings"]
    assert (code, finding["code"], finding["severity"]) == (0, "LC223", "warning")
    r = a["targets"].astype(np.float64) - a["mean"]
    lv = a["log_var"].astype(np.float64)
    assert finding["evidence"]["z2_mean"] == pytest.approx(np.mean(r**2 * np.exp(-2 * lv)))
    assert finding["evidence"]["z2_mean_other_reading"] == pytest.approx(
        np.mean(r**2 * np.exp(-lv)))
    assert 0.5 < finding["evidence"]["z2_mean_other_reading"] < 2


def test_a_std_declared_as_log_std_is_lc222_and_overflows():
    a = load(W)
    code, doc = run(W, "std")
    codes = {f["code"]: f for f in doc["findings"]}
    assert code == 1 and set(codes) == {"LC121", "LC222"}
    assert codes["LC222"]["severity"] == "warning"
    assert codes["LC222"]["evidence"]["scale_min"] == float(a["std"].min())
    expected = simulate_naive(a["mean"], a["std"], a["targets"], "float32")
    assert codes["LC121"]["evidence"]["rows"] == len(expected) > 0
    assert codes["LC121"]["evidence"]["first_rows"] == expected[:10]


def test_negative_values_declared_as_a_std_are_lc221():
    code, doc = run(G, "log_std", "--scale", "std")
    assert code == 1
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("LC221", "error")]


def test_float16_head_overflows_underflows_and_torch_clamps():
    a = load(F16)
    code, doc = run(F16, "log_std")
    codes = {f["code"]: f for f in doc["findings"]}
    assert code == 1 and set(codes) == {"LC121", "LC122", "LC123"}
    for dtype in naive_dtypes("float16"):
        simulated = simulate_naive(a["mean"], a["log_std"], a["targets"], dtype)
        got = doc["metrics"]["naive"][dtype]
        assert got["failed_rows"] == len(simulated), dtype
        assert got["first_rows"] == simulated[:10], dtype
    ls = a["log_std"].astype(np.float64)
    assert codes["LC121"]["evidence"]["rows"] == int((ls > 5.545).sum()) == 30
    assert codes["LC122"]["evidence"]["rows"] == int((ls < -8.67).sum()) == 20
    expected = reference_nll(a["mean"], a["log_std"], a["targets"])
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    assert codes["LC123"]["evidence"]["loss_correct"] == pytest.approx(expected, rel=1e-12)
    assert codes["LC123"]["evidence"]["clamped_rows"] == 20


def test_torch_gaussian_nll_loss_is_what_torch_reports():
    torch = pytest.importorskip("torch")
    for path, key in ((G, "log_std"), (F16, "log_std")):
        a = load(path)
        var = torch.exp(2 * torch.tensor(a[key].astype(np.float32)))
        expected = torch.nn.GaussianNLLLoss(full=True)(
            torch.tensor(a["mean"].astype(np.float32)), torch.tensor(
                a["targets"].astype(np.float32)), var)
        _, doc = run(path, key)
        assert doc["metrics"]["torch_gaussian_nll"]["loss"] == pytest.approx(
            float(expected), rel=1e-5)


def test_gaussian_statistics_do_not_depend_on_chunking():
    a = load(F16)
    dtypes = naive_dtypes("float16")

    def stats(step: int) -> GaussStats:
        total = GaussStats()
        for i in range(0, len(a["mean"]), step):
            s = slice(i, i + step)
            total = total.merge(chunk_gaussian(
                a["mean"][s], a["log_std"][s], a["targets"][s], i, "log-std", dtypes))
        return total

    assert stats(1) == stats(37) == stats(2000)


def test_csv_columns_and_separate_npy_files(tmp_path):
    a = load(G)
    csv = tmp_path / "head.csv"
    lines = ["mu,log_std,y"] + [f"{m!r},{s!r},{t!r}" for m, s, t in zip(
        a["mean"].tolist(), a["log_std"].tolist(), a["targets"].tolist(), strict=True)]
    csv.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, [
        "gaussian", str(csv), str(csv), "--targets", str(csv), "--mean-key", "mu",
        "--scale-key", "log_std", "--targets-key", "y", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expected = reference_nll(a["mean"], a["log_std"], a["targets"])
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    paths = []
    for k in ("mean", "log_std", "targets"):
        np.save(tmp_path / f"{k}.npy", a[k])
        paths.append(str(tmp_path / f"{k}.npy"))
    result = CliRunner().invoke(cli, ["gaussian", paths[0], paths[1], "--targets", paths[2],
                                      "--format", "json"])
    assert json.loads(result.stdout)["metrics"]["loss_stable"] == pytest.approx(expected,
                                                                                 rel=1e-12)


def test_mismatched_shapes_are_exit_2(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros(10, np.float32))
    np.save(tmp_path / "s.npy", np.zeros(9, np.float32))
    result = CliRunner().invoke(cli, ["gaussian", str(tmp_path / "m.npy"),
                                      str(tmp_path / "s.npy")])
    assert result.exit_code == 2
    assert "s.npy: shape (9,) does not match the mean (10,)" in result.stderr


def test_gaussian_report_as_html(tmp_path):
    page = tmp_path / "g.html"
    result = CliRunner().invoke(cli, [
        "gaussian", F16, F16, "--targets", F16, "--mean-key", "mean", "--scale-key", "log_std",
        "--targets-key", "targets", "--html", str(page)])
    assert result.exit_code == 1, result.output
    text = page.read_text()
    assert "<h2>Gaussian NLL</h2>" in text and "LC121" in text and "LC122" in text
