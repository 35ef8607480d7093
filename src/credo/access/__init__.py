"""Access control for member institutions: API keys with roles, consents, query authorisation.

The API calls `authenticate` for every request, `require_role` for each endpoint, and
`authorise_query` before serving a report or a score (see ``docs/access.md``).
"""

from credo.access.consent import check_consent
from credo.access.flows import AuthorisedQuery, authorise_query, find_subject
from credo.access.keys import (
    Principal,
    authenticate,
    create_key,
    require_role,
    revoke_key,
    rotate_key,
)
from credo.access.models import ApiKey, Consent, Purpose, Role, Scope
from credo.access.policy import INQUIRY_KIND, inquiry_kind

__all__ = [
    "INQUIRY_KIND",
    "ApiKey",
    "AuthorisedQuery",
    "Consent",
    "Principal",
    "Purpose",
    "Role",
    "Scope",
    "authenticate",
    "authorise_query",
    "check_consent",
    "create_key",
    "find_subject",
    "inquiry_kind",
    "require_role",
    "revoke_key",
    "rotate_key",
]
