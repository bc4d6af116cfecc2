"""The foundation, three packages: domain (wire messages and the vocabulary, errors, settings; no I/O),
storage (the database, repositories, state store, market-data files) and runtime (the bus, the actor
shell, metrics and the one module that calls Ray). It imports nothing from actors/, models/ or
cluster.app, and storage and runtime do not import each other (import-linter, in `make lint`)."""
