"""The foundation: wire messages and the domain vocabulary, errors, settings, the bus, storage and the
one module that calls Ray. It imports nothing from actors/, models/ or cluster.app (checked by
import-linter in `make lint`)."""
