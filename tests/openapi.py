"""The settings of the OpenAPI document the app serves, for ``spectacular --custom-settings``.

``make schema`` writes ``docs/openapi.yaml`` with them; tests/test_docs_schema.py checks it.
"""

from onboarding.api.schema import SchemaView

SETTINGS = SchemaView.custom_settings
