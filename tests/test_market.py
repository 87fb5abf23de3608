"""Behaviour of the market's pure functions in model/market.py."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from model.market import (
    accumulate_capability,
    adjust_shares,
    calibrate_brand,
    capped_target,
    contracted_shares,
    entrant_brand,
    hhi,
    margin_uplift,
    merger_delta_hhi,
    merger_presumed_harmful,
    new_capability,
    place_contracts,
    planned_spend,
    pull,
    ration,
    scaled_budget,
    segment_growth,
    shocked_target,
    share_flow,
    share_target,
    steady_capability,
    wage_index,
)

# Deterministic, fast, and no example database written into the project.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)

# 2023 US Merger Guidelines thresholds.
HHI_2023, DELTA_2023, SHARE_2023 = 1800.0, 100.0, 0.30


def harmful_2023(pre, a, b, strictness=1.0):
    return merger_presumed_harmful(pre, a, b, HHI_2023, DELTA_2023, SHARE_2023, strictness)


# ------------------------------------------------------------------ strategies

def _normalise(weights: list[float], total: float) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum() * total


@st.composite
def share_vectors(draw, min_size=1, max_size=12, total=None, positive=False):
    """Shares of one segment: non-negative, summing to `total` (drawn in (0, 1] if not given)."""
    lo = 0.01 if positive else 0.0
    weights = draw(st.lists(st.floats(lo, 1.0), min_size=min_size, max_size=max_size))
    assume(sum(weights) > 1e-3)
    tot = draw(st.floats(0.05, 1.0)) if total is None else total
    return _normalise(weights, tot)


def floats_like(n, lo, hi):
    return st.lists(st.floats(lo, hi), min_size=n, max_size=n).map(lambda v: np.asarray(v, dtype=float))


@st.composite
def market_state(draw, min_size=2, max_size=10):
    """Shares, capabilities, differentiation and pull parameters of one segment."""
    share = draw(share_vectors(min_size=min_size, max_size=max_size, positive=True))
    n = share.size
    return dict(
        share=share,
        capability=draw(floats_like(n, 0.1, 100.0)),
        differentiation=draw(floats_like(n, 0.0, 0.9)),
        capability_elasticity=draw(st.floats(0.0, 3.0)),
        installed_base_elasticity=draw(st.floats(0.0, 1.0)),
        installed_base_floor=draw(st.floats(1e-4, 0.1)),
        differentiation_bonus=draw(st.floats(0.0, 2.0)),
    )


def pull_of(state, brand, share=None, capability=None, differentiation=None):
    return pull(
        brand,
        state["share"] if share is None else share,
        state["capability"] if capability is None else capability,
        state["differentiation"] if differentiation is None else differentiation,
        state["capability_elasticity"],
        state["installed_base_elasticity"],
        state["installed_base_floor"],
        state["differentiation_bonus"],
    )


# ------------------------------------------------------------------ HHI and mergers

def test_hhi_of_monopoly_is_10000():
    """One firm with the whole market has HHI 10,000, also when other firms hold nothing."""
    assert hhi(np.array([1.0])) == pytest.approx(10_000.0)
    assert hhi(np.array([0.0, 1.0, 0.0])) == pytest.approx(10_000.0)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 50, 1000])
def test_hhi_of_n_equal_firms_is_10000_over_n(n):
    """n firms with equal shares have HHI 10,000 / n."""
    assert hhi(np.full(n, 1.0 / n)) == pytest.approx(10_000.0 / n)


def test_hhi_concrete_value():
    """Shares 50/30/20 % give 2500 + 900 + 400 = 3800 points."""
    assert hhi(np.array([0.5, 0.3, 0.2])) == pytest.approx(3800.0)


@SETTINGS
@given(share_vectors(total=1.0))
def test_hhi_is_between_equal_split_and_monopoly(shares):
    """For shares summing to 1 over n firms, 10,000/n <= HHI <= 10,000."""
    value = hhi(shares)
    assert 10_000.0 / shares.size * (1 - 1e-9) <= value <= 10_000.0 * (1 + 1e-9)


def test_merger_delta_concrete():
    """Merging 20 % and 10 % firms raises HHI by 2 x 20 x 10 = 400 points."""
    assert merger_delta_hhi(0.2, 0.1) == pytest.approx(400.0)
    assert merger_delta_hhi(0.3, 0.0) == 0.0


@SETTINGS
@given(share_vectors(min_size=2), st.data())
def test_merger_delta_equals_direct_hhi_difference(shares, data):
    """merger_delta_hhi(a, b) equals HHI after merging the two firms minus HHI before."""
    i = data.draw(st.integers(0, shares.size - 1))
    j = data.draw(st.integers(0, shares.size - 1).filter(lambda k: k != i))
    merged = np.delete(shares, j)
    merged[i if i < j else i - 1] = shares[i] + shares[j]
    direct = hhi(merged) - hhi(shares)
    assert merger_delta_hhi(shares[i], shares[j]) == pytest.approx(direct, abs=1e-6)


def test_merger_concentrated_market_is_presumed_harmful():
    """Post-merger HHI above 1800 with an increase above 100 is presumed harmful."""
    # 20 % + 10 %: delta 400, pre 1500 -> post 1900; merged share 30 % is not above 30 %.
    assert harmful_2023(1500.0, 0.2, 0.1 - 1e-9)


def test_merger_dominant_share_is_presumed_harmful_even_if_unconcentrated():
    """A merged share above 30 % with an increase above 100 is harmful even when post HHI < 1800."""
    # 25 % + 10 %: delta 500, pre 1000 -> post 1500 < 1800, merged 35 % > 30 %.
    assert harmful_2023(1000.0, 0.25, 0.10)


def test_merger_small_increase_is_never_presumed_harmful():
    """An HHI increase of at most 100 clears a deal however concentrated the market."""
    # 50 % + 0.5 %: delta 50, post 5050, merged 50.5 %.
    assert not harmful_2023(5000.0, 0.5, 0.005)


def test_merger_unconcentrated_small_deal_is_allowed():
    """Post HHI below 1800 and merged share below 30 % is not presumed harmful."""
    assert not harmful_2023(500.0, 0.1, 0.1)


def test_merger_boundary_delta_exactly_100_is_allowed():
    """The increase must exceed 100: exactly 100 is not enough."""
    assert merger_delta_hhi(0.5, 0.01) == 100.0
    assert not harmful_2023(5000.0, 0.5, 0.01)
    assert harmful_2023(5000.0, 0.5, 0.0101)


def test_merger_boundary_post_hhi_exactly_1800_is_allowed():
    """Post-merger HHI must exceed 1800: exactly 1800 (with merged share < 30 %) is not enough."""
    assert merger_delta_hhi(0.25, 0.04) == 200.0
    assert not harmful_2023(1600.0, 0.25, 0.04)
    assert harmful_2023(1601.0, 0.25, 0.04)


def test_merger_boundary_merged_share_exactly_30_percent_is_allowed():
    """The merged share must exceed 30 %: exactly 30 % in an unconcentrated market is not enough."""
    assert 0.25 + 0.05 == 0.3
    assert not harmful_2023(1000.0, 0.25, 0.05)
    assert harmful_2023(1000.0, 0.25, 0.0500001)


@SETTINGS
@given(st.floats(0.01, 0.6), st.floats(0.01, 0.4), st.floats(0.0, 5000.0))
def test_merger_thresholds_are_strict_inequalities(a, b, pre):
    """Each threshold set exactly at the deal's value clears it; one ulp lower blocks it."""
    delta = merger_delta_hhi(a, b)
    big = 1e9
    # Only the delta test can fail: set exactly at the deal's delta.
    assert not merger_presumed_harmful(pre, a, b, 0.0, delta, 0.0)
    assert merger_presumed_harmful(pre, a, b, 0.0, np.nextafter(delta, 0.0), 0.0)
    # Delta passes; HHI threshold exactly at post HHI, share threshold out of reach.
    assert not merger_presumed_harmful(pre, a, b, pre + delta, 0.0, big)
    assert merger_presumed_harmful(pre, a, b, np.nextafter(pre + delta, 0.0), 0.0, big)
    # Delta passes; share threshold exactly at the merged share, HHI threshold out of reach.
    assert not merger_presumed_harmful(pre, a, b, big, 0.0, a + b)
    assert merger_presumed_harmful(pre, a, b, big, 0.0, np.nextafter(a + b, 0.0))


