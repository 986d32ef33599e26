"""MG1xx files and schemas (repo)."""

import pytest

from meshgrade.plugin.verdict import params, verdict


@pytest.mark.parametrize(**params("MG10"))
def test_files(check_id, grading, context):
    verdict(grading.evaluate(check_id))
