"""Data at rest: the database (SQLAlchemy store, write-behind writer, journal), the repositories, the state
store and the market-data files. Imports the domain, never the runtime: no bus, no Ray (checked by
`make lint`)."""
