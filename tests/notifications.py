"""What a LISTEN connection (the `listener` fixture in conftest.py) received."""

import json


def received(listener, timeout=0.5):
    """The payloads of the study_card_jobs notifications that arrive within `timeout` seconds."""
    return [json.loads(n.payload) for n in listener.notifies(timeout=timeout)]
