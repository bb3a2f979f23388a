"""Signals sent by ``track`` inside its transaction, right after progress changes.

Receivers run inside the caller's transaction; wrap side effects such as e-mail in
``transaction.on_commit``.

``step_completed`` is sent once per subject and step, at its first completion:
    sender: the :class:`onboarding.Flow` declaration
    subject: the subject model instance
    actor: the user who acted, or ``None``
    step: the :class:`onboarding.Step` declaration
    outcome: ``"completed"`` or ``"defaulted"``
    occurred_at: when it happened
    progress: the :class:`onboarding.models.Progress` row

``flow_finished`` is sent once per subject when its last required step is done:
    sender, subject, actor, progress as above; finished_at: the finish time
"""

from django.dispatch import Signal

step_completed = Signal()
flow_finished = Signal()
