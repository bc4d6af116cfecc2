"""The shared test kit: hand-written fakes every test suite uses instead of its own copy.

- clock: FakeClock (settable UTC nanoseconds, optionally ticking) and SecondsClock (float seconds + sleep)
- broker: FakeBroker (plays the broker to a core) and CountingBroker (the Broker protocol over SimBroker)
- control_plane: FakeControlPlane (the ControlPlane the control API serves, fed with real minute bars)
- repository: FakeRepository (InMemoryRepository with health and an outage switch)
"""
