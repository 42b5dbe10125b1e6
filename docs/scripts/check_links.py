"""Check the relative links of the lessons in docs/, and repair stale line anchors.

Every relative link `[text](target)` in docs/**/*.md is checked:

- the target file (or folder) must exist; a `#heading` fragment on a Markdown target (or a bare `(#heading)`)
  must be the GitHub anchor of one of its headings;
- a line-anchored link, `(path#L12)` or `(path#L12-L20)`, must say in its text which code it points at, as one
  code span in backticks, and the range must be exactly that code:

  (a) an identifier, `name` or `Class.method` (only for Python targets; a keyword such as `return` counts as a
      snippet): the definition, `def name` or `class name`. The range runs from the `def`/`class` line,
      decorators EXCLUDED (the range is the definition itself; GitHub shows the decorator lines just above the
      highlighted range anyway, and the other lessons link definitions this way), to the last line of its body
      (its last non-blank line: the end of its last statement, as Python's ast sees it; a comment after that
      statement does not count). `name` is the qualified name: the module-level definition, or `Outer.inner`;
      if no definition has exactly that qualified name, one whose qualified name ends in `.name` is accepted.
  (b) a code snippet, e.g. [`dbeta = g.sum(axis=1)`](...#L48): the snippet must occur in the file, and the range
      must start on the line where the snippet starts and end on the line where it ends (`#L48` for one line).
      Whitespace does not count when comparing (a snippet may span wrapped or indented lines), and a snippet
      that starts or ends with a name must not match the middle of a longer name (`x_hat` is not in `x_hat_i`).

  The identifier or snippet must match exactly one place in the target file: then the link can always be
  found again when the code moves. Link text that names no code (`[L109]`, `[batchnorm.py#L126]`,
  `[the forward](...)`) is an error: "link text must name the code".

With --fix, each line-anchored link whose identifier or snippet is found (exactly once) gets its anchor rewritten
in place to where the code is now. Problems --fix cannot solve (text that names no code, code that is gone or
ambiguous, missing files) are listed, and the exit status is 1 while any remain.

Links in fenced code blocks and inside inline code are not links; absolute URLs (https:, mailto:) are not checked.

Run from the repository root:
    python docs/scripts/check_links.py            # verify: list problems, exit status 1 if any
    python docs/scripts/check_links.py --fix      # rewrite stale line anchors, then list what is left
    python docs/scripts/check_links.py some.md    # other Markdown files or folders instead of docs/
"""
import argparse
import ast
import functools
import keyword
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent

LINE_ANCHOR = re.compile(r"L(\d+)(?:-L(\d+))?")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
TARGET = re.compile(r"\(([^()\s]+)\)")  # (path#fragment) right after the ]: no spaces, no title
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # https:, mailto:, ... (a Windows drive letter is not expected)


@dataclass
class Link:
    doc: Path
    line: int        # line of the doc where the link starts, for messages
    text: str        # what is between [ and ]
    target: str      # what is between ( and ): path, then #fragment if any
    start: int       # offsets of `target` in the doc's text, for --fix
    end: int


@dataclass
class Problem:
    link: Link
    message: str

    def __str__(self):
        return f"{_shown(self.link.doc)}:{self.link.line}: [{self.link.text}]({self.link.target}): {self.message}"


def _shown(path):
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------------ reading Markdown
def _blank_fenced_blocks(text):
    """The text with every fenced code block replaced by spaces: its brackets are code, not links, and keeping the
    length keeps every offset (for --fix) and line number (for messages) the same."""
    out, fence = [], None
    for line in text.splitlines(keepends=True):
        marker = FENCE.match(line)
        if fence is None and marker:
            fence = marker.group(1)
            out.append(_spaces(line))
        elif fence is not None:
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) \
                    and not line.strip()[len(marker.group(1)):]:
                fence = None
            out.append(_spaces(line))
        else:
            out.append(line)
    return "".join(out)


def _spaces(line):
    return re.sub(r"[^\n]", " ", line)


def _skip_code_span(text, i):
    """If a code span starts at text[i] (a run of backticks), the offset just after it; else None."""
    run = re.compile("`+").match(text, i).end() - i
    close = re.compile(r"(?<!`)" + "`" * run + r"(?!`)")  # closed by a run of the same length, no longer
    found = close.search(text, i + run)
    return found.end() if found else None


