"""Redaction: known secret values and URL credentials masked in text; credentials stripped from stored text;
partial lines split so that no secret is ever sent in two unmasked halves."""
from __future__ import annotations

import random

from trackside.agent.execute.log_stream import LineSplitter
from trackside.agent.redact import MASK, Redactor, looks_like_secret_value, strip_text_url_credentials

TOKEN = "ghp_abcdefghij0123456789"


def test_known_values_and_url_passwords_are_masked_users_alone_are_kept():
    redact = Redactor([TOKEN, "abc", ""])          # too short to mask safely: ignored
    assert redact(f"token={TOKEN}!") == f"token={MASK}!"
    assert redact("abc stays") == "abc stays"
    assert redact("git clone https://bot:pa55word@host/r.git") == f"git clone https://{MASK}@host/r.git"
    assert redact("ssh://git@host/r.git and git@host:r.git") == "ssh://git@host/r.git and git@host:r.git"
    redact.add(TOKEN + "-longer")
    assert redact(f"x {TOKEN}-longer y") == f"x {MASK} y"   # the longer secret is masked whole


def test_secret_named_variables_are_learned_but_not_booleans_or_small_numbers():
    redact = Redactor()
    redact.add_environment({"HF_TOKEN": TOKEN, "USE_TOKEN": "true", "TOKEN_TTL": "3600", "PASSWORD": None,
                            "HOME": "/root/secret-named-value", "DB_PASSWORD": "s3cr3t-pw"})
    assert redact(f"{TOKEN} s3cr3t-pw true 3600 /root/secret-named-value") == \
        f"{MASK} {MASK} true 3600 /root/secret-named-value"
    assert not looks_like_secret_value("off") and looks_like_secret_value("123456789")


def test_stored_text_loses_url_credentials():
    text = (f"pkg @ git+https://bot:{TOKEN}@github.com/o/r.git@v1\n"
            f"--extra-index-url https://{TOKEN}@pypi.example.com/simple\n"
            "other @ git+ssh://git:pw@host/r.git\nplain==1.0")
    assert strip_text_url_credentials(text) == (
        "pkg @ git+https://github.com/o/r.git@v1\n--extra-index-url https://pypi.example.com/simple\n"
        "other @ git+ssh://git@host/r.git\nplain==1.0")


def test_split_safe_holds_back_only_what_may_be_a_secret():
    redact = Redactor([TOKEN])
    assert redact.split_safe("progress 50% ") == ("progress 50% ", "")
    assert redact.split_safe(f"key {TOKEN[:5]}") == ("key ", TOKEN[:5])
    assert redact.split_safe(f"a {TOKEN} b") == (f"a {TOKEN} b", "")
    assert redact.split_safe("see https://bot:pa") == ("see ", "https://bot:pa")


def test_no_secret_leaks_however_the_output_is_cut():
    """The task's output arrives in arbitrary chunks with pauses (partial flushes) between them: every line
    shown, masked, never contains a secret or a piece of one long enough to rebuild it."""
    secrets = [TOKEN, "pw-" + "x" * 12, "s3cr3t/with:chars"]
    redact = Redactor(secrets)
    text = "".join(f"line {i} {random.Random(i).choice(secrets)} url https://u:{secrets[1]}@h/p tail\n"
                   for i in range(40)).encode()
    rng = random.Random(7)
    for _ in range(30):
        splitter = LineSplitter(redact.split_safe, max_line=64)
        shown, at = [], 0
        while at < len(text):
            step = rng.randint(1, 25)
            shown += splitter.feed(text[at:at + step])
            at += step
            if rng.random() < 0.5:
                shown += splitter.flush_partial()
        shown += splitter.finish()
        masked = [redact(line) for line in shown]
        for secret in secrets:
            assert not any(secret in line for line in masked)
            assert not any(secret[:8] in line or secret[-8:] in line for line in masked), masked
