"""Links between documents: newer editions of one work, and clauses that repeal, replace or amend another document.

Made when a document becomes searchable (ingestion/pipeline.py), across all sets: an edition in another set is
still an edition. Who sees a link is decided when it is read (ingestion/selectors.py), by the reader's sets, so a
user is never told the title of a document in a set they cannot read.

Relations are between lineages (a document and its later versions), stored on the versions that made them: a new
version of a guideline keeps superseding what its earlier version superseded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import StrIndex

from ingestion.editions import (
    AMENDS,
    SourceClause,
    clause_names_title,
    issuers_compatible,
    source_clauses_find,
    work_key,
    work_title,
    years_named,
)
from ingestion.models import Document, DocumentRelation

CLAUSE_KINDS = {AMENDS: DocumentRelation.Kind.AMENDS}


def edition_date(document: Document) -> date | None:
    """When this edition was issued: the date read from its head, else a year its title gives."""
    if document.issued_on is not None:
        return document.issued_on
    years = years_named(document.title)
    return date(max(years), 1, 1) if years else None


def relations_detect(*, documents: Sequence[Document]) -> list[DocumentRelation]:
    """After these documents became searchable: link the editions of their works, the documents their clauses
    name, and the clauses of other documents that name them. Returns the relations created."""
    created: list[DocumentRelation] = []
    indexed = list(Document.objects.filter(id__in=[d.id for d in documents], status=Document.Status.INDEXED))
    for work in sorted({d.work_title for d in indexed if d.work_title}):
        created += editions_link(work_title=work)
    for document in indexed:
        created += _clauses_link(document=document)
        created += _pending_clauses_resolve(document=document)
    return created


def editions_link(*, work_title: str) -> list[DocumentRelation]:
    """Each dated edition of a work is superseded by the next one by the same issuer (or an unknown one).

    Editions are ordered by issue date; an edition without a date, or two of one date, are left for an admin to
    link: guessing their order would tell users the wrong one is in force. Documents of one title in one set that
    are not versions of each other (each named by its own id: the passages of one guideline loaded as documents,
    say) are parts, not editions: a new edition in a set comes with its new year or edition words in its title, or
    replaces the old one as its next version.
    """
    editions = [d for d in Document.objects.filter(work_title=work_title, status=Document.Status.INDEXED)
                if edition_date(d) is not None]
    editions.sort(key=lambda d: (edition_date(d), d.id))
    created = []
    for position, older in enumerate(editions):
        newer = next((d for d in editions[position + 1:] if _editions_of_one_work(older=older, newer=d)), None)
        if newer is not None:
            relation = _relation_ensure(newer=newer, older=older, kind=DocumentRelation.Kind.EDITION)
            if relation is not None:
                created.append(relation)
    return created


def _clauses_link(*, document: Document) -> list[DocumentRelation]:
    """The documents this one's clauses name, linked; a clause naming none found is kept to be resolved later."""
    created = []
    for clause in source_clauses_find(document.text):
        kind = CLAUSE_KINDS.get(clause.kind, DocumentRelation.Kind.REPLACES)
        targets = [d for d in _clause_candidates(clause=clause) if _clause_fits(clause=clause, newer=document, older=d)]
        for older in targets:
            relation = _relation_ensure(newer=document, older=older, kind=kind, clause=clause)
            if relation is not None:
                created.append(relation)
        if not targets:
            try:
                with transaction.atomic():
                    relation, made = DocumentRelation.objects.get_or_create(
                        newer=document, older=None, kind=kind, named=clause.named[:500],
                        defaults={"sentence": clause.sentence, "named_key": work_key(clause.named)[:500]},
                    )
            except IntegrityError:
                continue
            if made:
                created.append(relation)
    return created


def _editions_of_one_work(*, older: Document, newer: Document) -> bool:
    return (
        newer.lineage != older.lineage
        and edition_date(newer) > edition_date(older)
        and issuers_compatible(newer.issuer, older.issuer)
        and not (newer.title == older.title and newer.collection_id == older.collection_id)
    )


