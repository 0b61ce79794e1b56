"""Vote credits as one booking sees them: each read once, each written once, at the booking's end.

A booking (one event, or a batch of them) reads a vote's credit, and serial-voting detection the
credits of the same voter and author around that time; with the members locked those rows cannot
change under it. The store keeps every credit it read or made, so later events of a batch see the
earlier ones' changes without writing them first, and :meth:`Credits.flush` writes every changed
credit with one upsert per 500 before the booking's entries (docs/architecture.md, "Consuming
events in batches").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.reputation.ledger import Booking, connection, read
from engine.reputation.models import VoteCredit
from engine.sql import Params, Statement, from_row
from engine.tenancy import current_tenant_id

_COLUMNS = (
    "tenant_id",
    "vote_id",
    "voter_id",
    "author_id",
    "idea_id",
    "campaign_id",
    "version",
    "value",
    "author_target",
    "author_points",
    "voter_target",
    "voter_points",
    "cast_at",
    "serial",
    "merge_duplicate",
    "merge_id",
    "author_held",
    "voter_held",
)
_UPDATED = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("tenant_id", "vote_id"))
_ROWS_PER_UPSERT = 500


@dataclass(frozen=True, slots=True)
class SerialPeer:
    """A credit already marked serial, as detection sees a peer: serial for good, so never
    changed or written by this booking, and only its vote and time count. Batches of a serial
    voter read thousands of these; building each as a model cost most of a worker's batch."""

    vote_id: int
    cast_at: datetime
    serial: bool = True


# What detection reads of a peer: a credit it may mark, or one marked before.
Peer = VoteCredit | SerialPeer


@dataclass(frozen=True, slots=True)
class _Loaded:
    """Every credit of these voters on these authors cast within [lo, hi] is in the store."""

    voters: frozenset[int]
    authors: frozenset[int]
    lo: datetime
    hi: datetime

    def covers(self, voter_id: int, author_id: int, lo: datetime, hi: datetime) -> bool:
        return (
            voter_id in self.voters
            and author_id in self.authors
            and self.lo <= lo
            and hi <= self.hi
        )


