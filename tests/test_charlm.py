"""The character-level GPT example (models/charlm.py), run in-process on a tiny setting (a few seconds)."""
import csv

import pytest

from models import charlm

TINY = ["--steps", "40", "--batch-size", "16", "--context", "16", "--width", "32", "--layers", "1", "--heads", "2",
        "--lr", "1e-2", "--eval-every", "20", "--sample-every", "40", "--sample-length", "30"]


def test_tiny_run_learns_and_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    result = charlm.main(TINY + ["--out", str(out)])
    losses = [row["train_loss"] for row in result["history"]]
    assert len(losses) == 40
    # from ~log(vocab) = 4.9 nats towards the unigram entropy (3.5): the first steps already learn letter frequencies
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
    printed = capsys.readouterr().out
    assert "--- sample at step 40 ---" in printed and result["sample"].startswith("# ")
    assert len(result["sample"]) == 2 + 30
    with open(out / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == [str(s) for s in range(1, 41)]
    assert rows[19]["val_loss"] and rows[39]["val_loss"] and not rows[0]["val_loss"]
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_weights_are_tied():
    model = charlm.GPT(vocab=10, context=8, width=16, layers=1, heads=2)
    assert model.head.weight is model.tok.weight
    names = [name for name, _ in model.named_parameters()]
    assert "tok.weight" in names and "head.weight" not in names  # one tensor, listed (and updated) once


def test_ctrl_c_stops_cleanly_and_still_writes(tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):  # as if Ctrl-C were pressed during the first validation
        raise KeyboardInterrupt

    monkeypatch.setattr(charlm, "estimate_loss", interrupt)
    result = charlm.main(TINY + ["--steps", "10", "--eval-every", "5", "--out", str(tmp_path)])
    assert len(result["history"]) == 4  # steps 1-4 completed; step 5 was interrupted before it was recorded
    assert "interrupted after 4 steps" in capsys.readouterr().out
    assert (tmp_path / "loss.csv").exists() and (tmp_path / "loss.png").exists()


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "--steps must be a positive integer"),
    (["--width", "30", "--heads", "4"], "--heads (4) must divide --width (30)"),
    (["--lr", "-1"], "--lr and --temperature must be positive"),
    (["--steps", "ten"], "invalid int value"),
    (["--no-such-flag"], "unrecognized arguments"),
])
def test_bad_flags_exit_2_with_a_clear_message(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        charlm.main(flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
