"""MG21x the student's own application (repo, cluster)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG21"))
def test_app(check_id, grading, context):
    verdict(grading.evaluate(check_id))
