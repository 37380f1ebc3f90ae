"""The documentation's relative links resolve, and the README keeps its set-up commands on top.

Pure standard library plus pytest: no network, no stacks. External (http, https, mailto) links are not
followed; a link into a Markdown file with an #anchor must name a heading there (GitHub's slugs).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250
SETUP_COMMANDS = (
    "python -m pip install tox && tox -e zoo",
    "python -m pip install tox && tox -e tests",
)

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the text may hold one level of brackets (e.g. a link in an image).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:")


def doc_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "benchmarks" / "RESULTS.md"]
    return files + sorted((ROOT / "docs").rglob("*.md"))


def outside_fences(text: str) -> list[str]:
    """The lines of `text`, those inside fenced code blocks (``` or ~~~) blanked so line numbers stay right."""
    lines, fence = [], ""
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            lines.append("")
            continue
        if opened:
            fence = opened.group(1)
            lines.append("")
            continue
        lines.append(line)
    return lines


def prose_lines(text: str) -> list[str]:
    """Lines outside code blocks, with inline code spans blanked: neither holds links."""
    return [INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line) for line in outside_fences(text)]


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(prose_lines(path.read_text(encoding="utf-8")), start=1):
        found.extend((number, match.group(1)) for match in LINK.finditer(line))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for line in outside_fences(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """One line per relative link of `path` whose file, or whose #anchor in a Markdown file, does not exist."""
    problems = []
    for number, target in links(path):
        if not target or target.startswith(EXTERNAL):
            continue
        where, _, anchor = target.partition("#")
        resolved = (path.parent / unquote(where)).resolve() if where else path.resolve()
        name = f"{path.relative_to(root)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{name}: no such file")
        elif resolved != root and root not in resolved.parents:
            problems.append(f"{name}: points outside the repository")
        elif anchor and resolved.suffix == ".md" and unquote(anchor).lower() not in anchors(resolved):
            problems.append(f"{name}: no heading with that anchor")
    return problems


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert path.exists(), f"{path.relative_to(ROOT)} is missing"
    assert broken_links(path) == []


def test_docs_are_found() -> None:
    # Guards the parametrization above: an empty docs/ would pass every link test vacuously.
    assert len(doc_files()) > 10


def test_readme_is_short_and_starts_with_the_setup_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < README_MAX_LINES, "README.md is for users: move reference text to docs/"
    first_block = re.search(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert first_block is not None, "README.md has no fenced block"
    commands = [line.split("#", 1)[0].strip() for line in first_block.group(1).splitlines()]  # comments may change
    for command in SETUP_COMMANDS:
        assert command in commands, f"the README's first block lost `{command}`"


def test_the_checker_catches_a_broken_link(tmp_path: Path) -> None:
    # The checker itself, on a page of its own: every kind of link it must flag or pass.
    root = tmp_path.resolve()
    (root / "target.md").write_text("# A `Title`: here\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = root / "page.md"
    page.write_text("[gone](missing.md) [bad](target.md#nope) [ok](target.md#a-title-here)\n"
                    "[dup](target.md#same-1) ![img](target.md) [web](https://example.com/x) [self](#nowhere)\n"
                    "```\n[in code](missing-too.md)\n```\n`[inline](missing-three.md)`\n", encoding="utf-8")
    assert anchors(root / "target.md") == {"a-title-here", "same", "same-1"}
    assert broken_links(page, root) == [
        "page.md:1: missing.md: no such file",
        "page.md:1: target.md#nope: no heading with that anchor",
        "page.md:2: #nowhere: no heading with that anchor",
    ]
