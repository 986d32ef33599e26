"""MG11x workloads and services (repo, cluster)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG11"))
def test_workloads(check_id, grading, context):
    verdict(grading.evaluate(check_id))
