"""Gateway tokens for tests: the real shape, a random signature (only the Configuration API checks it)."""

import base64
import datetime as dt
import os

UTC = dt.timezone.utc


def make(gateway_id="gw1", expires_in=dt.timedelta(days=20), now=None, prefix=True):
    now = now or dt.datetime.now(UTC)
    expiry = (now + expires_in).strftime("%Y%m%d%H%M")
    sig = base64.b64encode(os.urandom(64)).decode()
    bare = f"{gateway_id}&{expiry}&{sig}"
    return f"GatewayKey {bare}" if prefix else bare
