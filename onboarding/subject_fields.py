"""The columns a row about a subject shares: its content type and primary key as text
(see ``onboarding.subjects``), with a generic foreign key over both.

Abstract models, so inheriting them changes no table. ``subject_type`` is declared
before ``subject_id`` in this module: Django orders fields by declaration, and forms
and admin pages list them type first.
"""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class SubjectType(models.Model):
    """The subject's content type, protected: a stale content type is not deleted (say, by
    ``remove_stale_contenttypes``) while the funnel log or its derived state names it."""

    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("subject type"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True


class CascadingSubjectType(models.Model):
    """The subject's content type, for rows that go with it (opt-outs, logins, scores)."""

    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("subject type"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        abstract = True


class SubjectId(models.Model):
    """The subject's primary key as text (any key type fits) and the subject itself."""

    subject_id = models.CharField(_("subject id"), max_length=64)
    subject = GenericForeignKey("subject_type", "subject_id")

    class Meta:
        abstract = True


class SubjectFields(SubjectType, SubjectId):
    """``subject_type`` (protected), ``subject_id`` and the ``subject`` itself."""

    class Meta:
        abstract = True


class CascadingSubjectFields(CascadingSubjectType, SubjectId):
    """``subject_type`` (deleted with its content type), ``subject_id`` and ``subject``."""

    class Meta:
        abstract = True
