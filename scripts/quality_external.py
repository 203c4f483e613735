"""The other tools of scripts/eval_quality.py, run in their own venv on the same saved files.

    /work/venvs/quality/bin/python scripts/quality_external.py IMAGES_DIR MANIFEST OUT.json

Runs (each in a try block, its error recorded instead of a result): DataEval 1.x
``Duplicates()`` (default hashes) and ``Duplicates(flags=HASH_DUPLICATES_D4)``,
``Outliers()`` (default adaptive threshold) and ``Outliers(outlier_threshold="iqr")``;
imagededup ``PHash`` at its default ``max_distance_threshold=10`` (its CNN method needs
downloaded weights and is not run); CleanVision ``Imagelab.find_issues()`` (its issues
and its exact / near duplicate sets).  Writes ``{tool: {"groups": [[i, ...]], "flagged":
[i, ...]}}`` with indices into the manifest's entries.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from PIL import Image


def _load(img_dir: Path, files: list[str]) -> list[np.ndarray]:
    return [np.moveaxis(np.asarray(Image.open(img_dir / f).convert("RGB")), -1, 0).copy() for f in files]


def dataeval1(images: list[np.ndarray], out: dict) -> None:
    from dataeval.flags import ImageStats
    from dataeval.quality import Duplicates, Outliers

    for name, det in (
        ("dataeval 1.x", Duplicates()),
        ("dataeval 1.x D4", Duplicates(flags=ImageStats.HASH_DUPLICATES_D4)),
    ):
        t = time.perf_counter()
        res = det.evaluate(images)
        df = res.data() if callable(getattr(res, "data", None)) else res.data
        groups = [list(map(int, g)) for g in df["item_indices"].to_list()]
        out[name] = {"groups": groups, "seconds": time.perf_counter() - t}
    for name, thr in (("dataeval 1.x", None), ("dataeval 1.x iqr", "iqr")):
        t = time.perf_counter()
        res = Outliers(outlier_threshold=thr).evaluate(images)
        df = res.data() if callable(getattr(res, "data", None)) else res.data
        flagged = sorted({int(i) for i in df["item_index"].to_list()})
        out.setdefault(name, {})["flagged"] = flagged
        out[name]["outlier_seconds"] = time.perf_counter() - t


def imagededup_run(img_dir: Path, files: list[str], out: dict) -> None:
    import types

    import imagededup

    # imagededup.methods' __init__ imports its CNN, which downloads mobilenet weights at import
    # (offline here): load the hashing module without running that __init__
    if "imagededup.methods" not in sys.modules:
        pkg = types.ModuleType("imagededup.methods")
        pkg.__path__ = [str(Path(imagededup.__file__).parent / "methods")]
        sys.modules["imagededup.methods"] = pkg
    from imagededup.methods.hashing import PHash

    t = time.perf_counter()
    found = PHash(verbose=False).find_duplicates(image_dir=str(img_dir), max_distance_threshold=10)
    index = {f: i for i, f in enumerate(files)}
    pairs = [[index[a], index[b]] for a, dups in found.items() if a in index for b in dups if b in index]
    out["imagededup phash r10"] = {"groups": pairs, "seconds": time.perf_counter() - t}


def cleanvision_run(img_dir: Path, files: list[str], out: dict) -> None:
    from cleanvision import Imagelab

    t = time.perf_counter()
    lab = Imagelab(data_path=str(img_dir))
    lab.find_issues(verbose=False)
    issues = lab.issues
    index = {f: i for i, f in enumerate(files)}
    names = [index.get(Path(p).name, -1) for p in issues.index]
    flag_cols = [c for c in issues.columns if c.startswith("is_") and c.endswith("_issue")]
    dup_cols = {"is_exact_duplicates_issue", "is_near_duplicates_issue"}
    flagged = sorted(
        {
            names[r]
            for r in range(len(names))
            for c in flag_cols
            if c not in dup_cols and bool(issues[c].iloc[r])
        }
    )
    per_issue = {c[3:-6]: [names[r] for r in np.nonzero(issues[c].to_numpy())[0]] for c in flag_cols}
    groups = []
    for key in ("exact_duplicates", "near_duplicates"):
        for s in lab.info.get(key, {}).get("sets", []):
            groups.append([index[Path(p).name] for p in s if Path(p).name in index])
    out["cleanvision"] = {
        "groups": groups,
        "flagged": [i for i in flagged if i >= 0],
        "per_issue": per_issue,
        "seconds": time.perf_counter() - t,
    }


def main() -> None:
    img_dir, manifest, dest = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    files = [e["file"] for e in json.loads(manifest.read_text())["entries"]]
    out: dict = {}
    images = _load(img_dir, files)
    for name, fn in (
        ("dataeval 1.x", lambda: dataeval1(images, out)),
        ("imagededup phash r10", lambda: imagededup_run(img_dir, files, out)),
        ("cleanvision", lambda: cleanvision_run(img_dir, files, out)),
    ):
        try:
            fn()
        except Exception:  # noqa: BLE001 - one tool failing must not hide the others
            out.setdefault(name, {})["error"] = traceback.format_exc(limit=3)
    dest.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