@SETTINGS
@given(share_vectors(min_size=2, total=1.0), st.data())
def test_merger_presumption_matches_guidelines_on_direct_hhi(shares, data):
    """The presumption agrees with the 2023 rule computed from HHIs before and after the merger."""
    i = data.draw(st.integers(0, shares.size - 1))
    j = data.draw(st.integers(0, shares.size - 1).filter(lambda k: k != i))
    merged = np.delete(shares, j)
    merged[i if i < j else i - 1] = shares[i] + shares[j]
    pre, post = hhi(shares), hhi(merged)
    delta = post - pre
    a_b = shares[i] + shares[j]
    # Stay clear of the thresholds, where the two roundings could disagree.
    assume(abs(delta - DELTA_2023) > 1e-6 and abs(post - HHI_2023) > 1e-6 and abs(a_b - SHARE_2023) > 1e-9)
    expected = delta > DELTA_2023 and (post > HHI_2023 or a_b > SHARE_2023)
    assert harmful_2023(pre, shares[i], shares[j]) == expected


def test_merger_strictness_blocks_a_deal_that_passes_at_1():
    """strictness 2 halves the thresholds: a deal cleared at 1 is blocked at 2; default is 1."""
    pre, a, b = 1000.0, 0.15, 0.1   # delta 300, post 1300, merged 25 %
    assert not harmful_2023(pre, a, b)
    assert harmful_2023(pre, a, b) == merger_presumed_harmful(pre, a, b, HHI_2023, DELTA_2023, SHARE_2023)
    assert harmful_2023(pre, a, b, strictness=2.0)
    # Lax review (strictness < 1) clears a deal blocked at 1.
    assert harmful_2023(1500.0, 0.2, 0.1 - 1e-9)
    assert not harmful_2023(1500.0, 0.2, 0.1 - 1e-9, strictness=0.5)


@SETTINGS
@given(
    st.floats(0.0, 0.7), st.floats(0.0, 0.3), st.floats(0.0, 6000.0),
    st.floats(0.05, 10.0), st.floats(0.05, 10.0),
)
def test_merger_strictness_is_monotone(a, b, pre, s1, s2):
    """A stricter regulator blocks every deal a laxer one blocks."""
    lo, hi = min(s1, s2), max(s1, s2)
    if harmful_2023(pre, a, b, strictness=lo):
        assert harmful_2023(pre, a, b, strictness=hi)


# ------------------------------------------------------------------ pull and share targets

def test_pull_concrete_value():
    """pull = brand x (share + floor)^theta x capability^gamma x (1 + bonus x differentiation)."""
    value = pull(np.array([2.0]), np.array([0.25]), np.array([9.0]), np.array([0.5]), 0.5, 0.5, 0.0, 1.0)
    assert value[0] == pytest.approx(2.0 * 0.5 * 3.0 * 1.5)


