"""Writes one benchmark script's sections into bench/RESULTS.md without touching the others'.

The file is a header (up to the first `## ` heading) followed by `## ` sections. `merge` replaces
every section whose heading the new text also has, in place, appends the new ones, and replaces the
header only when the new text starts with one (scripts/bench-gateway writes it). So running one
bench script alone keeps the other scripts' latest results, and running it twice never duplicates.
"""

import os
import sys


def split(text):
    """(header, [(heading, body)]) of a results document."""
    parts = ("\n" + text).split("\n## ")
    header = parts[0][1:] if parts[0].startswith("\n") else parts[0]
    sections = []
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        sections.append((heading.strip(), body))
    return header, sections


def merge(path, new_text):
    old_text = open(path).read() if os.path.exists(path) else ""
    old_header, old_sections = split(old_text)
    new_header, new_sections = split(new_text)
    header = new_header if new_header.strip() else old_header
    # A heading the old file has twice (an earlier script appended) keeps its first place and its
    # last, newest body.
    latest = dict(old_sections)
    latest.update(new_sections)
    seen, merged = set(), []
    for heading, _ in old_sections + new_sections:
        if heading not in seen:
            seen.add(heading)
            merged.append((heading, latest[heading]))
    out = header.rstrip("\n") + "\n"
    for heading, body in merged:
        out += "\n## " + heading + "\n\n" + body.strip("\n") + "\n"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(out)


if __name__ == "__main__":
    # python3 scripts/bench_results.py RESULTS.md < new-sections.md
    merge(sys.argv[1], sys.stdin.read())
