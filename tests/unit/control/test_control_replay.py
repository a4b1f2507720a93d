"""Replay guard: a nonce is accepted once per stream entry while it can pass the time window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.control import LayeredNonceStore, MemoryNonceStore, NonceVerdict

S = 1_000_000_000


def test_fresh_replay_redelivery_and_expiry() -> None:
    store = MemoryNonceStore()
    assert store.claim("n1", "1-0", expires_ns=10 * S, now_ns=0) is NonceVerdict.FRESH
    assert store.claim("n1", "2-0", expires_ns=10 * S, now_ns=1 * S) is NonceVerdict.REPLAY
    assert store.claim("n1", "1-0", expires_ns=10 * S, now_ns=1 * S) is NonceVerdict.REDELIVERY
    # An empty entry id (no stream) is never a redelivery.
    assert store.claim("n1", "", expires_ns=10 * S, now_ns=1 * S) is NonceVerdict.REPLAY
    # After expiry the nonce is forgotten (the time window refuses such a command anyway).
    assert store.claim("n1", "3-0", expires_ns=30 * S, now_ns=10 * S) is NonceVerdict.FRESH
    assert len(store) == 1


def test_full_store_fails_closed_until_nonces_expire() -> None:
    store = MemoryNonceStore(capacity=2)
    assert store.claim("a" * 16, "1", 5 * S, 0) is NonceVerdict.FRESH
    assert store.claim("b" * 16, "2", 6 * S, 0) is NonceVerdict.FRESH
    assert store.claim("c" * 16, "3", 7 * S, 0) is NonceVerdict.FULL
    assert store.claim("c" * 16, "3", 7 * S, 5 * S) is NonceVerdict.FRESH  # "a" expired


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 5), st.integers(1, 50)),
        max_size=60,
    )
)
def test_no_nonce_is_accepted_twice_from_different_entries_while_live(
    claims: list[tuple[str, int, int]],
) -> None:
    store = MemoryNonceStore(capacity=1000)
    live: dict[str, tuple[str, int]] = {}
    for now, (nonce, entry, lifetime) in enumerate(claims, start=1):
        verdict = store.claim(nonce, str(entry), now + lifetime, now)
        previous = live.get(nonce)
        if previous is not None and previous[1] > now:
            expected = NonceVerdict.REDELIVERY if previous[0] == str(entry) else NonceVerdict.REPLAY
            assert verdict is expected
        else:
            assert verdict is NonceVerdict.FRESH
            live[nonce] = (str(entry), now + lifetime)


def test_layered_store_first_refusal_wins() -> None:
    first, second = MemoryNonceStore(), MemoryNonceStore()
    layered = LayeredNonceStore(first, second)
    second.claim("x" * 16, "9-0", 10 * S, 0)  # e.g. Redis remembers it from before a restart
    assert layered.claim("x" * 16, "1-0", 10 * S, 0) is NonceVerdict.REPLAY
    assert layered.claim("y" * 16, "2-0", 10 * S, 0) is NonceVerdict.FRESH
    assert layered.claim("y" * 16, "2-0", 10 * S, 0) is NonceVerdict.REDELIVERY
