"""MG3xx cluster state (cluster)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG3"))
def test_cluster(check_id, grading, cluster):
    verdict(grading.evaluate(check_id))
