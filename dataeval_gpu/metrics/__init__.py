"""DataEval 0.65's statistics functions: ``imagestats`` and ``channelstats``."""

from .stats import StatsOutput, channelstats, imagestats

__all__ = ["StatsOutput", "channelstats", "imagestats"]
