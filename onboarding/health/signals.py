"""``conversion_dropped``: sent once per step whose conversion fell (see ``alerts``).

sender: the flow key; drop: a :class:`onboarding.health.alerts.StepDrop`
"""

from django.dispatch import Signal

conversion_dropped = Signal()
