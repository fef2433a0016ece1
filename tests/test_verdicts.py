"""Issue 20: verdicts on real exports. Each file here is made by a framework call (torch,
sklearn, Keras, JAX where installed); each test asserts the verdict, the severity and the
numbers against what that framework itself computes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import save
from .reference import exact_losses


def analyze(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["analyze", *args, "--format", "json"],
                                catch_exceptions=False)
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def by_code(doc: dict) -> dict[str, dict]:
    return {f["code"]: f for f in doc["findings"]}


# --- precision: healthy models pass the default gate -----------------------------------


def train_classifier(seed: int, n: int, d: int, c: int, spread: float, optimizer: str,
                     lr: float, steps: int):
    """A torch linear classifier trained on Gaussian blobs: its logits and labels."""
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * spread
    y = torch.randint(0, c, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    model = torch.nn.Linear(d, c)
    torch.nn.init.normal_(model.weight, std=0.01, generator=g)
    opt = getattr(torch.optim, optimizer)(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        return model(x), y


@pytest.fixture(scope="module")
def fp16_torch_export(tmp_path_factory):
    """A small torch classifier trained until confident, its logits exported in float16."""
    z, y = train_classifier(0, 1200, 16, 10, 4.0, "SGD", 0.5, 300)
    z = z.half()
    tmp = tmp_path_factory.mktemp("fp16")
    return save(tmp / "logits.npy", z.numpy()), save(tmp / "labels.npy", y.numpy()), z, y


def test_a_healthy_fp16_torch_export_passes_the_default_gate(fp16_torch_export):
    import torch.nn.functional as F

    logits, labels, z, y = fp16_torch_export
    assert float(z.max()) > 20  # confident: exp(z) is inf in float16 above 11.09
    torch_loss = F.cross_entropy(z.double(), y).item()
    code, doc = analyze(logits, "--labels", labels)
    assert code == 0
    assert doc["metrics"]["loss_stable"] == pytest.approx(torch_loss, rel=1e-9)
    lc101 = by_code(doc)["LC101"]
    assert lc101["severity"] == "warning"
    assert "would overflow" in lc101["message"]
    assert lc101["evidence"]["headroom"] == pytest.approx(11.0898 - float(z.max()), abs=1e-3)
    # the user's naive path is an error
    code, doc = analyze(logits, "--labels", labels, "--loss-path", "naive")
    assert code == 1 and by_code(doc)["LC101"]["severity"] == "error"


def test_with_backend_torch_lc101_follows_what_torch_does(fp16_torch_export):
    torch = pytest.importorskip("torch")
    logits, labels, z, y = fp16_torch_export
    # torch's softmax subtracts the row max: it never overflows in float16 (it underflows)
    assert torch.isfinite(torch.softmax(z, dim=1)).all()
    code, doc = analyze(logits, "--labels", labels, "--backend", "torch", "--loss-path", "naive")
    f = by_code(doc)["LC101"]
    assert f["evidence"]["computed_by"] == "PyTorch"
    assert f["evidence"]["paths"]["softmax_then_log"]["failed_rows"] == 0
    with np.errstate(over="ignore"):
        z16 = z.float().numpy().astype(np.float16)
        by_hand = np.isinf(np.exp(z16).sum(axis=1, dtype=np.float16))
    assert f["evidence"]["paths"]["no_max_shift"]["failed_rows"] == int(by_hand.sum()) > 0
    assert "does not overflow" in f["message"]


def test_a_confident_binary_logistic_regression_passes_the_default_gate(tmp_path):
    sklearn = pytest.importorskip("sklearn.linear_model")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-3, 1, (300, 2)), rng.normal(3, 1, (300, 2))])
    y = np.repeat([0, 1], 300)
    x[::50] *= 9  # a few rows far out on their own side: confidently right
    lr = sklearn.LogisticRegression(max_iter=1000).fit(x, y)
    z = lr.decision_function(x).astype(np.float32)
    assert np.abs(z).max() > 88.8  # exp(z) is inf in float32
    bce = torch.nn.BCEWithLogitsLoss()(torch.from_numpy(z), torch.from_numpy(y).float()).item()
    code, doc = analyze(save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", y))
    assert code == 0
    assert doc["metrics"]["loss_stable"] == pytest.approx(bce, rel=1e-4, abs=1e-7)
    f = by_code(doc)["LC101"]
    assert f["severity"] == "warning"
    assert "sigmoid / BCE" in f["message"] and "softmax" not in f["message"]
    assert "BCEWithLogitsLoss" in f["fix"]["pytorch"]


# --- the loss reduction in the storage dtype (pytorch#85791) ---------------------------


@pytest.mark.parametrize("rows, confident, torch_says", [
    (30_000, False, "inf"),  # the float16 sum passes 65504
    (70_000, False, "nan"),  # ... and the row count too: inf / inf
    (70_000, True, "0"),  # a finite sum over an infinite count: the mean is 0
])
def test_a_float16_mean_that_breaks_is_lc109_as_torch_computes_it(tmp_path, rows, confident,
                                                                   torch_says):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(rows)
    c = 10
    y = rng.integers(0, c, rows)
    if confident:
        z = np.zeros((rows, c), np.float16)
        z[np.arange(rows), y] = 8
    else:
        z = rng.standard_normal((rows, c)).astype(np.float16)
    torch_mean = torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(y))
    assert str(torch_mean.item()) == {"inf": "inf", "nan": "nan", "0": "0.0"}[torch_says]
    code, doc = analyze(save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", y))
    f = by_code(doc)["LC109"]
    assert f["severity"] == "warning" and code == 0
    assert str(f["evidence"]["mean_in_dtype"]) == {"inf": "inf", "nan": "nan", "0": "0.0"}[
        torch_says]
    true = exact_losses(z.astype(np.float64), y).mean()
    assert f["evidence"]["loss"] == pytest.approx(true, rel=1e-12)
    # from this row on the float16 sum (or count) is inf: check it against torch itself
    k = f["evidence"]["breaks_at_row"]
    head = torch.from_numpy(z[: k - 200]), torch.from_numpy(y[: k - 200])
    assert torch.isfinite(torch.nn.functional.cross_entropy(*head))
    tail = torch.from_numpy(z[: k + 200]), torch.from_numpy(y[: k + 200])
    assert not torch.isfinite(torch.nn.functional.cross_entropy(*tail)) or k == 65_520


def test_a_float16_mean_that_holds_is_not_lc109(tmp_path):
    rng = np.random.default_rng(3)
    z = rng.standard_normal((20_000, 10)).astype(np.float16)  # sum about 55,000 < 65,504
    y = rng.integers(0, 10, 20_000)
    code, doc = analyze(save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", y))
    assert "LC109" not in by_code(doc) and code == 0


# --- recall: the mistakes users really make --------------------------------------------


@pytest.fixture(scope="module")
def causal_lm(tmp_path_factory):
    """A bigram LM trained with torch on sequences whose next token follows from the current
    one, exported HF style: labels = input_ids, -100 on the padding at the end."""
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    vocab, batch, steps = 50, 16, 24
    ids = torch.empty(batch, steps, dtype=torch.long)
    ids[:, 0] = torch.randint(0, vocab, (batch,), generator=g)
    for t in range(1, steps):
        ids[:, t] = (ids[:, t - 1] * 7 + 3) % vocab
    model = torch.nn.Embedding(vocab, vocab)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x, target = ids[:, :-1], ids[:, 1:]
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x).flatten(0, 1), target.flatten()).backward()
        opt.step()
    with torch.no_grad():
        logits = model(ids).float()
    labels = ids.clone()
    labels[::3, -4:] = -100  # padding
    shifted = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100).item()
    unshifted = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), labels.flatten(), ignore_index=-100).item()
    tmp = tmp_path_factory.mktemp("lm")
    return (save(tmp / "logits.npy", logits.numpy()), save(tmp / "labels.npy", labels.numpy()),
            shifted, unshifted)


def test_unshifted_causal_lm_labels_are_lc304_with_the_shift_hint(causal_lm):
    logits, labels, shifted, unshifted = causal_lm
    assert unshifted > 5 * shifted
    code, doc = analyze(logits, "--labels", labels)
    assert code == 1
    assert doc["metrics"]["loss_stable"] == pytest.approx(unshifted, rel=1e-5)
    f = by_code(doc)["LC304"]
    assert f["severity"] == "error" and f["evidence"]["reading"] == "shifted"
    assert "pass --shift-labels" in f["message"]
    assert f["evidence"]["other"]["loss"] == pytest.approx(shifted, rel=1e-5)
    assert f["evidence"]["other"]["accuracy"] == 1.0
    # with the shift: torch's loss, and no finding
    code, doc = analyze(logits, "--labels", labels, "--shift-labels")
    assert code == 0 and "LC304" not in by_code(doc)
    assert doc["metrics"]["loss_stable"] == pytest.approx(shifted, rel=1e-5)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A torch softmax classifier on 10 classes, trained on labels 0..9."""
    z, y = train_classifier(1, 1500, 12, 10, 3.0, "Adam", 0.05, 200)
    return tmp_path_factory.mktemp("clf"), z.numpy(), y.numpy()


