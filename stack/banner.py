"""What ``make run`` prints once the stack is ready: where everything is, the
development tokens, and a first request to try."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from stack.config import StackConfig
from stack.processes import Child
from stack.tokens import find_token

READY_LINE = "Case engine ready."


def example_curl(config: StackConfig, token: str) -> str:
    body = {
        "kind": "complaint",
        "channel": "phone",
        "customer": {"id": "C-1001", "name": "Li Na", "phone": "+86 138 0000 0000"},
        "category": "card_fee",
        "product": "credit_card",
        "description": "Annual fee charged twice this month.",
    }
    return " ".join(
        [
            "curl -s -X POST",
            shlex.quote(f"{config.api_url}/v1/cases"),
            "-H",
            shlex.quote(f"Authorization: Bearer {token}"),
            "-H",
            shlex.quote("Content-Type: application/json"),
            "-d",
            shlex.quote(json.dumps(body, ensure_ascii=False)),
        ]
    )


def banner(config: StackConfig, children: Sequence[Child]) -> str:
    lines = [
        READY_LINE,
        f"  API docs:        {config.api_url}/docs",
    ]
    if config.ui_url is not None:
        lines.append(f"  Temporal Web UI: {config.ui_url}")
    lines += [
        f"  Temporal:        {config.temporal_address}",
        f"  Data:            {config.data_dir} (logs in {config.log_dir})",
        "  Processes:       " + ", ".join(f"{c.name} pid {c.pid}" for c in children),
        "  Metrics:         "
        + ", ".join(
            [
                *(
                    f"{name} {config.worker_metrics_url(index)}"
                    for index, name in enumerate(config.worker_names, start=1)
                ),
                f"api {config.api_url}/metrics",
            ]
        ),
        "  Health:          " + f"{config.api_url}/readyz",
    ]
    if config.dev_tokens is not None:
        lines.append(f"Development tokens (role -> token, from {config.tokens_file}):")
        lines += [f"  {entry.label:<22} {entry.token}" for entry in config.dev_tokens]
        frontline = find_token(config.dev_tokens, "frontline")
        lines += ["Open a complaint:", f"  {example_curl(config, frontline)}"]
    else:
        lines.append(f"API tokens: from {config.tokens_file}")
    lines.append("A worker or the API that dies is restarted. Press Ctrl-C to stop.")
    return "\n".join(lines)