def find_links(doc):
    """Every inline link of a Markdown file, images included, outside code blocks and code spans."""
    original = doc.read_text(encoding="utf-8")
    text = _blank_fenced_blocks(original)
    links, i = [], 0
    while i < len(text):
        if text[i] == "`":
            after = _skip_code_span(text, i)
            i = after if after is not None else i + 1
            continue
        if text[i] == "[":
            link = _parse_link(doc, original, text, i)
            if link is not None:
                links.append(link)
                i = link.end + 1
                continue
        i += 1
    return links


def _parse_link(doc, original, text, i):
    """The link whose text opens with the `[` at text[i], or None if none does. Brackets may nest (code such as
    `x[:, 1]` in the text) and code spans in the text are skipped whole."""
    depth, j = 0, i
    while j < len(text):
        char = text[j]
        if char == "`":
            after = _skip_code_span(text, j)
            j = after if after is not None else j + 1
            continue
        if char == "\n" and text[j + 1:j + 2] == "\n":  # a blank line ends the paragraph: no link
            return None
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                break
        j += 1
    else:
        return None
    target = TARGET.match(text, j + 1)
    if not target:
        return None
    start = j + 2
    return Link(doc, original.count("\n", 0, i) + 1, original[i + 1:j], target.group(1), start,
                start + len(target.group(1)))


def heading_anchors(doc):
    """The anchors GitHub gives the headings of a Markdown file: lower case, punctuation dropped, spaces to
    hyphens, and -1, -2, ... after repeats."""
    anchors, seen = set(), {}
    for line in _blank_fenced_blocks(doc.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))  # a link in a heading counts as its text
        slug = "".join(char for char in title.lower()
                       if char in " -_" or unicodedata.category(char)[0] in "LNM").replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# --------------------------------------------------------------------------------------- finding the named code
