"""The admin role manages document sets and documents in the Django admin and reads the stored records there."""

from django.db import migrations

# (app, model, actions) the admin role gets; kept here as written, a migration must not follow assistant/accounts/roles.py.
ADMIN_MODEL_PERMISSIONS = [
    ("ingestion", "collection", ["add", "change", "delete", "view"]),
    ("ingestion", "document", ["add", "change", "delete", "view"]),
    ("ingestion", "chunk", ["view"]),
    ("assistant", "answer", ["view"]),
    ("assistant", "clinicalreport", ["view"]),
    ("assistant", "policymatchrecord", ["view"]),
]
VERBOSE = {"collection": "collection", "document": "document", "chunk": "chunk", "answer": "answer",
           "clinicalreport": "clinical report", "policymatchrecord": "policy match record"}


def admin_role_extend(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name="admin")
    for app_label, model, actions in ADMIN_MODEL_PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        for action in actions:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=f"{action}_{model}",
                defaults={"name": f"Can {action} {VERBOSE[model]}"},
            )
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0006_roles_audit_append_only"),
        ("ingestion", "0004_collection_reader_groups"),
    ]

    operations = [migrations.RunPython(admin_role_extend, migrations.RunPython.noop)]