def test_one_based_labels_in_range_are_lc304_with_the_subtract_hint(classifier):
    tmp, z, y = classifier
    keep = y != 9  # class 9 never occurs: the 1-based ids 1..9 stay in range
    z, y = z[keep], y[keep]
    right = exact_losses(z.astype(np.float64), y)
    off = exact_losses(z.astype(np.float64), y + 1)
    code, doc = analyze(save(tmp / "z.npy", z), "--labels", save(tmp / "y1.npy", y + 1))
    assert code == 1
    f = by_code(doc)["LC304"]
    assert f["evidence"]["reading"] == "labels - 1"
    assert "labels 1-based? subtract 1" in f["message"]
    assert f["evidence"]["loss"] == pytest.approx(off.mean(), rel=1e-12)
    assert f["evidence"]["other"]["loss"] == pytest.approx(right.mean(), rel=1e-12)
    accuracy = (z.argmax(1) == y).mean()
    assert f["evidence"]["other"]["accuracy"] == pytest.approx(accuracy)
    # the labels as they are: no finding
    code, doc = analyze(save(tmp / "z.npy", z), "--labels", save(tmp / "y.npy", y))
    assert "LC304" not in by_code(doc) and code == 0


def test_one_based_labels_out_of_range_say_subtract_1(classifier, tmp_path):
    _, z, y = classifier
    result = CliRunner().invoke(cli, ["analyze", save(tmp_path / "z.npy", z), "--labels",
                                      save(tmp_path / "y.npy", y + 1)])
    assert result.exit_code == 2
    assert "labels 1-based (1..C)? subtract 1" in result.stderr
    assert result.stderr.count("\n") == 1


