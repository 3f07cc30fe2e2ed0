"""The admin's view of the stored JSON columns (``data``, ``context``): never decoded by Django.

Django's ``JSONField`` decodes every row it loads with ``json.loads``, and a row nested too
deeply for it raises ``RecursionError``, failing the whole page. The admin's lists therefore do
not load these columns at all (nothing shows them), and a row's page reads them as the stored
text and shows them indented, or as stored when they cannot be decoded.
"""

import json
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from eventhex_django_adapter._codec import json_text

__all__ = ["StoredJsonColumns"]


def shown_json(text: str | None) -> SafeString:
    """``text`` (a stored JSON value) as an indented ``<pre>``; as stored, with a note saying
    why, when it cannot be decoded (or encoded again) without recursing too deeply, or is not
    JSON."""
    if text is None:
        return format_html('<pre class="eventhex-json">{}</pre>', "null")
    try:
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except RecursionError:
        note = "Nested too deeply to decode; shown as stored."
    except ValueError:
        note = "Not valid JSON; shown as stored."
    else:
        return format_html('<pre class="eventhex-json">{}</pre>', shown)
    return format_html('<p class="help">{}</p><pre class="eventhex-json">{}</pre>', note, text)


class StoredJsonColumns(admin.ModelAdmin):  # type: ignore[type-arg]
    """A model admin for models with ``data`` and ``context`` JSON columns.

    Lists defer both columns. A row's page shows them, after the admin's other fields, as the
    read-only fields ``stored_data`` and ``stored_context``, read as text in one query.
    """

    json_columns = ("data", "context")

    def get_queryset(self, request: HttpRequest) -> "QuerySet[Any]":
        """The rows without their JSON columns."""
        return super().get_queryset(request).defer(*self.json_columns)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        """The admin's own exclusions and the JSON columns (shown as text instead)."""
        return (*(super().get_exclude(request, obj) or ()), *self.json_columns)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Model | None = None
    ) -> tuple[str, ...]:
        """The admin's own read-only fields, then the JSON columns as text."""
        shown_as_text = ("stored_data", "stored_context")
        return (*super().get_readonly_fields(request, obj), *shown_as_text)

    def _stored(self, row: Model) -> dict[str, str | None]:
        found: dict[str, str | None] | None = getattr(row, "_eventhex_stored_json", None)
        if found is None:
            texts = (
                type(row)
                ._default_manager.using(row._state.db)
                .filter(pk=row.pk)
                .values_list(*[json_text(column) for column in self.json_columns])
                .get()
            )
            found = dict(zip(self.json_columns, texts, strict=True))
            row._eventhex_stored_json = found  # type: ignore[attr-defined]
        return found

    @admin.display(description="data")
    def stored_data(self, row: Model) -> SafeString:
        """The row's ``data``, indented."""
        return shown_json(self._stored(row)["data"])

    @admin.display(description="context")
    def stored_context(self, row: Model) -> SafeString:
        """The row's ``context``, indented."""
        return shown_json(self._stored(row)["context"])
