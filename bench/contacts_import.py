"""CSV contact import, end to end: FluenzR's import against the physical floor (a bare COPY of
the same file into a plain table) and against the peer a Django developer would reach for
(django-import-export), on the same PostgreSQL in the same run.

    .venv/bin/python bench/contacts_import.py               # 100,000 rows
    .venv/bin/python bench/contacts_import.py --rows 20000  # a quick run

It generates a CSV (8 columns, UTF-8 names with accents, 2% invalid addresses, 3% duplicates
of earlier rows, some differing only in the case of the domain), recreates the database
`fluenzr_bench` (BENCH_DATABASE_URL overrides it; the name must contain "bench", since it is
dropped), migrates it, then runs each side in its own process so that the peak RSS reported
is our import's alone:

- ours: `import_create` (stores the upload, sniffs it) then `import_start`, with Celery eager,
  so the queued task runs in-process exactly as the worker would (validation of every
  address, COPY into staging, one upsert). Counts are checked against what was generated.
- copy: `COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)` streaming the file's bytes.
- peer: django-import-export's default `import_data` (a lookup and a save per row, in a
  savepoint each). At a few hundred rows/s it is timed on the first `--peer-rows` rows and
  extrapolated to the whole file; `peer_rows=` says how many were really imported.

Prints one last line `contacts_import: …` with ratio_vs_copy (target ≤ 5) and
speedup_vs_peer (target ≥ 50); peak_rss_mb is our import's process (target < 200).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench"
COLUMNS = ("email", "first_name", "last_name", "company", "title", "website", "phone", "country")
INVALID_SHARE = 0.02
DUPLICATE_SHARE = 0.03

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
os.environ.setdefault("DEBUG", "1")  # the development secrets; the query log is off below
os.environ.pop("REDIS_URL", None)  # locmem cache; nothing is sent to a broker (Celery eager)
if "BENCH_DIR" not in os.environ:  # the parent makes it; its phases inherit it
    os.environ["BENCH_DIR"] = tempfile.mkdtemp(prefix="fluenzr-bench-")
    os.environ["BENCH_DIR_OWNER"] = str(os.getpid())
os.environ["VAR_DIR"] = os.environ["BENCH_DIR"]
os.environ["MEDIA_ROOT"] = str(Path(os.environ["BENCH_DIR"]) / "media")

import django  # noqa: E402

django.setup()

from benchdb import drop_database, recreate_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

# Timed code runs as in production: no per-query debug log (it would slow the peer most).
settings.DEBUG = False


# The file ------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Léa", "Chloé", "Zoé", "Hélène", "François", "Jérôme", "Anaïs", "Émile", "Noémie", "Björn",
    "Søren", "José", "Inés", "Łukasz", "Małgorzata", "Jürgen", "Åsa", "Cécile", "Loïc", "Gaël",
    "James", "Emma", "Olivia", "Liam", "Noah", "Sophia", "Lucas", "Mia", "Ethan", "Amelia",
    "Hugo", "Louis", "Camille", "Manon", "Thomas", "Nicolas", "Julie", "Sarah", "David",
    "Laura", "Paul", "Anna", "Pierre", "Claire", "Marc", "Sophie", "Antoine", "Élodie",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Lefèvre", "Fournier", "Girard", "Bonnet", "Müller", "Schröder", "García",
    "Martínez", "López", "Núñez", "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller",
    "Davis", "Wilson", "Nowak", "Kowalski", "Øberg", "Ångström", "O'Brien", "Dupont",
    "Lambert", "Faure", "Rousseau", "Blanc", "Guérin", "Boyer", "Château", "Lindqvist",
)  # fmt: skip
COMPANY_WORDS = (
    "Acme", "Nordic", "Atlas", "Helix", "Quantum", "Vertex", "Lumière", "Orbit", "Cobalt",
    "Azur", "Boréal", "Pixel", "Granite", "Kestrel", "Meridian", "Nimbus", "Sirius", "Tundra",
    "Zephyr", "Cèdre", "Falcon", "Harbor", "Iris", "Juniper", "Lynx", "Mistral", "Onyx",
)  # fmt: skip
COMPANY_KINDS = (
    "Labs", "Systems", "Consulting", "SAS", "GmbH", "Studio", "Partners", "Logistics",
    "Analytics", "Software", "Médical", "Énergie", "Conseil", "Group", "Digital", "Robotics",
)  # fmt: skip
TLDS = (".com", ".fr", ".de", ".io", ".co.uk", ".es", ".eu")
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.fr", "orange.fr", "gmx.de", "hotmail.com")
TITLES = (
    "CEO", "CTO", "Head of Sales", "Directeur commercial", "Responsable marketing",
    "VP Engineering", "Office Manager", "Chargée de recrutement", "Founder", "Account Executive",
    "Geschäftsführer", "Directora financiera", "", "",
)  # fmt: skip
COUNTRIES = (
    "France", "Deutschland", "España", "United Kingdom", "Belgique", "Suisse", "Österreich",
    "Česko", "Sverige", "Italia", "United States", "",
)  # fmt: skip


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _company(rng: random.Random, companies: int) -> tuple[str, str]:
    n = rng.randrange(companies)
    words, kinds = len(COMPANY_WORDS), len(COMPANY_KINDS)
    name = f"{COMPANY_WORDS[n % words]} {COMPANY_KINDS[(n // words) % kinds]}"
    if n >= words * kinds:
        name += f" {n // (words * kinds)}"
    return name, _ascii(name) + TLDS[n % len(TLDS)]


def _invalid(rng: random.Random, email: str) -> str:
    """Each form is refused by email-validator (and so counted as invalid by the import)."""
    local, _at, domain = email.rpartition("@")
    forms = (
        f"{local}{domain}",  # no @
        local.replace(".", "..", 1) + "@" + domain if "." in local else f"{local}..x@{domain}",
        local.replace(".", " ", 1) + "@" + domain if "." in local else f"{local} x@{domain}",
        f"{local}@@{domain}",
        f"{local}@{domain.split('.')[0]}",  # no dot in the domain
        f"{local}@{domain}.",
        f"@{domain}",
        f"{local}@{domain.replace('.', ',', 1)}",
        "",  # a row with no address at all
    )
    return rng.choice(forms)


def _case_variant(rng: random.Random, email: str) -> str:
    local, _at, domain = email.rpartition("@")
    return rng.choice(
        (
            email,  # the same address again
            f"{local}@{domain.upper()}",  # the domain's case differs
            f"{local}@{domain.capitalize()}",
            # (ASCII only: how lower() folds other letters depends on the database's locale)
            f"{local[:1].upper()}{local[1:]}@{domain}" if local[:1].isascii() else email,
        )
    )


def generate(path: Path, rows: int, seed: int = 20240611) -> dict[str, int]:
    """Writes the file row by row; returns how many rows of each kind it holds."""
    rng = random.Random(seed)
    invalid_count = round(rows * INVALID_SHARE)
    duplicate_count = round(rows * DUPLICATE_SHARE)
    # Row 0 is always a fresh address, so every duplicate has an earlier one to repeat.
    special = rng.sample(range(1, rows), invalid_count + duplicate_count) if rows > 1 else []
    invalid_rows = set(special[:invalid_count])
    duplicate_rows = set(special[invalid_count:])
    companies = max(rows // 5, 50)  # B2B lists: a handful of people per company
    recent: list[str] = []  # earlier valid addresses to repeat (bounded)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(rows):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company, domain = _company(rng, companies)
            website = f"https://www.{domain}" if rng.random() < 0.8 else ""
            if rng.random() < 0.2:
                domain = rng.choice(FREE_MAIL)
            if rng.random() < 0.01:  # an internationalised local part, now and then
                local = f"{first.lower()}.{last.lower().replace(' ', '')}{i}"
            else:
                pattern = rng.randrange(3)
                a, b = _ascii(first), _ascii(last)
                local = (f"{a}.{b}", f"{a[:1]}{b}", f"{a}_{b}")[pattern] + str(i)
            email = f"{local}@{domain}"
            if i in duplicate_rows:
                email = _case_variant(rng, rng.choice(recent))
            elif i in invalid_rows:
                email = _invalid(rng, email)
            else:
                if len(recent) < 20_000:
                    recent.append(email)
                else:
                    recent[rng.randrange(len(recent))] = email
            phone = (
                f"+33 6 {rng.randrange(10, 100)} {rng.randrange(10, 100)} "
                f"{rng.randrange(10, 100)} {rng.randrange(10, 100)}"
                if rng.random() < 0.6
                else ""
            )
            title, country = rng.choice(TITLES), rng.choice(COUNTRIES)
            writer.writerow((email, first, last, company, title, website, phone, country))
    return {
        "rows": rows,
        "invalid": invalid_count,
        "duplicates": duplicate_count,
        "unique": rows - invalid_count - duplicate_count,
    }


# The three sides, each in its own process --------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def phase_copy(csv_path: Path) -> dict:
    with connection.cursor() as cursor:
        columns = ", ".join(f"{c} text" for c in COLUMNS)
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(f"CREATE TABLE bench_copy ({columns})")
    start = time.perf_counter()
    with (
        transaction.atomic(),
        csv_path.open("rb") as raw,
        connection.cursor() as cursor,
        cursor.cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
    ):
        while chunk := raw.read(1 << 20):
            copy.write(chunk)
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_copy")
        (rows,) = cursor.fetchone()
    return {"seconds": seconds, "rows": rows}


def phase_ours(csv_path: Path, profile: bool) -> dict:
    from django.core.files.uploadedfile import UploadedFile

    from accounts.models import Workspace
    from contacts.importing import service
    from contacts.models import Contact, Import, ImportRowError, ImportStatus
    from fluenzr.celery import app

    # import_start queues the run with transaction.on_commit(import_run.delay); eager, the
    # task runs here and now, as a worker would run it.
    app.conf.task_always_eager = True
    logging.getLogger("celery").setLevel(logging.WARNING)  # no "task succeeded" line
    logging.getLogger("kombu").setLevel(logging.ERROR)  # eager: no broker, no host needed
    workspace = Workspace.objects.create(name="Bench ours", plan="pro")
    size = csv_path.stat().st_size
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    # An upload over the file on disk, as a large upload reaches the view (never in memory).
    with csv_path.open("rb") as raw:
        upload = UploadedFile(raw, name="contacts.csv", content_type="text/csv", size=size)
        draft = service.import_create(workspace=workspace, actor=None, upload=upload)
    service.import_start(workspace=workspace, source_import=draft)
    seconds = time.perf_counter() - start
    if profiler is not None:
        import pstats

        profiler.disable()
        print("cProfile of our import, top 25 by cumulative time:", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    done = Import.objects.for_workspace(workspace).get(pk=draft.pk)
    if done.status != ImportStatus.DONE:
        raise SystemExit(f"our import ended {done.status}: {done.error}")
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "mapping": done.mapping,
        "rows_read": done.rows_read,
        "created": done.created_count,
        "updated": done.updated_count,
        "duplicates": done.duplicate_count,
        "invalid": done.invalid_count,
        "contacts": Contact.objects.for_workspace(workspace).count(),
        "row_errors": ImportRowError.objects.filter(source_import=done).count(),
        "upload_kept": bool(done.file.name) and done.file.storage.exists(done.file.name),
    }


def phase_peer(csv_path: Path, peer_rows: int) -> dict:
    import tablib
    from django.db.models.functions import Lower
    from import_export import resources
    from import_export.instance_loaders import ModelInstanceLoader

    from accounts.models import Workspace
    from accounts.tenancy import workspace_scope
    from contacts.models import Contact, ContactSource

    class EmailLoader(ModelInstanceLoader):
        # The one change to the defaults that this model needs: the default loader matches
        # `email` exactly, so each row repeating an address with another case would raise
        # IntegrityError on the case-insensitive unique constraint, and import_data (in a
        # transaction by default) would roll the whole import back. This matches on
        # lower(email), which the unique index serves.
        def get_instance(self, row):
            email = row.get("email") or ""
            queryset = self.get_queryset().annotate(email_key=Lower("email"))
            try:
                return queryset.get(email_key=email.lower())
            except Contact.DoesNotExist:
                return None

    class ContactResource(resources.ModelResource):
        # django-import-export validates no address by default (that is fine: FluenzR's side
        # does more work, not less); everything else is its default import.
        class Meta:
            model = Contact
            fields = COLUMNS
            import_id_fields = ("email",)
            instance_loader_class = EmailLoader

        def before_save_instance(self, instance, row, **kwargs):
            if instance.workspace_id is None:
                instance.workspace = workspace
                instance.source = ContactSource.IMPORT

    workspace = Workspace.objects.create(name="Bench peer", plan="pro")
    with workspace_scope(workspace):
        start = time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as text:
            # The generated file has no line breaks inside cells, so lines are records.
            sample = "".join(itertools.islice(text, peer_rows + 1))
        dataset = tablib.Dataset().load(sample, format="csv")
        result = ContactResource().import_data(dataset, dry_run=False, raise_errors=False)
        seconds = time.perf_counter() - start
        contacts = Contact.objects.count()
    return {
        "seconds": seconds,
        "rows": len(dataset),
        "totals": dict(result.totals),
        "has_errors": result.has_errors(),
        "contacts": contacts,
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_phase(name: str, csv_path: Path, *extra: str) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--csv", str(csv_path), *extra]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


# The run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--peer-rows", type=int, default=5000, help="rows django-import-export really imports"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile our import (stderr)")
    parser.add_argument("--phase", choices=("copy", "ours", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "copy":
        print(json.dumps(phase_copy(args.csv)))
        return
    if args.phase == "ours":
        print(json.dumps(phase_ours(args.csv, args.profile)))
        return
    if args.phase == "peer":
        print(json.dumps(phase_peer(args.csv, args.peer_rows)))
        return

    bench_dir = Path(os.environ["BENCH_DIR"])
    try:
        rows = args.rows
        csv_path = bench_dir / "contacts.csv"
        start = time.perf_counter()
        expected = generate(csv_path, rows)
        print(
            f"generated {rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - start:.1f}s: {expected['invalid']:,} invalid, "
            f"{expected['duplicates']:,} duplicates"
        )
        recreate_database()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        connection.close()
        db = settings.DATABASES["default"]
        print(f"database {db['NAME']} on {db['HOST']}:{db['PORT']} migrated")

        copy = run_phase("copy", csv_path)
        assert copy["rows"] == rows, copy
        print(f"copy: {copy['seconds']:.3f}s ({rows / copy['seconds']:,.0f} rows/s)")

        ours = run_phase("ours", csv_path, *(["--profile"] if args.profile else []))
        print(
            f"ours: {ours['seconds']:.3f}s ({rows / ours['seconds']:,.0f} rows/s), "
            f"created={ours['created']:,} duplicates={ours['duplicates']:,} "
            f"invalid={ours['invalid']:,} peak_rss={ours['peak_rss_mb']:.0f} MB"
            + (" (under cProfile)" if args.profile else "")
        )
        accounted = ours["created"] + ours["updated"] + ours["duplicates"] + ours["invalid"]
        assert ours["mapping"] == list(COLUMNS), ours["mapping"]
        assert ours["rows_read"] == rows == accounted, ours
        assert ours["invalid"] == expected["invalid"], (ours, expected)
        assert abs(ours["invalid"] - rows * INVALID_SHARE) <= max(1, rows * 0.001), ours
        assert ours["duplicates"] == expected["duplicates"], (ours, expected)
        assert ours["created"] == ours["contacts"] == expected["unique"], (ours, expected)
        assert ours["row_errors"] == ours["invalid"] + ours["duplicates"], ours
        assert not ours["upload_kept"], "the uploaded copy should be deleted once imported"

        peer_rows = min(rows, args.peer_rows)
        peer = run_phase("peer", csv_path, "--peer-rows", str(peer_rows))
        assert peer["rows"] == peer_rows, peer
        peer_rate = peer_rows / peer["seconds"]
        peer_seconds = rows / peer_rate
        totals = peer["totals"]
        print(
            f"peer (django-import-export): {peer_rows:,} rows in {peer['seconds']:.2f}s "
            f"({peer_rate:,.0f} rows/s; new={totals.get('new', 0):,} "
            f"update={totals.get('update', 0):,} error={totals.get('error', 0):,}, "
            f"addresses not validated), {rows:,} rows extrapolated to {peer_seconds:.1f}s"
        )
        if peer["has_errors"]:
            print("warning: the peer reported row errors and rolled its import back")

        print(
            f"contacts_import: rows={rows} ours_s={ours['seconds']:.3f} "
            f"copy_s={copy['seconds']:.3f} peer_s={peer_seconds:.2f} peer_rows={peer_rows} "
            f"ratio_vs_copy={ours['seconds'] / copy['seconds']:.2f} "
            f"speedup_vs_peer={peer_seconds / ours['seconds']:.2f} "
            f"peak_rss_mb={ours['peak_rss_mb']:.2f}"
        )
    finally:
        drop_database()
        if os.environ.get("BENCH_DIR_OWNER") == str(os.getpid()):
            shutil.rmtree(bench_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
