"""``centernet``: a small single-stage detector in plain PyTorch, trained from scratch on CPU.

Why it is written here: the detectors one would reach for (torchvision's Faster R-CNN, FCOS,
RetinaNet) need torchvision, and the torchvision wheels on the package registry are CUDA
builds that do not load with the CPU torch this project installs (torch 2.13.0+cpu:
``import torchvision`` fails with "operator torchvision::nms does not exist"). CenterNet
(Zhou et al., "Objects as Points", 2019) needs no box NMS operator at all, so it fits in a
page of PyTorch: a small CNN backbone to 1/4 resolution, a heatmap per class (focal loss,
Gaussian peaks at the box centres), the box size and the sub-cell offset of the centre (L1
at the centres), and peaks read back by a 3 x 3 max-pool ("max-pool NMS").

Fixed seeds and a bounded number of epochs make a training reproducible on one machine.
About 500 of the demo's 96 x 96 scenes train in a minute or two on 2 CPU cores. Box
metrics, matching and fusion come from maintained packages elsewhere (scipy,
faster-coco-eval, ensemble-boxes); this module only trains and predicts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from assay.models.detection.base import MAX_PREDICTED, SCORE_FLOOR, Box, clip_box, top_boxes

STRIDE = 4  # output cells per input pixel side


def _network(n_classes: int, width: int) -> Any:
    import torch
    from torch import nn

    def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation,
                      bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )  # fmt: skip

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(
                conv(1, 16, stride=2), conv(16, 16),  # 1/2
                conv(16, width, stride=2), conv(width, width),  # 1/4
                conv(width, width, dilation=2), conv(width, width, dilation=4),
                conv(width, width),
            )  # fmt: skip
            # One shared 3 x 3 layer, then 1 x 1 outputs: three separate heads cost as much as
            # the backbone on CPU, for no gain on scenes this simple.
            self.shared = nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)
            )
            self.heat = nn.Conv2d(width, n_classes, 1)
            self.boxes = nn.Conv2d(width, 4, 1)  # size (2, in cells) and centre offset (2)
            assert self.heat.bias is not None
            nn.init.constant_(self.heat.bias, -2.19)  # prior 0.1: the focal loss starts stable

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            f = self.shared(self.backbone(x))
            reg = self.boxes(f)
            return self.heat(f), reg[:, :2], reg[:, 2:]

    return Net()


@contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _pad_batch(images: Sequence[np.ndarray]) -> np.ndarray:
    """Images as one (n, 1, H, W) float32 array in [0, 1], zero-padded to a shared size that
    is a multiple of :data:`STRIDE`."""
    height = max(im.shape[0] for im in images)
    width = max(im.shape[1] for im in images)
    height += -height % STRIDE
    width += -width % STRIDE
    out = np.zeros((len(images), 1, height, width), dtype=np.float32)
    for k, im in enumerate(images):
        out[k, 0, : im.shape[0], : im.shape[1]] = im / 255.0
    return out


def _targets(
    box_lists: Sequence[Sequence[Mapping[str, Any]]],
    class_index: Mapping[str, int],
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Heatmaps (n, C, h, w) with a Gaussian per box centre, and per centre cell the box size
    in cells and the centre's sub-cell offset (n, 4, h, w), with a mask (n, 1, h, w)."""
    h, w = shape
    n, n_classes = len(box_lists), len(class_index)
    heat = np.zeros((n, n_classes, h, w), dtype=np.float32)
    reg = np.zeros((n, 4, h, w), dtype=np.float32)
    mask = np.zeros((n, 1, h, w), dtype=np.float32)
    ys, xs = np.mgrid[0:h, 0:w]
    for k, boxes in enumerate(box_lists):
        for b in boxes:
            if b["class"] not in class_index:
                continue
            cx, cy = (b["x"] + b["w"] / 2) / STRIDE, (b["y"] + b["h"] / 2) / STRIDE
            bw, bh = b["w"] / STRIDE, b["h"] / STRIDE
            ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
            sigma = max(0.5, min(bw, bh) / 6)
            g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
            c = class_index[b["class"]]
            heat[k, c] = np.maximum(heat[k, c], g)
            reg[k, :, iy, ix] = (bw, bh, cx - ix, cy - iy)
            mask[k, 0, iy, ix] = 1.0
    return heat, reg, mask, heat.max(axis=1, keepdims=True)


def _focal(pred: Any, gt: Any) -> Any:
    """CenterNet's penalty-reduced pixel-wise focal loss (alpha 2, beta 4)."""
    import torch

    p = torch.sigmoid(pred).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - gt) ** 4 * neg
    n_pos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / n_pos.clamp(min=1.0)