@SETTINGS
@given(market_state(), st.floats(1.01, 10.0))
def test_pull_rises_with_capability_brand_base_and_differentiation(state, factor):
    """Raising capability, brand, installed base or differentiation never lowers pull."""
    brand = np.ones_like(state["share"])
    base = pull_of(state, brand)
    assert np.all(pull_of(state, brand, capability=state["capability"] * factor) >= base * (1 - 1e-12))
    assert np.all(pull_of(state, brand * factor) >= base)
    assert np.all(pull_of(state, brand, share=state["share"] * factor) >= base * (1 - 1e-12))
    assert np.all(pull_of(state, brand, differentiation=np.minimum(state["differentiation"] + 0.1, 1.0))
                  >= base * (1 - 1e-12))


def test_pull_is_zero_for_negative_capability_with_positive_elasticity():
    """Negative capability is treated as none: no pull, no NaN."""
    out = pull(np.ones(2), np.array([0.3, 0.3]), np.array([-5.0, 4.0]), np.zeros(2), 1.0, 0.5, 0.01, 0.0)
    assert out[0] == 0.0 and out[1] > 0.0
    assert np.all(np.isfinite(out))


@SETTINGS
@given(market_state(), st.floats(0.1, 10.0, allow_subnormal=False))
def test_share_target_preserves_total_and_bounds(state, brand_scale):
    """Targets sum to the same total as the shares and each lies in [0, total]."""
    share = state["share"]
    attraction = pull_of(state, np.full(share.size, brand_scale))
    target = share_target(share, state["differentiation"], attraction)
    total = share.sum()
    assert target.sum() == pytest.approx(total, rel=1e-9)
    assert np.all(target >= 0.0)
    assert np.all(target <= total * (1 + 1e-12))


@SETTINGS
@given(market_state(), st.floats(1.05, 10.0))
def test_share_target_rises_with_own_capability(state, factor):
    """A firm whose capability rises gets a larger target (gamma > 0), its rivals smaller ones."""
    assume(state["capability_elasticity"] > 0.1)
    assume(np.all(state["differentiation"] < 0.9))
    brand = np.ones_like(state["share"])
    before = share_target(state["share"], state["differentiation"], pull_of(state, brand))
    capability = state["capability"].copy()
    capability[0] *= factor
    after = share_target(state["share"], state["differentiation"], pull_of(state, brand, capability=capability))
    assert after[0] > before[0]
    assert np.all(after[1:] <= before[1:] * (1 + 1e-12))


@SETTINGS
@given(share_vectors(min_size=2, positive=True), st.data(), st.floats(0.0, 1.0))
def test_capped_target_holds_the_group_to_its_ceiling_and_keeps_the_total(target, data, ceiling):
    """The capped firms together get at most the ceiling (or keep what they had below it), the
    others take the rest in proportion to their own targets, and the total is unchanged."""
    capped = np.asarray(data.draw(st.lists(st.booleans(), min_size=target.size, max_size=target.size)))
    assume(capped.any() and not capped.all())
    out = capped_target(target, capped, ceiling)
    assert out.sum() == pytest.approx(target.sum(), rel=1e-12)
    assert out[capped].sum() == pytest.approx(min(target[capped].sum(), ceiling), abs=1e-12)
    others = ~capped
    ratio = out[others] / target[others]
    assert np.allclose(ratio, ratio[0]) and ratio[0] >= 1.0 - 1e-12


def test_capped_target_concrete():
    target = np.array([0.5, 0.3, 0.2])
    out = capped_target(target, np.array([False, True, True]), 0.25)
    assert out == pytest.approx([0.75, 0.15, 0.10])
    assert capped_target(target, np.array([False, True, True]), 0.6) is target


def test_share_target_more_capable_of_two_identical_firms_gets_more():
    """Two firms alike but for capability: the more capable one gets the larger target."""
    share = np.array([0.5, 0.5])
    diff = np.array([0.1, 0.1])
    attraction = pull(np.ones(2), share, np.array([1.0, 3.0]), diff, 1.0, 0.5, 0.002, 0.5)
    target = share_target(share, diff, attraction)
    assert target[1] > 0.5 > target[0]


def test_share_target_differentiation_protects_against_stronger_rival():
    """A niche firm keeps at least its locked-in customers, and keeps more than if undifferentiated."""
    share = np.array([0.5, 0.5])
    capability = np.array([1.0, 20.0])   # firm 1 is far stronger
    args = (1.0, 0.5, 0.002, 0.0)         # no pull bonus: lock-in alone protects
    plain = np.array([0.0, 0.0])
    niche = np.array([0.6, 0.0])
    t_plain = share_target(share, plain, pull(np.ones(2), share, capability, plain, *args))
    t_niche = share_target(share, niche, pull(np.ones(2), share, capability, niche, *args))
    assert t_plain[0] < 0.1
    assert t_niche[0] >= 0.6 * 0.5
    assert t_niche[0] > t_plain[0]


@SETTINGS
@given(market_state())
def test_share_target_never_below_locked_customers(state):
    """Each firm's target is at least differentiation x share (its niche customers stay)."""
    share, diff = state["share"], state["differentiation"]
    target = share_target(share, diff, pull_of(state, np.ones_like(share)))
    assert np.all(target >= diff * share * (1 - 1e-12))


def test_share_target_without_any_pull_keeps_shares():
    """With zero total pull the target is the current shares (a copy, not the same array)."""
    share = np.array([0.2, 0.3])
    target = share_target(share, np.array([0.1, 0.1]), np.zeros(2))
    np.testing.assert_array_equal(target, share)
    assert target is not share


