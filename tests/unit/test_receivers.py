"""The test receiver itself: scripted answers, recording, waiting, hanging, prompt shutdown."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.integration.receivers import Receiver, Reply


def test_answers_follow_the_script_then_the_default_and_everything_is_recorded() -> None:
    script = [Reply(429, "later", {"Retry-After": "1"}), 500, Reply(201, {"id": 7})]
    with Receiver(responses=script, default=204) as rx, httpx.Client() as client:
        answers = [client.post(f"{rx.url}/p{i}", json={"n": i}) for i in range(5)]
        assert [a.status_code for a in answers] == [429, 500, 201, 204, 204]
        assert answers[0].headers["retry-after"] == "1" and answers[0].text == "later"
        assert answers[2].json() == {"id": 7}
        assert [r.path for r in rx.requests] == ["/p0", "/p1", "/p2", "/p3", "/p4"]
        assert rx.bodies() == [{"n": i} for i in range(5)]
        assert rx.requests[0].headers["content-type"] == "application/json"
        times = [r.arrived_at for r in rx.requests]
        assert times == sorted(times)


def test_program_replaces_the_script_for_a_receiver_that_recovers() -> None:
    with Receiver(default=503) as rx, httpx.Client() as client:
        assert client.post(rx.url, json={}).status_code == 503
        rx.program(default=200)
        assert client.post(rx.url, json={}).status_code == 200


def test_wait_for_returns_when_requests_arrive_and_fails_when_they_do_not() -> None:
    with Receiver() as rx:
        poster = threading.Thread(target=lambda: httpx.post(rx.url, json={"late": True}))
        poster.start()
        assert [r.json for r in rx.wait_for(1, timeout=10)] == [{"late": True}]
        poster.join()
        with pytest.raises(AssertionError, match="expected 2 requests"):
            rx.wait_for(2, timeout=0.05)


def test_a_hung_request_times_the_client_out() -> None:
    with Receiver(responses=[Reply(hang=60.0)]) as rx:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(rx.url, json={}, timeout=0.3)
        assert len(rx.requests) == 1


def test_stop_releases_hung_requests_at_once() -> None:
    rx = Receiver(default=Reply(hang=60.0)).start()
    outcome: list[BaseException] = []

    def patient_client() -> None:
        try:
            httpx.post(rx.url, json={}, timeout=60.0)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    client = threading.Thread(target=patient_client)
    client.start()
    rx.wait_for(1, timeout=60)
    rx.stop()
    client.join(timeout=120)
    assert not client.is_alive()
    # Cut off by the stop (the connection closed), not by its own 60 s timeout (ReadTimeout).
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)