def test_transposed_logits_say_so(classifier, tmp_path):
    _, z, y = classifier
    result = CliRunner().invoke(cli, ["analyze", save(tmp_path / "z.npy", z.T), "--labels",
                                      save(tmp_path / "y.npy", y)])
    assert result.exit_code == 2
    assert ("transposed? the logits have 10 rows and 1,500 columns, and there are 1,500 "
            "labels: pass --class-axis 0") in result.stderr
    code, doc = analyze(str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"),
                        "--class-axis", "0")
    assert code == 0
    assert doc["metrics"]["loss_stable"] == pytest.approx(
        exact_losses(z.astype(np.float64), y).mean(), rel=1e-12)


def test_multi_label_sigmoid_outputs_as_logits_are_an_error_with_both_losses(tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(2)
    n, d, k = 800, 10, 6
    x = torch.randn(n, d, generator=g)
    t = (x[:, :k] + 0.3 * torch.randn(n, k, generator=g) > 0).float()
    model = torch.nn.Linear(d, k)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(x), t).backward()
        opt.step()
    with torch.no_grad():
        p = torch.sigmoid(model(x))  # exported after the sigmoid
    reported = torch.nn.BCEWithLogitsLoss()(p.double(), t.double()).item()
    correct = torch.nn.BCELoss()(p.double(), t.double()).item()
    code, doc = analyze(save(tmp_path / "p.npy", p.numpy()), "--labels",
                        save(tmp_path / "t.npy", t.numpy()), "--multi-label")
    assert code == 1
    f = by_code(doc)["LC207"]
    assert f["severity"] == "error"
    assert f["evidence"]["loss_reported"] == pytest.approx(reported, rel=1e-6)
    assert f["evidence"]["loss_correct"] == pytest.approx(correct, rel=1e-6)
    assert f"reports {reported:.4f} where the correct loss is {correct:.4f}" in f["message"]


