"""Root conftest: makes `pytest checks/ --submission PATH --rubric NAME` work from a checkout.

The plugin is also registered by the package's pytest11 entry point under the same name, so
an installed meshgrade is not registered twice."""

pytest_plugins = ["meshgrade.plugin"]
