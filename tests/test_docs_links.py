"""The lessons' links point at the code they name (docs/scripts/check_links.py), and the checker itself works.

A line link's text names its code (`function` or a quoted `snippet`), so a stale line number is a detectable error,
and `python docs/scripts/check_links.py --fix` repairs it. Only the standard library runs here: fast.
"""
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent




def test_repository_docs_links_point_at_the_code_they_name(check_links):
    problems, _ = check_links.check([ROOT / "docs"])
    assert not problems, ("stale or unnamed links in docs/ (run `python docs/scripts/check_links.py --fix`, then "
                          "fix by hand what it cannot):\n" + "\n".join(map(str, problems)))


CODE = '''import contextlib


def scale(x, factor):
    """Multiply."""
    return x * factor


@contextlib.contextmanager
def quiet():
    yield


class Box:
    def size(self):
        total = 0
        return total
'''


def write_lesson(tmp_path, anchors):
    """A tiny docs folder: code.py and lesson.md, whose links carry the given anchors."""
    (tmp_path / "code.py").write_text(CODE)
    (tmp_path / "lesson.md").write_text(
        "# Lesson\n\n"
        f"[`scale`](code.py#{anchors['scale']}) multiplies, [`quiet`](code.py#{anchors['quiet']}) is a context "
        f"manager, and the box\nstarts at [`total = 0`](code.py#{anchors['total']}) in "
        f"[`Box.size`](code.py#{anchors['size']}).\n\n"
        "The file itself: [code.py](code.py); this page's top: [top](#lesson).\n\n"
        "```\nnot a link: [L1](missing.py#L1)\n```\n")
    return tmp_path / "lesson.md"


GOOD = {"scale": "L4-L6", "quiet": "L10-L11", "total": "L16", "size": "L15-L17"}


def test_checker_accepts_links_that_match_their_code(check_links, tmp_path):
    lesson = write_lesson(tmp_path, GOOD)  # `quiet`'s range starts at its def line, after the decorator
    assert check_links.check([lesson]) == ([], [])
    assert check_links.main([str(lesson)]) == 0


def test_checker_reports_stale_anchors_and_fix_repairs_them(check_links, tmp_path, capsys):
    lesson = write_lesson(tmp_path, GOOD)
    code = tmp_path / "code.py"
    code.write_text('"""A module docstring pushes everything down two lines."""\n\n' + code.read_text())

    problems, _ = check_links.check([lesson])
    assert [p.link.text for p in problems] == ["`scale`", "`quiet`", "`total = 0`", "`Box.size`"]
    assert "stale anchor #L4-L6: the code is at #L6-L8" in str(problems[0])
    assert check_links.main([str(lesson)]) == 1

    assert check_links.main(["--fix", str(lesson)]) == 0
    assert "fixed 4 line anchors" in capsys.readouterr().out
    text = lesson.read_text()
    for anchor in ("code.py#L6-L8)", "code.py#L12-L13)", "code.py#L18)", "code.py#L17-L19)"):
        assert anchor in text
    assert check_links.check([lesson]) == ([], [])


def test_checker_rejects_links_that_name_no_code_or_cannot_be_found(check_links, tmp_path):
    (tmp_path / "code.py").write_text(CODE)
    lesson = tmp_path / "lesson.md"
    lesson.write_text(
        "[L5](code.py#L5), [`total`](code.py#L16), [`return`](code.py#L6), [`x * factorial`](code.py#L6),\n"
        "[gone](nowhere.py), [`scale`](nowhere.py#L4), [no heading](#nothing-here)\n")
    messages = [problem.message for problem in check_links.check([lesson], fix=True)[0]]
    assert messages[0].startswith("link text must name the code")
    assert messages[1].startswith("no def or class `total`")           # a name that is no definition
    assert messages[2].startswith("`return` is ambiguous")              # found twice: --fix could not choose
    assert messages[3].startswith("snippet `x * factorial` not found")  # `x * factor` is there, not this
    assert messages[4:6] == ["missing target nowhere.py"] * 2
    assert messages[6] == "no heading with the anchor #nothing-here in lesson.md"
    assert len(messages) == 7
    assert lesson.read_text().startswith("[L5](code.py#L5), [`total`](code.py#L16)")  # nothing was rewritten
