"""DataAudit rejects outlier settings the CLI and torchrun reject (review14): a bad method, a
negative or non-finite threshold, with the argument named; 0 stays the method's own threshold."""

import math

import pytest

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.errors import InvalidArgumentError


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"outlier_method": "foo"}, "outlier_method"),
        ({"outlier_threshold": -1.0}, "outlier_threshold"),
        ({"outlier_threshold": math.nan}, "outlier_threshold"),
        ({"outlier_threshold": math.inf}, "outlier_threshold"),
    ],
)
def test_bad_outlier_settings_raise_naming_the_argument(kw, named):
    with pytest.raises(InvalidArgumentError, match=named):
        DataAudit(**kw)


@pytest.mark.parametrize("method", ["zscore", "modzscore", "iqr"])
def test_good_outlier_settings_are_kept(method):
    audit = DataAudit(outlier_method=method, outlier_threshold=0.0)
    assert (audit.outlier_method, audit.outlier_threshold) == (method, 0.0)
    assert DataAudit(outlier_method=method, outlier_threshold=2.5).outlier_threshold == 2.5


@pytest.mark.parametrize(
    "settings",
    [{}, {"preset": "dataeval-0.65"}, {"hashes": False}, {"quality": False}],
    ids=["default", "preset-0.65", "no-hashes", "no-quality"],
)
def test_a_scan_where_every_input_failed_has_the_columns_of_any_scan(tmp_path, settings):
    """results.csv / to_pandas of a scan that measured nothing had only index, path, status,
    error and lint_flags: a script reading is_dark_issue or width on it got a KeyError."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    from dataeval_gpu.audit.files import scan_files

    good = tmp_path / "good.png"
    Image.fromarray((np.arange(48 * 40 * 3) % 251).astype(np.uint8).reshape(48, 40, 3)).save(good)
    bad = [tmp_path / "a.png", tmp_path / "b.jpg"]
    for p in bad:
        p.write_text("not an image")
    measured = scan_files([str(good), str(bad[0])], workers=0, progress=False, **settings).to_pandas()
    nothing = scan_files([str(p) for p in bad], workers=0, progress=False, **settings).to_pandas()
    assert list(nothing.columns) == list(measured.columns)
    assert (nothing["status"] == "failed").all() and len(nothing) == 2
    failed_row = measured[measured["status"] == "failed"].iloc[0]
    for col in nothing.columns:  # each cell as a failed row's among measured ones
        if col in ("path", "error"):
            continue
        for value in nothing[col]:
            want = failed_row[col]
            assert pd.isna(value) if pd.isna(want) else value == want, col
