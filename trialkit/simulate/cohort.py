"""Baseline cohort: correlated screening candidates, the inclusion criteria, MELD, latent severity.

Screened candidates are drawn from a Gaussian copula (``baseline.correlations``) over log-normal or
normal lab marginals and latent liabilities for cirrhosis, ascites, encephalopathy and HBeAg; age,
sex and weight are independent. PT and PTA are derived from the (true) INR the way a laboratory
reports them: ``PT = MNPT * INR^(1/ISI)`` and PTA from a Quick-type calibration hyperbola
``PTA = K / (PT - c)`` with a small calibration error, so "INR >= 1.5 or PTA < 40 %" are nearly,
but not exactly, equivalent. Candidates meeting the inclusion criteria (checked on the *recorded*,
rounded values, as a clinician would) are kept: vectorized rejection sampling.

The latent severity ``z`` is a fixed linear score ``s`` of the recorded baseline (scenario
``severity``: MELD, PTA, haemoglobin, ... as in Xu 2019) mapped to a standard normal through the CDF
of ``s`` among *eligible* patients, ``z = Phi^-1(F_ref(s))``. ``F_ref`` is estimated once per
baseline model from a reference cohort of 200,000 eligible patients drawn with a fixed internal seed,
so ``z`` is N(0, 1) in the trial population whatever the truncation does and means the same in every
simulation of the same model.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy import special

from trialkit import scores
from trialkit.errors import ScenarioError
from trialkit.simulate.scenario import BASELINE_VARS, Scenario

__all__ = ["meld_optn", "draw_cohort", "severity_score", "severity_z", "ROUNDING", "PLAUSIBLE",
           "pt_pta"]

# Decimals recorded, in internal (SI) units.
ROUNDING = {"TBIL": 1, "INR": 2, "PT": 1, "PTA": 0, "ALB": 1, "ALT": 0, "AST": 0, "CREAT": 0,
            "NA": 1, "UREA": 2, "HGB": 0, "WBC": 2, "NEUT": 2, "PLT": 0, "HBVDNA": 2, "TH1": 2,
            "TH2": 2}
# Physically plausible bounds (internal units); simulated values are clipped into them.
# HBV DNA below the assay's lower limit of quantification (20 IU/mL) is reported at the limit.
PLAUSIBLE = {"TBIL": (3.0, 1500.0), "INR": (0.8, 10.0), "ALB": (12.0, 55.0), "ALT": (5.0, 8000.0),
             "AST": (5.0, 8000.0), "CREAT": (20.0, 900.0), "NA": (110.0, 160.0), "UREA": (0.8, 60.0),
             "HGB": (50.0, 190.0), "WBC": (0.8, 60.0), "PLT": (8.0, 700.0),
             "HBVDNA": (np.log10(20.0), 9.5), "TH1": (1.0, 60.0), "TH2": (0.3, 20.0),
             "PT": (9.0, 120.0), "PTA": (1.0, 150.0), "NEUT": (0.3, 55.0)}

_REF_N = 200_000
_REF_SEED = 20121101  # internal: the reference cohort behind F_ref never depends on the trial seed
_REF_GRID = 4001
_ref_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_chol_cache: dict[str, np.ndarray] = {}


def meld_optn(tbil_umol: np.ndarray, creat_umol: np.ndarray, inr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OPTN MELD from SI bilirubin and creatinine, via :func:`trialkit.scores.meld`.

    Returns
    -------
    meld : ndarray of int64
        The integer score (half-up rounding to the tenth of MELD(i), times 10, capped at 40).
    raw : ndarray of float
        The continuous ``10 * MELD(i)`` (used for the latent severity).

    Examples
    --------
    >>> m, raw = meld_optn(np.array([442.5, 300, 171]), np.array([81, 80, 70]), np.array([2.08, 2.0, 1.5]))
    >>> m.tolist()
    [27, 25, 20]
    """
    m = scores.meld(bilirubin=tbil_umol, inr=inr, creatinine=creat_umol, units="si")
    raw = scores.meld(bilirubin=tbil_umol, inr=inr, creatinine=creat_umol, units="si", rounded=False)
    return np.asarray(m).astype(np.int64), np.asarray(raw, dtype=float)


