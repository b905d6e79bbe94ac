"""OmniTrack: an event-streaming digital twin engine for supply-chain resilience.

This package holds what ties the layers together: the settings object, the
command line and the local stack (Kafka, Mosquitto) used for development and
tests. The domain lives in `twin/`, the decision pipeline in `engine/`, the
Faust application in `streams/` and the device fleet in `simulators/`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("omnitrack")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+local"
