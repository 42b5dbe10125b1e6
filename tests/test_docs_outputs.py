"""Every script output quoted in docs/ is what the script prints today.

A lesson promises that its numbers are real output. So each output block in docs/*.md is tagged, on the line just
above its opening fence, with the command that printed it, run from the repository root:

    <!-- output of: PYTHONPATH=. python docs/scripts/bn_check.py -->            the block is the whole stdout
    <!-- part of the output of: PYTHONPATH=. python docs/scripts/... -->        the block is consecutive lines of it

This test runs each command once (leading VAR=value words become its environment, nothing else is inherited from
the caller's TINYGRAD_BN_KERNELS, so a plain-kernels run of the suite checks the same thing) and compares. Only
trailing whitespace is normalized, plus the one line that legitimately differs between machines, masked on both
sides below (MASKS): the version of the installed PyTorch, which bn_check.py prints. The scripts print nothing else
that depends on the machine: autograd_graphs.py names the pictures it wrote, not their sizes (they depend on the
Graphviz version), and bn_check.py runs PyTorch on one thread (its reductions split the work among threads, so the
last bits of its gradients depended on the number of cores). Each script prints the same on 1 core as on 2 here.
The scripts that compare with PyTorch are skipped where it is not installed: their PyTorch columns would say
"no torch".

When a script's output changes, paste the new output into the block (and into batchnorm.vi.md, which
test_docs_translation.py keeps identical) and reread the prose around it.
"""
import difflib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCRIPTS = DOCS / "scripts"

