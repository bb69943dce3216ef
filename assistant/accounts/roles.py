"""The roles users are given, as groups with permissions; each page and API checks the permission it needs.

admin: everything, reads every document set, reads the audit log, and (as staff) manages document sets, documents
and grants in the Django admin. clinician: asks questions and uses the clinician
portal. policy officer: asks questions and uses the policy form. read-only: asks questions only. What a user may
read is separate (retrieval/access.py): the sets granted to their groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.contenttypes.models import ContentType

from assistant.models import Answer, AuditEvent
from audit.actors import Actor
from ingestion.audit import collection_grants, grant_change_audit
from ingestion.models import Collection
from retrieval.access import ROLE_ADMIN, ROLE_CLINICIAN, ROLE_POLICY_OFFICER, ROLE_READ_ONLY

PERMISSION_ASK: Final = "assistant.ask_questions"
PERMISSION_CLINICAL: Final = "assistant.use_clinical_portal"
PERMISSION_POLICY: Final = "assistant.use_policy_matching"

# The admin role also manages documents in the Django admin: (app, model, actions).
ADMIN_MODEL_PERMISSIONS: Final = [
    ("ingestion", "collection", ["add", "change", "delete", "view"]),
    ("ingestion", "document", ["add", "change", "delete", "view"]),
    ("ingestion", "chunk", ["view"]),
    ("assistant", "answer", ["view"]),
    ("assistant", "clinicalreport", ["view"]),
    ("assistant", "policymatchrecord", ["view"]),
]

ROLE_PERMISSIONS: Final = {
    ROLE_ADMIN: ["ask_questions", "use_clinical_portal", "use_policy_matching", "view_auditevent"],
    ROLE_CLINICIAN: ["ask_questions", "use_clinical_portal"],
    ROLE_POLICY_OFFICER: ["ask_questions", "use_policy_matching"],
    ROLE_READ_ONLY: ["ask_questions"],
}


def roles_ensure() -> dict[str, Group]:
    """The role groups with their permissions, created where missing (a migration creates them; a flushed test
    database or a restored one may lack them)."""
    answer_type = ContentType.objects.get_for_model(Answer)
    audit_type = ContentType.objects.get_for_model(AuditEvent)
    names = dict(Answer._meta.permissions)
    permissions = {
        codename: Permission.objects.get_or_create(content_type=answer_type, codename=codename,
                                                   defaults={"name": name})[0]
        for codename, name in names.items()
    }
    permissions["view_auditevent"] = Permission.objects.get_or_create(
        content_type=audit_type, codename="view_auditevent", defaults={"name": "Can view audit event"}
    )[0]
    groups = {}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(permissions[c] for c in codenames))
        groups[role] = group
    for app_label, model, actions in ADMIN_MODEL_PERMISSIONS:
        content_type = ContentType.objects.get_by_natural_key(app_label, model)
        groups[ROLE_ADMIN].permissions.add(*Permission.objects.filter(
            content_type=content_type, codename__in=[f"{action}_{model}" for action in actions]))
    return groups


def user_roles_set(*, user: AbstractBaseUser, roles: Iterable[str]) -> None:
    """Put the user in these role groups (and no other role group); other groups are left as they are."""
    groups = roles_ensure()
    wanted = set(roles)
    unknown = wanted - set(groups)
    if unknown:
        raise ValueError(f"Unknown roles: {sorted(unknown)}; roles are {sorted(groups)}.")
    user.groups.remove(*(g for name, g in groups.items() if name not in wanted))
    user.groups.add(*(groups[name] for name in wanted))
    if ROLE_ADMIN in wanted and not user.is_staff:
        user.is_staff = True  # the admin site is where an admin manages sets, documents, grants and the log
        user.save(update_fields=["is_staff"])


def collection_readers_grant(
    *, collection: Collection, group_names: Iterable[str], actor: Actor, interface: str = AuditEvent.Interface.COMMAND
) -> list[Group]:
    """Grant read of the set to these groups (created if missing); the change goes to the audit log."""
    before = collection_grants(collection=collection)
    groups = [Group.objects.get_or_create(name=name)[0] for name in group_names]
    collection.reader_groups.add(*groups)
    grant_change_audit(user=actor, collection=collection, before=before,
                       after=collection_grants(collection=collection), interface=interface)
    return groups
