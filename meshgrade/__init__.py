"""meshgrade: grade and verify Istio service-mesh coursework."""

__version__ = "0.1.0"
