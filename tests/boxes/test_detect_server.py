"""The model-server protocol answering boxes: a tiny detector server on 127.0.0.1 whose
boxes become a box model layer, checked box by box, all or nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

import assay
from assay.errors import DataFormatError
from assay.models.external import predict_with_server
from boxkit import BoxScenes, make_box_dataset


class Handler(BaseHTTPRequestHandler):
    mode = "good"
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append(body)
        n = len(body["items"])
        box = {"class": "7", "x": 10.0, "y": 12.0, "w": 20.0, "h": 24.0, "score": 0.8}
        if Handler.mode == "outside":
            boxes = [[{**box, "x": 90.0}]] * n
        elif Handler.mode == "short":
            boxes = [[box]] * (n - 1)
        elif Handler.mode == "class":
            boxes = [[{**box, "class": "cat"}]] * n
        else:  # one box per item, none for odd ids
            boxes = [[box] if item["id"] % 2 == 0 else [] for item in body["items"]]
        answer = json.dumps({"boxes": boxes}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, store_url: str) -> Iterator[BoxScenes]:
    project = assay.init(tmp_path / "p", db=store_url)
    scenes = make_box_dataset(project, n=6)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.mode, Handler.seen = "good", []
    url = f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    config = project.root / "assay.toml"
    config.write_text(config.read_text() + f'\n[model_servers]\ndet = "{url}"\n')
    try:
        yield scenes
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_a_server_answering_boxes_makes_a_box_model_layer(served: BoxScenes) -> None:
    ds = served.ds
    run = predict_with_server(ds, "det", name="served", batch_size=4)
    assert (run.name, run.layer, run.n_items) == ("served", "served", 6)
    assert [len(body["items"]) for body in Handler.seen] == [4, 2]
    assert Handler.seen[0]["items"][0]["image_png_base64"]
    layer = ds.layer("served")
    assert (layer["kind"], layer["value_kind"]) == ("model", "boxes")
    for item_id in served.item_ids:
        value = ds.item(item_id)["labels"]["served"]["value"]
        if item_id % 2 == 0:
            assert value == [{"id": 1, "class": "7", "x": 10.0, "y": 12.0, "w": 20.0, "h": 24.0,
                              "score": 0.8}]  # fmt: skip
        else:
            assert value == []
    assert ds.models.run("served")["state"] == "done"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("outside", r"server:det: Item \d+, box 1: the box .* reaches outside the 96 x 96 image"),
        ("short", "answered boxes for 3 items, not 4"),
        ("class", r"server:det: Item \d+, box 1: unknown class 'cat'"),
    ],
)
def test_bad_boxes_store_nothing(served: BoxScenes, mode: str, expected: str) -> None:
    Handler.mode = mode
    with pytest.raises(DataFormatError, match=expected):
        predict_with_server(served.ds, "det", name="served", batch_size=4)
    assert "served" not in [layer["name"] for layer in served.ds.layers()]
    assert served.ds.models.runs() == []