def test_transposed_outputs_without_labels_are_a_warning(classifier, tmp_path):
    _, z, _ = classifier
    code, doc = analyze(save(tmp_path / "z.npy", z[:200].T))  # (10, 200)
    f = by_code(doc)["LC003"]
    assert code == 0 and f["severity"] == "warning"
    assert f["evidence"] == {"rows": 10, "classes": 200}
    e = np.exp(z[:200] - z[:200].max(axis=1, keepdims=True))
    p = (e / e.sum(axis=1, keepdims=True)).T  # probabilities saved as (classes, samples)
    code, doc = analyze(save(tmp_path / "p.npy", p))
    f = by_code(doc)["LC209"]
    assert "transposed? the array has 10 rows and 200 columns" in f["message"]
    assert "LC003" not in by_code(doc)
    # the right way round: neither
    code, doc = analyze(save(tmp_path / "ok.npy", z[:200]))
    assert not {"LC003", "LC209"} & set(by_code(doc))


# --- the loss the user sees ------------------------------------------------------------


def test_expects_probabilities_headlines_the_users_loss(tmp_path):
    sklearn = pytest.importorskip("sklearn.linear_model")
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(4)
    c = 4
    y = rng.integers(0, c, 600)
    x = rng.normal(size=(600, 5)) + 2.5 * np.eye(c, 5)[y]
    p = sklearn.LogisticRegression(max_iter=1000).fit(x, y).predict_proba(x)
    truth = log_loss(y, p)
    as_logits = exact_losses(p, y).mean()
    logits, labels = save(tmp_path / "p.npy", p), save(tmp_path / "y.npy", y)
    code, doc = analyze(logits, "--labels", labels, "--expects", "probabilities")
    assert code == 0
    loss = doc["metrics"]["loss"]
    assert loss["value"] == pytest.approx(truth, rel=1e-9)
    assert loss["as_logits"] == pytest.approx(as_logits, rel=1e-12)
    assert loss["formula"] == "-log p_y" and loss["inf_rows"] == 0
    sk = doc["metrics"]["frameworks"]["sklearn.metrics.log_loss"]["loss"]
    assert sk == pytest.approx(truth, rel=1e-9)
    rows = doc["metrics"]["worst_rows"]
    assert [r["loss_declared"] for r in rows] == pytest.approx(
        [-np.log(p[r["row"], y[r["row"]]]) for r in rows], rel=1e-12)
    text = CliRunner().invoke(cli, ["analyze", logits, "--labels", labels, "--expects",
                                    "probabilities"]).stdout
    headline = next(line for line in text.splitlines() if "loss:" in line)
    assert f"loss: {truth:.6g} (-log p_y)" in headline and f"{as_logits:.6g}" not in headline
    assert f"read as logits {as_logits:.6g}" in text
    assert "your loss" in text and "loss paths (the values read as logits)" in text


