"""One router per resource: cases, actions on a case, departments, health."""