@functools.lru_cache(maxsize=None)
def definitions(source):
    """{qualified name: [(first line, last line), ...]} for every def and class of a Python source, from the
    `def`/`class` line (after any decorators) to the end of the body."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                found.setdefault(name, []).append((child.lineno, child.end_lineno))  # lineno: the def line
                visit(child, name + ".")
            else:
                visit(child, prefix)  # defs inside if/try/with blocks keep their enclosing name

    visit(ast.parse(source), "")
    return found


def locate_identifier(source, name):
    """The (first, last) line ranges of the definitions `name` can mean: exact qualified name first, else suffix."""
    defs = definitions(source)
    if name in defs:
        return defs[name]
    return [span for qualified, spans in defs.items() if qualified.endswith("." + name) for span in spans]


def locate_snippet(source, snippet):
    """The (first, last) line ranges where `snippet` occurs in source, whitespace ignored on both sides."""
    wanted = re.sub(r"\s+", "", snippet)
    if not wanted:
        return []
    kept, squeezed = _squeezed(source)
    spans, at = [], squeezed.find(wanted)
    while at != -1:
        first, last = kept[at], kept[at + len(wanted) - 1]
        if _on_name_boundaries(source, first, last, wanted):
            spans.append((source.count("\n", 0, first) + 1, source.count("\n", 0, last) + 1))
        at = squeezed.find(wanted, at + 1)
    return spans


@functools.lru_cache(maxsize=None)
def _squeezed(source):
    """The source without whitespace, and for each of its characters the offset in source it came from."""
    kept = [k for k, char in enumerate(source) if not char.isspace()]
    return kept, "".join(source[k] for k in kept)


def _on_name_boundaries(source, first, last, wanted):
    """False when the match starts or ends inside a longer name (a snippet `x_hat` found within `x_hat_i`)."""
    def is_name(char):
        return char.isalnum() or char == "_"

    before = source[first - 1] if first > 0 else " "
    after = source[last + 1] if last + 1 < len(source) else " "
    return not (is_name(wanted[0]) and is_name(before)) and not (is_name(wanted[-1]) and is_name(after))


def named_code(text):
    """('identifier' | 'snippet', code) for link text that is one code span, else None."""
    span = re.fullmatch(r"\s*(`+)(.+?)\1\s*", text, re.S)
    if not span or "`" in span.group(2).strip("`"):
        return None
    code = " ".join(span.group(2).split())
    if not code:
        return None
    is_name = IDENTIFIER.fullmatch(code) and not keyword.iskeyword(code)  # `return` is code, not a name
    return ("identifier" if is_name else "snippet"), code


# ------------------------------------------------------------------------------------------------------ checking
def _anchor_text(first, last):
    return f"L{first}" if first == last else f"L{first}-L{last}"


def check_link(link, sources):
    """(problem message or None, the anchor the link should have or None). `sources` caches file texts."""
    path_part, _, fragment = link.target.partition("#")
    if SCHEME.match(link.target) or link.target.startswith("//"):
        return None, None
    path = (link.doc.parent / path_part).resolve() if path_part else link.doc.resolve()
    if not path.exists():
        return f"missing target {path_part}", None
    anchor = LINE_ANCHOR.fullmatch(fragment) if fragment else None
    if not anchor:
        if fragment and path.suffix == ".md" and fragment not in heading_anchors(path):
            return f"no heading with the anchor #{fragment} in {path.name}", None
        return None, None
    if not path.is_file():
        return f"line anchor on a folder: {path_part}", None
    named = named_code(link.text)
    if named is None:
        return "link text must name the code: write `identifier` or a `code snippet` of the linked lines", None
    kind, code = named
    if path not in sources:
        sources[path] = path.read_text(encoding="utf-8")
    source = sources[path]
    first = int(anchor.group(1))
    last = int(anchor.group(2) or first)
    if kind == "identifier":
        if path.suffix != ".py":
            return f"`{code}` as a name needs a Python file; {path.name} is not one (quote a snippet instead)", None
        try:
            spans = locate_identifier(source, code)
        except SyntaxError as error:
            return f"cannot parse {path.name} (line {error.lineno}): {error.msg}", None
        missing = (f"no def or class `{code}` in {path_part} (to link other code, quote a snippet of it, "
                   "e.g. `name = ...`)")
    else:
        spans = locate_snippet(source, code)
        missing = f"snippet `{code}` not found in {path_part}"
    if not spans:
        return missing, None
    if len(spans) > 1:
        places = ", ".join(_anchor_text(*span) for span in spans)
        return f"`{code}` is ambiguous in {path_part}: {places} (name one place, e.g. a longer snippet)", None
    (right_first, right_last), = spans
    if (first, last) != (right_first, right_last):
        return (f"stale anchor #{_anchor_text(first, last)}: the code is at #{_anchor_text(right_first, right_last)}",
                _anchor_text(right_first, right_last))
    return None, None


def check(paths, fix=False):
    """Problems of every link in the Markdown files under `paths` (files or folders); with fix=True the stale
    line anchors are rewritten first. Returns (problems left, the fixes made: one line of text each)."""
    docs = []
    for path in map(Path, paths):
        docs.extend(sorted(path.rglob("*.md")) if path.is_dir() else [path])
    problems, fixed, sources = [], [], {}
    for doc in docs:
        edits = []
        for link in find_links(doc):
            message, anchor = check_link(link, sources)
            if message is None:
                continue
            if fix and anchor is not None:
                edits.append((link, anchor))
                fixed.append(f"{_shown(doc)}:{link.line}: [{link.text}] -> #{anchor}")
            else:
                problems.append(Problem(link, message))
        if edits:
            text = doc.read_text(encoding="utf-8")
            for link, anchor in sorted(edits, key=lambda edit: edit[0].start, reverse=True):  # later offsets first
                link_path = link.target.partition("#")[0]
                text = text[:link.start] + f"{link_path}#{anchor}" + text[link.end:]
            doc.write_text(text, encoding="utf-8")
    return problems, fixed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(DOCS)], help="Markdown files or folders (default: docs/)")
    parser.add_argument("--fix", action="store_true", help="rewrite stale line anchors in place")
    args = parser.parse_args(argv)
    problems, fixed = check(args.paths, fix=args.fix)
    for line in fixed:
        print(f"fixed {line}")
    if args.fix:
        print(f"fixed {len(fixed)} line anchor{'s' * (len(fixed) != 1)}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem{'s' * (len(problems) != 1)}")
        return 1
    print("no problems: every link points at what it names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
