"""The workflow sandbox the case worker runs, with its glue code compiled once.

The SDK's sandbox (temporalio 1.35) enters the sandbox by ``exec`` of a short source
string: for every activation, and again for every payload it encodes or decodes (to
look up the payload's serialization context). ``exec`` of a string compiles it each
time; under the throughput bench that compiling was about an eighth of the worker's
Python time (profile in ``bench/README.md``). This runner is the SDK's own with those
few strings compiled once per process: the same code runs in the same sandbox, under
the same restrictions, so determinism checks and stored histories are unaffected.

It overrides one private method of the SDK (``_Instance._run_code``), so the SDK is
pinned (``constraints.txt``) and ``tests/test_sandbox.py`` checks that the method it
replaces still has the shape this copy assumes.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from types import CodeType
from typing import Any

import temporalio.workflow
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.lru_cache(maxsize=256)
def compiled(code: str) -> CodeType:
    """The code object of one of the sandbox's glue strings (a handful per workflow
    type: the import of its class and the calls into the sandbox)."""
    # "<string>" is the file name exec gives a string, so tracebacks read as before.
    return compile(code, "<string>", "exec")


class _CompiledOnceInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # The SDK's _run_code, with exec of a cached code object instead of the string.
        for key, value in extra_globals.items():
            self.globals_and_locals[key] = value
        try:
            temporalio.workflow.unsafe._set_in_sandbox(True)
            self._current_thread_id = threading.get_ident()
            exec(compiled(code), self.globals_and_locals, self.globals_and_locals)
        finally:
            temporalio.workflow.unsafe._set_in_sandbox(False)
            self._current_thread_id = None
            for key in extra_globals:
                self.globals_and_locals.pop(key, None)


@dataclass(frozen=True)
class CompiledOnceSandboxedWorkflowRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose instances reuse compiled glue code."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)
