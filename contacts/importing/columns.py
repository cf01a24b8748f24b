"""Which column holds what: header names from English and French exports, and custom fields."""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext_lazy as _

# Contact fields an import column can fill, in the order the mapping screen lists them.
IMPORT_FIELDS: dict[str, str] = {
    "email": _("Email"),
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "company": _("Company"),
    "title": _("Job title"),
    "website": _("Website"),
    "phone": _("Phone"),
    "linkedin_url": _("LinkedIn URL"),
    "country": _("Country"),
    "timezone": _("Time zone"),
}
CUSTOM_PREFIX = "custom:"
CUSTOM_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")  # usable as a {{variable}} in templates
IGNORE = ""

_ALIASES: dict[str, set[str]] = {
    "email": {
        "email",
        "mail",
        "emailaddress",
        "emails",
        "courriel",
        "adressecourriel",
        "adresseemail",
        "adressemail",
        "adresseelectronique",
        "workemail",
        "businessemail",
        "emailpro",
        "email1value",
        "emailprofessionnel",
        "professionalemail",
        "contactemail",
        "primaryemail",
        "mel",
    },
    "first_name": {
        "firstname",
        "first",
        "givenname",
        "forename",
        "prenom",
        "contactfirstname",
    },
    "last_name": {
        "lastname",
        "last",
        "surname",
        "familyname",
        "nom",
        "nomdefamille",
        "contactlastname",
    },
    "company": {
        "company",
        "companyname",
        "organization",
        "organisation",
        "organizationname",
        "societe",
        "entreprise",
        "nomentreprise",
        "nomdelentreprise",
        "account",
        "accountname",
        "employer",
        "raisonsociale",
    },
    "title": {"title", "jobtitle", "position", "poste", "fonction", "titre", "intituledeposte"},
    "website": {
        "website",
        "site",
        "siteweb",
        "siteinternet",
        "url",
        "web",
        "companywebsite",
        "companyurl",
        "companydomain",
        "domain",
        "domaine",
    },
    "phone": {
        "phone",
        "phonenumber",
        "telephone",
        "tel",
        "mobile",
        "mobilephone",
        "portable",
        "workphone",
        "directphone",
        "numerodetelephone",
        "corporatephone",
    },
    "linkedin_url": {
        "linkedin",
        "linkedinurl",
        "linkedinprofile",
        "linkedinprofileurl",
        "profillinkedin",
        "personlinkedinurl",
        "urllinkedin",
    },
    "country": {"country", "pays", "countryregion", "contactcountry"},
    "timezone": {"timezone", "tz", "fuseauhoraire", "timezonename", "ianatimezone"},
}
_FIELD_FOR_ALIAS = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
# Columns our own export adds that an import must not turn into custom fields.
_EXPORT_ONLY = {"status", "source", "createdat", "tags", "lists"}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def header_key(header: str) -> str:
    """'Adresse e-mail' → 'adresseemail': what the alias table is keyed on."""
    return re.sub(r"[^a-z0-9]", "", _fold(header).lower())


def custom_key(header: str) -> str:
    """'Taille de l'entreprise' → 'tailleDeLEntreprise': usable as {{variable}} in templates."""
    words = re.findall(r"[A-Za-z0-9]+", _fold(header))
    if not words:
        return ""
    key = words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])
    return ("f" + key if key[0].isdigit() else key)[:64]


def guess_mapping(headers: list[str]) -> list[str]:
    """A field for each column; unknown columns become custom fields; a field is used once."""
    mapping: list[str] = []
    used: set[str] = set()
    for header in headers:
        key = header_key(header)
        if key in _EXPORT_ONLY:
            mapping.append(IGNORE)
            continue
        field = _FIELD_FOR_ALIAS.get(key)
        if field and field not in used:
            mapping.append(field)
            used.add(field)
            continue
        key = custom_key(header)
        target = f"{CUSTOM_PREFIX}{key}" if key else IGNORE
        if target in used:
            target = IGNORE
        used.add(target)
        mapping.append(target)
    return mapping
