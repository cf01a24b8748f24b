"""The Contacts dashboard at a million contacts in one workspace: FluenzR's selectors (keyset
pages, full-text search, filters, a capped count) against what a Django developer would write
first (OFFSET pages, `icontains` across four columns, an exact COUNT), on the same PostgreSQL
in the same run.

    .venv/bin/python bench/contacts_dashboard.py               # 1,000,000 contacts
    .venv/bin/python bench/contacts_dashboard.py --rows 100000  # a quick run

It recreates the database `fluenzr_bench_dashboard` (BENCH_DATABASE_URL overrides it; the
name must contain "bench", since it is dropped), migrates it and fills one workspace with set
based SQL, shaped like the data the app makes: 90% of the contacts come from 40 CSV imports
spread over a year (one import's rows share its `created_at`, and their ids ascend, as
contacts.importing.writers makes them), 10% were added one at a time (random uuid4 ids, their
own instant); UTF-8 names with accents; one contact in 10,000 is a "Szczepańska" (the rare
search); 97% active, then bounced, unsubscribed, archived (0.5%). Two lists (N/20 and 1,000
contacts) and tags (vip: N/2000 contacts, customer: N/50). Then the GIN pending list is
merged and the tables are vacuumed and analysed: the steady state, not the minute after an
import.

Each query runs --repeat times through the ORM, warm cache, and its median is reported (the
page's model instances and its tags prefetch included, as the view needs them):

- ours: `contacts_filtered` → `contacts_page` (size 50) and `count_capped`, as the contacts
  view calls them: the first page of each sort; the page after the row at N/2 in each sort
  (its cursor made once, outside the timing, by `selectors._encode_cursor`); search for a
  common word ("martin") and a rare one ("szczep"); status "archived"; the 1,000-contact list;
  tag "vip"; count_capped unfiltered and filtered.
- baseline: the model's default order with OFFSET N/2 (what Paginator runs), `icontains` on
  email, first name, last name and company with the same order and LIMIT, an exact `.count()`.

Keyset pages are checked against OFFSET pages (the first three pages by `next_cursor`, and the
deep page), and the filters' counts against what was inserted. EXPLAIN (ANALYZE, BUFFERS) of
the deep pages, searches, filters and capped counts goes to stderr, a compact plan tree of each
(nodes, indexes, rows removed by filter, buffers) to stdout.

Prints one last line `contacts_dashboard: …`; each `*_ratio` is baseline ms / ours (> 1: ours
is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_dashboard"
IMPORTS = 40  # CSV imports the imported share of the contacts came in
IMPORTED_SHARE = 0.9
RARE_EVERY = 10_000  # one contact in RARE_EVERY bears the rare surname
PAGE_SIZE = 50

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
os.environ.setdefault("DEBUG", "1")  # the development secrets; the query log is off below
os.environ.pop("REDIS_URL", None)  # locmem cache, no broker

import django  # noqa: E402

django.setup()

from benchdb import drop_database, recreate_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.db.models.functions import Lower  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

# Timed code runs as in production: no per-query debug log.
settings.DEBUG = False


# The data ------------------------------------------------------------------------------------

# (as written, ASCII for the address): addresses are ASCII, names keep their accents.
FIRST_NAMES = (
    ("Léa", "lea"), ("Chloé", "chloe"), ("Zoé", "zoe"), ("Hélène", "helene"),
    ("François", "francois"), ("Jérôme", "jerome"), ("Anaïs", "anais"), ("Émile", "emile"),
    ("Noémie", "noemie"), ("Björn", "bjorn"), ("Søren", "soren"), ("José", "jose"),
    ("Inés", "ines"), ("Łukasz", "lukasz"), ("Małgorzata", "malgorzata"), ("Jürgen", "jurgen"),
    ("Åsa", "asa"), ("Cécile", "cecile"), ("Loïc", "loic"), ("Gaël", "gael"),
    ("James", "james"), ("Emma", "emma"), ("Olivia", "olivia"), ("Liam", "liam"),
    ("Noah", "noah"), ("Sophia", "sophia"), ("Lucas", "lucas"), ("Mia", "mia"),
    ("Ethan", "ethan"), ("Amelia", "amelia"), ("Hugo", "hugo"), ("Louis", "louis"),
    ("Camille", "camille"), ("Manon", "manon"), ("Thomas", "thomas"), ("Nicolas", "nicolas"),
    ("Julie", "julie"), ("Sarah", "sarah"), ("David", "david"), ("Laura", "laura"),
    ("Paul", "paul"), ("Anna", "anna"), ("Pierre", "pierre"), ("Claire", "claire"),
    ("Marc", "marc"), ("Sophie", "sophie"), ("Antoine", "antoine"), ("Élodie", "elodie"),
)  # fmt: skip
LAST_NAMES = (
    ("Martin", "martin"), ("Bernard", "bernard"), ("Dubois", "dubois"), ("Thomas", "thomas"),
    ("Robert", "robert"), ("Richard", "richard"), ("Petit", "petit"), ("Durand", "durand"),
    ("Leroy", "leroy"), ("Moreau", "moreau"), ("Lefèvre", "lefevre"),
    ("Fournier", "fournier"), ("Girard", "girard"), ("Bonnet", "bonnet"),
    ("Müller", "muller"), ("Schröder", "schroder"), ("García", "garcia"),
    ("Martínez", "martinez"), ("López", "lopez"), ("Núñez", "nunez"), ("Smith", "smith"),
    ("Johnson", "johnson"), ("Williams", "williams"), ("Brown", "brown"), ("Jones", "jones"),
    ("Miller", "miller"), ("Davis", "davis"), ("Wilson", "wilson"), ("Nowak", "nowak"),
    ("Kowalski", "kowalski"), ("Øberg", "oberg"), ("Ångström", "angstrom"),
    ("O'Brien", "obrien"), ("Dupont", "dupont"), ("Lambert", "lambert"), ("Faure", "faure"),
    ("Rousseau", "rousseau"), ("Blanc", "blanc"), ("Guérin", "guerin"), ("Boyer", "boyer"),
    ("Château", "chateau"), ("Lindqvist", "lindqvist"),
)  # fmt: skip
RARE_LAST_NAME = ("Szczepańska", "szczepanska")
COMPANY_WORDS = (
    ("Acme", "acme"), ("Nordic", "nordic"), ("Atlas", "atlas"), ("Helix", "helix"),
    ("Quantum", "quantum"), ("Vertex", "vertex"), ("Lumière", "lumiere"), ("Orbit", "orbit"),
    ("Cobalt", "cobalt"), ("Azur", "azur"), ("Boréal", "boreal"), ("Pixel", "pixel"),
    ("Granite", "granite"), ("Kestrel", "kestrel"), ("Meridian", "meridian"),
    ("Nimbus", "nimbus"), ("Sirius", "sirius"), ("Tundra", "tundra"), ("Zephyr", "zephyr"),
    ("Cèdre", "cedre"), ("Falcon", "falcon"), ("Harbor", "harbor"), ("Iris", "iris"),
    ("Juniper", "juniper"), ("Lynx", "lynx"), ("Mistral", "mistral"), ("Onyx", "onyx"),
)  # fmt: skip
COMPANY_KINDS = (
    ("Labs", "labs"), ("Systems", "systems"), ("Consulting", "consulting"), ("SAS", "sas"),
    ("GmbH", "gmbh"), ("Studio", "studio"), ("Partners", "partners"),
    ("Logistics", "logistics"), ("Analytics", "analytics"), ("Software", "software"),
    ("Médical", "medical"), ("Énergie", "energie"), ("Conseil", "conseil"), ("Group", "group"),
    ("Digital", "digital"), ("Robotics", "robotics"),
)  # fmt: skip
TLDS = (".com", ".fr", ".de", ".io", ".co.uk", ".es", ".eu")
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.fr", "orange.fr", "gmx.de", "hotmail.com")
TITLES = (
    "CEO", "CTO", "Head of Sales", "Directeur commercial", "Responsable marketing",
    "VP Engineering", "Office Manager", "Chargée de recrutement", "Founder", "Account Executive",
    "Geschäftsführer", "Directora financiera", "", "",
)  # fmt: skip
COUNTRIES = (
    ("France", "Europe/Paris"), ("Deutschland", "Europe/Berlin"), ("España", "Europe/Madrid"),
    ("United Kingdom", "Europe/London"), ("Belgique", "Europe/Brussels"),
    ("Suisse", "Europe/Zurich"), ("Österreich", "Europe/Vienna"), ("Česko", "Europe/Prague"),
    ("Sverige", "Europe/Stockholm"), ("Italia", "Europe/Rome"),
    ("United States", "America/New_York"), ("", ""),
)  # fmt: skip

COMMON_WORD = "martin"  # a common surname (and the start of Martínez's address)
RARE_WORD = "szczep"  # the first letters of a surname one contact in RARE_EVERY bears
RARE_STATUS = "archived"
RARE_TAG = "VIP"  # typed with another case than stored: the filter is case-insensitive

FILL_SQL = """
WITH picks AS (
    SELECT i,
           i < %(imported)s AS imported,
           (i::bigint * %(imports)s / greatest(%(imported)s, 1))::int AS batch,
           floor(random() * %(n_first)s)::int + 1 AS fi,
           floor(random() * %(n_last)s)::int + 1 AS li,
           floor(random() * %(companies)s)::int AS ci,
           floor(random() * 3)::int AS pattern,
           CASE WHEN random() < 0.2 THEN floor(random() * %(n_free)s)::int + 1 END AS free_mail,
           random() < 0.8 AS has_website,
           CASE WHEN random() < 0.6 THEN
               '+33 6 ' || (10 + floor(random() * 90))::int || ' '
               || (10 + floor(random() * 90))::int || ' '
               || (10 + floor(random() * 90))::int || ' '
               || (10 + floor(random() * 90))::int
           ELSE '' END AS phone,
           random() < 0.5 AS has_linkedin,
           floor(random() * %(n_titles)s)::int + 1 AS ti,
           floor(random() * %(n_countries)s)::int + 1 AS co,
           random() AS status_draw,
           random() AS instant
    FROM generate_series(0, %(rows)s - 1) AS i
), named AS (
    SELECT p.*,
           CASE WHEN p.imported
                THEN %(year_start)s::timestamptz
                     + make_interval(secs => (p.batch + 0.4) * 365 * 86400.0 / %(imports)s)
                ELSE %(year_start)s::timestamptz + p.instant * interval '365 days'
           END AS created,
           (%(first)s::text[])[p.fi] AS first_name,
           (%(first_ascii)s::text[])[p.fi] AS first_ascii,
           CASE WHEN p.i %% %(rare_every)s = %(rare_at)s THEN %(rare)s
                ELSE (%(last)s::text[])[p.li] END AS last_name,
           CASE WHEN p.i %% %(rare_every)s = %(rare_at)s THEN %(rare_ascii)s
                ELSE (%(last_ascii)s::text[])[p.li] END AS last_ascii,
           (%(words)s::text[])[p.ci %% %(n_words)s + 1] || ' '
               || (%(kinds)s::text[])[(p.ci / %(n_words)s) %% %(n_kinds)s + 1]
               || CASE WHEN p.ci >= %(n_words)s * %(n_kinds)s
                       THEN ' ' || (p.ci / (%(n_words)s * %(n_kinds)s)) ELSE '' END AS company,
           (%(words_ascii)s::text[])[p.ci %% %(n_words)s + 1]
               || (%(kinds_ascii)s::text[])[(p.ci / %(n_words)s) %% %(n_kinds)s + 1]
               || CASE WHEN p.ci >= %(n_words)s * %(n_kinds)s
                       THEN (p.ci / (%(n_words)s * %(n_kinds)s))::text ELSE '' END
               || (%(tlds)s::text[])[p.ci %% %(n_tlds)s + 1] AS company_domain
    FROM picks AS p
), addressed AS (
    SELECT n.*,
           CASE n.pattern
               WHEN 0 THEN n.first_ascii || '.' || n.last_ascii
               WHEN 1 THEN left(n.first_ascii, 1) || n.last_ascii
               ELSE n.first_ascii || '_' || n.last_ascii
           END || n.i AS local_part
    FROM named AS n
)
INSERT INTO contacts_contact (
    id, workspace_id, created_at, updated_at, email, first_name, last_name, company, title,
    website, phone, linkedin_url, country, timezone, custom_fields, status, source,
    source_import_id
)
SELECT CASE WHEN a.imported
            -- a UUIDv7 prefix (the import's instant in ms, then random-looking bits), then
            -- the line: as contacts.importing.writers._id_prefix makes them
            THEN (lpad(to_hex((extract(epoch FROM a.created) * 1000)::bigint), 12, '0')
                  || '7' || lpad(to_hex((a.batch * 2654435761) %% 4096), 3, '0')
                  || '8' || lpad(to_hex((a.batch * 40503) %% 4096), 3, '0')
                  || lpad(to_hex(a.i), 12, '0'))::uuid
            ELSE gen_random_uuid()  -- added by hand or by the API: uuid4, the model's default
       END,
       %(workspace)s, a.created, a.created,
       a.local_part || '@' || coalesce((%(free)s::text[])[a.free_mail], a.company_domain),
       a.first_name, a.last_name, a.company,
       (%(titles)s::text[])[a.ti],
       CASE WHEN a.has_website THEN 'https://www.' || a.company_domain ELSE '' END,
       a.phone,
       CASE WHEN a.has_linkedin THEN 'https://www.linkedin.com/in/' || a.local_part ELSE '' END,
       (%(countries)s::text[])[a.co],
       (%(timezones)s::text[])[a.co],
       '{}'::jsonb,
       CASE WHEN a.status_draw < 0.015 THEN 'bounced'
            WHEN a.status_draw < 0.025 THEN 'unsubscribed'
            WHEN a.status_draw < 0.030 THEN 'archived'
            ELSE 'active' END,
       CASE WHEN a.imported THEN 'import'
            WHEN a.instant < 0.5 THEN 'manual'  -- (instant: any independent draw will do)
            ELSE 'api' END,
       NULL
FROM addressed AS a
"""


# The database ------------------------------------------------------------------------------


def _sql(statement: str, params: Any = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def fill(rows: int) -> dict[str, Any]:
    """One workspace of `rows` contacts, two lists, three tags; returns what was made."""
    from datetime import UTC, datetime, timedelta

    from accounts.models import Workspace
    from contacts.models import Contact, ContactList, Tag

    workspace = Workspace.objects.create(name="Bench dashboard", plan="pro")
    imported = round(rows * IMPORTED_SHARE)
    year_start = datetime.now(UTC) - timedelta(days=365)
    params = {
        "rows": rows,
        "workspace": workspace.pk,
        "imported": imported,
        "imports": IMPORTS,
        "year_start": year_start,
        "companies": max(rows // 5, 50),  # B2B lists: a handful of people per company
        "first": [f for f, _a in FIRST_NAMES],
        "first_ascii": [a for _f, a in FIRST_NAMES],
        "n_first": len(FIRST_NAMES),
        "last": [f for f, _a in LAST_NAMES],
        "last_ascii": [a for _f, a in LAST_NAMES],
        "n_last": len(LAST_NAMES),
        "rare": RARE_LAST_NAME[0],
        "rare_ascii": RARE_LAST_NAME[1],
        "rare_every": RARE_EVERY,
        "rare_at": 1234 % RARE_EVERY,
        "words": [f for f, _a in COMPANY_WORDS],
        "words_ascii": [a for _f, a in COMPANY_WORDS],
        "n_words": len(COMPANY_WORDS),
        "kinds": [f for f, _a in COMPANY_KINDS],
        "kinds_ascii": [a for _f, a in COMPANY_KINDS],
        "n_kinds": len(COMPANY_KINDS),
        "tlds": list(TLDS),
        "n_tlds": len(TLDS),
        "free": list(FREE_MAIL),
        "n_free": len(FREE_MAIL),
        "titles": list(TITLES),
        "n_titles": len(TITLES),
        "countries": [c for c, _tz in COUNTRIES],
        "timezones": [tz for _c, tz in COUNTRIES],
        "n_countries": len(COUNTRIES),
    }
    start = time.perf_counter()
    _sql("SELECT setseed(0.4242)")
    _sql(FILL_SQL, params)
    contacts_seconds = time.perf_counter() - start

    start = time.perf_counter()
    big = ContactList.objects.create(workspace=workspace, name="Salon VivaTech 2025")
    small = ContactList.objects.create(workspace=workspace, name="Q3 - comptes stratégiques")
    sizes = {big: rows // 20, small: min(1000, rows // 100)}
    through = ContactList.contacts.through
    list_column = through._meta.get_field("contactlist").column
    contact_column = through._meta.get_field("contact").column
    for contact_list, size in sizes.items():
        _sql(
            f"INSERT INTO {through._meta.db_table} ({list_column}, {contact_column}) "  # noqa: S608
            f"SELECT %s, id FROM {Contact._meta.db_table} WHERE workspace_id = %s "
            "ORDER BY random() LIMIT %s",
            (contact_list.pk, workspace.pk, size),
        )
    tags = {
        Tag.objects.create(workspace=workspace, name="vip"): rows // 2000,
        Tag.objects.create(workspace=workspace, name="customer"): rows // 50,
        Tag.objects.create(workspace=workspace, name="churned"): rows // 500,
    }
    tag_through = Contact.tags.through
    tag_column = tag_through._meta.get_field("tag").column
    tag_contact_column = tag_through._meta.get_field("contact").column
    for tag, size in tags.items():
        _sql(
            f"INSERT INTO {tag_through._meta.db_table} ({tag_contact_column}, {tag_column}) "  # noqa: S608
            f"SELECT id, %s FROM {Contact._meta.db_table} WHERE workspace_id = %s "
            "ORDER BY random() LIMIT %s",
            (tag.pk, workspace.pk, size),
        )
    links_seconds = time.perf_counter() - start

    # The steady state: autovacuum would have merged the GIN pending list (which an import
    # fills on purpose, see contacts migration 0002), set the visibility map and the stats.
    start = time.perf_counter()
    ((pending_pages,),) = _sql("SELECT gin_clean_pending_list('contact_search')")
    for model in (Contact, through, tag_through, ContactList, Tag):
        _sql(f"VACUUM (ANALYZE) {model._meta.db_table}")
    vacuum_seconds = time.perf_counter() - start
    return {
        "workspace": workspace,
        "big_list": big,
        "small_list": small,
        "list_sizes": {str(k.pk): v for k, v in sizes.items()},
        "vip": rows // 2000,
        "contacts_seconds": contacts_seconds,
        "links_seconds": links_seconds,
        "vacuum_seconds": vacuum_seconds,
        "gin_pending_pages": pending_pages,
    }


# Measuring --------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The median of `repeat` runs, in ms (after one untimed run), and the last run's result."""
    samples = []
    result = fn()
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def _plan_nodes(node: dict, depth: int = 0) -> list[str]:
    kind = node["Node Type"]
    if node.get("Scan Direction") == "Backward":
        kind += " Backward"
    if "Index Name" in node:
        kind += f" using {node['Index Name']}"
    elif "Relation Name" in node:
        kind += f" on {node['Relation Name']}"
    details = [f"rows={node.get('Actual Rows', 0):,}"]
    if node.get("Actual Loops", 1) > 1:
        details.append(f"loops={node['Actual Loops']:,}")
    for key in ("Rows Removed by Filter", "Rows Removed by Index Recheck"):
        if node.get(key):
            details.append(f"{key.split(' by ')[-1].lower()}_removed={node[key]:,}")
    if "Exact Heap Blocks" in node:
        details.append(f"heap_blocks={node['Exact Heap Blocks'] + node['Lossy Heap Blocks']:,}")
    if "Sort Method" in node:
        details.append(node["Sort Method"])
    lines = [f"{'  ' * depth}{kind} ({', '.join(details)})"]
    for child in node.get("Plans", ()):
        lines.extend(_plan_nodes(child, depth + 1))
    return lines


def explain(label: str, fn: Callable[[], Any], query: int = 0) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the query `fn` runs at index `query` (by default the
    first: the page or the count, before any prefetch): the full plan to stderr, a summary
    back."""
    import json

    with CaptureQueriesContext(connection) as queries:
        fn()
    sql = queries.captured_queries[query]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        text = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        (raw,) = cursor.fetchone()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    print(f"\n=== {label}\n{sql}\n{text}", file=sys.stderr)
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    nodes = _plan_nodes(top)
    return f"{label}: {plan['Execution Time']:.1f} ms, {buffers:,} buffers\n    " + "\n    ".join(
        nodes
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each query (median)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat
    if rows < 10_000:
        raise SystemExit("--rows: at least 10,000")

    from django.core.management import call_command

    from contacts import selectors
    from contacts.models import Contact
    from contacts.selectors import CONTACT_SORTS, ContactFilters

    try:
        recreate_database()
        call_command("migrate", verbosity=0)
        db = settings.DATABASES["default"]
        print(f"database {db['NAME']} on {db['HOST']}:{db['PORT']} migrated")
        made = fill(rows)
        workspace = made["workspace"]
        ((table_mb, indexes_mb),) = _sql(
            "SELECT pg_table_size('contacts_contact') / 1e6, "
            "pg_indexes_size('contacts_contact') / 1e6"
        )
        print(
            f"filled {rows:,} contacts in {made['contacts_seconds']:.1f}s, lists and tags in "
            f"{made['links_seconds']:.1f}s, GIN pending list ({made['gin_pending_pages']:,} "
            f"pages) merged and vacuumed in {made['vacuum_seconds']:.1f}s; table "
            f"{table_mb:.0f} MB, indexes {indexes_mb:.0f} MB"
        )

        def ours(filters: ContactFilters = ContactFilters()):  # noqa: B008 - frozen
            return selectors.contacts_filtered(workspace=workspace, filters=filters)

        def page(filters: ContactFilters = ContactFilters(), sort="-created", cursor=""):  # noqa: B008
            return selectors.contacts_page(
                contacts=ours(filters), sort=sort, cursor=cursor, size=PAGE_SIZE
            )

        def naive():
            # The model's default order ("-created_at", "-id"), as Paginator pages it.
            return Contact.objects.for_workspace(workspace).order_by("-created_at", "-id")

        def naive_page(queryset, offset: int):
            return list(queryset.prefetch_related("tags")[offset : offset + PAGE_SIZE])

        def icontains(word: str):
            return naive().filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(company__icontains=word)
            )

        def ids(contacts) -> list:
            return [c.pk for c in contacts]

        results: dict[str, float] = {}  # medians, ms
        counts: dict[str, int] = {}
        summaries: list[str] = []
        deep = rows // 2

        # Correctness first: pages by cursor are the OFFSET pages of the same order.
        cursor = ""
        for number in range(3):
            got = page(cursor=cursor)
            assert ids(got.contacts) == ids(naive_page(naive(), number * PAGE_SIZE)), number
            cursor = got.next_cursor
        print("keyset pages 1-3 (by next_cursor) match the OFFSET pages")

        # First page of each sort.
        for sort in CONTACT_SORTS:
            ms, got = timed(lambda sort=sort: page(sort=sort), repeat)
            assert len(got.contacts) == PAGE_SIZE and got.next_cursor, sort
            results[f"first_page[{sort}]"] = ms
        first_ms = results["first_page[-created]"]
        first_max_ms = max(results[f"first_page[{s}]"] for s in CONTACT_SORTS)
        results["first_page_offset"], _ = timed(lambda: naive_page(naive(), 0), repeat)

        # The page after row N/2 of each sort, its cursor encoded as the selectors do.
        for sort, fields in CONTACT_SORTS.items():
            queryset = Contact.objects.for_workspace(workspace)
            if "email_key" in fields:
                queryset = queryset.annotate(email_key=Lower("email"))
            ordered = queryset.order_by(*fields)
            row = ordered[deep - 1]  # OFFSET, once, outside the timing
            cursor = selectors._encode_cursor(row, sort, fields, False)
            ms, got = timed(lambda sort=sort, cursor=cursor: page(sort=sort, cursor=cursor), repeat)
            assert ids(got.contacts) == ids(ordered[deep : deep + PAGE_SIZE]), sort
            results[f"deep_keyset[{sort}]"] = ms
            summaries.append(
                explain(
                    f"deep keyset page, sort {sort}",
                    lambda sort=sort, cursor=cursor: page(sort=sort, cursor=cursor),
                )
            )
        results["deep_offset"], got = timed(lambda: naive_page(naive(), deep), repeat)
        summaries.append(explain("deep OFFSET page (baseline)", lambda: naive_page(naive(), deep)))
        print("deep keyset pages match the OFFSET pages")

        # Search: a common word, a rare one; ours against icontains.
        rare_count = sum(1 for i in range(rows) if i % RARE_EVERY == 1234 % RARE_EVERY)
        for name, word in (("common", COMMON_WORD), ("rare", RARE_WORD)):
            filters = ContactFilters(search=word)
            ms, got = timed(lambda filters=filters: page(filters), repeat)
            results[f"search_{name}"] = ms
            results[f"search_{name}_icontains"], _ = timed(
                lambda word=word: naive_page(icontains(word), 0), repeat
            )
            total, capped = selectors.count_capped(ours(filters))
            counts[f"search {word!r}"] = total
            if name == "rare":
                assert total == rare_count and len(got.contacts) == min(rare_count, 50), total
            summaries.append(explain(f"search {word!r}", lambda filters=filters: page(filters)))
            summaries.append(
                explain(
                    f"search {word!r}, icontains (baseline)",
                    lambda w=word: naive_page(icontains(w), 0),
                )
            )

        # Filters.
        status = ContactFilters(status=RARE_STATUS)
        small_list = ContactFilters(list_id=str(made["small_list"].pk))
        big_list = ContactFilters(list_id=str(made["big_list"].pk))
        vip = ContactFilters(tag=RARE_TAG)
        for name, filters in (
            ("status", status),
            ("list", small_list),
            ("big_list", big_list),
            ("tag", vip),
        ):
            results[f"filter_{name}"], got = timed(lambda f=filters: page(f), repeat)
            assert got.contacts, name
            summaries.append(explain(f"filter {name}", lambda f=filters: page(f)))
        assert selectors.count_capped(ours(small_list))[0] == min(1000, rows // 100)

        assert selectors.count_capped(ours(vip))[0] == made["vip"]

        # Counts.
        results["count_capped"], (total, capped) = timed(
            lambda: selectors.count_capped(ours()), repeat
        )
        assert capped and total == 10_000, (total, capped)
        results["count_capped_search"], _ = timed(
            lambda: selectors.count_capped(ours(ContactFilters(search=COMMON_WORD))), repeat
        )
        results["count_capped_status"], _ = timed(
            lambda: selectors.count_capped(ours(status)), repeat
        )
        results["count_exact"], exact = timed(lambda: naive().count(), repeat)
        assert exact == rows, exact
        results["count_exact_search"], _ = timed(lambda: icontains(COMMON_WORD).count(), repeat)
        summaries.append(
            explain("count_capped, unfiltered", lambda: selectors.count_capped(ours()))
        )
        summaries.append(
            explain(
                f"count_capped, search {COMMON_WORD!r}",
                lambda: selectors.count_capped(ours(ContactFilters(search=COMMON_WORD))),
            )
        )

        # What the contacts view runs for its default page: the page, then count_capped.
        results["index_view"], _ = timed(lambda: (page(), selectors.count_capped(ours())), repeat)

        print("\nplans (EXPLAIN ANALYZE, BUFFERS; full plans on stderr):")
        for summary in summaries:
            print(f"  {summary}")
        print("\nmedians, ms:")
        for key, value in results.items():
            print(f"  {key:28} {value:10.2f}")
        print("matches (count_capped): " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))

        r = results
        print(
            f"contacts_dashboard: rows={rows} first_page_ms={first_ms:.2f} "
            f"first_page_max_ms={first_max_ms:.2f} index_view_ms={r['index_view']:.2f} "
            f"deep_keyset_ms={r['deep_keyset[-created]']:.2f} "
            f"deep_keyset_max_ms={max(r[f'deep_keyset[{s}]'] for s in CONTACT_SORTS):.2f} "
            f"deep_offset_ms={r['deep_offset']:.2f} "
            f"deep_ratio={r['deep_offset'] / r['deep_keyset[-created]']:.2f} "
            f"search_ms={r['search_rare']:.2f} "
            f"search_icontains_ms={r['search_rare_icontains']:.2f} "
            f"search_ratio={r['search_rare_icontains'] / r['search_rare']:.2f} "
            f"search_common_ms={r['search_common']:.2f} "
            f"search_common_icontains_ms={r['search_common_icontains']:.2f} "
            f"search_common_ratio={r['search_common_icontains'] / r['search_common']:.2f} "
            f"filter_status_ms={r['filter_status']:.2f} filter_list_ms={r['filter_list']:.2f} "
            f"filter_tag_ms={r['filter_tag']:.2f} count_capped_ms={r['count_capped']:.2f} "
            f"count_exact_ms={r['count_exact']:.2f} "
            f"count_ratio={r['count_exact'] / r['count_capped']:.2f}"
        )
    finally:
        if args.keep:
            connection.close()
        else:
            drop_database()


if __name__ == "__main__":
    main()
