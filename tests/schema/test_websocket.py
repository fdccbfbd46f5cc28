from __future__ import annotations

import warnings

import pytest

from kintogql.app import create_app
from kintogql.config import build_settings


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_the_websocket_endpoint_speaks_both_subprotocols(protocol: str):
    with warnings.catch_warnings():
        # Starlette's TestClient warns about its httpx backend; it is only a test driver.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        app = create_app(build_settings({"userid_hmac_secret": "s"}))
        with (
            TestClient(app) as client,
            client.websocket_connect("/v1/graphql", subprotocols=[protocol]) as ws,
        ):
            assert ws.accepted_subprotocol == protocol
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] in ("connection_ack", "ka")
