"""okdrelease: build OpenShift/OKD release payload images natively, without oc or a cluster."""

__version__ = "0.1.0"