# ------------------------------------------------------------------ adjustment

@SETTINGS
@given(share_vectors(min_size=2, total=1.0), st.data())
def test_adjust_shares_is_convex_combination(share, data):
    """New shares lie between old and target, and keep the common total."""
    target = data.draw(share_vectors(min_size=share.size, max_size=share.size, total=1.0))
    speed = data.draw(st.floats(0.0, 1.0))
    out = adjust_shares(share, target, speed)
    lo, hi = np.minimum(share, target), np.maximum(share, target)
    assert np.all(out >= lo - 1e-12) and np.all(out <= hi + 1e-12)
    assert out.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(out, share + speed * (target - share), atol=1e-12)


def test_adjust_shares_speed_one_reaches_target_and_tiny_speed_barely_moves():
    """Speed 1 gives the target; speed 1e-9 leaves the shares (almost) where they are."""
    share = np.array([0.6, 0.3, 0.1])
    target = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(adjust_shares(share, target, 1.0), target)
    np.testing.assert_allclose(adjust_shares(share, target, 1e-9), share, atol=1e-8)
    np.testing.assert_allclose(adjust_shares(share, target, 0.25), [0.5, 0.3, 0.2])


# ------------------------------------------------------------------ calibration

@SETTINGS
@given(market_state())
def test_calibrate_brand_makes_start_a_fixed_point(state):
    """With calibrated brands, share_target(pull(...)) returns the starting shares."""
    share, diff = state["share"], state["differentiation"]
    brand = calibrate_brand(
        share, state["capability"], diff, state["capability_elasticity"], state["installed_base_elasticity"],
        state["installed_base_floor"], state["differentiation_bonus"],
    )
    assert np.all(brand >= 0.0) and np.all(np.isfinite(brand))
    target = share_target(share, diff, pull_of(state, brand))
    np.testing.assert_allclose(target, share, rtol=1e-9, atol=1e-12)


def test_calibrate_brand_fixed_point_baseline_like():
    """A cloud-like segment with a fringe remainder (shares sum < 1) stays put after adjustment."""
    share = np.array([0.31, 0.24, 0.11, 0.045])
    capability = np.array([15.0, 15.0, 12.0, 1.2]) ** 0.7 / 0.25
    diff = np.array([0.1, 0.1, 0.1, 0.2])
    params = (1.0, 0.5, 0.002, 0.5)
    brand = calibrate_brand(share, capability, diff, *params)
    target = share_target(share, diff, pull(brand, share, capability, diff, *params))
    np.testing.assert_allclose(adjust_shares(share, target, 0.25), share, rtol=1e-12)


def test_calibrate_brand_zero_capability_gives_zero_brand_without_warning():
    """A firm with no capability (so no basis pull) gets brand 0, not inf/NaN."""
    share = np.array([0.5, 0.5])
    with np.errstate(all="raise"):
        brand = calibrate_brand(share, np.array([0.0, 2.0]), np.zeros(2), 1.0, 0.5, 0.01, 0.0)
    assert brand[0] == 0.0 and brand[1] > 0.0


@SETTINGS
@given(
    st.floats(0.01, 100.0), st.floats(1e-5, 0.5),
    st.lists(st.floats(0.01, 50.0), min_size=1, max_size=5), st.data(),
)
def test_entrant_brand_yields_requested_pull_share(total_pull, entry_share, caps, data):
    """Each entrant alone wins `entry_share` of the pull: its pull / (total + its pull) = entry_share."""
    capability = np.asarray(caps)
    diff = data.draw(floats_like(capability.size, 0.0, 0.9))
    gamma, theta = data.draw(st.floats(0.0, 2.0)), data.draw(st.floats(0.0, 1.0))
    floor, bonus = data.draw(st.floats(1e-4, 0.1)), data.draw(st.floats(0.0, 2.0))
    brand = entrant_brand(total_pull, entry_share, capability, diff, gamma, theta, floor, bonus)
    own = pull(brand, np.zeros_like(capability), capability, diff, gamma, theta, floor, bonus)
    np.testing.assert_allclose(own / (total_pull + own), entry_share, rtol=1e-9)


def test_entrant_brand_zero_entry_share_gives_zero_brand():
    """An entry share of 0 means no pull on entry."""
    brand = entrant_brand(5.0, 0.0, np.array([1.0, 2.0]), np.zeros(2), 1.0, 0.5, 0.002, 0.5)
    np.testing.assert_array_equal(brand, [0.0, 0.0])


def test_entrant_brand_more_capable_entrant_needs_less_brand():
    """Same target pull: the entrant with more capability needs a smaller brand constant."""
    brand = entrant_brand(5.0, 0.01, np.array([1.0, 4.0]), np.zeros(2), 1.0, 0.5, 0.002, 0.5)
    assert brand[0] > brand[1] > 0.0


# ------------------------------------------------------------------ share flows

def _flow_sums(n, src, dst, amount):
    out_of = np.bincount(src, weights=amount, minlength=n)
    into = np.bincount(dst, weights=amount, minlength=n)
    return out_of, into


@st.composite
def before_after(draw, max_size=15):
    before = draw(share_vectors(min_size=2, max_size=max_size, total=1.0))
    after = draw(share_vectors(min_size=before.size, max_size=before.size, total=1.0))
    return before, after