class Credits:
    def __init__(self) -> None:
        # vote id -> its credit, or None when the vote has none yet.
        self._by_vote: dict[int, VoteCredit | None] = {}
        self._dirty: dict[int, VoteCredit] = {}
        # The same credits by (voter, author), what serial-voting detection looks up.
        self._by_pair: dict[tuple[int, int], dict[int, VoteCredit]] = {}
        # Peers already serial, by (voter, author), read for detection only (not in _by_vote).
        self._serial_by_pair: dict[tuple[int, int], dict[int, SerialPeer]] = {}
        # What was loaded for detection (one per load; a dict of every voter-author pair made
        # voters x members entries per batch).
        self._loaded: list[_Loaded] = []

    async def load(
        self,
        vote_ids: Iterable[int],
        voter_ids: set[int],
        author_ids: set[int],
        first: datetime,
        last: datetime,
        window: timedelta,
    ) -> None:
        """A batch's credits: these votes', and every credit of these voters on the ideas of
        these authors (and of the authors those votes were credited to) cast within ``window``
        of the batch's events or of those votes' first casts (two statements), so serial-voting
        detection finds every peer here. Only authors: with every member the batch locked in the
        list, PostgreSQL probed each voter's credits once per locked member, voters included."""
        vote_ids = list(vote_ids)
        await self.load_votes(vote_ids)
        casts = [first, last]
        authors = set(author_ids)
        for vote_id in vote_ids:
            credit = self._by_vote.get(vote_id)
            if credit is not None:
                authors.add(credit.author_id)
                if credit.cast_at is not None:
                    casts.append(credit.cast_at)
        lo, hi = min(casts) - window, max(casts) + window
        if voter_ids and authors:
            rows = await read(
                _AROUND,
                tenant=current_tenant_id(),
                voters=sorted(voter_ids),
                authors=sorted(authors),
                lo=lo,
                hi=hi,
            )
            self._keep_around(rows)
        self._loaded.append(_Loaded(frozenset(voter_ids), frozenset(authors), lo, hi))

    async def load_votes(self, vote_ids: Iterable[int]) -> None:
        """These votes' credits (one statement for those not in the store yet)."""
        ids = sorted(set(vote_ids) - set(self._by_vote))
        if ids:
            for credit in await _credits(_OF_VOTES, tenant=current_tenant_id(), votes=ids):
                self._keep(credit)
        for vote_id in ids:
            self._by_vote.setdefault(vote_id, None)

    def _keep_around(self, rows: Iterable[Any]) -> None:
        """Peers read for detection: a serial one as a :class:`SerialPeer`, unless the batch
        holds its credit; the others as credits, unless the batch holds them already."""
        for row in rows:
            vote_id = int(row["vote_id"])
            if self._by_vote.get(vote_id) is not None:
                continue
            cast_at = row["cast_at"]
            if row["serial"] and cast_at is not None:
                if not isinstance(cast_at, datetime):  # SQLite's text
                    cast_at = _CAST_AT.to_python_value(cast_at)
                pair = (int(row["voter_id"]), int(row["author_id"]))
                peer = SerialPeer(vote_id, cast_at)
                self._serial_by_pair.setdefault(pair, {})[vote_id] = peer
            else:
                self._keep(from_row(VoteCredit, row))

    async def get(self, vote_id: int) -> VoteCredit | None:
        if vote_id not in self._by_vote:
            credit = await VoteCredit.get_or_none(vote_id=vote_id)
            self._by_vote[vote_id] = None
            if credit is not None:
                self._keep(credit)
        return self._by_vote[vote_id]

    def known(self, vote_id: int) -> VoteCredit | None:
        """The vote's credit as loaded or made here, without reading (None when not known)."""
        return self._by_vote.get(vote_id)

    def _keep(self, credit: VoteCredit) -> None:
        self._by_vote[credit.vote_id] = credit
        self._by_pair.setdefault((credit.voter_id, credit.author_id), {})[credit.vote_id] = credit

    def save(self, credit: VoteCredit) -> None:
        """Written at the end of the booking (``flush``), as it is then."""
        self._keep(credit)
        self._dirty[credit.vote_id] = credit

    async def peers(self, voter_id: int, author_id: int, lo: datetime, hi: datetime) -> list[Peer]:
        """Credits of this voter on this author's ideas cast within [lo, hi], as this booking
        knows them (those serial before it as :class:`SerialPeer`), by vote id."""
        if not any(done.covers(voter_id, author_id, lo, hi) for done in self._loaded):
            rows = await read(
                _AROUND,
                tenant=current_tenant_id(),
                voters=[voter_id],
                authors=[author_id],
                lo=lo,
                hi=hi,
            )
            self._keep_around(rows)
            self._loaded.append(_Loaded(frozenset({voter_id}), frozenset({author_id}), lo, hi))
        pair = (voter_id, author_id)
        found: dict[int, Peer] = {
            vote_id: peer
            for vote_id, peer in self._serial_by_pair.get(pair, {}).items()
            if lo <= peer.cast_at <= hi
        }
        # A credit the batch holds wins over the serial peer read for the same vote.
        for credit in self._by_pair.get(pair, {}).values():
            if credit.cast_at is not None and lo <= credit.cast_at <= hi:
                found[credit.vote_id] = credit
        return [found[vote_id] for vote_id in sorted(found)]

    async def flush(self) -> None:
        dirty, self._dirty = list(self._dirty.values()), {}
        if not dirty:
            return
        client = connection()
        postgres = client.capabilities.dialect == "postgres"
        tenant_id = current_tenant_id()
        for start in range(0, len(dirty), _ROWS_PER_UPSERT):
            p = Params(postgres)
            rows = ", ".join(
                "(" + ", ".join(p(v) for v in _values(c, tenant_id)) + ")"
                for c in dirty[start : start + _ROWS_PER_UPSERT]
            )
            await client.execute_query(
                f"INSERT INTO reputation_vote_credit ({', '.join(_COLUMNS)}) VALUES {rows}"
                f" ON CONFLICT (vote_id) DO UPDATE SET {_UPDATED}",
                p.values,
            )


# A batch's two reads, one list parameter per set of keys (engine.sql): the same text for any
# number of votes or members, probing the indexes per key (docs/architecture.md, "Reading by a
# list of keys").
_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in sorted(VoteCredit._meta.db_fields))
_OF_VOTES = Statement(
    lambda d: d.probe(
        ":votes::bigint[]",
        f"{_SELECT} FROM reputation_vote_credit WHERE tenant_id = :tenant",
        "vote_id",
    )
)
# Per voter: the index (tenant, voter, author, cast_at) holds a voter's few credits together.
_AROUND = Statement(
    lambda d: d.probe(
        ":voters::bigint[]",
        f"""{_SELECT} FROM reputation_vote_credit WHERE tenant_id = :tenant
        AND {d.ts("cast_at")} >= {d.ts(":lo")} AND {d.ts("cast_at")} <= {d.ts(":hi")}
        AND author_id {d.one_of(":authors::bigint[]")}""",
        "voter_id",
    )
)


_CAST_AT = VoteCredit._meta.fields_map["cast_at"]


async def _credits(statement: Statement, **params: Any) -> list[VoteCredit]:
    # Thousands per batch for serial-voting detection: built as sql.from_row builds them.
    return [from_row(VoteCredit, row) for row in await read(statement, **params)]


def _values(credit: VoteCredit, tenant_id: int) -> list[Any]:
    values: list[Any] = [getattr(credit, column) for column in _COLUMNS]
    values[0] = credit.tenant_id or tenant_id
    return values


def credits(book: Booking) -> Credits:
    """The booking's store, made on first use and flushed when the booking finishes."""
    return book.part("credits", Credits)
