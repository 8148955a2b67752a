"""Predictions from outside: files of probabilities and a model server on 127.0.0.1, with
every bad-input case refused before anything is stored."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import sqlalchemy as sa

import assay
from assay.errors import DataFormatError, InvalidParameter
from assay.models.external import import_predictions, predict_with_server
from assay.store import schema as t
from labelkit import CLASSES, make_dataset


@pytest.fixture
def ds(tmp_path: Path, store_url: str) -> assay.Dataset:
    return make_dataset(assay.init(tmp_path / "p", db=store_url), "pets", n=6)


def runs(ds: assay.Dataset) -> int:
    with ds.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.model_runs)).scalar())


def test_csv_of_probabilities_becomes_a_model_run(ds: assay.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = ["key,bird,cat,dog"] + [f"k{i},0.1,0.7,0.2" for i in range(5)] + ["k5,0.6,0.2,0.2"]
    path.write_text("\n".join(rows) + "\n")
    run = import_predictions(ds, path, name="outside-1", author="me")
    assert (run.layer, run.n_items) == ("outside-1", 6)
    assert ds.layer("outside-1")["kind"] == "model"
    k5 = ds.item("k5")["labels"]["outside-1"]
    assert k5["label"] == "bird" and k5["probs"] == [0.2, 0.2, 0.6]  # reordered to class order
    with pytest.raises(InvalidParameter, match="exists"):
        import_predictions(ds, path, name="outside-1")


def test_npz_with_keys(ds: assay.Dataset, tmp_path: Path) -> None:
    probs = np.full((3, 3), 1 / 3)
    np.savez(tmp_path / "p.npz", probs=probs, keys=np.array(["k0", "k1", "k2"]))
    assert import_predictions(ds, tmp_path / "p.npz", name="npz").n_items == 3
    np.savez(tmp_path / "obj.npz", probs=probs, keys=np.array(["k0", None, 3], dtype=object))
    with pytest.raises(DataFormatError, match="object arrays are refused"):
        import_predictions(ds, tmp_path / "obj.npz", name="obj")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("key,cat,dog,bird\nk0,0.5,0.4,0.4\n", r"line 2: probabilities sum to 1\.3"),
        ("key,cat,dog,bird\nk0,1.5,-0.5,0\n", r"line 2: probabilities must be numbers in \[0, 1\]"),
        ("key,cat,dog,fish\nk0,0.5,0.5,0\n", "unknown: fish; missing: bird"),
        ("id,cat,dog,bird\n1,0.5,0.5,0\n", "no 'key'"),
        ("key,cat,dog,bird\nnope,0.5,0.5,0\n", "No item with key 'nope'"),
        ("key,cat,dog,bird\nk0,0.5,0.5,0\nk0,0.5,0.5,0\n", "more than once"),
    ],
)
def test_bad_files_store_nothing(
    ds: assay.Dataset, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=expected):
        import_predictions(ds, path, name="bad")
    assert runs(ds) == 0 and "bad" not in [layer["name"] for layer in ds.layers()]


# -- a model server on 127.0.0.1 ---------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    mode = "good"
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append(body)
        n = len(body["items"])
        if Handler.mode == "slow":
            time.sleep(2)
        if Handler.mode == "garbage":
            answer = b"<html>oops</html>"
        elif Handler.mode == "shape":
            answer = json.dumps({"probs": [[1.0, 0.0]] * n}).encode()
        elif Handler.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        else:  # one-hot on the item's x field: x % 3 -> class index of CLASSES order
            probs = []
            for item in body["items"]:
                p = [0.05, 0.05, 0.05]
                p[body["classes"].index(CLASSES[int(item["fields"]["x"]) % 3])] = 0.9
                probs.append(p)
            answer = json.dumps({"probs": probs}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.mode, Handler.seen = "good", []
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def configure(ds: assay.Dataset, url: str) -> None:
    config = ds.project.root / "assay.toml"
    config.write_text(config.read_text() + f'\n[model_servers]\nmine = "{url}"\n')


def test_model_server_protocol(ds: assay.Dataset, server: str) -> None:
    configure(ds, server)
    run = predict_with_server(ds, "mine", name="served", batch_size=4)
    assert run.n_items == 6 and len(Handler.seen) == 2  # two batches
    first = Handler.seen[0]
    assert first["protocol"] == "assay-predict/1" and first["classes"] == ds.classes()
    assert {"id", "key", "kind", "fields"} <= set(first["items"][0])
    assert ds.item("k4")["labels"]["served"]["label"] == CLASSES[4 % 3]
    with pytest.raises(InvalidParameter, match="No model server named 'other'"):
        predict_with_server(ds, "other", name="x")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("garbage", r"did not answer \{\"probs\""),
        ("shape", r"shape \(4, 2\)"),
        ("error", "HTTP 500"),
        ("slow", "did not answer within 0.5 s"),
    ],
)
def test_a_failing_server_stores_nothing(
    ds: assay.Dataset, server: str, mode: str, expected: str
) -> None:
    configure(ds, server)
    Handler.mode = mode
    with pytest.raises(DataFormatError, match=expected):
        predict_with_server(ds, "mine", name="served", batch_size=4, timeout_s=0.5)
    assert runs(ds) == 0 and "served" not in [layer["name"] for layer in ds.layers()]


def test_unreachable_server(ds: assay.Dataset) -> None:
    configure(ds, "http://127.0.0.1:9/predict")
    with pytest.raises(DataFormatError, match="Cannot reach the model server"):
        predict_with_server(ds, "mine", name="served")
