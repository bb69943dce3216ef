"""How editions and replacement clauses are read on the 1,416 real NGC guideline summaries (no database, no model).

    python -m bench.editions

Prints, with the same functions ingestion uses (ingestion/editions.py):
- edition links: summaries sharing a work title (title without year and edition words) and a compatible issuer,
  i.e. the links ingestion would make among them; and the pairs sharing a work title that the issuer keeps apart;
- replacement clauses: the NGC states in "Guideline Status" whether a summary "updates a previous version"; the
  share of those read as a clause (recall) and the clauses read in summaries that state none (false readings);
- clause links inside the corpus: clauses whose named document is another summary (title in the citation, the
  year the clause gives, issued before), each printed for checking by eye.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict

from bench.datasets.ngc import Guideline, ngc_guidelines, ngc_markdown
from ingestion.dates import issued_date_find
from ingestion.editions import clause_names_title, issuer_find, issuers_compatible, source_clauses_find, work_title

STATES_UPDATE = re.compile(r"updates? (?:a |the )?previous versions?", re.IGNORECASE)


def _status(guideline: Guideline) -> str:
    return " ".join(f["text"] for f in guideline.fields if f["field"] == "Guideline Status")


def main() -> None:
    started = time.perf_counter()
    guidelines = list(ngc_guidelines())
    texts = {g.doc_id: ngc_markdown(guideline=g) for g in guidelines}
    issuers = {g.doc_id: issuer_find(texts[g.doc_id]) for g in guidelines}
    issued = {g.doc_id: issued_date_find(texts[g.doc_id]) for g in guidelines}
    by_work: dict[str, list[Guideline]] = defaultdict(list)
    for guideline in guidelines:
        if key := work_title(guideline.title):
            by_work[key].append(guideline)
    shared = [group for group in by_work.values() if len(group) > 1]
    linked = [(a.doc_id, b.doc_id) for group in shared for i, a in enumerate(group) for b in group[i + 1:]
              if issuers_compatible(issuers[a.doc_id], issuers[b.doc_id])]
    kept_apart = [(a.doc_id, b.doc_id) for group in shared for i, a in enumerate(group) for b in group[i + 1:]
                  if not issuers_compatible(issuers[a.doc_id], issuers[b.doc_id])]

    _status_of = {g.doc_id: _status(g) for g in guidelines}
    stating = {g.doc_id for g in guidelines if STATES_UPDATE.search(_status_of[g.doc_id])}
    clauses = {g.doc_id: source_clauses_find(texts[g.doc_id]) for g in guidelines}
    read = {doc_id for doc_id, found in clauses.items() if found}
    in_corpus = []
    for guideline in guidelines:
        for clause in clauses[guideline.doc_id]:
            for other in guidelines:
                if other.doc_id == guideline.doc_id or not clause_names_title(clause=clause, title=other.title):
                    continue
                mine, theirs = issued[guideline.doc_id], issued[other.doc_id]
                if clause.years and (theirs is None or theirs.on.year not in clause.years):
                    continue
                if mine and theirs and theirs.on > mine.on:
                    continue
                in_corpus.append((guideline.doc_id, other.doc_id, clause.sentence[:160]))

    print(f"NGC summaries: {len(guidelines)}; with an issuer read: {sum(1 for v in issuers.values() if v)}; "
          f"with an issue date read: {sum(1 for v in issued.values() if v)}")
    print("\n| measure | count |\n|---|---|")
    print(f"| work titles shared by 2+ summaries | {len(shared)} |")
    print(f"| edition links (same work, compatible issuer) | {len(linked)} |")
    print(f"| same work title kept apart by the issuer | {len(kept_apart)} |")
    print(f"| summaries stating they update a previous version | {len(stating)} |")
    recall = len(stating & read) / len(stating)
    print(f"| ... of which a clause was read (recall) | {len(stating & read)} ({recall:.3f}) |")
    print(f"| summaries stating none, clause read anyway | {len(read - stating)} |")
    print(f"| clauses naming another summary of the corpus | {len(in_corpus)} |")
    for pair in kept_apart:
        print("kept apart:", pair, [issuers[d] for d in pair])
    for doc_id in sorted(stating - read):
        print("stated, no clause read:", doc_id, STATES_UPDATE.search(_status_of[doc_id]).string[:200])
    for doc_id in sorted(read - stating):
        print("clause without the NGC's statement:", doc_id, clauses[doc_id][0].sentence[:160])
    for link in in_corpus:
        print("in-corpus link:", link)
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
