"""Write src/assay/demo/data/ner.jsonl: short English texts with entity spans, for the demo.

Run once (``python scripts/make_ner_demo.py``); the output is committed, so the demo needs no
download and no generator at build time. The texts are made from the templates and the
name, organisation, place and date lists below (all written for the demo; any resemblance
to real people is by chance); each line is ``{"key", "text", "spans": [{start, end, label}]}``
with character offsets, end exclusive (spaCy's convention).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

PEOPLE = [
    "Maria Lopez",
    "James Carter",
    "Aiko Tanaka",
    "Omar Haddad",
    "Lena Fischer",
    "Tom Baker",
    "Priya Nair",
    "Jonas Berg",
    "Grace Okafor",
    "Luis Romero",
    "Nina Petrova",
    "Sam Wilson",
    "Chen Wei",
    "Fatima Zahra",
    "Oliver Grant",
    "Eva Novak",
    "Ravi Kumar",
    "Hannah Moore",
    "Diego Santos",
    "Ingrid Olsen",
    "Kofi Mensah",
    "Sara Levi",
    "Paul Dubois",
    "Mei Lin",
    "Anna Kowalski",
    "Ben Adler",
    "Clara Rossi",
    "Yusuf Demir",
    "Alice",
    "Marcus",
    "Helena",
]
ORGS = [
    "Northwind Bank",
    "Bluefin Labs",
    "the City Council",
    "Apex Motors",
    "Greenleaf Foods",
    "Harbor Health",
    "the Riverside Times",
    "Quantum Works",
    "Silverline Airways",
    "Orbit Media",
    "the National Museum",
    "Cobalt Energy",
    "Maple University",
    "Summit Insurance",
    "Helix Bio",
    "the Pioneer Club",
    "Redwood Partners",
    "Atlas Shipping",
    "Lumen Software",
    "Vertex Group",
]
PLACES = [
    "Lisbon",
    "Toronto",
    "Nairobi",
    "Osaka",
    "Berlin",
    "Chicago",
    "Lima",
    "Oslo",
    "Cairo",
    "Melbourne",
    "Denver",
    "Seoul",
    "Madrid",
    "Dublin",
    "Mumbai",
    "Quebec",
    "Vienna",
    "Accra",
    "the Alps",
    "Lake Geneva",
    "New Zealand",
    "Brazil",
    "Norway",
    "Kenya",
    "Portugal",
]
DATES = [
    "Monday",
    "last Friday",
    "March 3",
    "June 2021",
    "1998",
    "next spring",
    "July 14",
    "the summer of 2019",
    "yesterday",
    "December",
    "early 2024",
    "last week",
    "May 5, 2022",
    "Tuesday morning",
    "2015",
    "last October",
]
TEMPLATES = [
    "{PER} joined {ORG} in {LOC} on {DATE}.",
    "{PER} met {PER} in {LOC}.",
    "{ORG} opened a new office in {LOC} in {DATE}.",
    "On {DATE}, {PER} flew from {LOC} to {LOC}.",
    "{PER} says {ORG} will hire forty people by {DATE}.",
    "The report from {ORG} was written by {PER}.",
    "{PER} has lived in {LOC} since {DATE}.",
    "{ORG} and {ORG} signed a deal in {LOC}.",
    "Shares of {ORG} fell sharply on {DATE}.",
    "{PER}, a teacher from {LOC}, won the prize.",
    "We visited {LOC} with {PER} {DATE}.",
    "{PER} left {ORG} after ten years.",
    "Heavy rain closed roads around {LOC} on {DATE}.",
    "{PER} will speak at {ORG} on {DATE}.",
    "The team from {LOC} beat {ORG} twice.",
    "According to {PER}, the bridge in {LOC} opened in {DATE}.",
    "{ORG} moved its headquarters to {LOC}.",
    "Nobody at {ORG} expected the news.",
    "The weather was calm all week.",
    "{PER} thanked {PER} for the help.",
]
SLOTS = {"PER": PEOPLE, "ORG": ORGS, "LOC": PLACES, "DATE": DATES}


def make(n: int = 400, seed: int = 18) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        template = rng.choice(TEMPLATES)
        text, spans, pos = "", [], 0
        for m in re.finditer(r"\{(\w+)\}", template):
            text += template[pos : m.start()]
            value = rng.choice(SLOTS[m.group(1)])
            if not text:
                value = value[0].upper() + value[1:]
            spans.append({"start": len(text), "end": len(text) + len(value), "label": m.group(1)})
            text += value
            pos = m.end()
        text += template[pos:]
        out.append({"key": f"t{k:04d}", "text": text, "spans": spans})
    return out


if __name__ == "__main__":
    path = Path(__file__).resolve().parents[1] / "src/assay/demo/data/ner.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make()), encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size} bytes)")