@SETTINGS
@given(before_after())
@example((np.array([0.0, 0.0, 5e-324, 1.0]), np.array([0.0, 0.5, 0.0, 0.5])))  # a flow that underflows to 0
def test_share_flow_conserves_losses_and_gains(ba):
    """Without min_flow: each loser's outflows sum to its loss, each gainer's inflows to its gain."""
    before, after = ba
    src, dst, amount = share_flow(before, after, 0.0)
    delta = after - before
    n = before.size
    out_of, into = _flow_sums(n, src, dst, amount)
    losses = np.where(delta < 0, -delta, 0.0)
    gains = np.where(delta > 0, delta, 0.0)
    np.testing.assert_allclose(out_of, losses, atol=1e-12)
    np.testing.assert_allclose(into, gains, atol=1e-12)
    assert np.all(amount > 0.0)


@SETTINGS
@given(before_after())
def test_share_flow_goes_only_from_losers_to_gainers(ba):
    """No flow leaves a gainer or enters a loser, and no firm flows to itself."""
    before, after = ba
    src, dst, _ = share_flow(before, after, 0.0)
    delta = after - before
    assert np.all(delta[src] < 0.0)
    assert np.all(delta[dst] > 0.0)
    assert np.all(src != dst)
    assert src.dtype.kind == "i" and dst.dtype.kind == "i"


@SETTINGS
@given(before_after(), st.floats(1e-4, 0.2))
def test_share_flow_min_flow_drops_exactly_the_small_flows(ba, min_flow):
    """min_flow keeps every flow >= min_flow of the full set, unchanged, and nothing smaller."""
    before, after = ba
    full = share_flow(before, after, 0.0)
    kept = share_flow(before, after, min_flow)
    assert np.all(kept[2] >= min_flow)
    expected = {(s, d): a for s, d, a in zip(*full) if a >= min_flow}
    got = {(s, d): a for s, d, a in zip(*kept)}
    assert len(got) == kept[0].size
    assert got.keys() == expected.keys()
    for key, value in got.items():
        assert value == pytest.approx(expected[key], rel=1e-12)


def test_share_flow_concrete_split_in_proportion_to_gains():
    """A loser's 30 points go 2:1 to the two gainers."""
    before = np.array([0.6, 0.2, 0.2])
    after = np.array([0.3, 0.4, 0.3])
    src, dst, amount = share_flow(before, after)
    flows = {(int(s), int(d)): float(a) for s, d, a in zip(src, dst, amount)}
    assert flows.keys() == {(0, 1), (0, 2)}
    assert flows[(0, 1)] == pytest.approx(0.2)
    assert flows[(0, 2)] == pytest.approx(0.1)


def test_share_flow_no_change_gives_no_flows():
    """Unchanged shares (or only gains) produce empty, typed arrays."""
    s = np.array([0.5, 0.5])
    for after in (s.copy(), np.array([0.6, 0.5])):
        src, dst, amount = share_flow(s, after, 0.0)
        assert src.size == dst.size == amount.size == 0
        assert src.dtype.kind == "i"


def test_share_flow_keeps_a_flow_exactly_at_min_flow():
    """A flow equal to min_flow is kept ("at least min_flow"); just above it, dropped."""
    before, after = np.array([0.75, 0.25]), np.array([0.5, 0.5])
    src, dst, amount = share_flow(before, after, 0.25)
    assert src.tolist() == [0] and dst.tolist() == [1] and amount.tolist() == [0.25]
    assert share_flow(before, after, np.nextafter(0.25, 1.0))[0].size == 0


def test_share_flow_min_flow_above_every_flow_gives_nothing():
    """A threshold larger than any flow returns empty arrays."""
    src, dst, amount = share_flow(np.array([0.6, 0.2, 0.2]), np.array([0.3, 0.4, 0.3]), 0.5)
    assert src.size == dst.size == amount.size == 0


def test_share_flow_twenty_thousand_firms_fast_and_without_full_matrix():
    """20,000 firms (10,000 losers x 10,000 gainers) with min_flow: fast, small memory, correct."""
    rng = np.random.default_rng(7)
    n = 20_000
    before = rng.dirichlet(np.ones(n))
    noise = rng.normal(0.0, 1e-7, n)
    noise -= noise.mean()
    after = before + noise
    # A few big movers: firm 0 loses 5 points to firms 1 and 2.
    after[0] -= 0.05
    after[1] += 0.03
    after[2] += 0.02
    min_flow = 1e-4
    tracemalloc.start()
    t0 = time.perf_counter()
    src, dst, amount = share_flow(before, after, min_flow)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    delta = after - before
    assert np.sum(delta < 0) > 5_000 and np.sum(delta > 0) > 5_000
    assert elapsed < 3.0
    # A dense 10,000 x 10,000 float matrix would need 800 MB.
    assert peak < 50_000_000
    assert np.all(amount >= min_flow)
    pairs = {(int(s), int(d)) for s, d in zip(src, dst)}
    assert {(0, 1), (0, 2)} <= pairs
    assert set(src.tolist()) == {0}


# ------------------------------------------------------------------ rationing and wages

def test_ration_is_one_when_capacity_suffices():
    """Demand at or under capacity (or no demand) is served in full."""
    assert ration(np.array([10.0, 20.0]), 50.0) == 1.0
    assert ration(np.array([10.0, 20.0]), 30.0) == 1.0
    assert ration(np.zeros(3), 0.0) == 1.0
    assert ration(np.array([]), 5.0) == 1.0


def test_ration_scales_to_capacity_over_demand():
    """Demand over capacity: everyone gets capacity / demand of what it asked."""
    assert ration(np.array([60.0, 40.0]), 80.0) == pytest.approx(0.8)
    assert ration(np.array([60.0, 40.0]), 0.0) == 0.0


