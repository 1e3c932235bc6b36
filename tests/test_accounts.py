"""bot/accounts.py: roles in order, names, password rules, argon2id hashes."""

from __future__ import annotations

import argon2
import pytest

from bot.accounts import Role, User, check_name, check_password, hash_password, needs_rehash, verify_password


def test_each_role_may_do_what_the_roles_before_it_may() -> None:
    assert [role.value for role in sorted(Role, key=lambda r: r.rank)] == ["viewer", "editor", "approver", "admin"]
    editor = User(name="anna", role=Role.EDITOR)
    assert editor.can(Role.VIEWER) and editor.can(Role.EDITOR)
    assert not editor.can(Role.APPROVER) and not editor.can(Role.ADMIN)
    assert User(name="root", role=Role.ADMIN).can(Role.APPROVER)
    assert not User(name="v", role=Role.VIEWER).can(Role.EDITOR)


def test_names_are_normalised_or_refused_with_the_rule() -> None:
    assert check_name("  Anna.K ") == "anna.k"
    for bad in ("", "-anna", "anna smith", "a" * 65, "анна"):
        with pytest.raises(ValueError, match="use 1-64 of a-z"):
            check_name(bad)


def test_password_rules() -> None:
    assert check_password("ten chars!") == "ten chars!"
    with pytest.raises(ValueError, match="at least 10"):
        check_password("short")
    with pytest.raises(ValueError, match="spaces"):
        check_password(" padded password ")


def test_hashes_are_argon2id_salted_and_verified() -> None:
    first, second = hash_password("the password"), hash_password("the password")
    assert first.startswith("$argon2id$") and first != second and "the password" not in first
    assert verify_password(first, "the password") and verify_password(second, "the password")
    assert not verify_password(first, "the passworD")
    assert not verify_password(None, "the password")  # no such user: same work, and no
    assert not verify_password("not a hash", "the password")
    assert not needs_rehash(first)


def test_the_bot_hashes_with_rfc_9106s_parameters() -> None:
    """The tests hash at argon2's cheapest profile (tests/conftest.py); the bot itself at RFC 9106's low-memory one."""
    import subprocess
    import sys

    probe = "import argon2, bot.accounts as a; print(a._hasher.time_cost, a._hasher.memory_cost, a._hasher.parallelism)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    low_memory = argon2.profiles.RFC_9106_LOW_MEMORY
    assert done.stdout.split() == [str(low_memory.time_cost), str(low_memory.memory_cost), str(low_memory.parallelism)]
    assert hash_password("the password").startswith("$argon2id$v=19$m=8,t=1,p=1$")  # here: the cheapest
