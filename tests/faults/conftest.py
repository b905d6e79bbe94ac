"""The fault scenarios run the engine's own processes against the test stack, like tests/streams/."""

from tests.streams.conftest import engine  # noqa: F401 - the fixture, shared
