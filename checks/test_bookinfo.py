"""MG20x Bookinfo routing tasks (repo, cluster)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG20"))
def test_bookinfo(check_id, grading, context):
    verdict(grading.evaluate(check_id))