def pt_pta(inr_true: np.ndarray, coag: dict, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recorded (INR, PT s, PTA %) from the true INR and standard-normal calibration noise for PTA.

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> coag = load_scenario("default").baseline["coagulation"]
    >>> inr, pt, pta = pt_pta(np.array([1.0, 1.5, 2.5]), coag, np.zeros(3))
    >>> inr.tolist(), pt.tolist(), pta.tolist()
    ([1.0, 1.5, 2.5], [12.0, 17.7, 28.7], [100.0, 40.0, 18.0])

    Calibration noise moves PTA only (here INR 1.5 reads 41 % instead of 40 %):

    >>> pt_pta(np.array([1.0, 1.5, 2.5]), coag, np.array([0.0, 1.0, -1.0]))[2].tolist()
    [100.0, 41.0, 18.0]
    """
    inr_true = np.clip(inr_true, *PLAUSIBLE["INR"])
    pt = coag["mnpt_s"] * inr_true ** (1.0 / coag["isi"])
    pta = coag["pta_k"] / (pt - coag["pta_c"]) * np.exp(coag["pta_sd"] * noise)
    return (np.round(inr_true, ROUNDING["INR"]), np.round(np.clip(pt, *PLAUSIBLE["PT"]), ROUNDING["PT"]),
            np.round(np.clip(pta, *PLAUSIBLE["PTA"]), ROUNDING["PTA"]))


def _cholesky(sc: Scenario) -> np.ndarray:
    key = json.dumps(sorted((f"{a}~{b}", r) for (a, b), r in sc.baseline["correlations"].items()))
    if key not in _chol_cache:
        k = len(BASELINE_VARS)
        idx = {v: j for j, v in enumerate(BASELINE_VARS)}
        r = np.eye(k)
        for (a, b), rho in sc.baseline["correlations"].items():
            r[idx[a], idx[b]] = r[idx[b], idx[a]] = rho
        low = np.linalg.eigvalsh(r).min()
        if low < 1e-6:
            raise ScenarioError(f"{sc.source}: baseline.correlations: the correlation matrix is not positive "
                                f"definite (smallest eigenvalue {low:.3g}); weaken some correlations")
        _chol_cache[key] = np.linalg.cholesky(r)
    return _chol_cache[key]


def _draw_candidates(rng: np.random.Generator, m: int, sc: Scenario) -> dict[str, np.ndarray]:
    b = sc.baseline
    z = rng.standard_normal((m, len(BASELINE_VARS))) @ _cholesky(sc).T
    col = {v: z[:, j] for j, v in enumerate(BASELINE_VARS)}
    out: dict[str, np.ndarray] = {}
    for lab, spec in b["labs"].items():
        if spec["log"]:
            x = np.exp(np.log(spec["center"]) + spec["sd"] * col[lab])
        else:
            x = spec["center"] + spec["sd"] * col[lab]
        out[lab] = np.clip(x, *PLAUSIBLE[lab])
    out["INR_TRUE"] = out["INR"]
    out["INR"], out["PT"], out["PTA"] = pt_pta(out["INR_TRUE"], b["coagulation"], rng.standard_normal(m))
    nf = b["neut_fraction"]
    frac = special.expit(special.logit(nf["mean"]) + nf["sd_logit"] * rng.standard_normal(m))
    out["NEUT"] = out["WBC"] * frac
    for lab in list(out):
        if lab in ROUNDING:
            out[lab] = np.round(np.clip(out[lab], *PLAUSIBLE[lab]), ROUNDING[lab])
    out["CIRRHOSIS"] = col["CIRRHOSIS"] < special.ndtri(b["cirrhosis"])
    out["HBEAG"] = col["HBEAG"] < special.ndtri(b["hbeag_positive"])
    out["ASCITES_LATENT"], out["HE_LATENT"] = col["ASCITES"], col["HE"]
    out["ASCITES"] = _ordinal(col["ASCITES"], b["ascites"])
    out["HE"] = _ordinal(col["HE"], b["he"])
    out["AGE"] = np.floor(rng.normal(b["age"]["mean"], b["age"]["sd"], m))
    out["MALE"] = rng.random(m) < b["male"]
    wm, wf = b["weight_kg"]["male"], b["weight_kg"]["female"]
    wz = rng.standard_normal(m)
    out["WEIGHT"] = np.round(np.clip(np.where(out["MALE"], wm["mean"] + wm["sd"] * wz, wf["mean"] + wf["sd"] * wz),
                                     35, 150), 1)
    out["MELD"], out["MELD_RAW"] = meld_optn(out["TBIL"], out["CREAT"], out["INR"])
    return out


def grade_thresholds(probs: list[float]) -> np.ndarray:
    """Cut-points on the standard-normal liability giving the grade probabilities ``probs``."""
    return special.ndtri(np.clip(np.cumsum(probs)[:-1], 1e-12, 1 - 1e-12))


def _ordinal(liability: np.ndarray, probs: list[float]) -> np.ndarray:
    return np.searchsorted(grade_thresholds(probs), liability).astype(np.int64)


def eligible(c: dict[str, np.ndarray], sc: Scenario) -> np.ndarray:
    """The inclusion criteria on recorded baseline values (see the scenario's ``inclusion``)."""
    inc = sc.inclusion
    lo, hi = inc["age"]
    return ((c["AGE"] >= lo) & (c["AGE"] <= hi) & (c["TBIL"] >= inc["tbil_min"])
            & ((c["INR"] >= inc["inr_min"]) | (c["PTA"] < inc["pta_max"]))
            & (c["MELD"] < inc["meld_below"]) & (c["HE"] <= inc["he_max"]) & (c["CREAT"] <= inc["creat_max"]))


def draw_cohort(rng: np.random.Generator, n: int, sc: Scenario) -> dict[str, np.ndarray]:
    """``n`` eligible patients' baseline (a dict of arrays), by batched rejection sampling.

    Also returns ``screened``: how many candidates were screened to enrol ``n`` (a scalar array).

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> c = draw_cohort(np.random.default_rng(1), 5, sc)
    >>> c["MELD"].tolist(), c["INR"].tolist(), c["PTA"].tolist()
    ([25, 22, 25, 23, 21], [2.09, 1.54, 1.94, 1.64, 1.72], [23.0, 38.0, 26.0, 32.0, 32.0])
    >>> int(c["screened"])  # candidates screened to enrol the 5 patients
    10
    >>> bool(eligible(c, sc).all())
    True
    """
    parts: list[dict[str, np.ndarray]] = []
    have, screened, rate, pos = 0, 0, 0.35, []
    while have < n:
        m = int((n - have) / max(rate, 0.02) * 1.15) + 256
        cand = _draw_candidates(rng, m, sc)
        keep = eligible(cand, sc)
        pos.append(screened + np.flatnonzero(keep))
        screened += m
        rate = max(keep.mean(), 1e-3)
        if screened > 200 * n + 100_000 and have + keep.sum() < n:
            raise ScenarioError(f"{sc.source}: inclusion: only {rate:.2%} of screened candidates are eligible; "
                                "the baseline distributions and inclusion criteria hardly overlap")
        parts.append({k: v[keep] for k, v in cand.items()})
        have += int(keep.sum())
    out = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
    out["screened"] = np.array(int(np.concatenate(pos)[n - 1]) + 1)  # candidates seen up to the n-th eligible
    return out


def severity_score(c: dict[str, np.ndarray], sc: Scenario) -> np.ndarray:
    """The linear severity score ``s = sum(coef * recorded baseline value)`` (MELD unrounded).

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> sc.severity
    {'MELD': 0.25, 'PTA': -0.03, 'HGB': -0.015, 'HE': 0.3}
    >>> c = draw_cohort(np.random.default_rng(1), 5, sc)
    >>> severity_score(c, sc).round(3).tolist()
    [3.794, 2.496, 4.132, 3.262, 2.613]
    """
    names = {"MELD": "MELD_RAW"}
    s = np.zeros(len(c["TBIL"]))
    for k, coef in sc.severity.items():
        s = s + coef * np.asarray(c[names.get(k, k)], dtype=float)
    return s


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _reference(sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    key = json.dumps(_jsonable([sc.baseline, sc.inclusion, sc.severity]), sort_keys=True)
    if key not in _ref_cache:
        ref = draw_cohort(np.random.Generator(np.random.PCG64(_REF_SEED)), _REF_N, sc)
        p = (np.arange(_REF_GRID) + 0.5) / _REF_GRID
        q = np.quantile(severity_score(ref, sc), p)
        q = q + np.arange(_REF_GRID) * 1e-12 * max(1.0, float(np.abs(q).max()))  # strictly increasing
        _ref_cache[key] = (q, p)
    return _ref_cache[key]


def severity_z(c: dict[str, np.ndarray], sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(s, z): the severity score and its standard-normal transform ``Phi^-1(F_ref(s))``.

    Examples
    --------
    The first call per baseline model draws the reference cohort (about a second).

    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> s, z = severity_z(draw_cohort(np.random.default_rng(1), 5, sc), sc)
    >>> s.round(3).tolist()
    [3.794, 2.496, 4.132, 3.262, 2.613]
    >>> z.round(3).tolist()  # higher score = sicker = higher z
    [0.26, -1.382, 0.645, -0.353, -1.205]
    """
    s = severity_score(c, sc)
    q, p = _reference(sc)
    return s, special.ndtri(np.interp(s, q, p))
