"""review8: ``embed(progress=True)``'s bar takes the same width fallback as the scan's bars
(``progress.bar_width``): on a terminal reporting 0 x 0 (an unsized pty) it drew nothing."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import termios

import numpy as np
import pytest
import torch
from torch import nn

from dataeval_gpu.embeddings.embed import embed


def test_embed_bar_draws_on_an_unsized_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    master, slave = pty.openpty()  # no TIOCSWINSZ: the pty reports 0 x 0
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    stream = os.fdopen(slave, "w")
    model = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())  # 3 x 2 x 2 = 12 features
    imgs = [np.full((3, 24, 24), 40 * k, np.uint8) for k in range(5)]
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        emb = embed(imgs, model=model, device="cpu", progress=True)
        stream.flush()
        data = b""
        while select.select([master], [], [], 0.3)[0]:
            data += os.read(master, 65536)
    finally:
        monkeypatch.undo()
        stream.close()
        os.close(master)
    assert tuple(emb.shape) == (5, 12) and torch.isfinite(torch.as_tensor(emb)).all()
    lines = [s for s in re.split(r"[\r\n]", data.decode("utf-8", "replace")) if s.strip()]
    assert any(s.startswith("embed:") and "5/5" in s for s in lines), lines