@SETTINGS
@given(st.lists(st.floats(0.0, 1e3), min_size=1, max_size=20), st.floats(0.0, 2e4))
def test_ration_never_allocates_more_than_capacity(demand, capacity):
    """Fill rate is in [0, 1], allocation never exceeds capacity (to rounding) or demand."""
    demand = np.asarray(demand)
    fill = ration(demand, capacity)
    assert 0.0 <= fill <= 1.0
    allocated = demand * fill
    assert allocated.sum() <= capacity * (1 + 1e-12) + 1e-300
    assert np.all(allocated <= demand)
    if demand.sum() > capacity:
        assert allocated.sum() == pytest.approx(capacity, rel=1e-12, abs=1e-300)


def test_wage_index_concrete_values():
    """Demand equal to supply gives 1; double the demand gives 2^elasticity."""
    assert wage_index(15.0, 15.0, 1.0, 0.8) == pytest.approx(1.0)
    assert wage_index(30.0, 15.0, 1.0, 0.8) == pytest.approx(2.0)
    assert wage_index(30.0, 15.0, 0.5, 0.8) == pytest.approx(np.sqrt(2.0))


def test_wage_index_floor_in_slack_market():
    """A slack market (or no demand) pays the floor, not less."""
    assert wage_index(3.0, 15.0, 1.0, 0.8) == pytest.approx(0.8)
    assert wage_index(0.0, 15.0, 1.0, 0.8) == pytest.approx(0.8)
    assert wage_index(12.0, 15.0, 1.0, 0.5) == pytest.approx(0.8)


def test_wage_index_without_supply():
    """No talent at all: infinite wage if anyone wants it, else 1."""
    assert wage_index(1.0, 0.0, 1.0, 0.8) == float("inf")
    assert wage_index(0.0, 0.0, 1.0, 0.8) == 1.0


@SETTINGS
@given(
    st.floats(0.0, 1e3), st.floats(0.0, 1e3), st.floats(0.01, 1e3),
    st.floats(0.0, 3.0), st.floats(0.01, 1.0),
)
def test_wage_index_monotone_and_floored(d1, d2, supply, elasticity, floor):
    """The wage never falls when demand rises or supply falls, and never goes below its floor."""
    lo_d, hi_d = min(d1, d2), max(d1, d2)
    w_lo = wage_index(lo_d, supply, elasticity, floor)
    w_hi = wage_index(hi_d, supply, elasticity, floor)
    assert w_hi >= w_lo * (1 - 1e-12)
    assert w_lo >= floor and w_hi >= floor
    assert wage_index(hi_d, supply * 2.0, elasticity, floor) <= w_hi * (1 + 1e-12)


@SETTINGS
@given(st.floats(1.0, 1e3), st.floats(0.01, 1e3), st.floats(0.1, 3.0))
def test_wage_index_strictly_rises_with_demand_above_floor(demand, supply, elasticity):
    """Above the floor, more demand strictly raises the wage."""
    assume(demand / supply > 1.0)
    assert wage_index(demand * 1.5, supply, elasticity, 0.5) > wage_index(demand, supply, elasticity, 0.5)


# ------------------------------------------------------------------ capability

@SETTINGS
@given(st.floats(0.0, 1e3), st.floats(0.0, 1e3), st.floats(0.05, 0.95))
def test_new_capability_increasing_and_concave(x, y, alpha):
    """More spend gives more capability, with diminishing returns (midpoint concavity)."""
    lo, hi = min(x, y), max(x, y)
    f = lambda s: float(new_capability(np.array([s]), alpha)[0])  # noqa: E731
    assert f(hi) >= f(lo)
    assert f((lo + hi) / 2) >= (f(lo) + f(hi)) / 2 * (1 - 1e-12)


def test_new_capability_diminishing_marginal_returns():
    """Each extra $10B adds less capability than the previous $10B; no spend gives none."""
    spend = np.arange(0.0, 101.0, 10.0)
    cap = new_capability(spend, 0.7)
    gains = np.diff(cap)
    assert cap[0] == 0.0
    assert np.all(gains > 0.0)
    assert np.all(np.diff(gains) < 0.0)


def test_new_capability_negative_spend_is_zero():
    """Negative spend yields no capability (and no NaN)."""
    np.testing.assert_array_equal(new_capability(np.array([-3.0, 0.0]), 0.7), [0.0, 0.0])


@pytest.mark.parametrize("depreciation", [0.1, 0.25, 0.9])
def test_accumulate_with_no_arrival_decays_geometrically(depreciation):
    """With nothing arriving, capability after t years is c0 (1 - delta)^t."""
    c0 = np.array([10.0, 3.0, 0.0])
    cap = c0.copy()
    for t in range(1, 8):
        cap = accumulate_capability(cap, np.zeros(3), depreciation)
        np.testing.assert_allclose(cap, c0 * (1 - depreciation) ** t, rtol=1e-12)


def test_accumulate_adds_arrivals():
    """Arriving capability adds one for one."""
    out = accumulate_capability(np.array([4.0]), np.array([2.0]), 0.25)
    assert out[0] == pytest.approx(5.0)


@SETTINGS
@given(floats_like(4, 0.0, 200.0), st.floats(0.05, 1.0), st.floats(0.01, 1.0))
def test_steady_capability_is_fixed_point(spend, alpha, depreciation):
    """steady_capability K satisfies K = accumulate(K, new_capability(spend))."""
    k = steady_capability(spend, alpha, depreciation)
    again = accumulate_capability(k, new_capability(spend, alpha), depreciation)
    np.testing.assert_allclose(again, k, rtol=1e-9, atol=1e-12)


