"""The README's Python examples run as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2, "README.md lost its examples"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    final_loss = float(re.search(r"final loss ([0-9.]+)", printed).group(1))
    assert final_loss < 0.01, f"the README's MLP example did not fit its function (final loss {final_loss})"