TAG = re.compile(r"^<!-- (output of|part of the output of): (.+?) -->$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
MASKS = [(re.compile(r"^torch: \S+$"), "torch: <the installed version>")]
NEEDS_TORCH = {"bn_check.py", "bn_running_stats.py"}   # their PyTorch columns are part of the quoted output
SLOW = set()  # scripts over ~10 s would be marked slow (still run in CI); today each takes 1 to 6 s
# Extra arguments, so that running a script here does not rewrite the repository's files.
EXTRA_ARGS = {"autograd_graphs.py": lambda tmp: ["--images", str(tmp)]}


@dataclass
class Block:
    doc: Path
    line: int         # line of the tag, for messages
    whole: bool       # "output of" (the whole stdout) or "part of the output of" (consecutive lines)
    command: str
    text: str

    def __str__(self):
        return f"{self.doc.relative_to(self.doc.parents[1])}:{self.line}"


def tagged_blocks(doc):
    """The tagged output blocks of one Markdown file; a tag not followed by a fence is an error."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        tag = TAG.match(line.strip())
        if not tag:
            continue
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if not fence:
            raise ValueError(f"{doc}:{i + 1}: an output tag must be followed, on the next line, by a fenced block")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip().startswith(fence.group(1)))
        blocks.append(Block(doc, i + 1, tag.group(1) == "output of", tag.group(2), "\n".join(lines[i + 2:end])))
    return blocks


def script_of(command):
    """The script a tagged command runs (its first argument after `python`)."""
    words = [w for w in shlex.split(command) if not re.match(r"^[A-Za-z_]\w*=", w)]
    return Path(words[1]).name


def run(command, cwd=ROOT, extra_args=()):
    """stdout of a tagged command: `[VAR=value ...] python script [args]`, run in cwd."""
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_BN_KERNELS"}
    env["MPLBACKEND"] = "Agg"
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = str((Path(cwd) / value).resolve()) if name == "PYTHONPATH" else value
    assert words[:1] == ["python"], f"a tagged command runs `python script`: {command!r}"
    done = subprocess.run([sys.executable, *words[1:], *extra_args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # a failure is reported with its stderr, below
    assert done.returncode == 0, f"`{command}` failed:\n{done.stderr[-3000:]}"
    return done.stdout


def normalized(text):
    """Lines without trailing whitespace, trailing blank lines dropped, machine-dependent lines masked."""
    lines = [line.rstrip() for line in text.splitlines()]
    for pattern, mask in MASKS:
        lines = [mask if pattern.match(line) else line for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def mismatch(block, stdout):
    """None if the block is what the command printed, else a message with a diff."""
    quoted, printed = normalized(block.text), normalized(stdout)
    if block.whole:
        if quoted == printed:
            return None
        expected, what = printed, "its whole output"
    else:
        n = len(quoted)
        if any(printed[i:i + n] == quoted for i in range(len(printed) - n + 1)):
            return None
        # show the diff against the stretch of output that resembles the block most
        windows = [printed[i:i + n] for i in range(max(1, len(printed) - n + 1))]
        joined = "\n".join(quoted)  # compared as text, so that a line with one digit changed still counts as close
        expected = max(windows, key=lambda w: difflib.SequenceMatcher(None, "\n".join(w), joined).ratio())
        what = "any stretch of its output (diff against the closest one)"
    diff = "\n".join(difflib.unified_diff(expected, quoted, "printed now", f"quoted in {block}", lineterm=""))
    return f"{block}: the block is not {what} of `{block.command}`:\n{diff}"


ALL_BLOCKS = [block for doc in sorted(DOCS.glob("*.md")) for block in tagged_blocks(doc)]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Runs each command once, the first time a block asks for it."""
    cache = {}

    def output_of(command):
        if command not in cache:
            extra = EXTRA_ARGS.get(script_of(command))
            cache[command] = run(command, extra_args=extra(tmp_path_factory.mktemp("out")) if extra else ())
        return cache[command]
    return output_of


def _param(block):
    marks = [pytest.mark.slow] if script_of(block.command) in SLOW else []
    return pytest.param(block, id=str(block), marks=marks)


@pytest.mark.parametrize("block", [_param(b) for b in ALL_BLOCKS])
def test_quoted_output_is_what_the_script_prints(block, outputs):
    if script_of(block.command) in NEEDS_TORCH:
        pytest.importorskip("torch", reason=f"{script_of(block.command)} prints PyTorch columns")
    problem = mismatch(block, outputs(block.command))
    assert problem is None, problem + "\n(paste the new output into the block, then reread the prose around it)"


def untagged_blocks(doc):
    """The fenced blocks with no language and no output tag: prose diagrams, equations, commands ... or an output
    whose tag was lost."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence.group(1)))
        tagged = i > 0 and TAG.match(lines[i - 1].strip())
        if not tagged and lines[i].strip() == fence.group(1):
            blocks.append(Block(doc, i + 1, False, "", "\n".join(lines[i + 1:end])))
        i = end + 1
    return blocks


def test_every_docs_script_is_quoted_and_no_quoted_output_lost_its_tag(outputs):
    """An output block that lost its tag would silently stop being checked: each script must still be quoted under
    a tag, and no untagged block may be a stretch of any tagged command's output."""
    quoted = {script_of(b.command) for b in ALL_BLOCKS}
    scripts = {p.name for p in SCRIPTS.glob("*.py")} - {"check_links.py"}  # check_links prints problems, not numbers
    assert scripts <= quoted, f"scripts whose output no doc quotes under an output tag: {sorted(scripts - quoted)}"
    commands = sorted({b.command for b in ALL_BLOCKS if script_of(b.command) not in NEEDS_TORCH or _has_torch()})
    lost = [f"{block} (a stretch of the output of `{command}`)"
            for block in (b for doc in sorted(DOCS.glob("*.md")) for b in untagged_blocks(doc)) if block.text.strip()
            for command in commands if mismatch(block, outputs(command)) is None]
    assert not lost, "output blocks without their `<!-- output of: ... -->` tag:\n" + "\n".join(lost)


def _has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_a_changed_number_is_caught(tmp_path):
    """The comparison itself: a block with one digit off fails, whole or as a part; the printed text passes."""
    (tmp_path / "show.py").write_text('print("mean 2.500  var 1.250")\nprint("y = [-0.7071, 1.4142]")   \n')
    good = "mean 2.500  var 1.250\ny = [-0.7071, 1.4142]"
    doc = tmp_path / "lesson.md"
    doc.write_text(f"<!-- output of: python show.py -->\n```\n{good}\n```\n\n"
                   f"<!-- part of the output of: python show.py -->\n```\ny = [-0.7071, 1.4142]\n```\n\n"
                   f"<!-- output of: python show.py -->\n```\n{good.replace('1.250', '1.251')}\n```\n\n"
                   f"<!-- part of the output of: python show.py -->\n```\ny = [-0.7071, 1.4143]\n```\n")
    whole, part, bad_whole, bad_part = tagged_blocks(doc)
    stdout = run("python show.py", cwd=tmp_path)
    assert mismatch(whole, stdout) is None and mismatch(part, stdout) is None  # trailing spaces do not count
    assert "+mean 2.500  var 1.251" in mismatch(bad_whole, stdout)
    assert "+y = [-0.7071, 1.4143]" in mismatch(bad_part, stdout)
    assert mismatch(whole, "torch: 2.13.0+cpu\n") is not None


def test_masked_lines_are_masked_on_both_sides_only():
    assert normalized("torch: 2.13.0+cpu  \n\n") == normalized("torch: 2.5.1\n") == ["torch: <the installed version>"]
    assert normalized("torch: 2.13.0+cpu, no gpu") == ["torch: 2.13.0+cpu, no gpu"]


def test_pictures_are_what_autograd_graphs_draws_today(tmp_path):
    """docs/images/*.dot are the graphs the script draws now (the names of the Functions included), and each .svg
    shows every line of its .dot's labels. The .svg is not compared byte for byte: its layout numbers depend on the
    Graphviz version, and the script writes no .svg where Graphviz is missing."""
    run("PYTHONPATH=. python docs/scripts/autograd_graphs.py", extra_args=["--images", str(tmp_path)])
    drawn = sorted(p.name for p in tmp_path.glob("*.dot"))
    assert drawn == sorted(p.name for p in (DOCS / "images").glob("*.dot"))
    for name in drawn:
        committed = (DOCS / "images" / name).read_text(encoding="utf-8")
        assert committed == (tmp_path / name).read_text(encoding="utf-8"), (
            f"docs/images/{name} is stale: run `PYTHONPATH=. python docs/scripts/autograd_graphs.py`")
        svg = (DOCS / "images" / name).with_suffix(".svg").read_text(encoding="utf-8")
        shown = set(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
        for label in re.findall(r'label="([^"]*)"', committed):
            missing = [line for line in label.split("\\n") if line and line not in shown]
            assert not missing, f"docs/images/{name[:-4]}.svg does not show {missing}: regenerate it with Graphviz"