def test_steady_capability_is_reached_from_zero():
    """Iterating a constant spend from zero converges to the steady capability."""
    spend = np.array([40.0, 5.0])
    cap = np.zeros(2)
    for _ in range(200):
        cap = accumulate_capability(cap, new_capability(spend, 0.7), 0.25)
    np.testing.assert_allclose(cap, steady_capability(spend, 0.7, 0.25), rtol=1e-9)


# ------------------------------------------------------------------ segment growth

# A segment at its 2023 size has room factor 1: growth is then the plain base + uplift·ln(index).
SIZE_2023, POTENTIAL = 100.0, 400.0


def growth_at_2023(base, uplift, index):
    """segment_growth for segments of the 2023 size (room 1)."""
    n = len(np.atleast_1d(base))
    size = np.full(n, SIZE_2023)
    return segment_growth(np.asarray(base, float), np.asarray(uplift, float), np.asarray(index, float),
                          size, np.full(n, POTENTIAL), size)


def test_segment_growth_at_index_one_is_base_growth():
    """At capability index 1 (log 1 = 0) and the 2023 size (room 1) growth is the base rate."""
    out = growth_at_2023([0.1, 0.08], [0.1, 0.03], [1.0, 1.0])
    np.testing.assert_allclose(out, [0.1, 0.08])


def test_segment_growth_concrete_uplift():
    """Index e adds exactly the uplift at the 2023 size."""
    out = growth_at_2023([0.1], [0.06], [np.e])
    assert out[0] == pytest.approx(0.16)


def test_segment_growth_concrete_room():
    """Room = (1 - size/potential) / (1 - size_2023/potential): at size 250 of 400 (2023: 100)
    it is (0.375)/(0.75) = 0.5, so base 0.1 plus uplift 0.06 at index e gives 0.08."""
    out = segment_growth(np.array([0.1]), np.array([0.06]), np.array([np.e]),
                         np.array([250.0]), np.array([POTENTIAL]), np.array([SIZE_2023]))
    assert out[0] == pytest.approx(0.08)


@SETTINGS
@given(
    st.floats(-0.99, 0.5), st.floats(0.0, 1.0),
    st.floats(0.0, 1e6), st.floats(0.0, 1e6), st.floats(0.0, 399.0),
)
def test_segment_growth_rises_with_capability_index(base, uplift, i1, i2, size):
    """Growth never falls as the capability index rises (uplift >= 0), at any size below the potential."""
    lo, hi = min(i1, i2), max(i1, i2)
    g = lambda i: float(segment_growth(np.array([base]), np.array([uplift]), np.array([i]),  # noqa: E731
                                       np.array([size]), np.array([POTENTIAL]), np.array([SIZE_2023]))[0])
    assert g(hi) >= g(lo)


def test_segment_growth_strictly_rises_with_index_when_uplift_positive():
    """With a positive uplift, a higher index means strictly faster growth (room > 0)."""
    index = np.array([0.5, 1.0, 2.0, 10.0])
    out = growth_at_2023(np.full(4, 0.05), np.full(4, 0.1), index)
    assert np.all(np.diff(out) > 0.0)
    nearer = segment_growth(np.full(4, 0.05), np.full(4, 0.1), index,
                            np.full(4, 300.0), np.full(4, POTENTIAL), np.full(4, SIZE_2023))
    assert np.all(np.diff(nearer) > 0.0)


@SETTINGS
@given(st.floats(-5.0, 1.0), st.floats(0.0, 10.0), st.floats(0.0, 1e9), st.floats(0.0, 1e4))
def test_segment_growth_never_below_minus_09(base, uplift, index, size):
    """Growth is at least -0.9, finite, also at a zero or negative capability index and at any size."""
    for idx in (index, 0.0, -1.0):
        out = segment_growth(np.array([base]), np.array([uplift]), np.array([idx]),
                             np.array([size]), np.array([POTENTIAL]), np.array([SIZE_2023]))
        assert np.isfinite(out[0])
        assert out[0] >= -0.9


def test_segment_growth_falls_as_size_nears_potential():
    """Same base, uplift and index: the nearer the segment is to its potential, the slower it grows,
    and the room factor is linear in size (logistic)."""
    size = np.array([SIZE_2023, 200.0, 300.0, 390.0])
    n = size.size
    out = segment_growth(np.full(n, 0.1), np.full(n, 0.05), np.full(n, 2.0),
                         size, np.full(n, POTENTIAL), np.full(n, SIZE_2023))
    assert np.all(np.diff(out) < 0.0)
    plain = 0.1 + 0.05 * np.log(2.0)
    np.testing.assert_allclose(out, plain * (1.0 - size / POTENTIAL) / (1.0 - SIZE_2023 / POTENTIAL))


@SETTINGS
@given(st.floats(0.0, 0.5), st.floats(0.0, 1.0), st.floats(1.0, 1e6), st.floats(0.0, 10.0))
def test_segment_growth_is_zero_at_or_above_potential(base, uplift, index, excess):
    """At or above its potential a segment does not grow (when base + uplift·ln(index) >= 0)."""
    size = POTENTIAL * (1.0 + excess)
    out = segment_growth(np.array([base]), np.array([uplift]), np.array([index]),
                         np.array([size]), np.array([POTENTIAL]), np.array([SIZE_2023]))
    assert out[0] == 0.0


def test_segment_growth_zero_at_potential_but_positive_just_below():
    """The ceiling bites at the potential, not before: a hair below it growth is still positive."""
    args = (np.array([0.1, 0.1]), np.array([0.05, 0.05]), np.array([1.5, 1.5]))
    out = segment_growth(*args, np.array([POTENTIAL, POTENTIAL - 1.0]), np.full(2, POTENTIAL), np.full(2, SIZE_2023))
    assert out[0] == 0.0
    assert out[1] > 0.0


