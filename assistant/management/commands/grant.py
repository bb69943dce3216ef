"""manage.py grant: let groups read a document set, or give a user roles, from the command line (the admin does both
too). Grant changes go to the audit log."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from assistant.accounts.roles import collection_readers_grant, user_roles_set
from assistant.models import AuditEvent
from ingestion.audit import collection_grants, grant_change_audit
from ingestion.models import Collection
from retrieval.access import OPERATOR, ROLES


class Command(BaseCommand):
    help = "Grant (or --revoke) read of a document set to groups, or set a user's roles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--collection", help="Document set name.")
        parser.add_argument("--group", action="append", default=[], help="Group name (repeatable); a role is one.")
        parser.add_argument("--revoke", action="store_true", help="Take read away from these groups instead.")
        parser.add_argument("--user", help="Username whose roles to set.")
        parser.add_argument("--role", action="append", default=[], choices=ROLES, help="Role (repeatable).")

    def handle(self, *args: object, collection: str | None, group: list[str], revoke: bool, user: str | None,
               role: list[str], **options: object) -> None:
        if not collection and not user:
            raise CommandError("give --collection NAME --group GROUP, or --user NAME --role ROLE")
        if collection:
            target = Collection.objects.filter(name=collection).first()
            if target is None:
                raise CommandError(f"No document set named {collection}.")
            if revoke:
                before = collection_grants(collection=target)
                target.reader_groups.remove(*target.reader_groups.filter(name__in=group))
                grant_change_audit(user=OPERATOR, collection=target, before=before,
                                   after=collection_grants(collection=target), interface=AuditEvent.Interface.COMMAND)
            else:
                collection_readers_grant(collection=target, group_names=group, actor=OPERATOR)
            readers = ", ".join(collection_grants(collection=target)) or "admins only"
            self.stdout.write(f"{target.name}: read by {readers}")
        if user:
            account = get_user_model().objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"No user named {user}.")
            user_roles_set(user=account, roles=role)
            self.stdout.write(f"{user}: roles {', '.join(sorted(role)) or 'none'}")
