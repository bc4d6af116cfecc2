"""The application: supervisor, CLI, control API and the run orchestrations. It sits on top of the
actors and models and may import anything below it; nothing below imports it."""
