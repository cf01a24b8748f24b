"""Template rendering: variables, fallbacks, undefined detection, escaping, spintax.

Pure functions: no database, no fixtures.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from campaigns.templating import (
    RenderContext,
    UndefinedVariable,
    Variable,
    known_variable_names,
    render,
    undefined_variables,
    variables_in,
)

CONTACT = {
    "email": "jeanne@acme.fr",
    "firstName": "Jeanne",
    "lastName": "Dupré",
    "company": "Acme & <Fils>",
    "title": "",
    "website": "https://acme.fr",
    "phone": "",
    "linkedinUrl": "",
    "country": "France",
    "timezone": "Europe/Paris",
}
SENDER = {
    "firstName": "Marc",
    "lastName": "Lefèvre",
    "name": "Marc Lefèvre",
    "email": "marc@fluenzr.test",
    "signature": "Marc Lefèvre\nFondateur",
}


def ctx(seed: str = "enrollment-1:step-1", **changes: dict[str, str]) -> RenderContext:
    return RenderContext(
        contact={**CONTACT, **changes.get("contact", {})},
        custom={"industry": "SaaS", "teamSize": "", **changes.get("custom", {})},
        sender={**SENDER, **changes.get("sender", {})},
        seed=seed,
    )


# --- variables ---------------------------------------------------------------------------------


def test_contact_fields_by_camel_case_name() -> None:
    text = "{{firstName}} {{lastName}} <{{email}}> {{country}} {{timezone}} {{website}}"
    assert render(text, ctx()) == (
        "Jeanne Dupré <jeanne@acme.fr> France Europe/Paris https://acme.fr"
    )


def test_fallback_used_only_when_the_value_is_empty() -> None:
    assert render("Bonjour {{ firstName | toi }},", ctx()) == "Bonjour Jeanne,"
    empty = ctx(contact={"firstName": ""})
    assert render("Bonjour {{ firstName | toi }},", empty) == "Bonjour toi,"
    assert render("Bonjour {{firstName|cher ami à Paris}},", empty) == "Bonjour cher ami à Paris,"
    # A whitespace-only value is empty too.
    assert render("{{firstName|there}}", ctx(contact={"firstName": "   "})) == "there"


def test_explicit_empty_fallback_renders_nothing() -> None:
    empty = ctx(contact={"firstName": ""})
    assert render("Hi{{firstName|}}!", empty) == "Hi!"
    assert undefined_variables("Hi{{firstName|}}!", empty) == []


def test_custom_fields_by_key() -> None:
    assert render("In {{industry}}", ctx()) == "In SaaS"
    # Custom fields come from JSON: numbers render as text.
    assert render("{{seats}} seats", ctx(custom={"seats": 12})) == "12 seats"  # type: ignore[dict-item]
    assert render("{{teamSize|a few}} people", ctx()) == "a few people"


def test_custom_key_never_shadows_a_contact_field() -> None:
    assert render("{{email}}", ctx(custom={"email": "other@x.fr"})) == "jeanne@acme.fr"


def test_sender_fields() -> None:
    text = "{{sender.firstName}} {{sender.lastName}} / {{sender.name}} / {{sender.email}}"
    assert render(text, ctx()) == "Marc Lefèvre / Marc Lefèvre / marc@fluenzr.test"
    assert render("--\n{{sender.signature}}", ctx()) == "--\nMarc Lefèvre\nFondateur"
    assert undefined_variables("{{sender.phone}}", ctx()) == ["sender.phone"]


def test_variables_in_lists_names_and_fallbacks_in_every_spintax_option() -> None:
    text = "{{ firstName | there }} {Hi {{company}}|Hello {{industry|your field}}} {{sender.name}}"
    assert variables_in(text) == [
        Variable("firstName", "there"),
        Variable("company", None),
        Variable("industry", "your field"),
        Variable("sender.name", None),
    ]


def test_names_tolerate_html_entities_from_rich_text_editors() -> None:
    assert variables_in("{{&nbsp;firstName&nbsp;}}") == [Variable("firstName", None)]
    assert render("<p>{{&nbsp;firstName }}</p>", ctx(), html=True) == "<p>Jeanne</p>"


# --- undefined ---------------------------------------------------------------------------------


def test_undefined_variables_are_unknown_names_and_empty_values_without_fallback() -> None:
    text = (
        "{{firstName}} {{title}} {{phone|}} {{industry}} {{teamSize}} {{favouriteColour}} "
        "{{favouriteColour}} {{first name}} {{}}"
    )
    assert undefined_variables(text, ctx()) == [
        "title",  # a contact field, empty for this contact
        "teamSize",  # a custom key present but empty
        "favouriteColour",  # no such field (reported once)
        "first name",
        "{{}}",
    ]


def test_a_fallback_makes_any_name_defined() -> None:
    assert undefined_variables("{{favouriteColour|blue}} {{title|}}", ctx()) == []
    assert render("{{favouriteColour|blue}}", ctx()) == "blue"


def test_undefined_in_any_spintax_option_counts() -> None:
    # Whether a campaign launches must not depend on the option a contact happens to get.
    assert undefined_variables("{Hi|Hello {{title}}}", ctx()) == ["title"]


def test_render_refuses_undefined_variables() -> None:
    with pytest.raises(UndefinedVariable) as caught:
        render("Hi {{title}} at {{industryy}}", ctx())
    assert caught.value.names == ("title", "industryy")
    assert "industryy" in str(caught.value)


def test_known_variable_names_for_the_editor_menu() -> None:
    names = known_variable_names()
    assert names[:2] == ["firstName", "lastName"]
    for name in ("company", "title", "linkedinUrl", "sender.name", "sender.signature"):
        assert name in names
    assert undefined_variables(" ".join(f"{{{{{n}}}}}" for n in names), ctx()) == [
        "title",
        "phone",
        "linkedinUrl",
    ]


# --- HTML --------------------------------------------------------------------------------------


def test_html_mode_escapes_values_and_keeps_the_template_markup() -> None:
    hostile = ctx(contact={"firstName": '<script>alert("x")</script>'})
    out = render(
        '<p style="color:red">Hi <b>{{firstName}}</b>, {{company}}</p>', hostile, html=True
    )
    assert out == (
        '<p style="color:red">Hi <b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</b>, '
        "Acme &amp; &lt;Fils&gt;</p>"
    )


def test_html_mode_keeps_line_breaks_of_values() -> None:
    assert render("{{sender.signature}}", ctx(), html=True) == "Marc Lefèvre<br>\nFondateur"


def test_text_mode_leaves_values_alone() -> None:
    assert render("{{company}}", ctx()) == "Acme & <Fils>"


def test_fallback_is_template_text_in_html_mode() -> None:
    empty = ctx(contact={"firstName": ""})
    assert render("{{firstName|<i>ami</i>}}", empty, html=True) == "<i>ami</i>"


# --- spintax -----------------------------------------------------------------------------------


def test_spintax_is_deterministic_for_a_seed() -> None:
    text = "{Hi|Hello|Hey} {{firstName}}, {quick|short} {question|note}"
    first = render(text, ctx("enrollment-42:step-7"))
    assert all(render(text, ctx("enrollment-42:step-7")) == first for _ in range(20))


def test_spintax_choice_is_sha256_of_seed_and_group_index() -> None:
    # Pinned: changing the algorithm would change emails already previewed to users.
    seed = "enrollment-42:step-7"
    expected = []
    for index, options in enumerate((["a", "b", "c"], ["x", "y"])):
        digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
        expected.append(options[int.from_bytes(digest[:8], "big") % len(options)])
    assert render("{a|b|c}-{x|y}", ctx(seed)) == "-".join(expected)


def test_spintax_does_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "from campaigns.templating import RenderContext, render;"
        "print(''.join(render('{a|b|c|d|e|f|g|h}', RenderContext({}, {}, {}, f's{i}'))"
        " for i in range(40)))"
    )
    root = Path(__file__).resolve().parent.parent
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in (1, 2, 3)
    }
    assert len(outputs) == 1


def test_spintax_distribution_covers_every_option() -> None:
    counts = Counter(render("{a|b|c|d}", ctx(f"enrollment-{i}:step-1")) for i in range(800))
    assert set(counts) == {"a", "b", "c", "d"}
    assert min(counts.values()) > 800 / 4 * 0.75  # roughly uniform, not merely present


def test_groups_in_one_text_are_chosen_independently() -> None:
    outputs = {render("{a|b}{a|b}", ctx(f"seed-{i}")) for i in range(100)}
    assert outputs == {"aa", "ab", "ba", "bb"}


def test_nested_spintax() -> None:
    text = "{Hi|Hello {there|friend}}!"
    outputs = {render(text, ctx(f"seed-{i}")) for i in range(300)}
    assert outputs == {"Hi!", "Hello there!", "Hello friend!"}


def test_variables_inside_spintax_options() -> None:
    empty = ctx(contact={"firstName": ""})
    outputs = {
        render("{Hi {{firstName|there}}|Hello {{company}}}", ctx(f"seed-{i}")) for i in range(100)
    }
    assert outputs == {"Hi Jeanne", "Hello Acme & <Fils>"}
    assert render("{{{firstName|there}}|{{firstName|there}}}", empty) == "there"


def test_double_braces_are_variables_not_spintax() -> None:
    assert render("{{firstName}}", ctx()) == "Jeanne"
    assert render("{{{firstName}}|x}", ctx("s")) in {"Jeanne", "x"}
    assert variables_in("{{a|b}}") == [Variable("a", "b")]  # not a choice between "{a" and "b}"


def test_substituted_values_are_never_spun() -> None:
    assert render("{{company}}", ctx(contact={"company": "A{b|c}"})) == "A{b|c}"


def test_braces_without_options_and_unbalanced_braces_stay_literal() -> None:
    css = "<style>p{color:red} a{margin:0}</style>"
    assert render(css, ctx(), html=True) == css
    assert render("{ x", ctx()) == "{ x"
    assert render("x }", ctx()) == "x }"
    assert render("{a|b", ctx()) == "{a|b"
    assert render("this | that", ctx()) == "this | that"
    assert render("{{firstName}", ctx()) == "{{firstName}"


def test_pathological_nesting_does_not_crash() -> None:
    deep = "{" * 3000 + "a|b" + "}" * 3000
    assert render(deep, ctx()).strip("{}") in {"a", "b"}
    assert render("{ " * 20000, ctx()) == "{ " * 20000
