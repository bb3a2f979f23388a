"""A maintained funnel rollup: per entry day x variant x version, counts per step and
time histograms, so that the flow's default window is answered without counting
every subject (see ``onboarding.rollups.build`` and ``onboarding.rollups.answer``)."""
