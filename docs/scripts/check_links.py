"""List every relative link of docs/batchnorm.md and docs/batchnorm.vi.md with the code lines it points at.

Line anchors (#L75-L97) go stale when the code moves. Run this after editing the code and read the output: each
range should start and end on the lines the text describes. Links to missing files are marked MISSING.

Run from the repository root:  python docs/scripts/check_links.py
"""
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#:\s]+)(?:#L(\d+)(?:-L(\d+))?)?\)")


def main():
    for doc in ("batchnorm.md", "batchnorm.vi.md"):
        text = (DOCS / doc).read_text(encoding="utf-8")
        print(f"== {doc}")
        seen = set()
        for match in LINK.finditer(text):
            target, first, last = match.group(1), match.group(2), match.group(3) or match.group(2)
            if (target, first, last) in seen:
                continue
            seen.add((target, first, last))
            path = (DOCS / target).resolve()
            if not path.exists():
                print(f"  MISSING {target}")
            elif first:
                lines = path.read_text(encoding="utf-8").splitlines()
                start, end = lines[int(first) - 1].strip(), lines[min(int(last), len(lines)) - 1].strip()
                print(f"  {path.name}#L{first}-L{last}: {start[:60]}  ...  {end[:40]}")


if __name__ == "__main__":
    main()
