"""MG4xx traffic sampled through the ingress gateway (traffic)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG4"))
def test_traffic(check_id, grading, sampler):
    verdict(grading.evaluate(check_id))
