"""MG12x Istio references (repo, cluster)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG12", "MG13"))
def test_references(check_id, grading, context):
    verdict(grading.evaluate(check_id))
