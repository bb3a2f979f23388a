"""The funnel pages in Django admin: filters, an SVG chart, tables and CSV per flow.

``FunnelAdminMixin`` adds them to the FlowRecord admin; the numbers come from
:mod:`onboarding.funnel`, which this package only lays out.
"""