def test_a_loss_of_zero_prints_0_and_a_large_gap_is_not_ok():
    from logitcheck.report.common import gap_text
    from logitcheck.report.tables import num

    assert num(-0.0) == "0" and num(0.0) == "0"
    assert gap_text({"max_rel_gap": 3.4e-7, "max_rel_gap_row": 3}) == (
        "ok (rel. gap ≤ 3.4e-07)", True)
    assert gap_text({"max_rel_gap": 1.0, "max_rel_gap_row": 12}) == (
        "off by up to 100% (row 12)", False)


def test_keras_softmax_outputs_under_expects_probabilities_headline_keras_loss(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(5)
    c = 3
    y = rng.integers(0, c, 300)
    x = (rng.normal(size=(300, 4)) + 2 * np.eye(c, 4)[y]).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(c, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    model.fit(x, y, epochs=5, verbose=0)
    p = model.predict(x, verbose=0)
    keras_loss = float(keras.losses.SparseCategoricalCrossentropy()(y, p))
    code, doc = analyze(save(tmp_path / "p.npy", p), "--labels", save(tmp_path / "y.npy", y),
                        "--expects", "probabilities")
    assert code == 0
    assert doc["metrics"]["loss"]["value"] == pytest.approx(keras_loss, rel=1e-5)
    name = "keras.SparseCategoricalCrossentropy(from_logits=False)"
    assert doc["metrics"]["frameworks"][name]["loss"] == pytest.approx(keras_loss, rel=1e-5)
    # the same file read as logits (the default) is LC201: probabilities where logits belong
    code, doc = analyze(str(tmp_path / "p.npy"), "--labels", str(tmp_path / "y.npy"))
    assert code == 1 and by_code(doc)["LC201"]["severity"] == "error"


def test_with_backend_jax_lc101_follows_what_jax_does(fp16_torch_export):
    jax = pytest.importorskip("jax")
    logits, labels, z, _ = fp16_torch_export
    z16 = jax.numpy.asarray(z.numpy())
    assert bool(jax.numpy.isfinite(jax.nn.softmax(z16, axis=1)).all())  # shifts by the max
    code, doc = analyze(logits, "--labels", labels, "--backend", "jax")
    f = by_code(doc)["LC101"]
    assert f["evidence"]["computed_by"] == "JAX" and f["severity"] == "warning"
    assert f["evidence"]["paths"]["softmax_then_log"]["failed_rows"] == 0
    by_hand = ~jax.numpy.isfinite(jax.numpy.log(jax.numpy.exp(z16).sum(axis=1)))
    assert f["evidence"]["paths"]["no_max_shift"]["failed_rows"] == int(by_hand.sum()) > 0
    assert code == 0


def test_loss_path_in_a_yaml_batch(tmp_path, samples):
    config = tmp_path / "logitcheck.yaml"
    z, y = samples / "fp16_overflow_logits.npy", samples / "labels.npy"
    config.write_text(
        "version: 1\njobs:\n"
        f"  - name: naive\n    logits: {z}\n    labels: {y}\n    loss-path: naive\n"
        f"  - name: stable\n    logits: {z}\n    labels: {y}\n")
    result = CliRunner().invoke(cli, ["run", str(config), "-q"])
    assert result.exit_code == 1
    assert "2 jobs: 1 warn, 1 fail (exit 1)" in result.stdout
    bad = CliRunner().invoke(cli, ["config", "validate", str(config.with_name("bad.yaml"))])
    assert bad.exit_code == 2
    config.with_name("bad.yaml").write_text(config.read_text().replace("naive\n", "sloppy\n"))
    bad = CliRunner().invoke(cli, ["config", "validate", str(config.with_name("bad.yaml"))])
    assert bad.exit_code == 2 and "loss-path" in bad.stderr and "'sloppy'" in bad.stderr
