# A pending delivery's due time, for requeue_stale_deliveries (onboarding.webhooks.requeue).
# Existing rows get the migration's time: still pending ones are queued again by the
# first sweep after WEBHOOK_REQUEUE_AFTER_SECONDS.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0010_api_key_read_scope_label"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="next_attempt_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now, verbose_name="next attempt due"
            ),
        ),
    ]
