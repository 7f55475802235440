"""benchtrail: continuous inference benchmarking on GitLab.

Importing benchtrail loads nothing heavy and touches no files, network or environment;
the work lives in the subpackages (``benchtrail.bench``, ``benchtrail.results``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
