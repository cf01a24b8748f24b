"""Cost of checking an API key on every request: FluenzR's keyed hash (HMAC-SHA256) against
the baseline of storing keys with Django's default password hasher (PBKDF2).

    .venv/bin/python bench/api_key_hash.py

Random 238-bit tokens need no key stretching; a password hasher would add its cost to every
API call. Prints one last line `api_key_hash: …` with the ratio.
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluenzr.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402

from accounts.services import api_key_hash  # noqa: E402

TOKEN = "flz_sk_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"


def main() -> None:
    stored_hmac = api_key_hash(TOKEN)
    stored_pbkdf2 = make_password(TOKEN)
    hmac_runs, pbkdf2_runs = 20_000, 20
    hmac_seconds = min(
        timeit.repeat(lambda: api_key_hash(TOKEN) == stored_hmac, number=hmac_runs, repeat=5)
    )
    pbkdf2_seconds = min(
        timeit.repeat(lambda: check_password(TOKEN, stored_pbkdf2), number=pbkdf2_runs, repeat=3)
    )
    hmac_us = hmac_seconds / hmac_runs * 1e6
    pbkdf2_us = pbkdf2_seconds / pbkdf2_runs * 1e6
    print(
        f"api_key_hash: hmac_sha256_us={hmac_us:.2f} baseline=pbkdf2_us={pbkdf2_us:.0f} "
        f"ratio={pbkdf2_us / hmac_us:.0f}x"
    )


if __name__ == "__main__":
    main()
