"""What :meth:`DataAudit.compute() <dataeval_gpu.audit.DataAudit.compute>` does with the rows
:class:`~dataeval_gpu.audit.DataAudit` accumulated: the detectors (Linter, quality issues,
duplicates, Clusterer, embedding duplicates) run on them, and the :class:`AuditReport` they make.

:class:`AuditResults` is the results half of ``DataAudit`` (its settings, accumulators and
feeding: :mod:`.core`); it reads the audit's settings and accumulators as attributes.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ..accumulators.rowstore import distributed_world
from ..accumulators.stats import ImageStatsRows
from ..flags import to_distinct
from ..functional.hashing import near_kind
from ..functional.stats import IMAGE_KEYS
from ..progress import phase_steps
from .duplicates import duplicate_groups
from .embedded import cluster_findings, embedding_duplicate_groups, group_embeddings
from .lint_rules import far_threshold, rare_outliers
from .report import AuditReport
from .stat_findings import near_groups, quality_findings

__all__ = ["AuditResults", "RepeatedIndexWarning", "frozen"]


def frozen(t: torch.Tensor) -> np.ndarray:
    """``t`` as a read-only numpy array: on the CPU it shares the row store's buffer (no copy),
    so an edit of a report's array would change the audit's stored rows; it raises instead."""
    a = t.cpu().numpy()
    a.flags.writeable = False
    return a


class RepeatedIndexWarning(UserWarning):
    """Inputs were fed under an index another input already had: the report keeps one row per index."""


class AuditResults:
    """:meth:`compute` and its steps, for :class:`~dataeval_gpu.audit.DataAudit` (which
    inherits them): the detectors on the accumulated rows."""

    def compute(self, progress: bool | None = False) -> AuditReport:
        """Run the detectors on everything fed so far; ``progress``: show their steps on a bar
        (stderr; ``None``: on a terminal); the scans pass their own setting."""
        self._gather_python_state()
        if self._stats is None:
            return AuditReport(  # nothing measured (every input failed): still who they were
                index=np.zeros(0, dtype=np.int64),
                stats={},
                failed=dict(self.failed),
                labels={i: self.labels[i] for i in sorted(self.labels)},
                paths={i: self.paths[i] for i in sorted(self.paths)},
                class_names=list(self.class_names),
                config=self.config(),
                duplicates=self._nothing_found(),
            )
        with phase_steps("detectors", self._steps(), enable=progress) as step:
            step("statistics")
            return self._detect(step, progress)

    def _steps(self) -> list[str]:
        """The names of :meth:`compute`'s steps with these settings."""
        names = ["statistics", "linter"] + ["quality issues"] * self.quality + ["duplicates"] * self.hashes
        return names + (["clusters"] + ["embedding duplicates"] * self.embedding_duplicates) * self.embeddings

    def _nothing_found(self) -> dict[str, list[list[int]]]:
        """The duplicate groups of a scan that measured no image: none of each kind searched for
        (an absent kind reads as "not searched" in the summary, ``null`` in summary.json)."""
        embedding = self._embed is not None and self.embedding_duplicates
        kinds = ["exact", "near"] * self.hashes + ["embedding"] * embedding
        return {k: [] for k in kinds}

    def _detect(self, step: Any, progress: bool | None = False) -> AuditReport:
        from ..detectors.linter import Linter, as_stored_by_065
        from ..metrics.stats import StatsOutput

        with warnings.catch_warnings():  # a rank (or audit) that saw no image is not a problem to warn of
            warnings.filterwarnings("ignore", message=r"The ``compute`` method of metric", category=UserWarning)
            res = self._stats.compute()  # type: ignore[union-attr] # torch.distributed: gathers every rank's rows
        # torchmetrics squeezes one-element results to 0-d: one measured image must stay one row
        res = {k: v.reshape(1) if v.ndim == 0 else v for k, v in res.items()}
        index = res["index"].cpu().numpy()
        measured = set(index.tolist())
        failed = {i: r for i, r in self.failed.items() if i not in measured}
        self._warn_repeats(len(index) + len(failed))
        stats = {k: frozen(res[k]) for k in IMAGE_KEYS if k in res}
        report = AuditReport(
            index=index,
            stats=stats,
            failed=failed,
            labels={i: self.labels[i] for i in sorted(self.labels)},
            paths={i: self.paths[i] for i in sorted(self.paths)},
            class_names=list(self.class_names),
            config=self.config(),
        )
        if self.channels:
            report.channel_stats = {k: frozen(v) for k, v in res.items() if k.startswith("ch_")}
        if len(index) == 0:
            report.duplicates = self._nothing_found()
            return report
        step("linter")  # on the accumulated statistics (positions -> dataset indices)
        wanted = {name for name in to_distinct(self.linter_flags).values()}
        lint = Linter(self.linter_flags, outlier_method=self.outlier_method, outlier_threshold=self.outlier_threshold)  # type: ignore[arg-type]
        linted_stats = {k: v for k, v in stats.items() if k in wanted}
        if self.preset == "dataeval-0.65":  # 0.65 lints its statistics rounded to float16, as it stores them
            linted_stats = as_stored_by_065(linted_stats)
        linted = lint.evaluate_stats(StatsOutput(**linted_stats))
        issues = linted.issues
        if self.preset == "default":  # the scan's rule, "far" at the user's modified z-score threshold
            issues = rare_outliers(issues, stats, far_threshold(self.outlier_method, self.outlier_threshold), wanted)
        report.issues = {int(index[p]): m for p, m in issues.items()}
        if self.quality:
            step("quality issues")
            report.quality = quality_findings(stats, index, self.quality_thresholds)
        if self.hashes:
            step("duplicates")
            from ..functional.hashing import hash_hex

            valid = res["pchash_valid"]
            kind = near_kind(self.hash, self.d4)  # the report's key of the near hash
            report.hashes = {
                "xxhash": hash_hex(res["xxhash"].cpu(), strip=False),
                kind: hash_hex(res["pchash"].cpu(), strip=kind == "pchash", valid=valid),
            }
            report.duplicates = duplicate_groups(
                res["xxhash"], res["pchash"], valid, self.near_radius, index, kind, near=not self.quality
            )
            if self.quality:  # the colour check of NearDuplicates (the quality metrics are at hand)
                facts: dict[str, Any] = {}
                search = replace(self.near_search, progress=progress)  # the settings, built in __init__
                exact = report.duplicates["exact"]
                report.duplicates["near"] = near_groups(res, stats, index, exact, search, facts)
                if "crop_search" in facts:  # which plan the off-centre crop search ran: a run fact
                    report.config["crop_search"] = facts["crop_search"]
        if self._embed is not None:
            step("clusters")
            report.clusters = self._cluster(index)
            if self.embedding_duplicates:
                step("embedding duplicates")
                report.duplicates["embedding"], report.embeddings = self._embedding_duplicates(res, index)
        return report

    def _warn_repeats(self, accounted: int) -> None:
        """In one process every input stored has its own index; warn when some shared one
        (the report keeps one row per index, so those inputs are not in it)."""
        if distributed_world() > 1 or self._inputs <= accounted:
            return  # across ranks a DistributedSampler's padding repeats indices on purpose
        lost = self._inputs - accounted
        warnings.warn(
            f"{lost} of {self._inputs} inputs were fed with an index already used by another input: the "
            "report keeps one row per index, so they are not in it.  Give every image its own index "
            "(a batch's third field of distinct integers is taken for dataset indices: docs/usage.md)",
            RepeatedIndexWarning,
            stacklevel=4,  # the caller of compute() (-> _detect -> here)
        )

    def _embedding_duplicates(
        self, res: dict[str, Any], index: np.ndarray
    ) -> tuple[list[list[int]], dict[int, np.ndarray]]:
        """The embedding near duplicate groups and their members' embeddings (the report's cosines)."""
        thumbs = res.get("pchash_thumbs")  # a pair must also look alike on them (where kept)
        e_idx, emb = self._embed.compute_with_indices()  # type: ignore[union-attr]
        groups = embedding_duplicate_groups(e_idx, emb, thumbs, index, res)
        return groups, group_embeddings(groups, e_idx, emb)

    def _gather_python_state(self) -> None:
        """Under torch.distributed, merge the per-rank failed / labels / paths dicts (all ranks get all)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        local = (self.failed, self.labels, self.paths, self.class_names)
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, local)
        for failed, labels, paths, names in gathered:
            self.failed.update(failed)
            self.labels.update(labels)
            self.paths.update(paths)
            self.class_names = self.class_names or list(names)
        if self._stats is None:  # a rank that saw no data still takes part in the sync
            self._init_accumulators(self.device or torch.device("cpu"))
        elif isinstance(self._stats, ImageStatsRows):  # made before the group was initialised
            self._stats = self._stats.to_metric()

    def _cluster(self, index: np.ndarray) -> dict[str, Any]:
        emb_idx_t, emb_t = self._embed.compute_with_indices()  # type: ignore[union-attr]
        return cluster_findings(emb_idx_t.cpu().numpy(), emb_t.cpu().numpy())
