"""okdrelease: build OpenShift/OKD release payload images natively, without oc or a cluster."""

import logging

__version__ = "0.1.0"

# A library never prints: without a handler of the application's, the records of okdrelease's loggers
# (warnings such as an unreachable signature store's) would reach stderr through logging's last resort.
logging.getLogger(__name__).addHandler(logging.NullHandler())
