"""review9: the report's note on embedding duplicates says the thumbnails compared the pictures
only where the run kept thumbnails (``--no-hashes``, ``--no-quality``: none kept, none compared)."""

from __future__ import annotations

import numpy as np

from dataeval_gpu.audit import AuditReport
from dataeval_gpu.report.context import make_context
from dataeval_gpu.report.duplicates_section import duplicates_section

ALIKE = "the two pictures also alike on their grey thumbnails"


def _body(config: dict) -> str:
    rep = AuditReport(
        index=np.arange(4),
        stats={"brightness": np.array([0.2, 0.4, 0.6, 0.8])},
        duplicates={"embedding": [[1, 2]]},
        config=config,
    )
    section = duplicates_section(make_context(rep, None, None))
    assert section is not None
    return section[2]


def test_embedding_rule_names_the_thumbnails_only_where_they_were_kept() -> None:
    # the default audit: hashes on, central crops and quality issues: thumbnails kept and compared
    on = _body({"hashes": True, "near_crops": [0.9, 0.8], "quality": True})
    assert ALIKE in on and "not compared" not in on
    # --no-hashes: no thumbnails at all
    off = _body({"hashes": False, "near_crops": [], "quality": True})
    assert ALIKE not in off
    assert "the pictures not compared: no thumbnails were kept (the hashes were off" in off
    # --no-quality (the preset's crops go with it): hashes without thumbnails
    noq = _body({"hashes": True, "near_crops": [], "quality": False})
    assert ALIKE not in noq
    assert "no thumbnails were kept (no central crops nor quality issues" in noq
