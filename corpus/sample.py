"""Build the bundled sample archive from seed event files.

    python -m corpus.sample SEED_FILE... --out corpus/sample

Each seed is copied to its own path (taken from its date line and headline slug), and every
event its Related lines name gets a minimal file: the date from the link's path and the
headline from the link's text.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from corpus.event import DATE_LINE, date_from_path, parse_event

SAMPLE_DIR = Path(__file__).parent / "sample"


def slug(headline: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", headline.lower()).strip("-")[:140]


def minimal_event(path: str, headline: str) -> str:
    day = date_from_path(path)
    assert day is not None, path
    folder = path.rsplit("/", 1)[0]
    return f"### [{day.year}-{day.month:02d}-{day.day}](/{folder}/index.md)\n\n# {headline} \n"


def build_sample(seeds: list[Path], out: Path) -> list[str]:
    """Write the sample archive under `out`; returns the paths written."""
    files: dict[str, str] = {}
    for seed in seeds:
        text = seed.read_text(encoding="utf-8")
        first = next(line for line in text.splitlines() if line.strip())
        match = DATE_LINE.match(first.strip())
        assert match, f"{seed}: no date line"
        folder = match.group(4).strip("/").rsplit("/", 1)[0]
        headline = next(line[2:] for line in text.splitlines() if line.startswith("# "))
        path = f"{folder}/{slug(headline)}.md"
        event = parse_event(text, path)
        files[path] = text
        for link in event.related:
            files.setdefault(link.path, minimal_event(link.path, link.headline))
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR)
    args = parser.parse_args()
    for path in build_sample(args.seeds, args.out):
        print(path)


if __name__ == "__main__":
    main()