def _clause_candidates(*, clause: SourceClause) -> list[Document]:
    key = work_title(clause.named)
    if key and not key.isascii():
        candidates = Document.objects.filter(work_title=key, status=Document.Status.INDEXED)
    else:
        # An English clause names its document inside a citation: the database finds the documents whose work
        # title is inside the citation's work key; the title is then matched on word boundaries.
        candidates = (
            Document.objects.filter(status=Document.Status.INDEXED)
            .exclude(work_title="")
            .annotate(found_at=StrIndex(Value(work_key(clause.named)), F("work_title")))
            .filter(found_at__gt=0)
            .only("id", "title", "issued_on", "lineage_id", "status", "work_title")
        )
    return [d for d in candidates if clause_names_title(clause=clause, title=d.title)]


def _clause_fits(*, clause: SourceClause, newer: Document, older: Document) -> bool:
    """A clause names an earlier document: of a year the clause gives, if it gives one, issued before the newer."""
    if older.lineage == newer.lineage:
        return False
    older_date, newer_date = edition_date(older), edition_date(newer)
    if clause.years and (older_date is None or older_date.year not in clause.years):
        return False
    return older_date is None or newer_date is None or older_date <= newer_date


def _pending_clauses_resolve(*, document: Document) -> list[DocumentRelation]:
    """Clauses of other documents that named this one before it was here: each becomes a link to it."""
    created = []
    if not document.work_title:
        return []
    pending = DocumentRelation.objects.filter(
        older__isnull=True, active=True, named_key__contains=document.work_title
    ).select_related("newer")
    for relation in pending:
        clause = SourceClause(kind=relation.kind, sentence=relation.sentence, named=relation.named,
                              years=frozenset(years_named(relation.named)))
        if relation.newer.status != Document.Status.INDEXED:
            continue
        if not clause_names_title(clause=clause, title=document.title):
            continue
        if not _clause_fits(clause=clause, newer=relation.newer, older=document):
            continue
        linked = _relation_ensure(newer=relation.newer, older=document, kind=relation.kind, clause=clause)
        relation.delete()  # the clause has found its document: it waits no more
        if linked is not None:
            created.append(linked)
    return created


def _relation_ensure(
    *, newer: Document, older: Document, kind: str, clause: SourceClause | None = None
) -> DocumentRelation | None:
    """The link, created unless one between these two lineages exists (active, or unlinked by an admin)."""
    if DocumentRelation.objects.filter(newer__lineage_id=newer.lineage, older__lineage_id=older.lineage).exists():
        return None
    try:
        with transaction.atomic():
            return DocumentRelation.objects.create(
                newer=newer, older=older, kind=kind,
                named=(clause.named if clause else older.title)[:500],
                sentence=clause.sentence if clause else "",
            )
    except IntegrityError:  # another worker linked them at the same moment
        return None


# --- by hand ------------------------------------------------------------------------------------------------------


def relation_link(*, newer: Document, older: Document, kind: str = DocumentRelation.Kind.EDITION) -> DocumentRelation:
    """An admin's link: `newer` supersedes (or amends) `older`. An earlier link between the two, either way round,
    is replaced."""
    if newer.lineage == older.lineage:
        raise ValueError("A document cannot supersede itself or another version of itself.")
    with transaction.atomic():
        DocumentRelation.objects.filter(newer=newer, older=older).delete()
        DocumentRelation.objects.filter(newer=older, older=newer).delete()
        return DocumentRelation.objects.create(newer=newer, older=older, kind=kind,
                                               origin=DocumentRelation.Origin.ADMIN, named=older.title[:500])


def relation_unlink(*, relation: DocumentRelation) -> DocumentRelation:
    """An admin's unlink: the relation stays, inactive, so that detection never makes it again."""
    relation.active = False
    relation.origin = DocumentRelation.Origin.ADMIN
    relation.save(update_fields=["active", "origin", "updated_at"])
    return relation
