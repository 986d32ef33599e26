"""Statistics behind meshgrade's traffic verdicts.

- ``AllToOne``: the "100% to one version" rule (fail on any stray sample; 43 samples make a
  15-point leak visible with probability 0.999).
- ``SplitTest``: a sequential test of a weighted split (mixture likelihood ratios per version,
  see ``sequential``), false-fail <= alpha, miss <= beta at ``delta`` off, hard cap ``max_n``.
- exact binomial helpers, the fixed-sample size the sequential test beats, the official docs'
  method (the anchor), and simulation / exact operating characteristics.
"""

from .binomial import (
    binom_cdf,
    binom_logpmf,
    binom_pmf,
    binom_sf,
    clopper_pearson,
    fail_on_any_sample_size,
    fixed_sample_size,
    normalise,
)
from .docs_method import (
    DocsMethod,
    docs_batch_pass_probability,
    docs_method_pass_probability,
    docs_method_requests,
)
from .sequential import OTHER, AllToOne, SplitTest, SplitVerdict
from .simulate import exact_operating_characteristic, simulate, simulate_docs_method

__all__ = [
    "OTHER", "AllToOne", "DocsMethod", "SplitTest", "SplitVerdict", "binom_cdf", "binom_logpmf",
    "binom_pmf", "binom_sf", "clopper_pearson", "docs_batch_pass_probability",
    "docs_method_pass_probability", "docs_method_requests", "exact_operating_characteristic",
    "fail_on_any_sample_size", "fixed_sample_size", "normalise", "simulate",
    "simulate_docs_method",
]
