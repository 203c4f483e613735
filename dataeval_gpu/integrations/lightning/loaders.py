"""The dataloaders behind ``Trainer.fit``, asked for the way the trainer asks for them."""

from __future__ import annotations

from typing import Any

__all__ = ["flatten_loaders", "is_map_style", "requested_loaders"]


def flatten_loaders(obj: Any) -> list[Any]:
    """A DataLoader, a list / tuple / dict of them or a CombinedLoader → a flat list."""
    if obj is None:
        return []
    flattened = getattr(obj, "flattened", None)  # lightning's CombinedLoader
    if isinstance(flattened, list):
        return [x for x in flattened if x is not None]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in flatten_loaders(v)]
    if isinstance(obj, (list, tuple)):
        return [x for v in obj for x in flatten_loaders(v)]
    return [obj]


def requested_loaders(trainer: Any, stage: str) -> list[Any]:
    """The dataloaders ``Trainer.fit`` was given for ``stage`` ("train" / "val"), asked for now.

    They come from where the trainer will take them: loaders passed to ``fit``, the
    datamodule's or the LightningModule's ``*_dataloader()`` hook.
    """
    loop = trainer.fit_loop if stage == "train" else trainer.fit_loop.epoch_loop.val_loop
    source = getattr(loop, "_data_source", None)
    if source is not None and getattr(source, "instance", None) is not None:
        try:
            if source.is_defined():
                return flatten_loaders(source.dataloader())
        except NotImplementedError:
            pass
        return []
    for owner in (getattr(trainer, "datamodule", None), getattr(trainer, "lightning_module", None)):
        hook = getattr(owner, f"{stage}_dataloader", None)
        if callable(hook):
            try:
                return flatten_loaders(hook())
            except NotImplementedError:
                continue
    return []


def is_map_style(dataset: Any) -> bool:
    from torch.utils.data import IterableDataset

    return (
        dataset is not None
        and not isinstance(dataset, IterableDataset)
        and hasattr(dataset, "__len__")
        and hasattr(dataset, "__getitem__")
    )
