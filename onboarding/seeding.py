"""Synthetic but realistic funnels for demos, load tests and trying reports out.

:func:`seed_funnel` plans each subject's journey through a flow (entry, time per
step, drop-off per variant, smart defaults, repeats) and records it through
:func:`onboarding.track_many`, the one write path, in batches that arrive the way
real clients send them: some late and out of order, some twice.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding.declarations import Flow, Step
from onboarding.models import EventKind, Progress
from onboarding.registry import get_flow
from onboarding.subjects import SubjectRef, ref, resolve
from onboarding.sync import flow_record
from onboarding.tracking import EventInput, track_many
from onboarding.variants import assign_variant

# Conditional conversion per step (step k given step k-1), for every variant or by name.
Conversion = Mapping[str, Sequence[float]] | Sequence[float]
Share = float | Mapping[str, float]

# Spread of a step's duration around its estimate (sigma of the log), and the range
# of the factor by which a long tail (the user left and came back) stretches it.
DURATION_SIGMA = 0.5
TAIL_FACTOR = (5.0, 2000.0)
# How late a repeated completion comes after the first one.
REPEAT_AFTER = (timedelta(hours=1), timedelta(days=5))


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`seed_funnel` sent and what the event log kept."""

    subjects: int
    events_sent: int
    accepted: int
    duplicates: int
    batches: int


@dataclass(frozen=True)
class _Planned:
    """One event to send; ``late`` ones are sent a few batches after their time."""

    who: Any
    step: str
    kind: str
    at: datetime
    id: uuid.UUID
    late: bool = False

    def as_input(self, flow_key: str) -> EventInput:
        return EventInput(
            who=self.who,
            flow=flow_key,
            step=self.step,
            kind=self.kind,
            occurred_at=self.at,
            id=self.id,
            source="seed",
        )


@dataclass(frozen=True)
class _Options:
    days: int
    now: datetime
    out_of_order_share: float
    repeat_share: float
    duplicate_share: float
    viewed_share: float
    tail_share: float
    batch_size: int

    def __post_init__(self) -> None:
        shares = ("out_of_order_share", "repeat_share", "duplicate_share", "viewed_share")
        for name in (*shares, "tail_share"):
            _check_probability(name, getattr(self, name))
        if self.days <= 0:
            raise ValueError(_("days must be positive, not %(days)r") % {"days": self.days})
        if self.batch_size <= 0:
            raise ValueError(
                _("batch_size must be positive, not %(size)r") % {"size": self.batch_size}
            )


def seed_funnel(
    flow_key: str,
    subjects: Iterable[Any],
    *,
    conversion: Conversion,
    days: int = 90,
    now: datetime | None = None,
    rng_seed: int | str = 0,
    out_of_order_share: float = 0.05,
    repeat_share: float = 0.05,
    duplicate_share: float = 0.02,
    viewed_share: float = 0.5,
    default_share: Share = 0.3,
    tail_share: float = 0.05,
    batch_size: int = 500,
) -> SeedSummary:
    """Record a realistic funnel of ``flow_key`` for ``subjects`` (users or subjects).

    ``conversion`` gives, per variant (the one the app assigns each subject), the
    probability of completing each step after the previous one; a plain list applies
    to every variant. Entries spread over the ``days`` before ``now``. The same
    ``rng_seed`` gives the same events with the same ids, so seeding twice stores
    nothing new.
    """
    flow = get_flow(flow_key)
    rates = _conversion_by_variant(flow, conversion)
    defaults = _share_by_variant(flow, default_share, "default_share")
    options = _Options(
        days=days,
        now=now or timezone.now(),
        out_of_order_share=out_of_order_share,
        repeat_share=repeat_share,
        duplicate_share=duplicate_share,
        viewed_share=viewed_share,
        tail_share=tail_share,
        batch_size=batch_size,
    )

    people = _distinct_subjects(subjects)
    variants = _variants(flow, [subject_ref for _who, subject_ref in people])
    planned: list[_Planned] = []
    for who, subject_ref in people:
        variant = variants[(subject_ref.type_id, subject_ref.id)]
        rng = random.Random(f"{rng_seed}:{flow.key}:{subject_ref.type_id}:{subject_ref.id}")
        planned += _journey(flow, who, rng, rates[variant], defaults[variant], options)

    stream = _deliveries(planned, options, rng_seed)
    accepted = duplicates = batches = 0
    for start in range(0, len(stream), batch_size):
        result = track_many(item.as_input(flow.key) for item in stream[start : start + batch_size])
        accepted += result.accepted
        duplicates += result.duplicates
        batches += 1
    return SeedSummary(
        subjects=len(people),
        events_sent=len(stream),
        accepted=accepted,
        duplicates=duplicates,
        batches=batches,
    )


