"""Start-up stays lean (issue 14): the command line imports torch and the rest only when a scan
runs, and the scan's forked workers inherit every module they use instead of importing it.

Each check runs in a fresh interpreter: the test process itself has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# imported by a scan, but never by `--help`, a mistake on the command line or the thumbnails module
HEAVY = ("torch", "numpy", "torchvision", "torchmetrics", "matplotlib", "pandas", "pyarrow", "scipy", "numba",
         "PIL", "timm", "faiss", "lightning", "pytorch_lightning", "sklearn", "skimage")  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]
PRINT_HEAVY = f"\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"


def _fresh(code: str, *args: str) -> str:
    """Run ``code`` in a new interpreter (the repository first on the path); its stdout."""
    env_code = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(code)
    run = subprocess.run([sys.executable, "-c", env_code, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip()


def _heavy_after(code: str, *args: str) -> list[str]:
    out = _fresh(textwrap.dedent(code) + PRINT_HEAVY, *args)
    return eval(out.splitlines()[-1])  # noqa: S307 - a list literal printed by the child


def test_importing_the_command_line_imports_nothing_heavy() -> None:
    assert _heavy_after("import dataeval_gpu.cli, dataeval_gpu.cli_args") == []


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["scan", "--help"], ["scan", "no/such/dir"], ["scan", ".", "--batch-size", "0"],
     ["scan", ".", "--formats", "xlsx"]],  # fmt: skip
)
def test_help_and_user_errors_import_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    code = """
        import sys
        from dataeval_gpu.cli import main
        try:
            status = main(sys.argv[1:])
        except SystemExit as exc:  # argparse: --help exits 0, its own errors 2
            status = exc.code
        print(status)
    """
    argv = [*argv, "--out", str(tmp_path / "out")] if argv[0] == "scan" and "--help" not in argv else argv
    out = _fresh(textwrap.dedent(code) + PRINT_HEAVY, *argv)
    status, heavy = out.splitlines()[-2:]
    assert int(status) == (0 if "--help" in argv else 2)
    assert eval(heavy) == []  # noqa: S307


def test_the_thumbnail_module_does_not_import_the_report_tables() -> None:
    """The scan's workers make thumbnails with ``report.images``; pandas (the tables) and
    matplotlib (the plots) stay out of it and out of ``import dataeval_gpu.report``."""
    heavy = _heavy_after("import dataeval_gpu.report.images, dataeval_gpu.report")
    assert set(heavy) <= {"torch", "numpy"}, heavy


def test_lazy_report_names_resolve_to_their_modules() -> None:
    import dataeval_gpu.report as report
    from dataeval_gpu.report import html, plots, tables

    assert report.write_report is html.write_report and report.class_wise_table is tables.class_wise_table
    assert report.image_grid is plots.image_grid and set(report.__all__) <= set(dir(report))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = report.no_such_name


def test_forked_scan_workers_import_no_module(tmp_path: Path) -> None:
    """A worker of the file scan decodes, measures and makes the thumbnail of a large photo with
    the modules its parent had imported: each import there would be paid again per worker."""
    from dataeval_gpu.audit.files import can_fork

    if not can_fork():
        pytest.skip("no fork on this platform")
    code = """
        import sys
        import numpy as np
        from PIL import Image
        from dataeval_gpu.audit import DataAudit
        from dataeval_gpu.audit.files import AnalysedFiles, run_in_workers, warm_up
        from dataeval_gpu.io import ImageFiles

        path = sys.argv[1]
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (900, 1300, 3), dtype=np.uint8)).save(path, quality=90)
        dataset = AnalysedFiles(ImageFiles([path], [-1]), DataAudit(device="cpu").make_accumulator("cpu"), True)
        warm_up(dataset.accumulator)
        before = set(sys.modules)

        def task(positions):
            batch = dataset.__getitems__(positions)
            return sorted(set(sys.modules) - before), len(batch.thumbnails), len(batch.failed)

        [(new, thumbs, failed)] = list(run_in_workers(task, [[0]], 1))
        print(thumbs, failed)
        print(new)
    """
    counts, new = _fresh(code, str(tmp_path / "big.jpg")).splitlines()[-2:]
    assert counts == "1 0"  # measured, with its thumbnail
    ours_or_heavy = [m for m in eval(new) if m.startswith("dataeval_gpu") or m.split(".")[0] in HEAVY]  # noqa: S307
    assert ours_or_heavy == []


def test_the_program_freezes_its_objects_before_exit_and_a_caller_keeps_its_collector() -> None:
    """Called as the program (no argv), ``main`` leaves the interpreter's last garbage collection
    nothing to walk (``gc.freeze``); a caller passing argv (tests, scripts) keeps a normal collector."""
    code = """
        import gc, sys
        from dataeval_gpu.cli import main
        sys.argv = ["dataeval-gpu", "scan", "no/such/dir"]
        print(main(["scan", "no/such/dir"]), gc.get_freeze_count())
        print(main(), gc.get_freeze_count() > 1000)
    """
    assert _fresh(code).splitlines()[-2:] == ["2 0", "2 True"]


def test_the_program_imports_without_the_collector_and_scans_with_it(tmp_path: Path) -> None:
    """Started as the program (``cli.run``), the scan's imports make no full garbage collection
    (each walked every object of torch's modules: 4-5 during ``import torch``, 0.2-0.45 s before
    the first file); the collector is back on, with those objects frozen out of it, when the
    scan starts, and in its forked workers; the post-scan modules imported during the scan
    (pandas) are frozen as well.  ``main`` called with argv (tests, scripts) leaves it alone."""
    code = """
        import gc, json, os, sys
        import numpy as np
        from PIL import Image
        from dataeval_gpu import cli

        d = sys.argv[1]
        rng = np.random.default_rng(0)
        os.mkdir(f"{d}/in")
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, (40 + k, 50, 3), dtype=np.uint8)).save(f"{d}/in/{k}.jpg")
        full = []
        gc.callbacks.append(lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None)
        os.register_at_fork(after_in_child=lambda: open(f"{d}/child", "w").write(str(gc.isenabled())))
        seen = {}
        real_scan, real_preload, threads = cli.scan_files, cli.preload, []
        cli.preload = lambda modules: threads.append(real_preload(modules)) or threads[-1]

        def scan_files(*a, **kw):
            seen.update(torch="torch" in sys.modules, enabled=gc.isenabled(), frozen=gc.get_freeze_count(),
                        full=len(full))
            report = real_scan(*a, **kw)
            [t.join() for t in threads]  # the post-scan imports (started once the workers were busy) are done
            seen.update(pandas="pandas" in sys.modules, frozen_after=gc.get_freeze_count(), enabled_after=gc.isenabled())
            return report

        cli.scan_files = scan_files
        main = cli.main

        def record():
            status = main()
            print(json.dumps(seen))
            return status

        cli.main = record
        sys.argv = ["dataeval-gpu", "scan", f"{d}/in", "--out", f"{d}/out", "--quiet", "--no-progress",
                    "--workers", "1"]
        cli.run()
    """
    out = _fresh(code, str(tmp_path)).splitlines()
    seen = json.loads(out[-1])
    assert seen["torch"] and seen["enabled"] and seen["full"] == 0, seen  # no full collection in the imports
    assert seen["frozen"] > 10_000, seen  # torch's objects are out of the collector's walks
    assert (tmp_path / "child").read_text() == "True"  # the forked worker collects as usual
    assert seen["pandas"] and seen["enabled_after"] and seen["frozen_after"] > seen["frozen"], seen
    assert (tmp_path / "out" / "results.csv").is_file()
    code = """
        import gc, sys
        from dataeval_gpu.cli import main
        print(main(["scan", sys.argv[1], "--out", sys.argv[2], "--quiet", "--no-plots", "--workers", "1"]))
        print(gc.isenabled(), gc.get_freeze_count())
    """
    assert _fresh(code, str(tmp_path / "in"), str(tmp_path / "out2")).splitlines()[-1] == "True 0"


def test_a_scan_imports_neither_torchmetrics_nor_torchvision_nor_scipy_linalg(tmp_path: Path) -> None:
    """The command's scan keeps its rows in the plain row store and decodes with torchvision's
    image library loaded alone: torchmetrics (~3 s of CPU time with torchvision's models,
    torch._dynamo, scipy.signal, matplotlib), torchvision and scipy.linalg (numba's BLAS check)
    stay out of the process."""
    code = """
        import sys
        import numpy as np
        from PIL import Image
        from dataeval_gpu.cli import main

        d = sys.argv[1]
        rng = np.random.default_rng(0)
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, (40 + k, 50, 3), dtype=np.uint8)).save(f"{d}/in/{k}.jpg")
        Image.fromarray(rng.integers(0, 256, (30, 20), dtype=np.uint8)).save(f"{d}/in/grey.png")
        print(main(["scan", f"{d}/in", "--out", f"{d}/out", "--no-progress", "--quiet", "--workers", "1"]))
        print("scipy.linalg" in sys.modules)
        import pandas as pd
        df = pd.read_csv(f"{d}/out/results.csv")
        print(sorted(df["status"]), sorted(df["width"].astype(int)))
    """
    (tmp_path / "in").mkdir()
    out = _fresh(textwrap.dedent(code) + PRINT_HEAVY, str(tmp_path)).splitlines()
    status, linalg, rows, heavy = out[-4:]
    assert linalg == "False"  # numba's BLAS check hidden (stats_compiled.preload_numba_without_blas)
    assert status == "0" and rows == "['ok', 'ok', 'ok', 'ok'] [20, 50, 50, 50]"
    assert "torchmetrics" not in heavy and "torchvision" not in heavy and "torch" in heavy


def test_the_kernels_load_without_scipy_linalg() -> None:
    """numba's first kernel load imports its array-math registry, which checks scipy's BLAS
    (``scipy.linalg`` and ``numpy.f2py``: ~0.25 s of a scan's start-up).  The command imports
    that registry with the BLAS hidden first: the kernels load and count as before, no
    ``scipy.linalg`` is imported, and it still imports normally afterwards."""
    code = """
        import sys
        import torch
        from dataeval_gpu.functional import stats_compiled
        from dataeval_gpu.functional.stats_kernels import count_uint8

        print(stats_compiled.preload_numba_without_blas(), stats_compiled.preload_numba_without_blas())
        x = torch.randint(0, 256, (3, 37, 41), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        got, want = stats_compiled.count_image_u8(x, 3), count_uint8(x[None], 3)
        print(stats_compiled.ready(), all(torch.equal(a, b) for a, b in zip(got, want)), "scipy.linalg" in sys.modules)
        import scipy.linalg.cython_blas  # noqa: F401
        print("scipy.linalg" in sys.modules)
    """
    assert _fresh(code).splitlines()[-3:] == ["True False", "True True False", "True"]


def test_the_decoder_is_torchvisions_op_loaded_without_torchvision(tmp_path: Path) -> None:
    """``image_ops.decode_image`` gives torchvision.io.decode_image's pixels (EXIF orientation
    applied, palette / alpha modes) and loading it imports no torchvision."""
    code = """
        import io, sys
        import numpy as np
        import torch
        from PIL import Image
        from dataeval_gpu import image_ops

        rng = np.random.default_rng(1)
        blobs = []
        im = Image.fromarray(rng.integers(0, 256, (23, 37, 3), dtype=np.uint8))
        exif = im.getexif()
        exif[0x0112] = 6  # rotated 90 degrees
        buf = io.BytesIO(); im.save(buf, "JPEG", exif=exif); blobs.append((buf.getvalue(), image_ops.UNCHANGED))
        buf = io.BytesIO(); im.convert("L").save(buf, "JPEG"); blobs.append((buf.getvalue(), image_ops.UNCHANGED))
        buf = io.BytesIO(); im.convert("P").save(buf, "PNG"); blobs.append((buf.getvalue(), image_ops.RGB))
        rgba = Image.fromarray(rng.integers(0, 256, (9, 11, 4), dtype=np.uint8))
        buf = io.BytesIO(); rgba.save(buf, "PNG"); blobs.append((buf.getvalue(), image_ops.RGB_ALPHA))
        ours = [image_ops.decode_image(torch.frombuffer(bytearray(b), dtype=torch.uint8), m) for b, m in blobs]
        print("torchvision" in sys.modules, [tuple(t.shape) for t in ours])
        from torchvision.io import ImageReadMode, decode_image
        ref = [decode_image(torch.frombuffer(bytearray(b), dtype=torch.uint8), mode=ImageReadMode(m),
                            apply_exif_orientation=True) for b, m in blobs]
        print([bool(torch.equal(a, b)) for a, b in zip(ours, ref)])
        print([ImageReadMode.UNCHANGED.value, ImageReadMode.RGB.value, ImageReadMode.RGB_ALPHA.value])
    """
    imported, same, modes = _fresh(code).splitlines()[-3:]
    assert imported == "False [(3, 37, 23), (1, 23, 37), (3, 23, 37), (4, 9, 11)]"  # the JPEG turned upright
    assert same == "[True, True, True, True]"
    assert modes == "[0, 3, 4]"


def test_the_program_flushes_its_output_and_exits_with_mains_status(tmp_path: Path) -> None:
    """``python -m dataeval_gpu.cli`` ends with ``os._exit`` after main: the printed output
    (a pipe: block-buffered) still arrives, and the status is main's."""
    env_path = {"PYTHONPATH": str(ROOT)}
    import os

    env = {**os.environ, **env_path}
    bad = subprocess.run([sys.executable, "-m", "dataeval_gpu.cli", "scan", "no/such/dir", "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("dataeval-gpu: error: ") and bad.stdout == ""
    helped = subprocess.run([sys.executable, "-m", "dataeval_gpu.cli", "--help"], capture_output=True, text=True,
                            env=env, timeout=300)  # fmt: skip
    assert helped.returncode == 0 and "scan" in helped.stdout and helped.stdout.endswith("\n")
    import numpy as np
    from PIL import Image

    (tmp_path / "in").mkdir()
    for k in range(2):
        Image.fromarray(np.full((20, 30 + k), 60 * k, np.uint8)).save(tmp_path / "in" / f"{k}.png")
    ok = subprocess.run([sys.executable, "-m", "dataeval_gpu.cli", "scan", str(tmp_path / "in"), "--out",
                         str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True, env=env,
                        timeout=300)  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.rstrip().splitlines()[-1].startswith("2 images in ")  # the last line arrived
    assert (tmp_path / "out" / "report.html").stat().st_size > 0 and (tmp_path / "out" / "results.csv").exists()


def test_discovery_imports_no_torch(tmp_path: Path) -> None:
    """Listing the inputs (a folder, a file list: what the command line checks before a scan)
    needs neither torch nor an image library, nor numpy."""
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (tmp_path / "notes.frag").write_text("void main() {}\n")
    code = f"""
        from dataeval_gpu.discovery import find_inputs
        found = find_inputs({str(tmp_path)!r})
        print([len(found.files), len(found.skipped)])
    """
    out = _fresh(textwrap.dedent(code) + PRINT_HEAVY)
    counts, heavy = out.splitlines()[-2:]
    assert eval(counts) == [1, 1]  # noqa: S307
    assert eval(heavy) == []  # noqa: S307 - IMAGE_EXTENSIONS in file_kinds: not even numpy


@pytest.mark.parametrize("preset", ["default", "dataeval-0.65"])
def test_warm_up_loads_the_kernels_the_scan_uses_and_only_those(preset: str, tmp_path: Path) -> None:
    """The scan's warm-up (before the fork) loads each compiled kernel its accumulator uses, in
    the layouts it uses (the D4 hash's crops are strided views), and no other: a photo decoded
    and measured afterwards loads nothing more, and the unused resize kernel / layouts stay unloaded."""
    code = f"""
        import sys
        import numba
        import numpy as np
        import torch
        from PIL import Image
        from dataeval_gpu.audit import DataAudit
        from dataeval_gpu.io import decode_file
        from dataeval_gpu.audit.files import warm_up
        from dataeval_gpu.functional import quality_chroma_compiled, quality_compiled, quality_fine_compiled, quality_texture, stats_compiled
        from dataeval_gpu.functional import quality_alpha_colour_compiled, quality_motion, quality_occupancy_compiled, quality_seam_compiled, quality_grain_compiled
        from dataeval_gpu.functional.hashing import compiled

        def loaded():
            return {{name: len(obj.signatures) for mod in (stats_compiled, quality_compiled, quality_chroma_compiled, quality_fine_compiled, quality_texture, compiled,
                                                           quality_alpha_colour_compiled, quality_motion, quality_occupancy_compiled, quality_seam_compiled, quality_grain_compiled)
                    for name, obj in vars(mod).items()
                    if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.signatures}}

        acc = DataAudit(preset={preset!r}).make_accumulator("cpu")
        warm_up(acc)
        before = loaded()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (300, 451, 3), dtype=np.uint8)).save(sys.argv[1], quality=90)
        acc.batch_rows([decode_file(sys.argv[1]), torch.from_numpy(rng.integers(0, 256, (1, 257, 190), dtype=np.uint8))])
        print(sorted(before.items()))
        print(loaded() == before)
    """
    # once to fill numba's disk cache: compiled cold (a new checkout, an edited kernel module) a
    # kernel also gives the kernels it calls signatures, which a load from the cache does not
    _fresh(code, str(tmp_path / "photo.jpg"))
    before, same = _fresh(code, str(tmp_path / "photo.jpg")).splitlines()[-2:]
    assert same == "True"
    if preset == "default":  # quality kernels (contiguous), the D4 hash's exact resize (crops read from their parent: one layout)
        want = [("_coeffs_kernel", 1), ("_count", 1), ("_fine", 1), ("_grey_resize_exact_kernel", 1), ("_measure", 1),
                ("_motion_u8", 1), ("_occupied", 1), ("_planes3", 1), ("_seam", 1), ("chroma_blocks_u8", 1),
                ("grain_sums_u8", 1)]  # fmt: skip (_measure: noise_flat, impulse_share, dark_p001 too)
    else:  # 0.65's statistics and plain pchash: no quality kernels, no crops
        want = [("_coeffs_kernel", 1), ("_count", 1), ("_grey_resize_kernel", 1), ("_planes3", 1)]
    assert eval(before) == want  # noqa: S307 - a list literal printed by the child
