"""Ray actors, each a thin shell over a pure, synchronous core in the same sub-package."""
