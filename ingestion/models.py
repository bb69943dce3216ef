"""Document sets, their documents and the chunks search runs over."""

from __future__ import annotations

import numpy as np
from django.db import models


class Collection(models.Model):
    """A document set an admin uploads and users ask questions of."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # Who may read the set, as groups; a set granted to no group is read by admins only (retrieval/access.py).
    reader_groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="readable_collections",
        help_text="Groups whose members may ask questions of this set and see its passages. None: admins only.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def document_upload_to(instance: Document, filename: str) -> str:
    # Content-addressed so two uploads of one name never overwrite each other.
    return f"documents/{instance.sha256[:2]}/{instance.sha256}/{filename}"


class Document(models.Model):
    """One uploaded file: a version of a document in a set, with where its ingestion stands."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PARSING = "parsing", "Parsing"
        EMBEDDING = "embedding", "Embedding"
        INDEXING = "indexing", "Indexing"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Replaced by a newer version"

    FINISHED = (Status.INDEXED, Status.FAILED, Status.SUPERSEDED)

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500, blank=True)
    file = models.FileField(upload_to=document_upload_to, max_length=500, blank=True)
    original_name = models.CharField(max_length=500)
    source_path = models.CharField(
        max_length=1000, blank=True, db_index=True, help_text="Path inside the uploaded folder or zip; names versions."
    )
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Empty when the upload was refused unread.")
    size_bytes = models.BigIntegerField(default=0)
    file_type = models.CharField(max_length=16, blank=True)
    # Versions of one document share a lineage (the id of its first version) and count up from 1.
    lineage_id = models.IntegerField(null=True, blank=True, db_index=True)
    version = models.IntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    failure_reason = models.TextField(blank=True)
    page_count = models.IntegerField(null=True, blank=True)
    issued_on = models.DateField(
        null=True, blank=True, help_text="When the document was issued, read from its head (the 1st when only the "
        "month is stated); editable by admins."
    )
    issued_as = models.CharField(max_length=40, blank=True, help_text="That date as the document writes it.")
    issuer = models.CharField(
        max_length=200, blank=True, help_text="Who issued it, read from its head (ingestion/editions.py); editable."
    )
    # The work this document is an edition of: its title without year and edition words (ingestion/editions.py).
    work_title = models.CharField(max_length=500, blank=True, db_index=True)
    text = models.TextField(blank=True, help_text="Extracted text; chunk offsets refer to it.")
    chunk_count = models.IntegerField(default=0)
    chunks_embedded = models.IntegerField(default=0)
    embedding_model = models.CharField(max_length=200, blank=True)
    attempts = models.IntegerField(default=0, help_text="Ingestion runs started; above 1 after a crash or retry.")
    # A lease, not a lock held by a connection: a worker killed mid-document loses it when it expires.
    lease_token = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    indexed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["collection", "title", "-version"]
        constraints = [
            # Re-uploading identical bytes into a set is a no-op, not a second copy.
            models.UniqueConstraint(
                fields=["collection", "sha256"],
                condition=~models.Q(sha256=""),
                name="document_unique_content_per_collection",
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="document_version_positive"),
        ]
        indexes = [models.Index(fields=["collection", "status"])]

    def __str__(self) -> str:
        return self.title or self.original_name

    @property
    def lineage(self) -> int:
        """The id its versions share (its first version's; set when it is registered)."""
        return self.lineage_id or self.id

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int:
        """Where ingestion stands, 0-100: parsing is quick, embedding is the long part, indexing the last step."""
        if self.status in (self.Status.INDEXED, self.Status.FAILED, self.Status.SUPERSEDED):
            return 100
        if self.status == self.Status.EMBEDDING and self.chunk_count:
            return 10 + int(85 * self.chunks_embedded / self.chunk_count)
        return {self.Status.QUEUED: 0, self.Status.PARSING: 5, self.Status.INDEXING: 95}.get(self.status, 10)