# ------------------------------------------------------------------ planned spend and budgets

def test_planned_spend_moves_the_given_share_of_the_gap():
    """Half the gap from 10 toward 30 is 20; a quarter of the gap from 40 down to 20 is 35."""
    out = planned_spend(np.array([10.0, 40.0]), np.array([30.0, 20.0]), 0.5)
    np.testing.assert_allclose(out, [20.0, 30.0])
    assert planned_spend(40.0, 20.0, 0.25) == pytest.approx(35.0)


def test_planned_spend_full_adjustment_reaches_the_target_and_stays_between():
    """Adjustment 1 reaches the target at once; any adjustment in (0, 1) lands strictly between."""
    prev, target = np.array([5.0, 50.0, 7.0]), np.array([25.0, 10.0, 7.0])
    np.testing.assert_allclose(planned_spend(prev, target, 1.0), target)
    mid = planned_spend(prev, target, 0.3)
    np.testing.assert_allclose(mid, prev + 0.3 * (target - prev))
    moving = prev != target
    assert np.all(np.minimum(prev, target)[moving] < mid[moving])
    assert np.all(mid[moving] < np.maximum(prev, target)[moving])


def test_scaled_budget_equals_base_at_base_revenue():
    """At the 2023 revenue (and 2023 shares) the budget is the scenario's budget, whatever the elasticity."""
    for elasticity in (0.0, 0.3, 1.0, 1.5):
        out = scaled_budget(np.array([40.0, 3.0]), np.array([500.0, 80.0]), np.array([500.0, 80.0]),
                            np.array([500.0, 80.0]), elasticity)
        np.testing.assert_allclose(out, [40.0, 3.0])


def test_scaled_budget_keeps_pace_with_markets_and_less_than_with_share():
    """Markets doubling at constant share double the budget; a doubled share on top multiplies it by
    2**elasticity only; elasticity 0 ignores share, and a lost share lowers the budget."""
    base, rev0 = np.array([40.0]), np.array([500.0])
    assert scaled_budget(base, np.array([1000.0]), rev0, np.array([1000.0]), 0.3)[0] == pytest.approx(80.0)
    assert scaled_budget(base, np.array([2000.0]), rev0, np.array([1000.0]), 0.3)[0] == pytest.approx(80.0 * 2 ** 0.3)
    assert scaled_budget(base, np.array([2000.0]), rev0, np.array([1000.0]), 0.0)[0] == pytest.approx(80.0)
    assert scaled_budget(base, np.array([500.0]), rev0, np.array([1000.0]), 0.5)[0] == pytest.approx(80.0 * 0.5 ** 0.5)


def test_scaled_budget_is_the_base_budget_when_base_revenue_is_zero():
    """A firm without 2023 revenue (a ratio undefined) keeps its base budget; others still scale."""
    out = scaled_budget(np.array([12.0, 40.0]), np.array([300.0, 1000.0]), np.array([0.0, 500.0]),
                        np.array([0.0, 1000.0]), 1.0)
    np.testing.assert_allclose(out, [12.0, 80.0])


def test_contracted_shares_are_fees_over_market_capped_in_total():
    fees = np.array([0.0, 10.0, 30.0])
    np.testing.assert_allclose(contracted_shares(fees, 400.0), [0.0, 0.025, 0.075])
    capped = contracted_shares(fees, 40.0, most=0.5)
    assert capped.sum() == pytest.approx(0.5) and capped[2] == pytest.approx(3 * capped[1])


@SETTINGS
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=8), st.floats(0.0, 0.3), st.floats(0.0, 0.3))
def test_place_contracts_keeps_the_total_and_gives_providers_their_contracts(raw, before, now):
    """Whatever the contracts before and now, shares keep their total; the open part keeps its proportions."""
    open_share = np.array(raw)
    assume(open_share.sum() > 0.1)
    open_share = open_share / open_share.sum() * (1.0 - before)
    c_before = np.zeros_like(open_share)
    c_before[1] = before
    c_now = np.zeros_like(open_share)
    c_now[2] = now
    out = place_contracts(open_share, c_before, c_now)
    assert out.sum() == pytest.approx(1.0)
    open_after = out - c_now
    np.testing.assert_allclose(open_after * open_share.sum(), open_share * open_after.sum(), atol=1e-12)
    assert out[2] >= now - 1e-12


def test_shocked_target_keeps_the_total_and_non_negative_shares():
    target = np.array([0.5, 0.3, 0.15, 0.05])
    out = shocked_target(target, np.array([0.0, 0.1, 0.0, -0.2]))
    assert out.sum() == pytest.approx(1.0) and (out >= 0).all() and out[3] == 0.0
    assert out[1] / out[0] > target[1] / target[0]
    np.testing.assert_allclose(shocked_target(target, np.zeros(4)), target)


def test_margin_uplift_is_zero_at_2023_rises_with_diminishing_returns_and_stays_below_the_ceiling():
    base = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 0.0])
    capability = np.array([10.0, 5.0, 20.0, 40.0, 1e9, 7.0])
    ceiling = 0.03
    out = margin_uplift(capability, base, ceiling, np.log(2.0))
    assert out[0] == 0.0 and out[1] == 0.0 and out[5] == 0.0  # at, below 2023, and no 2023 base
    assert out[2] == pytest.approx(ceiling / 2)  # doubled: half the ceiling
    assert out[2] < out[3] < out[4] < ceiling
    assert out[3] - out[2] < out[2] - out[0]  # diminishing returns per doubling
