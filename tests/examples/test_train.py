"""examples/gpt/train.py and sample.py end to end, in process, on tiny runs: memorisation with
every optimiser, bit-for-bit resume after Ctrl-C, the files a run leaves, and bad inputs."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import adcompiler
import checkpoint
import sample
import train

TEXT = "the quick brown fox jumps over the lazy dog; " * 40


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def run(args, out):
    """A tiny run on the NumPy backend (the Numba one compiles for tens of seconds per shape)."""
    return train.main(["--config", "tiny", "--backend", "numpy", "--batch-size", "8",
                       "--out", str(out)] + args)


def losses(out):
    with open(os.path.join(out, "losses.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return ([float(r["train_loss"]) for r in rows if r["train_loss"]],
            {int(r["step"]): float(r["val_loss"]) for r in rows if r["val_loss"]})


@pytest.mark.parametrize("optimizer,lr", [("adamw", "3e-3"), ("sgd", "0.3")])
def test_memorises_a_repeated_text(text_file, tmp_path, optimizer, lr):
    out = tmp_path / "run"
    assert run(["--data", text_file, "--steps", "150", "--optimizer", optimizer, "--lr", lr,
                "--eval-every", "50"], out) == 0
    train_losses, val = losses(out)
    assert len(train_losses) == 150 and sorted(val) == [0, 50, 100, 150]
    assert np.mean(train_losses[-10:]) < train_losses[0] / 10, train_losses[::10]
    assert val[150] < val[0] / 10


def test_a_run_leaves_checkpoint_csvs_and_plots(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(["--data", text_file, "--steps", "6", "--eval-every", "3"], out) == 0
    printed = capsys.readouterr().out
    assert "unigram baseline" in printed and "gradient norm per layer group" in printed
    names = set(os.listdir(out))
    assert {"ckpt.npz", "ckpt.json", "losses.csv", "grad_norms.csv"} <= names
    meta = checkpoint.load_meta(out)
    assert meta["step"] == 6 and meta["shapes"]["V"] == len(set(TEXT))
    with open(out / "grad_norms.csv") as f:
        header = f.readline().strip().split(",")
    assert header == ["step", "embed", "layer0.ln", "layer0.attn", "layer0.mlp", "layer1.ln",
                      "layer1.attn", "layer1.mlp", "final_ln", "head"]
    pytest.importorskip("matplotlib", reason="the plots need matplotlib (the 'plot' extra)")
    assert {"loss.png", "grad_norms.png"} <= names


class InterruptAt(adcompiler.optim.GradAccumulator):
    """A GradAccumulator that raises KeyboardInterrupt (as Ctrl-C does) at the n-th step."""
    n = None

    def mean(self):
        InterruptAt.n -= 1
        if InterruptAt.n == 0:
            raise KeyboardInterrupt
        return super().mean()


def interrupt_then_resume(args, out, monkeypatch, at, saved_step):
    """Run with a Ctrl-C at the `at`-th step (exit 130, a checkpoint of `saved_step`), then
    resume to the end."""
    monkeypatch.setattr(train, "GradAccumulator", InterruptAt)
    InterruptAt.n = at
    assert run(args, out) == 130
    assert checkpoint.load_meta(out)["step"] == saved_step
    monkeypatch.undo()
    assert train.main(["--out", str(out), "--resume", "--backend", "numpy"]) == 0


@pytest.mark.parametrize("extra", [[], ["--grad-accum", "2", "--optimizer", "sgd"]])
def test_resume_after_ctrl_c_is_bit_for_bit(text_file, tmp_path, monkeypatch, extra):
    args = ["--data", text_file, "--steps", "8", "--eval-every", "4", "--lr", "1e-2"] + extra
    assert run(args, tmp_path / "straight") == 0
    interrupt_then_resume(args, tmp_path / "cut", monkeypatch, at=6, saved_step=5)
    assert losses(tmp_path / "cut") == losses(tmp_path / "straight")
    with np.load(tmp_path / "cut" / "ckpt.npz") as a, \
            np.load(tmp_path / "straight" / "ckpt.npz") as b:
        assert a.files == b.files
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_ctrl_c_during_a_steps_bookkeeping_saves_a_whole_step(text_file, tmp_path, monkeypatch):
    """A Ctrl-C between a step's update and the end of its bookkeeping saved the step before
    with the new parameters (so --resume repeated the step on them), and later, with the
    step's own count but without its rows of losses.csv and grad_norms.csv, which --resume
    then never wrote: now it saves the step before with its parameters, and no row of the
    interrupted step, which --resume runs again."""
    args = ["--data", text_file, "--steps", "8", "--eval-every", "4", "--lr", "1e-2"]
    assert run(args, tmp_path / "straight") == 0
    calls = {"n": 0}
    norms = train.group_norms

    def interrupted(*a):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return norms(*a)

    monkeypatch.setattr(train, "group_norms", interrupted)
    assert run(args, tmp_path / "cut") == 130
    assert checkpoint.load_meta(tmp_path / "cut")["step"] == 5
    monkeypatch.undo()
    assert train.main(["--out", str(tmp_path / "cut"), "--resume", "--backend", "numpy"]) == 0
    with np.load(tmp_path / "cut" / "ckpt.npz") as a, \
            np.load(tmp_path / "straight" / "ckpt.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in b.files)
    assert losses(tmp_path / "cut") == losses(tmp_path / "straight")
    for out in ("cut", "straight"):
        with open(tmp_path / out / "grad_norms.csv", newline="") as f:
            assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(8))


def test_ctrl_c_before_the_first_step_saves_step_0(text_file, tmp_path, monkeypatch):
    interrupt_then_resume(["--data", text_file, "--steps", "4"], tmp_path / "run", monkeypatch,
                          at=1, saved_step=0)
    assert len(losses(tmp_path / "run")[0]) == 4


def test_resume_refuses_changed_settings_and_missing_checkpoints(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        train.main(["--out", str(out), "--resume"])
    assert "no checkpoint" in capsys.readouterr().err
    assert run(["--data", text_file, "--steps", "2"], out) == 0
    with pytest.raises(SystemExit):
        train.main(["--out", str(out), "--resume", "--lr", "0.5"])
    assert "trained with" in capsys.readouterr().err
    with pytest.raises(SystemExit):         # (it trained on for ever)
        train.main(["--out", str(out), "--resume", "--steps", "1"])
    assert "is at step 2, past --steps 1" in capsys.readouterr().err


def test_resume_follows_the_text_to_where_it_moved(text_file, tmp_path, capsys):
    """The saved path was compared first: a moved file could not be resumed from; changed
    text with new characters said 'characters not in the vocabulary'."""
    out = tmp_path / "run"
    assert run(["--data", text_file, "--steps", "2"], out) == 0
    moved = tmp_path / "moved.txt"
    os.replace(text_file, moved)
    with pytest.raises(SystemExit) as e:
        train.main(["--out", str(out), "--resume", "--steps", "3"])
    assert e.value.code == 2 and "which is gone: pass --data" in capsys.readouterr().err
    assert train.main(["--out", str(out), "--resume", "--steps", "3", "--backend", "numpy",
                       "--data", str(moved)]) == 0
    assert checkpoint.load_meta(out)["step"] == 3
    moved.write_text(TEXT + "XYZ!", encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        train.main(["--out", str(out), "--resume", "--steps", "4", "--data", str(moved)])
    assert e.value.code == 2 and "the data differs" in capsys.readouterr().err


def test_bad_arguments_and_damaged_checkpoints_give_clear_errors(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    for args in (["--warmup", "-1"], ["--weight-decay", "-5"], ["--momentum", "-1"],
                 ["--seed", "-1"], ["--lr", "inf"], ["--weight-decay", "inf"]):
        with pytest.raises(SystemExit) as e:
            run(["--data", text_file, "--steps", "2", "--optimizer", "sgd"] + args, out)
        assert e.value.code == 2 and "not negative" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:        # (it was saved, and unused)
        run(["--data", text_file, "--steps", "2", "--momentum", "0.5"], out)
    assert e.value.code == 2 and "--momentum is SGD's" in capsys.readouterr().err
    assert run(["--data", text_file, "--steps", "2"], out) == 0
    for where in (out / "ckpt.npz", out / "ckpt.npz" / "sub"):     # a file, and under one
        with pytest.raises(SystemExit) as e:
            run(["--data", text_file, "--steps", "2"], where)
        assert e.value.code == 2 and "give a folder that can be made" in capsys.readouterr().err
    for args, message in ((["--length", "-3"], "not negative"), (["--prompt", ""], "--prompt"),
                          (["--temperature", "nan"], "finite"), (["--temperature", "inf"],
                                                                 "finite"),
                          (["--seed", "-1"], "--seed not negative")):
        with pytest.raises(SystemExit) as e:
            sample.main(["--out", str(out)] + args)
        assert e.value.code == 2 and message in capsys.readouterr().err
    good = (out / "ckpt.npz").read_bytes()
    (out / "ckpt.npz").write_bytes(good[:1000])         # cut short: zipfile.BadZipFile
    for main in (lambda: train.main(["--out", str(out), "--resume", "--backend", "numpy"]),
                 lambda: sample.main(["--out", str(out)])):
        with pytest.raises(SystemExit) as e:
            main()
        assert e.value.code == 2 and "ckpt.npz: cannot read it" in capsys.readouterr().err
    (out / "ckpt.npz").write_bytes(b"garbage\n")          # no .npz at all: not NumPy's
    with pytest.raises(SystemExit) as e:                    # advice on pickled data
        sample.main(["--out", str(out)])
    assert "cannot read it (not a NumPy .npz archive)" in capsys.readouterr().err
    (out / "ckpt.npz").write_bytes(good)
    (out / "ckpt.json").write_text("{not json")
    for main in (lambda: train.main(["--out", str(out), "--resume"]),
                 lambda: sample.main(["--out", str(out)])):
        with pytest.raises(SystemExit) as e:
            main()
        assert e.value.code == 2 and "ckpt.json: cannot read it" in capsys.readouterr().err


@pytest.mark.parametrize("content,message", [
    (None, "no such file"),
    (b"", "the file is empty"),
    (b"short text", "needs at least 33"),
    (b"\xff\xfe" * 400, "not UTF-8"),
    (b"a" * 2000, "1 distinct character"),     # (a ZeroDivisionError at the end)
])
def test_bad_data_gives_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as e:
        run(["--data", str(path), "--steps", "2"], tmp_path / "run")
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_nan_loss_stops_cleanly_and_keeps_the_checkpoint(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(["--data", text_file, "--steps", "50", "--lr", "1e30", "--warmup", "0",
                "--clip", "0"], out) == 1
    assert "NaN or infinity" in capsys.readouterr().err
    meta = checkpoint.load_meta(out)
    assert 0 < meta["step"] < 50 and meta["status"] == "stopped on NaN"
    with np.load(out / "ckpt.npz") as z:
        assert all(np.isfinite(z[k]).all() for k in z.files)
    # (finite, but they gave the NaN: sampling said so with NumPy's traceback)
    with pytest.raises(SystemExit) as e:
        sample.main(["--out", str(out), "--prompt", "the", "--length", "5"])
    assert e.value.code == 2 and "NaN or infinite logits" in capsys.readouterr().err


def test_sample_generates_text_from_a_checkpoint(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(["--data", text_file, "--steps", "60", "--lr", "3e-3"], out) == 0
    capsys.readouterr()
    assert sample.main(["--out", str(out), "--prompt", "the quick", "--length", "40",
                        "--temperature", "0.5"]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("the quick") and len(text) == len("the quick") + 40
    assert set(text) <= set(TEXT)
    # trained, it writes the text's own letter pairs (an untrained model over its ~28 letters
    # would hit the text's ~40 pairs about 5 % of the time)
    pairs = {TEXT[i:i + 2] for i in range(len(TEXT) - 1)}
    made = [text[i:i + 2] for i in range(len("the quick") - 1, len(text) - 1)]
    assert sum(p in pairs for p in made) >= 0.8 * len(made)
    # --top-k 1 is greedy: the same text whatever the seed (it stopped on "NaN or infinite
    # logits", the -inf it had put on the tokens left out)
    greedy = []
    for seed in ("1", "2"):
        assert sample.main(["--out", str(out), "--prompt", "the", "--length", "20",
                            "--top-k", "1", "--seed", seed]) == 0
        greedy.append(capsys.readouterr().out)
    assert greedy[0] == greedy[1] and len(greedy[0].rstrip("\n")) == len("the") + 20


def test_command_line_reports_a_missing_file(tmp_path):
    script = os.path.join(os.path.dirname(train.__file__), "train.py")
    r = subprocess.run([sys.executable, script, "--data", str(tmp_path / "nope.txt")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "nope.txt: no such file" in r.stderr


def test_default_corpus_is_the_stdlib(monkeypatch):
    import data
    monkeypatch.setattr(data, "STDLIB_CHARS", 50_000)
    text, source = data.read_text(None)
    assert source == "python-stdlib" and len(text) == 50_000 and "def " in text
    vocab = data.Vocab.build(text, "char")
    assert vocab.decode(vocab.encode(text[:500])) == text[:500]
    byte = data.Vocab.build(text, "byte")
    assert byte.size == 256 and byte.decode(byte.encode(text[:500])) == text[:500]


def test_the_backend_defaults_to_the_environment(text_file, tmp_path, monkeypatch, capsys):
    """No --backend (the README's command): $ADCOMPILER_BACKEND, else numba."""
    monkeypatch.setenv("ADCOMPILER_BACKEND", "numpy")
    train.main(["--config", "tiny", "--batch-size", "8", "--data", text_file, "--steps", "2",
                "--out", str(tmp_path / "run")])
    assert "backend numpy" in capsys.readouterr().out


def test_a_checkpoint_keeps_a_tied_weight_tied(tmp_path):
    """One array at two places of the parameters (and so of the AdamW state) is one array
    after a save and a load, as the optimiser keeps it."""
    from adcompiler.optim import AdamW
    W = np.arange(6.0).reshape(2, 3)
    params = {"emb": W, "head": W, "b": np.ones(3)}
    state = AdamW().init(params)
    checkpoint.save(tmp_path, params, state, {"step": 0, "shapes": {}, "args": {}})
    like = {"emb": np.zeros((2, 3)), "b": np.zeros(3)}
    like["head"] = like["emb"]
    p, s, _ = checkpoint.load(tmp_path, like, AdamW().init(like))
    assert p["emb"] is p["head"] and s["m"]["emb"] is s["m"]["head"]
    np.testing.assert_array_equal(p["head"], W)


def test_the_gradient_norm_table_keeps_its_columns_for_large_norms():
    """A norm of 8e6 (a run blowing up before its NaN) ran into the column before it."""
    table = train.norm_table([{"head": 0.035, "ln": 8410970.0}] * 3, ["head", "ln"])
    rows = [line.split() for line in table.splitlines()[2:]]
    assert [float(r[1]) for r in rows] == pytest.approx([0.035, 8.411e6], rel=1e-3)
    assert [float(r[2]) for r in rows] == pytest.approx([0.035, 8.411e6], rel=1e-3)
