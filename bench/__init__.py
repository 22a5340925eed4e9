"""Benchmarks: ``python -m bench [names...] [--scale small|full]`` (see bench/README.md).

Each module in ``MODULES`` registers its benchmarks with ``bench.common.benchmark``.
"""

MODULES = (
    "bench.points",
    "bench.stored_value",
    "bench.coupons",
    "bench.mall",
    "bench.growth_tools",
    "bench.notifications",
    "bench.tiers",
    "bench.checkout",
    "bench.analytics",
    "bench.journey",
    "bench.queues",
    "bench.counter",
    "bench.migration",
    "bench.export",
)
