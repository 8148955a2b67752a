"""Text spans: import throughput and memory, and likely-mislabeled spans against cleanlab.

**Import** (``--texts``, default 10,000 and 100,000): a spaCy-style JSONL file of texts, each
four of the demo's sentences (about 10 spans a text), imported as a new dataset with
``assay.ingest.spans.import_span_file`` (texts as items, spans checked against their text by
the kind's rule and written in the same publishing transaction). Each size runs in a child
process of its own, so its peak RSS is its own: spans per second of wall time and per CPU
second (the child and any process it starts), and peak memory. Flat memory = about the same
peak at both sizes.

**Label issues**: the demo's 400 texts with one simulated annotator's errors (missed spans,
shifted edges, ORG read as LOC; ``assay.demo.spans.simulate_span_annotators``). The built-in
token classifier gives out-of-fold BIO probabilities once; on those same predictions:

* ``cleanlab (direct)``: ``cleanlab.token_classification.filter.find_label_issues``;
* ``assay cleanlab`` / ``assay confident``: the methods of :mod:`assay.quality.spans`
  (``find_span_issues``), whose flagged tokens are grouped into named suspects.

Scored against the injected errors: token precision/recall (a token whose given BIO tag
differs from the true one) and text precision/recall (a text holding any injected error).

    PYTHONPATH=src python benchmarks/bench_spans.py --texts 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def write_file(path: Path, n_texts: int, seed: int = 0) -> int:
    """``n_texts`` texts of four demo sentences each; returns the number of spans."""
    from assay.demo.spans import load_demo_texts

    _, texts, truth = load_demo_texts()
    rng = random.Random(seed)
    n_spans = 0
    with path.open("w", encoding="utf-8") as fh:
        for k in range(n_texts):
            text, spans = "", []
            for _ in range(4):
                j = rng.randrange(len(texts))
                base = len(text) + (1 if text else 0)
                text += (" " if text else "") + texts[j]
                spans += [{"start": s["start"] + base, "end": s["end"] + base,
                           "label": s["class"]} for s in truth[j]]  # fmt: skip
            n_spans += len(spans)
            fh.write(json.dumps({"key": f"t{k}", "text": text, "spans": spans}) + "\n")
    return n_spans


def import_child(path: str, root: str) -> None:
    """Run in a child: import ``path`` and print wall, CPU and peak RSS as JSON."""
    import assay
    from assay.ingest.spans import import_span_file

    project = assay.init(root)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = import_span_file(project.store, path, dataset="ner", format="spacy-jsonl")
    wall = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + kids.ru_utime + kids.ru_stime
    peak = max(me.ru_maxrss, kids.ru_maxrss) / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak, "labels": result.n_new_labels}))


def bench_import(sizes: list[int]) -> None:
    print(f"{'texts':>9} {'spans':>10} {'wall s':>8} {'spans/s':>10} {'spans/CPU-s':>12} "
          f"{'peak MB':>8} {'load':>5}")  # fmt: skip
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "spans.jsonl"
            n_spans = write_file(path, n)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(Path(tmp) / "p")],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            r = json.loads(out.strip().splitlines()[-1])
            assert r["labels"] == n, r
            print(f"{n:>9,} {n_spans:>10,} {r['wall']:>8.1f} {n_spans / r['wall']:>10,.0f} "
                  f"{n_spans / r['cpu']:>12,.0f} {r['peak_mb']:>8.0f} "
                  f"{os.getloadavg()[0]:>5.1f}")  # fmt: skip


def _pr(flagged: set[Any], truth: set[Any]) -> str:
    p = len(flagged & truth) / len(flagged) if flagged else float("nan")
    r = len(flagged & truth) / len(truth) if truth else float("nan")
    return f"{p:>6.3f} {r:>6.3f} {len(flagged):>6}"


def bench_issues(seed: int = 18) -> None:
    from cleanlab.token_classification.filter import find_label_issues

    from assay.demo.spans import CLASSES, SPAN_ANNOTATORS, load_demo_texts, simulate_span_annotators
    from assay.labels.span_tokens import bio_classes, bio_tags, tokenize
    from assay.models.span_tagger import featurize, oof_token_probs
    from assay.quality.spans import find_span_issues

    _, texts, truth = load_demo_texts()
    labels, errors = simulate_span_annotators(texts, truth, {"bob": SPAN_ANNOTATORS["bob"]},
                                              seed=seed)  # fmt: skip
    given_sets = labels["bob"]
    tokens = [tokenize(t) for t in texts]
    given = [np.asarray(bio_tags(tk, s, CLASSES)) for tk, s in zip(tokens, given_sets, strict=True)]
    true = [np.asarray(bio_tags(tk, s, CLASSES)) for tk, s in zip(tokens, truth, strict=True)]
    t0 = time.perf_counter()
    x = featurize(texts, tokens)
    probs = oof_token_probs(x, np.concatenate(given), [len(t) for t in tokens],
                            len(bio_classes(CLASSES)), folds=5, seed=0)  # fmt: skip
    fit = time.perf_counter() - t0
    wrong_tokens = {(k, j) for k in range(len(texts)) for j in np.flatnonzero(given[k] != true[k])}
    wrong_texts = {e[1] for e in errors}
    print(f"\n{len(texts)} texts, {sum(map(len, tokens))} tokens, {len(errors)} injected errors "
          f"({sum(1 for e in errors if e[2] == 'missed')} missed, "
          f"{sum(1 for e in errors if e[2] == 'shifted')} shifted, "
          f"{sum(1 for e in errors if e[2] == 'confused')} ORG->LOC) in {len(wrong_texts)} texts; "
          f"{len(wrong_tokens)} tokens with a wrong tag; out-of-fold token classifier "
          f"{fit:.1f} s")  # fmt: skip
    print(f"{'method':<20} {'tok P':>6} {'tok R':>6} {'n':>6}   {'text P':>6} {'text R':>6} "
          f"{'n':>6} {'s':>6}")  # fmt: skip
    rows: list[tuple[str, list[tuple[int, int]], float]] = []
    t0 = time.perf_counter()
    direct = find_label_issues([list(map(int, g)) for g in given], probs)
    rows.append(("cleanlab (direct)", [(int(i), int(j)) for i, j in direct],
                 time.perf_counter() - t0))  # fmt: skip
    for method in ("cleanlab", "confident"):
        t0 = time.perf_counter()
        _, found = find_span_issues(given, probs, method)
        rows.append((f"assay {method}", found, time.perf_counter() - t0))
    for name, found, secs in rows:
        toks = set(found)
        texts_flagged = {k for k, _ in found}
        print(f"{name:<20} {_pr(toks, wrong_tokens)}   {_pr(texts_flagged, wrong_texts)} "
              f"{secs:>6.2f}")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        import_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--skip-issues", action="store_true")
    args = parser.parse_args()
    bench_import(args.texts)
    if not args.skip_issues:
        bench_issues()


if __name__ == "__main__":
    main()