class CenterNetDetector:
    """The detector (see the module docstring). Parameters: ``epochs``, ``batch_size``,
    ``lr``, ``width`` (channels of the backbone), ``threads`` (CPU threads while training)."""

    PARAMS: ClassVar[tuple[str, ...]] = ("epochs", "batch_size", "lr", "width", "threads")

    def __init__(
        self,
        *,
        seed: int = 0,
        epochs: int = 30,
        batch_size: int = 16,
        lr: float = 3e-3,
        width: int = 32,
        threads: int | None = None,
    ) -> None:
        self.seed = seed
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.width = int(width)
        self.threads = threads

    def _n_threads(self) -> int:
        return int(self.threads or min(2, os.cpu_count() or 1))

    def fit(
        self,
        images: Sequence[np.ndarray],
        box_lists: Sequence[Sequence[Mapping[str, Any]]],
        classes: Sequence[str],
        progress: Any = None,
    ) -> CenterNetDetector:
        """Train from scratch for ``epochs`` passes (Adam, cosine learning rate)."""
        import torch

        torch.manual_seed(self.seed)
        self.classes_ = list(classes)
        index = {c: k for k, c in enumerate(self.classes_)}
        x = _pad_batch(images)
        shape = (x.shape[2] // STRIDE, x.shape[3] // STRIDE)
        heat, reg, mask, _ = _targets(box_lists, index, shape)
        net = _network(len(self.classes_), self.width)
        steps = self.epochs * max(1, -(-len(x) // self.batch_size))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.lr, total_steps=max(steps, 1), pct_start=0.15
        )
        rng = np.random.default_rng(self.seed)
        tx, th, tr, tm = (torch.from_numpy(a) for a in (x, heat, reg, mask))
        net.train()
        with _threads(self._n_threads()):
            for epoch in range(self.epochs):
                order = torch.from_numpy(rng.permutation(len(x)))
                for start in range(0, len(x), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    if len(idx) < 2:  # BatchNorm needs two images
                        continue
                    hm, size, off = net(tx[idx])
                    m = tm[idx]
                    n_obj = m.sum().clamp(min=1.0)
                    r = tr[idx]
                    l_size = (torch.abs(size - r[:, :2]) * m).sum() / n_obj
                    l_off = (torch.abs(off - r[:, 2:]) * m).sum() / n_obj
                    loss = _focal(hm, th[idx]) + 0.1 * l_size + l_off
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
                if progress is not None:
                    progress(epoch + 1, self.epochs, "training centernet")
        net.eval()
        self.net_ = net
        return self

    def predict(self, images: Sequence[np.ndarray], batch_size: int = 64) -> list[list[Box]]:
        """Scored boxes per image: the heatmap's local maxima (3 x 3 max-pool, the best class
        of their cell) above :data:`SCORE_FLOOR`, at most :data:`MAX_PREDICTED`."""
        import torch
        import torch.nn.functional as F

        out: list[list[Box]] = []
        with torch.no_grad(), _threads(self._n_threads()):
            for start in range(0, len(images), batch_size):
                part = list(images[start : start + batch_size])
                hm, size, off = self.net_(torch.from_numpy(_pad_batch(part)))
                hm = torch.sigmoid(hm)
                # A peak is a 3 x 3 spatial maximum of its class and the best class of its
                # cell: one object, one box (duplicates of other classes would only be
                # false positives).
                top = hm.max(dim=1, keepdim=True).values
                peaks = (
                    hm * ((F.max_pool2d(hm, 3, stride=1, padding=1) == hm) & (hm == top)).float()
                )
                n, c, h, w = peaks.shape
                k = min(MAX_PREDICTED, c * h * w)
                scores, where = peaks.view(n, -1).topk(k)
                for b in range(n):
                    height, width = part[b].shape
                    boxes: list[Box] = []
                    for score, flat in zip(scores[b].tolist(), where[b].tolist(), strict=True):
                        if score < SCORE_FLOOR:
                            break
                        cls, cell = divmod(flat, h * w)
                        iy, ix = divmod(cell, w)
                        bw, bh = (float(v) * STRIDE for v in size[b, :, iy, ix].tolist())
                        ox, oy = off[b, :, iy, ix].tolist()
                        cx, cy = (ix + ox) * STRIDE, (iy + oy) * STRIDE
                        xywh = clip_box(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2,
                                        width, height)  # fmt: skip
                        if xywh is None:
                            continue
                        x, y, bw2, bh2 = xywh
                        boxes.append({"class": self.classes_[cls], "x": x, "y": y, "w": bw2,
                                      "h": bh2, "score": round(float(score), 4)})  # fmt: skip
                    out.append(top_boxes(boxes))
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with the network's weights as a state dict (no module code pickled)."""
        state = dict(self.__dict__)
        net = state.pop("net_", None)
        if net is not None:
            state["weights_"] = {k: v.cpu().numpy() for k, v in net.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("weights_", None)
        self.__dict__.update(state)
        if weights is not None:
            import torch

            net = _network(len(self.classes_), self.width)
            net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
            net.eval()
            self.net_ = net