def chunk_embedding_text(*, title: str, section_path: str, text: str) -> str:
    """A chunk's text with its document title and section path in front: what the embedder and BM25 see."""
    heading = " ".join(part for part in (title, section_path) if part)
    return f"{heading}\n{text}" if heading else text


class Chunk(models.Model):
    """A passage of one section of one document; its primary key is its id in the vector index."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.IntegerField()
    text = models.TextField()
    section_path = models.CharField(max_length=1000, blank=True)
    page_start = models.IntegerField(null=True, blank=True)
    page_end = models.IntegerField(null=True, blank=True)
    char_start = models.IntegerField()
    char_end = models.IntegerField()

    SECTION_SEPARATOR = " > "

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_unique_ordinal_per_document"),
            models.CheckConstraint(condition=models.Q(char_end__gt=models.F("char_start")), name="chunk_nonempty_span"),
        ]
        indexes = [models.Index(fields=["collection", "document"])]

    def __str__(self) -> str:
        return f"{self.document} #{self.ordinal}"

    @property
    def pages_label(self) -> str:
        if self.page_start is None:
            return ""
        if self.page_end in (None, self.page_start):
            return f"p. {self.page_start}"
        return f"pp. {self.page_start}-{self.page_end}"

    def embedding_text(self) -> str:
        """What the embedder and BM25 see: the passage with the headings that give it meaning."""
        return chunk_embedding_text(title=self.document.title, section_path=self.section_path, text=self.text)


class ChunkVector(models.Model):
    """A chunk's embedding, kept so a resumed run embeds only what is missing and the index can be rebuilt from it.

    Apart from Chunk so that reading passages never drags vectors along.
    """

    chunk = models.OneToOneField(Chunk, on_delete=models.CASCADE, primary_key=True, related_name="vector")
    vector = models.BinaryField()  # float32, the document's embedding_model dimension

    def as_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector), dtype=np.float32)


class DocumentRelation(models.Model):
    """One document superseding or amending another: a newer edition of one work, a clause that repeals or replaces
    it ("原《…》同时废止", "this guideline replaces …"), or one that amends it.

    A detected link an admin unlinks is kept inactive, so detecting it again never brings it back. A clause whose
    named document is not (yet) in any set is kept with `older` empty and linked when that document arrives.
    """

    class Kind(models.TextChoices):
        EDITION = "edition", "Newer edition of the same work"
        REPLACES = "replaces", "Repeals or replaces"
        AMENDS = "amends", "Amends"

    class Origin(models.TextChoices):
        DETECTED = "detected", "Detected at ingestion"
        ADMIN = "admin", "Set by an admin"

    SUPERSEDING = (Kind.EDITION, Kind.REPLACES)  # the older is no longer the one in force

    newer = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="relations_as_newer")
    older = models.ForeignKey(
        Document, on_delete=models.CASCADE, null=True, blank=True, related_name="relations_as_older"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.DETECTED)
    named = models.CharField(max_length=500, blank=True, help_text="The document as the clause names it.")
    # editions.work_key(named): a clause waiting for its document is found by the document's work title inside it.
    named_key = models.CharField(max_length=500, blank=True)
    sentence = models.TextField(blank=True, help_text="The sentence of the newer document that says so.")
    active = models.BooleanField(default=True, help_text="False: an admin unlinked it; it is not detected again.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["newer", "older"]
        constraints = [
            models.UniqueConstraint(
                fields=["newer", "older"], condition=models.Q(older__isnull=False), name="relation_unique_pair"
            ),
            models.UniqueConstraint(
                fields=["newer", "kind", "named"], condition=models.Q(older__isnull=True),
                name="relation_unique_unresolved_clause",
            ),
            models.CheckConstraint(condition=~models.Q(newer=models.F("older")), name="relation_not_to_itself"),
        ]

    def __str__(self) -> str:
        older = self.older.title if self.older_id else f"《{self.named}》"
        return f"{self.newer} {self.get_kind_display().lower()} {older}"

    @property
    def supersedes(self) -> bool:
        return self.active and self.kind in self.SUPERSEDING and self.older_id is not None
