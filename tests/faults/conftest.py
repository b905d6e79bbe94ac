"""The fault scenarios run the engine's own processes against the test stack, like tests/streams/."""

from tests.streams.conftest import engine  # noqa: F401 - the fixture, shared
from tests.streams.notify.conftest import moto_url, notifier, notifier_env  # noqa: F401 - the fixtures, shared
