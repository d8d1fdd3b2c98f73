"""The case search attributes: what supervisors filter on in the Web UI.

Search attribute values are indexed in plain text, outside the payload codec: they must
never carry customer data (names, phone numbers, ID numbers). Staff names and case
facts only. The dev server's SQL visibility allows 10 Keyword attributes and 3 of every
other type; this set uses 9 Keyword, 2 Bool, 2 Datetime and 1 Int. Registering them on
a server is the launcher's job (``stack.search_attributes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey

CASE_KIND: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CaseKind")
CASE_CHANNEL: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CaseChannel")
CASE_STAGE: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CaseStage")
CASE_DEPARTMENT: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CaseDepartment")
CASE_OWNER: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CaseOwner")
CASE_PRIORITY: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CasePriority")
CASE_CATEGORY: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CaseCategory")
CASE_POLICY_VERSION: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("CasePolicyVersion")
CASE_BREACHED: SearchAttributeKey[bool] = SearchAttributeKey.for_bool("CaseBreached")
CASE_NEXT_DEADLINE: SearchAttributeKey[datetime] = SearchAttributeKey.for_datetime(
    "CaseNextDeadline"
)
CASE_ESCALATION_LEVEL: SearchAttributeKey[int] = SearchAttributeKey.for_int("CaseEscalationLevel")

# Improvement actions (R6.3): ``WorkflowType = 'ImprovementAction' AND
# ImprovementOverdue = true`` lists the overdue ones.
IMPROVEMENT_STATUS: SearchAttributeKey[str] = SearchAttributeKey.for_keyword("ImprovementStatus")
IMPROVEMENT_OVERDUE: SearchAttributeKey[bool] = SearchAttributeKey.for_bool("ImprovementOverdue")
IMPROVEMENT_DUE: SearchAttributeKey[datetime] = SearchAttributeKey.for_datetime("ImprovementDue")

# Every key, in the order the Web UI's column picker will list them. Pass this to
# ``WorkflowEnvironment.start_local(search_attributes=...)``.
CASE_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    CASE_KIND,
    CASE_CHANNEL,
    CASE_STAGE,
    CASE_DEPARTMENT,
    CASE_OWNER,
    CASE_PRIORITY,
    CASE_CATEGORY,
    CASE_POLICY_VERSION,
    CASE_BREACHED,
    CASE_NEXT_DEADLINE,
    CASE_ESCALATION_LEVEL,
    IMPROVEMENT_STATUS,
    IMPROVEMENT_OVERDUE,
    IMPROVEMENT_DUE,
)
