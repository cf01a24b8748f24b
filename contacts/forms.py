from __future__ import annotations

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.importing.columns import (
    CUSTOM_KEY,
    CUSTOM_PREFIX,
    IGNORE,
    IMPORT_FIELDS,
    custom_key,
)
from contacts.models import (
    CUSTOM_VALUE_MAX_LENGTH,
    FIELD_MAX_LENGTHS,
    ContactList,
    ContactStatus,
    Import,
    OnDuplicate,
    SuppressionReason,
)
from contacts.selectors import SORT_LABELS

CSV_ACCEPT = ".csv,.tsv,.txt,text/csv,text/plain,text/tab-separated-values"


def _list_choices(workspace) -> list[tuple[str, str]]:
    return [(str(c.pk), c.name) for c in ContactList.objects.for_workspace(workspace)]


class ContactFilterForm(forms.Form):
    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": _("Email, name or company")}),
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    list = forms.ChoiceField(label=_("List"), required=False)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=[*SORT_LABELS.items()])

    def __init__(self, *args, workspace, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All statuses")), *ContactStatus.choices]
        self.fields["list"].choices = [("", _("All lists")), *_list_choices(workspace)]


def _text_field(name: str, label: str, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=FIELD_MAX_LENGTHS[name], required=False, **kwargs
    )


class ContactForm(forms.Form):
    # Checked by the service with email-validator, as imports and the API are (Django's
    # EmailField refuses addresses they accept, such as jöhn@example.com).
    email = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    first_name = _text_field("first_name", _("First name"))
    last_name = _text_field("last_name", _("Last name"))
    company = _text_field("company", _("Company"))
    title = _text_field("title", _("Job title"))
    website = _text_field("website", _("Website"))
    phone = _text_field("phone", _("Phone"))
    linkedin_url = _text_field("linkedin_url", _("LinkedIn URL"))
    country = _text_field("country", _("Country"))
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Used when a campaign sends in the recipient's local time."),
    )
    status = forms.ChoiceField(label=_("Status"), choices=ContactStatus.choices)
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_("Separate tags with commas."),
    )
    lists = forms.MultipleChoiceField(
        label=_("Lists"), required=False, widget=forms.CheckboxSelectMultiple
    )
    custom_fields = forms.CharField(
        label=_("Custom fields"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "industry = SaaS"}),
        help_text=_("One per line, as name = value. Use them in emails as {{name}}."),
    )

    def __init__(self, *args, workspace, creating: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [("", _("Unknown"))] + [
            (zone, zone) for zone in sorted(zoneinfo.available_timezones())
        ]
        self.fields["lists"].choices = _list_choices(workspace)
        if creating:
            del self.fields["status"]

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def clean_custom_fields(self) -> dict[str, str]:
        custom: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["custom_fields"].splitlines(), 1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            key = name.strip()  # kept as written: {{companySize}} must stay companySize
            if not sep or not key:
                raise forms.ValidationError(
                    _("Line %(n)d: write name = value, as in industry = SaaS.") % {"n": number}
                )
            if not CUSTOM_KEY.fullmatch(key):
                raise forms.ValidationError(
                    _(
                        "Line %(n)d: “%(key)s” cannot be a custom field name: use up to 64 "
                        "letters, digits and underscores, as in companySize."
                    )
                    % {"n": number, "key": key}
                )
            value = value.strip().replace("\\n", "\n")  # see custom_fields_text
            if len(value.strip()) > CUSTOM_VALUE_MAX_LENGTH:
                raise forms.ValidationError(
                    _("Line %(n)d: keep values under %(max)d characters.")
                    % {"n": number, "max": CUSTOM_VALUE_MAX_LENGTH}
                )
            custom[key] = value
        return custom

    def service_arguments(self, workspace) -> dict:
        """What contact_create and contact_update take, from the cleaned form."""
        data = dict(self.cleaned_data)
        tags, list_ids = data.pop("tags"), data.pop("lists")
        lists = ContactList.objects.for_workspace(workspace).filter(pk__in=list_ids)
        return {"data": data, "tags": tags, "lists": lists}

    @staticmethod
    def custom_fields_text(custom: dict[str, str]) -> str:
        # One field a line: a value's own line breaks (from a multi-line cell) show as \n.
        return "\n".join(
            f"{key} = {value.replace(chr(10), chr(92) + 'n')}" for key, value in custom.items()
        )


class ListForm(forms.Form):
    name = forms.CharField(label=_("List name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)


class BulkActionForm(forms.Form):
    ACTIONS = [
        ("add_to_list", _("Add to list")),
        ("tag", _("Add a tag")),
        ("archive", _("Archive")),
        ("delete", _("Delete")),
        ("export", _("Export to CSV")),
    ]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=str, required=False)
    # Every contact the filters match (the `query` the page was shown with), not just a page.
    all_matching = forms.BooleanField(required=False)
    list = forms.ChoiceField(label=_("List"), required=False)
    tag = forms.CharField(label=_("Tag"), max_length=50, required=False)

    def __init__(self, *args, workspace, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["list"].choices = [("", "—"), *_list_choices(workspace)]
        # Any ids: the view keeps only the workspace's own.
        self.fields["ids"].valid_value = lambda value: True

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("ids") and not cleaned.get("all_matching"):
            raise forms.ValidationError(
                _("Select at least one contact, or tick “all contacts matching the filters”.")
            )
        if cleaned.get("action") == "add_to_list" and not cleaned.get("list"):
            self.add_error("list", _("Choose the list to add the contacts to."))
        if cleaned.get("action") == "tag" and not cleaned.get("tag", "").strip():
            self.add_error("tag", _("Enter the tag to add."))
        return cleaned


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A header row, then one contact per line. Any encoding and delimiter "
            "(comma, semicolon, tab) exported by Excel, Google Sheets or your CRM."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": CSV_ACCEPT}),
    )


class ImportMappingForm(forms.Form):
    """One choice per column of the file, then where the contacts go."""

    target_list = forms.ChoiceField(label=_("Add the contacts to a list"), required=False)
    new_list = forms.CharField(label=_("…or to a new list named"), max_length=100, required=False)
    on_duplicate = forms.ChoiceField(
        label=_("Contacts already in the workspace"),
        choices=OnDuplicate.choices,
        widget=forms.RadioSelect,
        initial=OnDuplicate.SKIP,
    )

    def __init__(self, *args, workspace, source_import: Import, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_list"].choices = [("", _("No list")), *_list_choices(workspace)]
        self.columns = []
        for index, header in enumerate(source_import.headers):
            guessed = source_import.mapping[index] if index < len(source_import.mapping) else ""
            key = custom_key(header)
            choices = [(IGNORE, _("Don't import"))]
            choices += [(field, label) for field, label in IMPORT_FIELDS.items()]
            if key:
                choices.append(
                    (f"{CUSTOM_PREFIX}{key}", _("Custom field {{%(key)s}}") % {"key": key})
                )
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header or _("Column %(n)d") % {"n": index + 1},
                choices=choices,
                required=False,
                initial=guessed,
            )
            samples = [row[index] for row in source_import.preview_rows if index < len(row)]
            self.columns.append({"field": self[name], "samples": samples})

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"column_{i}", "") for i in range(len(self.columns))]


class SuppressionForm(forms.Form):
    value = forms.CharField(
        label=_("Email address or domain"),
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": _("jane@acme.com or acme.com")}),
    )
    reason = forms.ChoiceField(
        label=_("Reason"), choices=SuppressionReason.choices, initial=SuppressionReason.MANUAL
    )


class BlocklistUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Blocklist file"),
        help_text=_("A CSV or text file: one email address or domain per line (first column)."),
        widget=forms.ClearableFileInput(attrs={"accept": CSV_ACCEPT}),
    )
