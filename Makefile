# The two commands of the README:
#   make run   - the whole engine end to end on a local stack (Ctrl-C stops it)
#   make test  - the test suite against real Kafka and Mosquitto on loopback
# Both prepare a fresh machine first (scripts/bootstrap.sh is idempotent).

VENV ?= .venv
# Two workers (pytest-xdist), a test file each at a time: the suite waits on brokers and processes more than it
# computes, so two share this 2-core machine well (tests/parallel.py: what each keeps to itself).
# `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: bootstrap run test stack-up stack-down test-stack-down clean

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	$(VENV)/bin/omnitrack run

test: bootstrap
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

stack-up: bootstrap
	$(VENV)/bin/omnitrack stack up

stack-down: bootstrap
	$(VENV)/bin/omnitrack stack down

# The tests' own stack (tests/stack_env.py), should a killed test run have left it up.
test-stack-down: bootstrap
	env $$($(VENV)/bin/python -m tests.stack_env) $(VENV)/bin/python -m tests.parallel
	env $$($(VENV)/bin/python -m tests.stack_env) $(VENV)/bin/omnitrack stack down

# The workers' tables go with the broker they were filled from (a kept folder would be emptied at the next start
# anyway: streams/local_state.py); the cached jars and the development API key stay.
clean: stack-down test-stack-down
	rm -rf .omnitrack/stack .omnitrack/test-stack .omnitrack/workers
