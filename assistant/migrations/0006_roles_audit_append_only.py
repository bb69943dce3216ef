"""The four roles as groups with their permissions, and the audit table made append-only in PostgreSQL."""

from django.db import migrations

# Kept here as they were when written: a migration must not change with assistant/accounts/roles.py.
ROLE_PERMISSIONS = {
    "admin": ["ask_questions", "use_clinical_portal", "use_policy_matching", "view_auditevent"],
    "clinician": ["ask_questions", "use_clinical_portal"],
    "policy officer": ["ask_questions", "use_policy_matching"],
    "read-only": ["ask_questions"],
}
CUSTOM = {
    "ask_questions": "Can ask questions of the document sets they may read",
    "use_clinical_portal": "Can use the clinician portal",
    "use_policy_matching": "Can use the policy-matching form",
}

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION assistant_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS assistant_auditevent_append_only ON assistant_auditevent;
CREATE TRIGGER assistant_auditevent_append_only
    BEFORE UPDATE OR DELETE ON assistant_auditevent
    FOR EACH ROW EXECUTE FUNCTION assistant_auditevent_append_only();
"""
# No TRUNCATE trigger: only the table's owner may truncate, and the test runner empties tables that way.
APPEND_ONLY_REVERSE_SQL = """
DROP TRIGGER IF EXISTS assistant_auditevent_append_only ON assistant_auditevent;
DROP FUNCTION IF EXISTS assistant_auditevent_append_only();
"""


def roles_create(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    answer_type, _ = ContentType.objects.get_or_create(app_label="assistant", model="answer")
    audit_type, _ = ContentType.objects.get_or_create(app_label="assistant", model="auditevent")
    # post_migrate creates permissions only after all migrations; the roles need them now.
    permissions = {
        codename: Permission.objects.get_or_create(
            content_type=answer_type, codename=codename, defaults={"name": name}
        )[0]
        for codename, name in CUSTOM.items()
    }
    permissions["view_auditevent"] = Permission.objects.get_or_create(
        content_type=audit_type, codename="view_auditevent", defaults={"name": "Can view audit event"}
    )[0]
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(permissions[c] for c in codenames))


def append_only(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)  # None: the % in the SQL is no placeholder


def append_only_reverse(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_REVERSE_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0005_audit_event_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(roles_create, migrations.RunPython.noop),
        migrations.RunPython(append_only, append_only_reverse),
    ]
