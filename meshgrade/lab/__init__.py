"""The local mesh lab: a real Envoy routing an Istio-like mesh built from a submission's
YAML, a Kubernetes API on loopback, and emulated workloads."""
