"""docs/batchnorm.vi.md (Vietnamese) says what docs/batchnorm.md says: the same equations, code links and numbers.

The prose is translated, so it cannot be compared word for word; what a reader checks against the code can:

- **blocks**: the same fenced blocks in the same order. A tagged output block (tests/test_docs_outputs.py) is
  identical, tag included: script output stays in English. Any other block (equations, code, diagrams, commands) is
  compared as its formula: `# comments` and natural-language words are left out (Latin-script words of two letters
  or more, with no digit or `_` in them: the comments that are translated), everything else must match;
- **links**: the same links into the code (target and anchor, and the code the link text names) and the same links
  to other files, counted with multiplicity; only the link to the other language and links to a doc's own headings
  (which are translated) are left out;
- **numbers in the prose**: every decimal or exponent number of the English prose (0.907, 1.2e-7, 86.0%) appears in
  the Vietnamese prose, written with Vietnamese separators (0,907; 65.536 for 65,536).

Run from the repository root: python -m pytest tests/test_docs_translation.py
"""
import re
import unicodedata
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
ENGLISH, VIETNAMESE = ROOT / "docs" / "batchnorm.md", ROOT / "docs" / "batchnorm.vi.md"
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
TAG = re.compile(r"^<!-- (?:output of|part of the output of): .+ -->$")
# 1.2e-7, 3e-9, 0.907: a decimal point or an exponent (not a version such as 2.13.0, not an integer such as 5)
NUMBER = re.compile(r"(?<![\w.,])\d+\.\d+(?:e[-+]?\d+)?(?!\w|[.,]\d)|(?<![\w.,])\d+e[-+]?\d+(?!\w|[.,]\d)")




def fenced_blocks(text):
    """[(tag or None, info string, body)] for every fenced block, in order."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == fence.group(1))
        tag = lines[i - 1].strip() if i > 0 and TAG.match(lines[i - 1].strip()) else None
        blocks.append((tag, fence.group(2).strip(), "\n".join(lines[i + 1:end])))
        i = end + 1
    return blocks


def is_prose_word(token):
    """A word of a comment (English or Vietnamese), as opposed to a symbol of a formula or a name from the code."""
    word = token.strip("()[]{}:,.;!?\"'")
    return len(word) >= 2 and all(unicodedata.category(c).startswith("L") and "LATIN" in unicodedata.name(c, "")
                                  for c in word)


def formula(body):
    """The block without its # comments and its natural-language words: what must not change in translation."""
    lines = []
    for line in body.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        lines.append(" ".join(token for token in line.split() if not is_prose_word(token)))
    return lines


def prose(text):
    """The text outside fenced blocks and inline code, where translated sentences quote numbers."""
    lines, out, fence = text.splitlines(), [], None
    for line in lines:
        marker = FENCE.match(line)
        if marker and (fence is None or line.strip() == fence):
            fence = marker.group(1) if fence is None else None
        elif fence is None:
            out.append(re.sub(r"`[^`]*`", " ", line))
    return "\n".join(out)


def in_vietnamese(number):
    """65,536 -> 65.536 and 0.907 -> 0,907: Vietnamese swaps the thousands and the decimal separators."""
    return number.translate(str.maketrans(",.", ".,"))


def compared_links(check_links, doc, other_language):
    """Counter of (text if it names code else None, target) for the links that must match across languages."""
    links = Counter()
    for link in check_links.find_links(doc):
        target = link.target
        if target.startswith("#") or target.split("#")[0] == other_language.name:
            continue  # a heading of this doc (translated), or the switch to the other language
        names_code = check_links.LINE_ANCHOR.fullmatch(target.partition("#")[2] or "") is not None
        links[(link.text if names_code else None, target)] += 1
    return links


def test_same_blocks_output_identical_and_same_formulas():
    english, vietnamese = (fenced_blocks(p.read_text(encoding="utf-8")) for p in (ENGLISH, VIETNAMESE))
    assert len(english) == len(vietnamese), (f"{len(english)} fenced blocks in batchnorm.md, {len(vietnamese)} in "
                                             f"batchnorm.vi.md: a block was added or removed in one of them only")
    for k, ((en_tag, en_info, en_body), (vi_tag, vi_info, vi_body)) in enumerate(zip(english, vietnamese)):
        where = f"fenced block {k + 1} (batchnorm.md: {en_body.splitlines()[0][:60]!r})"
        assert (en_tag, en_info) == (vi_tag, vi_info), f"{where}: a different output tag or language"
        if en_tag:
            assert en_body == vi_body, f"{where}: the quoted output differs; paste the same output into both"
        else:
            assert formula(en_body) == formula(vi_body), f"{where}: the formulas or code differ"


def test_same_links_into_the_code_and_to_other_files(check_links):
    english = compared_links(check_links, ENGLISH, VIETNAMESE)
    vietnamese = compared_links(check_links, VIETNAMESE, ENGLISH)
    assert english == vietnamese, (f"only in batchnorm.md: {sorted((english - vietnamese).elements())}\n"
                                   f"only in batchnorm.vi.md: {sorted((vietnamese - english).elements())}")


def test_numbers_of_the_english_prose_are_in_the_vietnamese_prose():
    vietnamese = prose(VIETNAMESE.read_text(encoding="utf-8"))
    quoted = Counter(NUMBER.findall(prose(ENGLISH.read_text(encoding="utf-8"))))
    missing = [n for n in quoted if in_vietnamese(n) not in vietnamese]
    assert not missing, f"numbers of batchnorm.md's prose missing from batchnorm.vi.md (as 0,907 for 0.907): {missing}"


def test_the_comparison_catches_a_changed_formula_number_and_link(check_links, tmp_path):
    """The three checks themselves, on lines of the real lessons with one thing changed."""
    assert formula("var      σ²  = (1/m) Σ_i c_i²                 biased: divide by m, not m − 1") == \
        formula("var      σ²  = (1/m) Σ_i c_i²                 có chệch (biased): chia cho m, không phải m − 1")
    assert formula("dx_i   = γ · s / m · ( m·g_i − dbeta − x̂_i · dgamma )") != \
        formula("dx_i   = γ · s / m · ( m·g_i − dbeta + x̂_i · dgamma )")
    assert formula("x = y   # a comment") == formula("x = y   # một chú thích") != formula("x = z   # a comment")
    assert NUMBER.findall("86.0%, P(cat) 0.907, 1.2e-7 or 3e-9 (section 5, torch 2.13.0).") == \
        ["86.0", "0.907", "1.2e-7", "3e-9"]
    assert in_vietnamese("0.907") == "0,907" and in_vietnamese("65,536") == "65.536"
    (tmp_path / "code.py").write_text("def scale(x):\n    return x\n")
    (tmp_path / "a.md").write_text("[`scale`](code.py#L1-L2), [b](b.md)\n")
    (tmp_path / "b.md").write_text("[`scale`](code.py#L2), [a](a.md)\n")
    a_links = compared_links(check_links, tmp_path / "a.md", tmp_path / "b.md")
    b_links = compared_links(check_links, tmp_path / "b.md", tmp_path / "a.md")
    assert a_links == Counter({("`scale`", "code.py#L1-L2"): 1}) != b_links  # the language switch is left out
