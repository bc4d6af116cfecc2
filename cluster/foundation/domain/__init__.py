"""The vocabulary: wire messages, order statuses and fill identity, records, errors, ids, settings and the
pure batch sequencing. No I/O; imports nothing outside this package (checked by `make lint`)."""
