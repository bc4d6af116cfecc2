"""What runs: the ZeroMQ bus and its CURVE keys, endpoints, the actor shell and its lifecycle, logs,
metrics, placement, the asyncio loop an actor drives (loop_io) and the one module that calls Ray
(ray_calls). Imports the domain, never storage (checked by `make lint`)."""
