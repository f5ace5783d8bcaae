#!/usr/bin/env python3
"""The README and docs/ hold together: every relative link (and its #anchor)
resolves, every docs page is linked from the README and starts with what it is
for, and the README stays short. Usage: check_links.py SOURCE_DIR"""
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1]).resolve()
readme = src / "README.md"
pages = sorted((src / "docs").glob("*.md"))
problems = []


def anchors(path):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = re.match(r"#+ (.*)", line)
        if m and not fenced:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(text.replace(" ", "-"))
    return out


links_from_readme = set()
for doc in [readme] + pages:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address: not checked offline
        file, _, anchor = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        if not dest.exists():
            problems.append(f"{doc.relative_to(src)}: link to {target}: no such file")
            continue
        if doc == readme:
            links_from_readme.add(dest)
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{doc.relative_to(src)}: link to {target}: no heading '#{anchor}' in {file or doc.name}")

for page in pages:
    if page not in links_from_readme:
        problems.append(f"docs/{page.name}: not linked from README.md")
    body = page.read_text().split("\n\n")
    if len(body) < 2 or not body[1].startswith("What this page is for:"):
        problems.append(f"docs/{page.name}: does not start with what it is for ('What this page is for: ...')")

lines = len(readme.read_text().splitlines())
if lines > 260:
    problems.append(f"README.md: {lines} lines (at most ~250: move the rest to docs/)")

for p in problems:
    print("FAILED:", p)
print(f"docs check: README.md ({lines} lines) and {len(pages)} pages, {len(problems)} problems")
sys.exit(1 if problems else 0)