def _check_probability(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(
            _("%(name)s must be between 0 and 1, not %(value)r") % {"name": name, "value": value}
        )


def _variant_names(flow: Flow) -> list[str]:
    return sorted(flow.variants) if flow.variants else [""]


def _conversion_by_variant(flow: Flow, conversion: Conversion) -> dict[str, list[float]]:
    """Check ``conversion`` against the flow; name the variant or step that is wrong."""
    names = _variant_names(flow)
    if not isinstance(conversion, Mapping):
        rates = _checked_rates(flow, "conversion", conversion)
        return {name: rates for name in names}
    unknown = sorted(set(conversion) - set(names))
    missing = [name for name in names if name not in conversion]
    if unknown:
        raise ValueError(
            _("conversion names unknown variants of flow %(flow)r: %(names)s")
            % {"flow": flow.key, "names": unknown}
        )
    if missing:
        raise ValueError(
            _("conversion has no rates for variants of %(flow)r: %(names)s")
            % {"flow": flow.key, "names": missing}
        )
    return {name: _checked_rates(flow, f"conversion[{name!r}]", conversion[name]) for name in names}


def _checked_rates(flow: Flow, label: str, rates: Sequence[float]) -> list[float]:
    rates = list(rates)
    if len(rates) != len(flow.steps):
        raise ValueError(
            _("%(label)s has %(count)d rates; flow %(flow)r has %(steps)d steps %(keys)s")
            % {
                "label": label,
                "count": len(rates),
                "flow": flow.key,
                "steps": len(flow.steps),
                "keys": flow.step_keys,
            }
        )
    for step, rate in zip(flow.steps, rates, strict=True):
        _check_probability(f"{label} for step {step.key!r}", rate)
    return rates


def _share_by_variant(flow: Flow, share: Share, name: str) -> dict[str, float]:
    names = _variant_names(flow)
    if isinstance(share, Mapping):
        missing = [variant for variant in names if variant not in share]
        if missing:
            raise ValueError(
                _("%(name)s has no value for variants of %(flow)r: %(names)s")
                % {"name": name, "flow": flow.key, "names": missing}
            )
        values = {variant: float(share[variant]) for variant in names}
    else:
        values = dict.fromkeys(names, float(share))
    for variant, value in values.items():
        _check_probability(f"{name}[{variant!r}]" if variant else name, value)
    return values


def _distinct_subjects(subjects: Iterable[Any]) -> list[tuple[Any, SubjectRef]]:
    """``(who, subject ref)`` once per subject: two members of one team are one journey."""
    seen: dict[tuple[int, str], tuple[Any, SubjectRef]] = {}
    for who in subjects:
        subject, _actor = resolve(who)
        subject_ref = ref(subject)
        seen.setdefault((subject_ref.type_id, subject_ref.id), (who, subject_ref))
    return list(seen.values())


def _variants(flow: Flow, refs: list[SubjectRef]) -> dict[tuple[int, str], str]:
    """Each subject's variant: the stored one if it entered before, else the one it will get."""
    record = flow_record(flow)
    stored: dict[tuple[int, str], str] = {}
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        for type_id, subject_id, variant in Progress.objects.filter(
            flow=record,
            subject_type_id__in={one.type_id for one in chunk},
            subject_id__in=[one.id for one in chunk],
        ).values_list("subject_type_id", "subject_id", "variant"):
            stored[(type_id, subject_id)] = variant
    names = _variant_names(flow)
    result = {}
    for one in refs:
        key = (one.type_id, one.id)
        chosen = stored.get(key)
        if chosen is None or chosen not in names:
            chosen = assign_variant(flow.key, flow.variants, f"{one.type_id}:{one.id}")
        result[key] = chosen
    return result


def _event_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _duration(rng: random.Random, step: Step, tail_share: float) -> timedelta:
    """Time on a step: lognormal around its estimate; sometimes the user leaves and returns."""
    seconds = max(step.estimated_seconds, 1) * math.exp(rng.gauss(0, DURATION_SIGMA))
    if rng.random() < tail_share:
        low, high = TAIL_FACTOR
        seconds *= math.exp(rng.uniform(math.log(low), math.log(high)))
    return timedelta(seconds=seconds)


def _completion_kind(rng: random.Random, step: Step, default_share: float) -> str:
    if step.has_default and rng.random() < default_share:
        return EventKind.DEFAULTED
    return step.completed_by or EventKind.COMPLETED


def _journey(
    flow: Flow,
    who: Any,
    rng: random.Random,
    rates: list[float],
    default_share: float,
    options: _Options,
) -> list[_Planned]:
    """One subject's events in time order.

    Steps are walked in declared order; a required step not completed ends the walk,
    an optional one does not. Events later than ``now`` have not happened yet.
    """
    events: list[_Planned] = []

    def add(step: str, kind: str, at: datetime) -> None:
        if at <= options.now:
            events.append(_Planned(who, step, kind, at, _event_id(rng)))

    at = options.now - timedelta(seconds=rng.uniform(0, options.days * 86400))
    for index, (step, rate) in enumerate(zip(flow.steps, rates, strict=True)):
        converted = rng.random() < rate
        # Everyone who enters has an event: a first step not completed was at least seen.
        if rng.random() < options.viewed_share or (index == 0 and not converted):
            add(step.key, EventKind.VIEWED, at + timedelta(seconds=rng.uniform(0.5, 5)))
        if not converted:
            if step.required:
                break
            continue
        done_at = at + _duration(rng, step, options.tail_share)
        if done_at > options.now:
            break
        add(step.key, _completion_kind(rng, step, default_share), done_at)
        if rng.random() < options.repeat_share:
            low, high = REPEAT_AFTER
            # Doing it again (printing a second set) is a new event with a new id.
            add(
                step.key,
                step.completed_by or EventKind.COMPLETED,
                done_at + low + (high - low) * rng.random(),
            )
        at = done_at
    events.sort(key=lambda event: event.at)
    if len(events) > 1 and rng.random() < options.out_of_order_share:
        # A client that synced late: everything but its latest event arrives after it.
        events[:-1] = [replace(event, late=True) for event in events[:-1]]
    return events


def _deliveries(planned: list[_Planned], options: _Options, rng_seed: int | str) -> list[_Planned]:
    """The order events are sent in.

    In time order, except that late events arrive one to three batches after their
    time, and some events are sent again with the same id, in the same or a later
    batch (a retry).
    """
    rng = random.Random(f"{rng_seed}:deliveries")
    size = options.batch_size
    slotted: list[tuple[float, _Planned]] = []
    for position, event in enumerate(sorted(planned, key=lambda event: (event.at, event.id))):
        slot = position + (rng.randint(1, 3) * size if event.late else 0)
        slotted.append((slot, event))
        if rng.random() < options.duplicate_share:
            slotted.append((slot + 0.5 + rng.randint(0, 2) * size, event))
    slotted.sort(key=lambda pair: pair[0])
    return [event for _slot, event in slotted]


def align_date_joined(flow_key: str, users: Iterable[Any]) -> int:
    """Set seeded users' ``date_joined`` to their entry into ``flow_key``; return how many.

    Only users who are their own subject count (not members mapped to a team).
    """
    user_model = get_user_model()
    if not any(field.name == "date_joined" for field in user_model._meta.get_fields()):
        return 0
    user_type = ContentType.objects.get_for_model(user_model)
    by_pk = {str(user.pk): user for user in users}
    pks = list(by_pk)
    changed = []
    for start in range(0, len(pks), 500):
        entered = Progress.objects.filter(
            flow__key=flow_key, subject_type=user_type, subject_id__in=pks[start : start + 500]
        ).values_list("subject_id", "entered_at")
        for subject_id, entered_at in entered:
            by_pk[subject_id].date_joined = entered_at
            changed.append(by_pk[subject_id])
    user_model.objects.bulk_update(changed, ["date_joined"], batch_size=500)
    return len(changed)
